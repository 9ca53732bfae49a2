//! Moving a blueprint's VPC range (issue 33 §1), as a user does it:
//! `apply --var vpc_cidr=10.50.0.0/16` on every built-in blueprint with a
//! VPC, through the real binary against moto. Every subnet is read back
//! with the SDK and must lie inside its VPC's new range; the next plan is
//! empty and destroy leaves nothing.
//!
//! moto does not check that a subnet lies inside its VPC (AWS refuses it
//! with `InvalidSubnet.Range`), so "inside" is asserted on what was
//! created, not inferred from the apply succeeding.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;

use crate::faults::Proxy;
use crate::moto::{Stack, ec2, ok, require_moto, rt};
use crate::util::Run;

fn run(s: &Stack, url: &str, vars: &[(&str, &str)], args: &[&str]) -> Run {
    let mut c = s.cmd_at(url, args);
    for (k, v) in vars {
        c.env(format!("ARCHKIT_VAR_{k}"), v);
    }
    crate::util::run(&mut c)
}

/// Each VPC of the stack with the ranges of its subnets.
fn subnets_by_vpc(url: &str, s: &Stack) -> BTreeMap<Ipv4Net, Vec<Ipv4Net>> {
    rt().block_on(async {
        let ec2 = ec2(url);
        let vpcs = ec2.describe_vpcs().filters(s.tag_filter()).send().await.unwrap();
        let subnets = ec2.describe_subnets().filters(s.tag_filter()).send().await.unwrap();
        let mut out = BTreeMap::new();
        for v in vpcs.vpcs() {
            let range: Ipv4Net = v.cidr_block().unwrap().parse().unwrap();
            let inside = subnets
                .subnets()
                .iter()
                .filter(|n| n.vpc_id() == v.vpc_id())
                .map(|n| n.cidr_block().unwrap().parse().unwrap())
                .collect();
            out.insert(range, inside);
        }
        // No subnet of the stack outside the stack's VPCs.
        let counted: usize = out.values().map(Vec::len).sum();
        assert_eq!(counted, subnets.subnets().len(), "{:?}", subnets.subnets());
        out
    })
}

