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

/// The error codes (outside blueprint diagnostics) the sources declare:
/// `code(archkit::...)` attributes and `"archkit::..."` literals (a
/// command's `CliError`), each with where it stands. Tests' assertions
/// and blueprint codes (`blueprint::diagnostic::Code`) are left out.
fn declared_codes() -> Vec<(String, String)> {
    let attr = regex::Regex::new(r"code\((archkit::[a-z_]+(?:::[a-z_]+)*)\)").unwrap();
    let lit = regex::Regex::new(r#""(archkit::[a-z_]+(?:::[a-z_]+)*)""#).unwrap();
    let mut out = Vec::new();
    for hit in
        lines_where("", &["codes.rs", "blueprint/diagnostic.rs"], |l| l.contains("archkit::"))
    {
        if hit.contains("assert") || hit.contains("archkit::blueprint::") {
            continue;
        }
        for re in [&attr, &lit] {
            for c in re.captures_iter(&hit) {
                out.push((c[1].to_string(), hit.clone()));
            }
        }
    }
    out
}

#[test]
fn every_error_code_is_registered_once() {
    let declared = declared_codes();
    assert!(declared.len() > 30, "the scan found too few codes: {declared:?}");
    let unlisted: Vec<&(String, String)> =
        declared.iter().filter(|(c, _)| archkit::codes::lookup(c).is_none()).collect();
    assert!(unlisted.is_empty(), "codes missing from src/codes.rs: {unlisted:#?}");
    let unused: Vec<&str> = archkit::codes::CODES
        .iter()
        .map(|c| c.code)
        .filter(|c| !declared.iter().any(|(d, _)| d == c))
        .collect();
    assert!(unused.is_empty(), "src/codes.rs lists codes no source declares: {unused:?}");
    // One error type decides each code: an attribute declares it once.
    let mut attrs: Vec<&(String, String)> =
        declared.iter().filter(|(c, line)| line.contains(&format!("code({c})"))).collect();
    attrs.sort();
    let twice: Vec<_> = attrs.windows(2).filter(|w| w[0].0 == w[1].0).collect();
    assert!(twice.is_empty(), "codes declared by two error variants: {twice:#?}");
    let mut listed: Vec<&str> = archkit::codes::CODES.iter().map(|c| c.code).collect();
    listed.sort();
    listed.dedup();
    assert_eq!(listed.len(), archkit::codes::CODES.len(), "a code is listed twice");
}
