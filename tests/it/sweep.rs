//! Stack expiry as a cron job meets it (issue 14), against moto:
//! `apply --ttl` tags every taggable resource with `archkit:expires-at`,
//! `archkit stacks` lists stacks by tag with age, expiry and cost, and
//! `archkit sweep` destroys only the expired ones, with no state file.
//!
//! moto's tagging API lists EC2, ELB, Lambda and the other services the
//! blueprints use for naming stacks, but not MQ brokers, EventBridge rules
//! or IAM: a stack of only those would not be found (said in the README).

use crate::moto::{Stack, ok, require_moto};

const BP: &str = "privatelink-service";

fn json(out: &crate::util::Run) -> serde_json::Value {
    ok(out);
    serde_json::from_str(&out.stdout).unwrap()
}

fn names(v: &serde_json::Value, key: &str) -> Vec<String> {
    v[key].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn sweep_destroys_only_expired_stacks_and_ttl_is_a_tag_change() {
    let Some(url) = require_moto() else { return };
    // The stacks' discovery reads every kind, SSM associations too, which
    // moto lacks: the proxy's test double answers those calls.
    let proxy = crate::faults::Proxy::builder(&url).fake_ssm_associations().start();
    let url = proxy.url.clone();
    let (old, new) = (Stack::new(&url, "ttl-old"), Stack::new(&url, "ttl-new"));
    ok(&old.run(&["apply", BP, "--auto-approve", "--ttl", "1s"]));
    ok(&new.run(&["apply", BP, "--auto-approve", "--ttl", "2h"]));
    let expiry = new.state()["expires_at"].as_str().unwrap().to_string();

    // Every taggable resource carries the expiry, and a plan without
    // --ttl keeps it: nothing to change.
    let tagged = crate::moto::rt().block_on(async {
        let ec2 = crate::moto::ec2(&url);
        let vpcs = ec2.describe_vpcs().filters(new.tag_filter()).send().await.unwrap();
        vpcs.vpcs().iter().map(|v| crate::moto::tags(v.tags())).collect::<Vec<_>>()
    });
    assert_eq!(tagged.len(), 2);
    for t in &tagged {
        assert_eq!(t.get("archkit:expires-at"), Some(&expiry), "{t:?}");
    }
    let plan = new.run(&["plan", BP, "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    // Extending it is a tag update of every taggable resource, then none.
    let plan = json(&new.run(&["plan", BP, "--json", "--ttl", "3h"]));
    let updates = plan["changes"].as_array().unwrap().iter().filter(|c| c["action"] == "update");
    assert!(updates.clone().all(|c| c["changed"] == serde_json::json!(["tags"])), "{plan}");
    // All but what carries no tags: the endpoint's acceptance, the
    // gateway's attachment, the route and the route table associations.
    let untagged = [
        "aws.ec2.vpc_endpoint_connection",
        "aws.ec2.internet_gateway_attachment",
        "aws.ec2.route",
        "aws.ec2.route_table_association",
    ];
    let state = new.state();
    let taggable = state["resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| !untagged.contains(&r["kind"].as_str().unwrap()))
        .count();
    assert_eq!(taggable, 27);
    assert_eq!(updates.count(), taggable, "{plan}");

    std::thread::sleep(std::time::Duration::from_millis(1500));

    // The listing finds both, by tags alone, with age, expiry and cost.
    // (`--stack` lists one stack: other tests' stacks share this moto.)
    let row = |s: &Stack| {
        let stacks = json(&s.run(&["stacks", "--json"]));
        assert_eq!(stacks["stacks"].as_array().unwrap().len(), 1, "{stacks}");
        stacks["stacks"][0].clone()
    };
    let (o, n) = (row(&old), row(&new));
    assert_eq!((o["expired"].as_bool(), n["expired"].as_bool()), (Some(true), Some(false)));
    assert_eq!(n["expires_at"], serde_json::json!(expiry));
    assert!(n["age_seconds"].as_u64().unwrap() < 600, "{n}");
    // The plan's figure: NLB, endpoints, and the demo task with its address.
    assert!((n["hourly"].as_f64().unwrap() - 0.099843).abs() < 1e-9, "{n}");

    // A dry run names only the expired stack and changes nothing.
    let dry = json(&crate::util::run(&mut new.cmd_bare(&["sweep", "--dry-run", "--json"])));
    let expired = names(&dry, "expired");
    assert!(expired.contains(&old.name), "{dry}");
    assert!(!expired.contains(&new.name), "{dry}");
    let plan = old.run(&["plan", BP, "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "the dry run changed something: {}", plan.stdout);

    // The sweep, run from elsewhere (no state of either stack), destroys
    // the expired one whole and leaves the other.
    let elsewhere = Stack::new(&url, "sweeper");
    ok(&crate::util::run(&mut elsewhere.cmd_bare(&["sweep", "--auto-approve"])));
    let left = crate::moto::rt().block_on(crate::fargate::leftovers(&url, &old));
    assert_eq!(left, Vec::<String>::new());
    assert!(crate::privatelink::endpoints(&url, &old).is_empty());
    assert!(crate::endpoint_service::services(&url, &old).is_empty());
    let plan = new.run(&["plan", BP, "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "the sweep touched the other stack: {}", plan.stdout);
    ok(&new.run(&["destroy", BP, "--auto-approve"]));
}

/// After a tutorial people forget which region they used: `stacks` and
/// `sweep` with `--all-regions` look in every region the account has
/// enabled (moto answers DescribeRegions with every region it knows), list
/// a stack of another region with that region, and sweep it there.
#[test]
fn all_regions_lists_and_sweeps_a_stack_of_another_region() {
    let Some(url) = require_moto() else { return };
    // Expired stacks are discovered whole (SSM associations too, which
    // moto lacks: the proxy's test double answers those calls).
    let proxy = crate::faults::Proxy::builder(&url).fake_ssm_associations().start();
    let url = proxy.url.clone();
    let west = Stack::new(&url, "rg-west");
    let east = Stack::new(&url, "rg-east");
    let bp = |s: &Stack| crate::moto::bp(s);
    ok(&west.run(&["apply", &bp(&west), "--auto-approve", "--ttl", "1s", "--region", "us-west-2"]));
    ok(&east.run(&["apply", &bp(&east), "--auto-approve", "--ttl", "2h"]));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let bare = |s: &Stack, args: &[&str]| json(&crate::util::run(&mut s.cmd_bare(args)));

    // The configured region (us-east-1) alone does not see it.
    let here = bare(&east, &["--stack", &west.name, "stacks", "--json"]);
    assert_eq!(names(&here, "stacks"), Vec::<String>::new(), "{here}");
    // Every region does, and says where it is.
    let all = bare(&east, &["--stack", &west.name, "stacks", "--all-regions", "--json"]);
    assert_eq!(names(&all, "stacks"), vec![west.name.clone()], "{all}");
    assert_eq!(all["stacks"][0]["region"], "us-west-2", "{all}");
    assert_eq!(all["stacks"][0]["expired"], true, "{all}");
    let looked = all["looked_at"].as_str().unwrap();
    let regions: usize =
        looked.split(" in ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(regions > 10, "{looked}");
    // The table has a region column.
    let text =
        crate::util::run(&mut east.cmd_bare(&["--stack", &west.name, "stacks", "--all-regions"]));
    ok(&text);
    let line = text.stdout.lines().find(|l| l.starts_with(&west.name)).expect("a row");
    assert!(line.contains("us-west-2") && line.contains("(expired)"), "{}", text.stdout);
    assert!(text.stdout.starts_with("STACK"), "{}", text.stdout);
    assert!(text.stdout.lines().next().unwrap().contains("REGION"), "{}", text.stdout);

    // Both stacks across regions: each in its own.
    for s in [&west, &east] {
        let one = bare(s, &["--stack", &s.name, "stacks", "--all-regions", "--json"]);
        let region = if s.name == west.name { "us-west-2" } else { "us-east-1" };
        assert_eq!(one["stacks"][0]["region"], region, "{one}");
        assert_eq!(one["stacks"].as_array().unwrap().len(), 1, "{one}");
    }

    // A dry run names it with its region; the sweep destroys it there.
    let dry =
        bare(&east, &["--stack", &west.name, "sweep", "--all-regions", "--dry-run", "--json"]);
    assert_eq!(
        dry["expired"],
        serde_json::json!([{
            "name": west.name, "region": "us-west-2", "expires_at": west.state()["expires_at"]
        }]),
        "{dry}"
    );
    let swept = crate::util::run(&mut east.cmd_bare(&[
        "--stack",
        &west.name,
        "sweep",
        "--all-regions",
        "--auto-approve",
    ]));
    ok(&swept);
    assert!(
        swept.stderr.contains(&format!("Destroying stack `{}` in us-west-2", west.name)),
        "{}",
        swept.stderr
    );
    let left = bare(&east, &["--stack", &west.name, "stacks", "--all-regions", "--json"]);
    assert_eq!(names(&left, "stacks"), Vec::<String>::new(), "{left}");
    let vpcs = crate::moto::rt().block_on(async {
        let creds = aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "t");
        let c = aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::Config::builder()
                .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
                .region(aws_sdk_ec2::config::Region::new("us-west-2"))
                .endpoint_url(&url)
                .credentials_provider(creds)
                .build(),
        );
        c.describe_vpcs().filters(west.tag_filter()).send().await.unwrap().vpcs().len()
    });
    assert_eq!(vpcs, 0, "the west stack's VPC is still there");
    // The other region's stack is untouched.
    let plan = east.run(&["plan", &bp(&east), "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "the sweep touched the other stack: {}", plan.stdout);
    ok(&east.run(&["destroy", &bp(&east), "--auto-approve"]));
}
