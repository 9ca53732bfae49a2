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
