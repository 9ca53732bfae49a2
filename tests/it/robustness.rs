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
    std::fs::read_to_string(
        crate::util::root().join("blueprints/fargate-public-private/blueprint.yaml"),
    )
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

/// A "billion laughs" document: aliases of aliases, a few hundred bytes
/// expanding to 10^10 nodes.
fn alias_bomb() -> String {
    let mut text =
        String::from("name: bomb\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text.push_str("resources: *a9\n");
    text
}

/// Issue 13 (10): an alias bomb is refused as a syntax error instead of
/// growing to gigabytes.
#[test]
fn an_alias_bomb_is_refused() {
    let err =
        blueprint::load_bytes("bomb.yaml", alias_bomb().as_bytes(), &archkit::aws::registry())
            .unwrap_err();
    assert_eq!(err.codes(), ["archkit::blueprint::syntax"]);
    let d = &err.diagnostics[0];
    assert!(d.message.contains("alias"), "{}", d.message);
    assert!(d.help.as_deref().is_some_and(|h| h.contains("aliases")), "{:?}", d.help);
}

/// The same bomb through `archkit validate` as a process: it exits 1
/// within a second, and its peak memory (the child's maximum resident set
/// as the kernel counts it, read through python3's `getrusage`) stays
/// under 200 MB. scripts/bench-yaml-bomb measures the release build.
#[test]
fn an_alias_bomb_is_refused_quickly_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.yaml");
    std::fs::write(&bomb, alias_bomb()).unwrap();
    let measure = "import resource, subprocess, sys, time\n\
        t = time.monotonic()\n\
        code = subprocess.run(sys.argv[1:], capture_output=True).returncode\n\
        took = time.monotonic() - t\n\
        print(code, took, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n";
    let out = std::process::Command::new("python3")
        .args(["-c", measure, env!("CARGO_BIN_EXE_archkit"), "validate"])
        .arg(&bomb)
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    let (code, took, kib): (i32, f64, u64) =
        (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap());
    eprintln!("figures: alias bomb: exit {code} after {took:.3}s, peak {} MB", kib / 1024);
    assert_eq!(code, 1);
    assert!(took < 1.0, "took {took}s");
    assert!(kib < 200 * 1024, "peak {kib} KiB");
}
