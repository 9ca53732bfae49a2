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
