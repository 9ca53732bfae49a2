//! `archkit destroy --stack NAME --discover` with the state file gone
//! (issue 14), against moto, for every complete blueprint: what archkit
//! finds by tags it deletes in an order rebuilt from the resources' own
//! references, and a second stack of the same blueprint beside it in the
//! account is untouched. What is left is checked service by service with
//! the SDK, not through archkit.
//!
//! Every call goes through `scripts/fault-proxy.py --fake-placement-groups`:
//! discovery reads every kind archkit knows, placement groups among them,
//! which moto does not implement (the proxy answers them).
//!
//! moto does not enforce every dependency AWS does (a gateway detached
//! while NAT gateways hold addresses): those orders are tested as rules
//! (`kinds`), not here.

use crate::moto::{Stack, ok, require_moto, rt};
use crate::util::Run;

const MQ_VARS: [(&str, &str); 2] =
    [("broker_password", "correct-horse-battery-9"), ("console_cidr", "203.0.113.7/32")];

fn run(s: &Stack, url: &str, vars: &[(&str, &str)], args: &[&str]) -> Run {
    let mut c = s.cmd_at(url, args);
    for (k, v) in vars {
        c.env(format!("ARCHKIT_VAR_{k}"), v);
    }
    crate::util::run(&mut c)
}

/// What is left of `s`, kind by kind.
pub(crate) fn leftovers(
    url: &str,
    pg: &str,
    bp: &str,
    s: &Stack,
    state: &serde_json::Value,
) -> Vec<String> {
    let mut left = match bp {
        "mq-lambda-poller" => rt().block_on(crate::mq::leftovers(url, s, state)),
        "aurora-firehose-s3" => rt().block_on(crate::aurora::leftovers(url, s)),
        "launch-template-spread" | "ecs-awsvpc-nginx" | "ecs-windows-cluster" => {
            rt().block_on(crate::compute::leftovers(url, Some(pg), s))
        }
        "glue-relationalize" => {
            let bucket = state["resources"]["data_bucket"]["physical_id"].as_str().unwrap();
            rt().block_on(crate::managed::glue_leftovers(url, s, bucket))
        }
        "codebuild-vpc" => rt().block_on(crate::managed::codebuild_leftovers(url, s)),
        "managed-ad-sqlserver" => rt().block_on(crate::managed::directory_leftovers(url, s)),
        _ => rt().block_on(crate::fargate::leftovers(url, s)),
    };
    if bp == "privatelink-service" {
        left.extend(crate::privatelink::endpoints(url, s).iter().map(|e| format!("{e:?}")));
        left.extend(crate::endpoint_service::services(url, s).iter().map(|e| format!("{e:?}")));
    }
    left
}

fn discover_destroys_a_stack_without_state(bp: &str, vars: &[(&str, &str)]) {
    let Some(url) = require_moto() else { return };
    let proxy =
        crate::faults::Proxy::builder(&url).fake_placement_groups().fake_ssm_associations().start();
    let p = proxy.url.as_str();
    let (a, b) = (Stack::new(&url, "dsa"), Stack::new(&url, "dsb"));
    ok(&run(&a, p, vars, &["apply", bp, "--auto-approve"]));
    ok(&run(&b, p, vars, &["apply", bp, "--auto-approve"]));
    let state = a.state();
    let taggable: std::collections::BTreeSet<String> = state["resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| !UNTAGGED.contains(&r["kind"].as_str().unwrap()))
        .map(|(id, _)| id.clone())
        .collect();
    std::fs::remove_dir_all(a.dir_path().join(".archkit")).unwrap();

    // No blueprint and no state: only the stack's name.
    let out = run(&a, p, &[], &["destroy", "--discover", "--auto-approve", "--json"]);
    ok(&out);
    let plan = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "plan")
        .expect("a plan event");
    let changes = plan["plan"]["changes"].as_array().unwrap();
    // Everything taggable was found, and each says why it is the stack's.
    let found: std::collections::BTreeSet<String> =
        changes.iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(found, taggable);
    assert_eq!(changes.len(), taggable.len(), "found twice: {changes:#?}");
    assert!(changes.iter().all(|c| c["reason"] == "discovered"), "{changes:#?}");
    assert_eq!(leftovers(&url, p, bp, &a, &state), Vec::<String>::new());

    // The stack beside it is whole: it still plans no change.
    let again = run(&b, p, vars, &["plan", bp, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let b_state = b.state();
    ok(&run(&b, p, vars, &["destroy", bp, "--auto-approve"]));
    assert_eq!(leftovers(&url, p, bp, &b, &b_state), Vec::<String>::new());
}

/// Kinds found through their parents, never by tags.
const UNTAGGED: [&str; 7] = [
    "aws.ec2.route",
    "aws.ec2.route_table_association",
    "aws.ec2.internet_gateway_attachment",
    "aws.ec2.vpc_endpoint_connection",
    "aws.lambda.permission",
    // Goes with its cluster.
    "aws.rds.cluster_role_association",
    // Goes with its database (DeleteDatabase drops its tables).
    "aws.glue.table",
];

#[test]
fn discover_destroys_fargate_public_private_without_state() {
    discover_destroys_a_stack_without_state("fargate-public-private", &[]);
}

#[test]
fn discover_destroys_mq_lambda_poller_without_state() {
    discover_destroys_a_stack_without_state("mq-lambda-poller", &MQ_VARS);
}

#[test]
fn discover_destroys_aurora_firehose_s3_without_state() {
    discover_destroys_a_stack_without_state(
        "aurora-firehose-s3",
        &[("db_client_cidr", "203.0.113.7/32")],
    );
}

#[test]
fn discover_destroys_privatelink_service_without_state() {
    discover_destroys_a_stack_without_state("privatelink-service", &[]);
}

#[test]
fn discover_destroys_launch_template_spread_without_state() {
    discover_destroys_a_stack_without_state("launch-template-spread", &[("instance_count", "2")]);
}

#[test]
fn discover_destroys_ecs_awsvpc_nginx_without_state() {
    discover_destroys_a_stack_without_state("ecs-awsvpc-nginx", &[]);
}

#[test]
fn discover_destroys_glue_relationalize_without_state() {
    discover_destroys_a_stack_without_state("glue-relationalize", &[]);
}

#[test]
fn discover_destroys_codebuild_vpc_without_state() {
    discover_destroys_a_stack_without_state("codebuild-vpc", &[]);
}

#[test]
fn discover_destroys_managed_ad_sqlserver_without_state() {
    discover_destroys_a_stack_without_state(
        "managed-ad-sqlserver",
        &[
            ("db_client_cidr", "10.45.0.0/24"),
            ("directory_admin_password", "Corp-Admin-Pw-7x"),
            ("admin_ami_parameter", crate::managed::MOTO_WINDOWS_AMI),
        ],
    );
}
