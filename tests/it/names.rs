//! Stack names and the tags that find stacks (issue 31 §3), against moto:
//! upper-case stack names are refused before anything is made, an
//! `ARCHKIT_STACK` in the environment does not narrow `stacks` or `sweep`,
//! a malformed `archkit:expires-at` is a warning (never "never" in
//! silence), and `stacks` and `sweep` agree that resources tagged
//! `archkit:stack` without `archkit:id` make no stack.
//!
//! What moto cannot prove: that AWS folds case (RDS lower-cases its
//! identifiers; IAM names are case-insensitive). moto keeps `AU` and `au`
//! apart, so the collision itself is not reproduced here; what is tested
//! is that archkit never gets as far as making a name that could collide.

use crate::moto::{Stack, bp, ec2, ok, require_moto, rt, tags};
use crate::util::{Run, run};

fn json(out: &Run) -> serde_json::Value {
    ok(out);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

fn names(v: &serde_json::Value) -> Vec<String> {
    v["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

fn warnings(v: &serde_json::Value) -> Vec<String> {
    v["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap().to_string()).collect()
}

/// A VPC made outside archkit (through the SDK) carrying `tags`.
fn tagged_vpc(url: &str, tags: &[(&str, &str)]) -> String {
    rt().block_on(async {
        let c = ec2(url);
        let vpc = c.create_vpc().cidr_block("10.9.0.0/16").send().await.unwrap();
        let id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let mut req = c.create_tags().resources(&id);
        for (k, v) in tags {
            req = req.tags(aws_sdk_ec2::types::Tag::builder().key(*k).value(*v).build());
        }
        req.send().await.unwrap();
        id
    })
}

fn delete_vpc(url: &str, id: &str) {
    rt().block_on(async { ec2(url).delete_vpc().vpc_id(id).send().await.unwrap() });
}

#[test]
fn an_upper_case_stack_name_is_refused_before_anything_is_made() {
    let Some(url) = require_moto() else { return };
    let lower = Stack::new(&url, "au");
    ok(&lower.run(&["apply", &bp(&lower), "--auto-approve"]));

    // The same name in upper case, from its own directory (no state).
    let mut upper = Stack::new(&url, "au");
    upper.name = lower.name.to_uppercase();
    let b = bp(&upper);
    let b = b.as_str();
    for args in [vec!["plan", b], vec!["apply", b, "--auto-approve"]] {
        let verb = args[0];
        let out = upper.run(&args);
        assert_eq!(out.code, 1, "{verb}: {}\n{}", out.stdout, out.stderr);
        assert!(out.stderr.contains("archkit::stack::invalid_name"), "{}", out.stderr);
        assert!(out.stderr.contains("lower-case"), "{}", out.stderr);
        assert!(!out.stderr.contains("archkit hit a bug"), "{}", out.stderr);
    }
    assert!(
        !upper.dir_path().join(format!(".archkit/{}.state.json", upper.name)).exists(),
        "a refused stack wrote a state file"
    );
    // Read back: nothing carries the upper-case name; the lower-case
    // stack is whole and unchanged.
    let (up, low) = rt().block_on(async {
        let c = ec2(&url);
        let count = |f| {
            let c = c.clone();
            async move { c.describe_vpcs().filters(f).send().await.unwrap().vpcs().len() }
        };
        (count(upper.tag_filter()).await, count(lower.tag_filter()).await)
    });
    assert_eq!((up, low), (0, 1));
    let plan = lower.run(&["plan", &bp(&lower), "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    ok(&lower.run(&["destroy", &bp(&lower), "--auto-approve"]));
}

#[test]
fn archkit_stack_in_the_environment_does_not_narrow_stacks_or_sweep() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "envsweep");
    ok(&s.run(&["apply", &bp(&s), "--auto-approve", "--ttl", "2h"]));
    // A CI workflow sets ARCHKIT_STACK for every step, its nightly sweep
    // included: that sweep still looks at every stack.
    let other = "demo-not-a-stack-here";
    let with_env = |args: &[&str]| {
        let mut c = s.cmd_bare(args);
        c.env("ARCHKIT_STACK", other);
        json(&run(&mut c))
    };
    let dry = with_env(&["sweep", "--dry-run", "--json"]);
    assert!(dry["looked_at"].as_str().unwrap().starts_with("every stack in us-east-1"), "{dry}");
    assert!(dry["stacks"].as_u64().unwrap() >= 1, "{dry}");
    let listed = with_env(&["stacks", "--json"]);
    assert!(names(&listed).contains(&s.name), "{listed}");
    assert!(listed["looked_at"].as_str().unwrap().starts_with("every stack"), "{listed}");

    // `--stack` on the command line does narrow it, and says so.
    let dry = json(&run(&mut s.cmd_bare(&["--stack", other, "sweep", "--dry-run", "--json"])));
    assert_eq!(dry["looked_at"], format!("stack `{other}` in us-east-1"), "{dry}");
    assert_eq!(dry["stacks"], 0, "{dry}");
    let one = json(&run(&mut s.cmd_bare(&["--stack", &s.name, "stacks", "--json"])));
    assert_eq!(names(&one), vec![s.name.clone()], "{one}");
    // The text form says what it looked at too.
    let text = run(&mut s.cmd_bare(&["--stack", other, "sweep", "--dry-run"]));
    ok(&text);
    assert!(
        text.stdout.contains(&format!("looked at stack `{other}` in us-east-1 (0 found)")),
        "{}",
        text.stdout
    );
    ok(&s.run(&["destroy", &bp(&s), "--auto-approve"]));
}

#[test]
fn a_malformed_expiry_is_a_warning_and_the_stack_is_never_swept() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "badexp");
    let vpc = tagged_vpc(
        &url,
        &[("archkit:stack", &s.name), ("archkit:id", "vpc"), ("archkit:expires-at", "yesterday")],
    );
    let listed = json(&run(&mut s.cmd_bare(&["--stack", &s.name, "stacks", "--json"])));
    assert_eq!(names(&listed), vec![s.name.clone()], "{listed}");
    let row = &listed["stacks"][0];
    assert_eq!(row["invalid_expires_at"], "yesterday", "{row}");
    assert_eq!(row["expired"], false, "{row}");
    let w = warnings(&listed);
    assert!(w.iter().any(|w| w.contains("`yesterday`") && w.contains(&s.name)), "{listed}");

    let dry = json(&run(&mut s.cmd_bare(&["--stack", &s.name, "sweep", "--dry-run", "--json"])));
    assert_eq!(dry["stacks"], 1, "{dry}");
    assert_eq!(dry["expired"], serde_json::json!([]), "{dry}");
    assert!(warnings(&dry).iter().any(|w| w.contains("`yesterday`")), "{dry}");

    // The table marks it and the warning reaches a terminal user (stderr).
    let text = run(&mut s.cmd_bare(&["--stack", &s.name, "stacks"]));
    ok(&text);
    assert!(text.stdout.contains("invalid (see warning)"), "{}", text.stdout);
    assert!(text.stderr.contains("yesterday"), "{}", text.stderr);

    // A real sweep leaves it: an unreadable expiry is not "expired".
    ok(&run(&mut s.cmd_bare(&["--stack", &s.name, "sweep", "--auto-approve"])));
    let left = rt().block_on(async {
        let out = ec2(&url).describe_vpcs().vpc_ids(&vpc).send().await.unwrap();
        out.vpcs().iter().map(|v| tags(v.tags())).collect::<Vec<_>>()
    });
    assert_eq!(left.len(), 1, "the sweep deleted a stack whose expiry it could not read");
    delete_vpc(&url, &vpc);
}

#[test]
fn stacks_and_sweep_agree_that_tags_without_an_archkit_id_make_no_stack() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "noid");
    let vpc = tagged_vpc(
        &url,
        &[("archkit:stack", &s.name), ("archkit:expires-at", "2000-01-01T00:00:00Z")],
    );
    let listed = json(&run(&mut s.cmd_bare(&["--stack", &s.name, "stacks", "--json"])));
    assert!(!names(&listed).contains(&s.name), "{listed}");
    assert!(
        warnings(&listed).iter().any(|w| w.contains(&s.name) && w.contains("no archkit:id")),
        "{listed}"
    );
    // Long expired by its tag, yet not a stack: the sweep lists and
    // deletes nothing of it.
    let dry = json(&run(&mut s.cmd_bare(&["--stack", &s.name, "sweep", "--dry-run", "--json"])));
    assert_eq!(
        (dry["stacks"].as_u64(), dry["expired"].as_array().map(Vec::len)),
        (Some(0), Some(0))
    );
    assert!(warnings(&dry).iter().any(|w| w.contains("no archkit:id")), "{dry}");
    ok(&run(&mut s.cmd_bare(&["--stack", &s.name, "sweep", "--auto-approve"])));
    let left = rt().block_on(async {
        ec2(&url).describe_vpcs().vpc_ids(&vpc).send().await.unwrap().vpcs().len()
    });
    assert_eq!(left, 1);
    delete_vpc(&url, &vpc);
}

