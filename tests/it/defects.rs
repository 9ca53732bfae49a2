//! The smaller defects of issue 31 §5, each as a user meets it, against
//! moto through real `archkit` processes: an out-of-range `--ttl`, `plan
//! --parallelism`, usage errors under `--json`, and an AWS error that
//! carries no error code (an HTTP 500 with an HTML body, from the fault
//! proxy: AWS's own services answer with a code, a proxy or load balancer
//! in front of an endpoint may not).

use crate::faults::Proxy;
use crate::moto::{Stack, bp, ec2, ok, require_moto, rt};

#[test]
fn a_ttl_past_ten_years_is_an_argument_error_not_a_bug() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "ttlmax");
    let b = bp(&s);
    for ttl in ["8000y", "3651d"] {
        let out = s.run(&["plan", &b, "--ttl", ttl]);
        assert_eq!(out.code, 1, "{ttl}: {}", out.stderr);
        assert!(!out.stderr.contains("archkit hit a bug"), "{}", out.stderr);
        assert!(out.stderr.contains("at most 10 years (`3650d`)"), "{}", out.stderr);
    }
    // The bound itself is fine, and is a real expiry in the plan.
    let out = s.run(&["plan", &b, "--ttl", "3650d"]);
    ok(&out);
    let re = regex::Regex::new(r#""archkit:expires-at":"([^"]+)""#).unwrap();
    let at = &re.captures(&out.stdout).unwrap_or_else(|| panic!("{}", out.stdout))[1];
    let at = humantime::parse_rfc3339(at).unwrap();
    let days = at.duration_since(std::time::SystemTime::now()).unwrap().as_secs() / 86400;
    assert!((3649..=3650).contains(&days), "{days} days: {}", out.stdout);
}

#[test]
fn plan_takes_parallelism_and_refuses_zero() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "planpar");
    let b = bp(&s);
    ok(&s.run(&["plan", &b, "--parallelism", "2"]));
    let out = s.run(&["plan", &b, "--parallelism", "0"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("--parallelism"), "{}", out.stderr);
}

#[test]
fn usage_errors_are_json_under_json() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "usagejson");
    let b = bp(&s);
    for args in [
        vec!["plan", b.as_str(), "--json", "--bogus"],
        vec!["plan", b.as_str(), "--json", "--ttl", "8000y"],
        vec!["--json", "apply", b.as_str(), "--parallelism", "x"],
    ] {
        let out = s.run(&args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {}", out.stdout));
        assert_eq!(v["error"]["code"], "archkit::usage", "{v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty(), "{v}");
    }
    // Without --json, clap's own text on stderr, nothing on stdout.
    let out = s.run(&["plan", &b, "--bogus"]);
    assert_eq!((out.code, out.stdout.as_str()), (1, ""));
    assert!(out.stderr.contains("--bogus"), "{}", out.stderr);
}

#[test]
fn an_error_without_an_aws_code_is_one_readable_line() {
    let Some(url) = require_moto() else { return };
    let proxy = Proxy::builder(&url).http_500("CreateVpc").start();
    let s = Stack::new(&url, "http500");
    let out = crate::util::run(&mut s.cmd_at(&proxy.url, &["apply", &bp(&s), "--auto-approve"]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("ec2 CreateVpc: HTTP 500: <html><body>Internal Server Error</body></html>"),
        "{}",
        out.stderr
    );
    for dump in ["SdkBody", "ServiceError", "request id abc", "Response {"] {
        assert!(!out.stderr.contains(dump), "{dump}: {}", out.stderr);
    }
    // Nothing was made, and the error did not lose anything.
    let vpcs = rt().block_on(async {
        ec2(&url).describe_vpcs().filters(s.tag_filter()).send().await.unwrap().vpcs().len()
    });
    assert_eq!(vpcs, 0);
}

/// A region that does not exist: the endpoint's name does not resolve.
/// No AWS (nor moto) is reached, so this runs anywhere; what AWS would say
/// of a real but disabled region is not covered.
#[test]
fn an_unknown_region_is_one_readable_line_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::util::run(
        crate::util::archkit(dir.path())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_PROFILE")
            .env("ARCHKIT_AWS_MAX_ATTEMPTS", "1")
            .args(["--stack", "region", "--region", "xx-nowhere-1", "plan"])
            .arg(crate::util::fixtures().join("network")),
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("ec2 Describe"), "{}", out.stderr);
    assert!(out.stderr.contains("is the region right?"), "{}", out.stderr);
    for dump in ["DispatchFailure {", "ConnectorError {", "hyper_util"] {
        assert!(!out.stderr.contains(dump), "{dump}: {}", out.stderr);
    }
}

/// The README's install line names the Rust that Cargo.toml requires.
#[test]
fn the_readme_names_the_rust_version_cargo_requires() {
    let manifest = std::fs::read_to_string(crate::util::root().join("Cargo.toml")).unwrap();
    let need = regex::Regex::new(r#"(?m)^rust-version = "([^"]+)""#)
        .unwrap()
        .captures(&manifest)
        .expect("Cargo.toml has rust-version")[1]
        .to_string();
    let readme = std::fs::read_to_string(crate::util::root().join("README.md")).unwrap();
    let said: Vec<&str> = regex::Regex::new(r"Rust (\d+\.\d+(?:\.\d+)?)\+")
        .unwrap()
        .captures_iter(&readme)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert!(!said.is_empty(), "the README says which Rust it needs");
    assert!(said.iter().all(|s| *s == need), "README says {said:?}, Cargo.toml {need}");
}
