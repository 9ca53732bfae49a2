//! Rules of the source tree that keep each decision in one home: the
//! environment is read only by `src/settings.rs`, and only `src/aws/`
//! names the AWS SDK (issue 32).

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// (file relative to src/, line number, line) of every line of `src/`
/// (under `under`) where `found` holds, outside the files `allowed`.
fn lines_where(under: &str, allowed: &[&str], found: impl Fn(&str) -> bool) -> Vec<String> {
    let src = crate::util::root().join("src");
    let mut files = Vec::new();
    sources(&src.join(under), &mut files);
    files.sort();
    let mut hits = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        if allowed.contains(&rel.as_str()) {
            continue;
        }
        for (n, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
            if found(line) {
                hits.push(format!("src/{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    hits
}

#[test]
fn the_environment_is_read_only_in_settings() {
    let hits = lines_where("", &["settings.rs"], |l| {
        l.contains("std::env") || l.contains("use std::{env") || l.contains("env::var")
    });
    assert!(hits.is_empty(), "read the environment in src/settings.rs only:\n{}", hits.join("\n"));
    // And the rule has something to find: settings.rs does read it.
    assert!(!lines_where("", &[], |l| l.contains("std::env::var")).is_empty());
}

#[test]
fn only_the_aws_module_names_the_sdk() {
    for dir in ["cli", "engine", "plan", "blueprint", "graph", "output", "state"] {
        let hits = lines_where(dir, &[], |l| {
            ["aws_sdk_", "aws_config", "aws_smithy", "aws_types"].iter().any(|c| l.contains(c))
        });
        assert!(hits.is_empty(), "src/{dir} names the AWS SDK:\n{}", hits.join("\n"));
    }
}