#[test]
fn a_destroyed_stack_the_tagging_api_still_lists_is_neither_listed_nor_swept() {
    let Some(url) = require_moto() else { return };
    // The stack's discovery reads every kind, SSM associations too, which
    // moto lacks: the proxy's test double answers those calls.
    let proxy = crate::faults::Proxy::builder(&url).fake_ssm_associations().start();
    let s = Stack::new(&proxy.url, "stale");
    ok(&s.run(&["apply", &bp(&s), "--auto-approve"]));
    let nat = s.physical("nat_gateway_one");
    ok(&s.run(&["destroy", &bp(&s), "--auto-approve"]));
    // A deleted NAT gateway keeps its tags and stays listed by the tagging
    // API (moto, and AWS for about an hour). Its expiry, set here through
    // the SDK to the past, would make it look like an expired stack.
    rt().block_on(async {
        let tag = aws_sdk_ec2::types::Tag::builder()
            .key("archkit:expires-at")
            .value("2000-01-01T00:00:00Z")
            .build();
        ec2(&url).create_tags().resources(&nat).tags(tag).send().await.unwrap();
    });
    let listed = json(&run(&mut s.cmd_bare(&["--stack", &s.name, "stacks", "--json"])));
    assert_eq!(names(&listed), Vec::<String>::new(), "{listed}");
    let dry = json(&run(&mut s.cmd_bare(&["--stack", &s.name, "sweep", "--dry-run", "--json"])));
    assert_eq!(
        (dry["stacks"].as_u64(), dry["expired"].as_array().map(Vec::len)),
        (Some(0), Some(0)),
        "{dry}"
    );
}