/// Applies `bp` with its VPC range(s) moved, then checks what was made.
fn moves_with_its_vpc(bp: &str, vars: &[(&str, &str)], ranges: &[&str]) {
    let Some(url) = require_moto() else { return };
    // Discovery and the spread blueprint read placement groups, which moto
    // lacks: the proxy answers those calls only.
    let proxy = Proxy::builder(&url).fake_placement_groups().fake_ssm_associations().start();
    let p = proxy.url.as_str();
    let s = Stack::new(&url, "cidr");
    ok(&run(&s, p, vars, &["apply", bp, "--auto-approve"]));

    let found = subnets_by_vpc(&url, &s);
    let want: Vec<Ipv4Net> = ranges.iter().map(|r| r.parse().unwrap()).collect();
    assert_eq!(found.keys().copied().collect::<Vec<_>>(), want, "{bp}: the VPCs");
    for (vpc, subnets) in &found {
        assert!(!subnets.is_empty(), "{bp}: VPC {vpc} has no subnet");
        for n in subnets {
            assert!(vpc.contains(n), "{bp}: subnet {n} is outside its VPC {vpc}");
        }
        for (i, a) in subnets.iter().enumerate() {
            for b in &subnets[i + 1..] {
                assert!(!a.contains(b) && !b.contains(a), "{bp}: {a} and {b} overlap");
            }
        }
    }

    let again = run(&s, p, vars, &["plan", bp, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{bp}: not converged\n{}\n{}", again.stdout, again.stderr);
    let state = s.state();
    ok(&run(&s, p, vars, &["destroy", bp, "--auto-approve"]));
    assert_eq!(
        crate::discover::leftovers(&url, p, bp, &s, &state),
        Vec::<String>::new(),
        "{bp}: left after destroy"
    );
}

const MOVED: (&str, &str) = ("vpc_cidr", "10.50.0.0/16");

#[test]
fn privatelink_service_moves_with_its_vpc_ranges() {
    moves_with_its_vpc(
        "privatelink-service",
        &[("provider_vpc_cidr", "10.50.0.0/16"), ("consumer_vpc_cidr", "10.60.0.0/16")],
        &["10.50.0.0/16", "10.60.0.0/16"],
    );
}

#[test]
fn launch_template_spread_moves_with_its_vpc_range() {
    moves_with_its_vpc(
        "launch-template-spread",
        &[MOVED, ("instance_count", "2")],
        &["10.50.0.0/16"],
    );
}

#[test]
fn ecs_awsvpc_nginx_moves_with_its_vpc_range() {
    moves_with_its_vpc("ecs-awsvpc-nginx", &[MOVED], &["10.50.0.0/16"]);
}

#[test]
fn codebuild_vpc_moves_with_its_vpc_range() {
    moves_with_its_vpc("codebuild-vpc", &[MOVED], &["10.50.0.0/16"]);
}

#[test]
fn managed_ad_sqlserver_moves_with_its_vpc_range() {
    moves_with_its_vpc(
        "managed-ad-sqlserver",
        &[
            MOVED,
            ("db_client_cidr", "10.45.0.0/24"),
            ("directory_admin_password", "Corp-Admin-Pw-7x"),
            ("admin_ami_parameter", crate::managed::MOTO_WINDOWS_AMI),
        ],
        &["10.50.0.0/16"],
    );
}

/// The three whose subnets are parameters of their own: the defaults are
/// derived from `vpc_cidr`, so moving it alone moves them.
#[test]
fn fargate_public_private_moves_with_its_vpc_range() {
    moves_with_its_vpc("fargate-public-private", &[MOVED], &["10.50.0.0/16"]);
}

#[test]
fn mq_lambda_poller_moves_with_its_vpc_range() {
    moves_with_its_vpc(
        "mq-lambda-poller",
        &[
            MOVED,
            ("broker_password", "correct-horse-battery-9"),
            ("console_cidr", "203.0.113.7/32"),
        ],
        &["10.50.0.0/16"],
    );
}

#[test]
fn aurora_firehose_s3_moves_with_its_vpc_range() {
    moves_with_its_vpc(
        "aurora-firehose-s3",
        &[MOVED, ("db_client_cidr", "203.0.113.7/32")],
        &["10.50.0.0/16"],
    );
}

#[test]
fn ecs_windows_cluster_moves_with_its_vpc_range() {
    // moto has only the older Windows AMI parameter (see compute.rs).
    let ami = (
        "ami_parameter",
        "/aws/service/ecs/optimized-ami/windows_server/2019/english/full/recommended/image_id",
    );
    moves_with_its_vpc(
        "ecs-windows-cluster",
        &[MOVED, ami, ("web_cidr", "203.0.113.7/32")],
        &["10.50.0.0/16"],
    );
}

/// A subnet outside its VPC is refused at `plan`: exit 1, the line of the
/// subnet's range named, and not one AWS call made (the proxy counts
/// them). Here the ranges are literals, so nothing but the check can know.
#[test]
fn a_subnet_outside_its_vpc_stops_at_plan_with_no_aws_call() {
    let Some(url) = require_moto() else { return };
    let proxy = Proxy::builder(&url).start();
    let s = Stack::new(&proxy.url, "outside");
    let dir = s.dir_path().join("outside");
    std::fs::create_dir_all(&dir).unwrap();
    let text = "name: outside\nresources:\n  vpc:\n    type: aws.ec2.vpc\n    properties:\n      \
                cidr_block: 10.50.0.0/16\n  subnet:\n    type: aws.ec2.subnet\n    properties:\n      \
                vpc_id: ${vpc.id}\n      cidr_block: 10.60.1.0/24\n      \
                availability_zone: ${azs[0]}\n";
    std::fs::write(dir.join("blueprint.yaml"), text).unwrap();
    let out = s.run(&["plan", dir.to_str().unwrap(), "--json"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let e = &v["errors"][0];
    assert_eq!(e["code"], "archkit::blueprint::invalid_value", "{e}");
    assert_eq!(e["line"], 11, "the subnet's cidr_block line: {e}");
    assert!(e["message"].as_str().unwrap().contains("10.50.0.0/16"), "{e}");
    assert_eq!(proxy.stats()["calls"], 0, "{}", proxy.stats());
}
