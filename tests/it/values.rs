//! Parameter values checked by type and range before anything is created,
//! as a user meets them: `validate` and `apply` with a `--var` out of
//! range, both through the real binary. The built-in blueprint declares
//! its parameters' types and ranges; the network fixture declares none, so
//! what refuses its values is each property's own AWS limit.
//!
//! moto accepts a /8 VPC and a port of 70000; AWS does not (VPCs and
//! subnets take /16 to /28, ports 1 to 65535, per the EC2 and ECS API
//! references). These tests prove archkit refuses them before its first
//! AWS call, which no emulator can stand in for either way.

use crate::faults::Proxy;
use crate::moto::{Stack, bp, require_moto};
use crate::util::{archkit, run};

/// (the `--var`, what the hint must say, the line the error points at)
/// for `fargate-public-private`.
const BAD: &[(&str, &str, u64)] = &[
    ("vpc_cidr=10.0.0.0/33", "prefix length from /0 to /32", 20),
    ("vpc_cidr=banana", "e.g. `10.0.0.0/16`", 20),
    ("vpc_cidr=10.0.0.1/16", "did you mean `10.0.0.0/16`?", 20),
    // A valid block AWS refuses for a VPC: the property's line.
    ("vpc_cidr=10.0.0.0/8", "/16 (largest) to /28", 75),
    ("container_port=70000", "from 1 to 65535", 52),
    ("desired_count=-1", "0 or more", 65),
    ("desired_count=2.5", "whole number", 65),
    ("image=", "at least 1 character", 48),
    // Inside its own limits, outside the VPC.
    ("public_subnet_one_cidr=10.1.0.0/24", "inside 10.0.0.0/16", 83),
];

#[test]
fn validate_refuses_each_bad_value_with_its_code_hint_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for (var, hint, line) in BAD {
        let out = run(archkit(dir.path()).args([
            "validate",
            "fargate-public-private",
            "--json",
            "--var",
            var,
        ]));
        assert_eq!(out.code, 1, "{var}: {}{}", out.stdout, out.stderr);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let e = &v["errors"][0];
        assert_eq!(e["code"], "archkit::blueprint::invalid_value", "{var}: {e}");
        assert!(e["help"].as_str().unwrap().contains(hint), "{var}: {e}");
        assert_eq!(e["line"], *line, "{var}: {e}");
        let name = var.split('=').next().unwrap();
        assert!(e["message"].as_str().unwrap().contains(name), "{var}: names the --var: {e}");
    }
    // Nothing written: no state, no lock, no plan.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // Every problem at once, not the first only.
    let out = run(archkit(dir.path()).args([
        "validate",
        "fargate-public-private",
        "--json",
        "--var",
        "container_port=0",
        "--var",
        "desired_count=-3",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["errors"].as_array().unwrap().len(), 2, "{v}");
}

#[test]
fn a_property_limit_holds_when_the_blueprint_declares_none() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("blueprint.yaml");
    std::fs::write(
        &f,
        "name: open\nparameters:\n  port: {type: number, default: 22}\n  cidr: {default: 10.0.0.0/16}\n\
         resources:\n  vpc:\n    type: aws.ec2.vpc\n    properties:\n      cidr_block: ${params.cidr}\n\
         \x20 rule:\n    type: aws.ec2.security_group_rule\n    properties:\n      security_group_id: ${vpc.default_security_group_id}\n\
         \x20     type: ingress\n      protocol: tcp\n      from_port: ${params.port}\n      to_port: ${params.port}\n      cidr_block: 10.0.0.0/16\n",
    )
    .unwrap();
    let bp = f.to_str().unwrap();
    let ok = run(archkit(dir.path()).args(["validate", bp]));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let out = run(archkit(dir.path()).args(["validate", bp, "--var", "port=70000"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    // Both ports, each at its own line, with AWS's range.
    assert_eq!(
        out.stderr.matches("archkit::blueprint::invalid_value").count(),
        2,
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("rule.from_port") && out.stderr.contains(":16:"), "{}", out.stderr);
    assert!(out.stderr.contains("AWS allows -1 to 65535"), "{}", out.stderr);
    let out = run(archkit(dir.path()).args(["validate", bp, "--var", "cidr=banana"]));
    assert!(
        out.stderr.contains("`vpc.cidr_block` is `banana`, not an IPv4 CIDR block"),
        "{}",
        out.stderr
    );
}

/// `apply` refuses before its first AWS call: the proxy in front of moto
/// sees none, and no state file is written.
#[test]
fn apply_with_a_value_out_of_range_makes_no_aws_call() {
    let Some(url) = require_moto() else { return };
    let proxy = Proxy::builder(&url).start();
    let s = Stack::new(&proxy.url, "values");
    // The network fixture declares no types: the limits are the schema's.
    for var in ["vpc_cidr=10.0.0.0/8", "vpc_cidr=banana", "public_subnet_two_cidr=10.0.0.0/23"] {
        let out = s.run(&["apply", &bp(&s), "--auto-approve", "--var", var]);
        assert_eq!(out.code, 1, "{var}: {}", out.stderr);
        assert!(out.stderr.contains("archkit::blueprint::invalid_value"), "{var}: {}", out.stderr);
    }
    assert_eq!(proxy.stats()["calls"], 0, "{}", proxy.stats());
    assert!(!s.dir_path().join(".archkit").join(format!("{}.state.json", s.name)).exists());
    // The same values within range go through (moto answers).
    let out = s.run(&["plan", &bp(&s), "--var", "vpc_cidr=10.0.0.0/16"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}
