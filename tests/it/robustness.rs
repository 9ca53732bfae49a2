//! Property tests: no input makes the parser, validator or graph builder
//! panic. Arbitrary bytes, YAML-shaped text, and mutations of a real
//! blueprint all go through the full `load_bytes` pipeline.

use proptest::prelude::*;

use archkit::blueprint;

fn load(bytes: &[u8]) {
    let registry = archkit::aws::registry();
    if let Ok(bp) = blueprint::load_bytes("p.yaml", bytes, &registry) {
        // A valid blueprint must also graph and order.
        assert_eq!(bp.graph.create_order().len(), bp.resources.len());
    }
}

fn fargate() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/blueprints/fargate-public-private/blueprint.yaml"
    ))
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        load(&bytes);
    }

    #[test]
    fn yaml_like_text_never_panics(text in "(name|resources|type|properties|depends_on|parameters|outputs|aws\\.ec2\\.vpc|\\$\\{[a-z.\\[\\]0-9]*\\}?|[:\\-\\[\\]{}, \n\t\"'#&*!|>%@`]|[a-z0-9_]{1,6}){0,80}") {
        load(text.as_bytes());
    }

    #[test]
    fn mutated_blueprints_never_panic(pos in 0usize..10_000, len in 0usize..40, insert in "[\\x00-\\x7f]{0,12}") {
        let mut src = fargate().into_bytes();
        let pos = pos % src.len();
        let end = (pos + len).min(src.len());
        src.splice(pos..end, insert.into_bytes());
        load(&src);
    }
}

/// Issue 13 (10): a "billion laughs" document (aliases of aliases, a few
/// hundred bytes expanding to 10^10 nodes) is refused as a syntax error
/// instead of growing to gigabytes. Its time and peak memory are measured
/// by scripts/bench-yaml-bomb, not here.
#[test]
fn an_alias_bomb_is_refused() {
    let mut text =
        String::from("name: bomb\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text.push_str("resources: *a9\n");
    let err =
        blueprint::load_bytes("bomb.yaml", text.as_bytes(), &archkit::aws::registry()).unwrap_err();
    assert_eq!(err.codes(), ["archkit::blueprint::syntax"]);
    let d = &err.diagnostics[0];
    assert!(d.message.contains("alias"), "{}", d.message);
    assert!(d.help.as_deref().is_some_and(|h| h.contains("aliases")), "{:?}", d.help);
}
