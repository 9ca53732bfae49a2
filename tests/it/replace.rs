//! Replacements after the first apply, against moto, as a user meets them:
//! the built-in `fargate-public-private` applied, then a value it exposes
//! changed (the VPC's range, a subnet's range) and applied again. Each
//! kind that AWS lets hold only one association or one name at a time is
//! replaced delete-first (`-/+`); the rest create-first (`+/-`).
//!
//! moto does not refuse everything AWS does here (it lets a load balancer's
//! subnets move to another VPC, for one): what these prove is the order of
//! the calls, convergence, and that nothing is left twice (read back from
//! moto itself, not through the proxy that stands in for AWS's release of
//! a deleted NAT gateway's EIPs); the AWS rules
//! behind each kind's order are in the kinds' schemas and docs/blueprints.md.

use crate::fargate::leftovers;
use crate::faults::Proxy;
use crate::moto::{Stack, ec2, ok, require_moto, rt};

const BP: &str = "fargate-public-private";

/// The VPC and its four subnets moved from 10.0.0.0/16 to 10.50.0.0/16.
const MOVED: [&str; 10] = [
    "--var",
    "vpc_cidr=10.50.0.0/16",
    "--var",
    "public_subnet_one_cidr=10.50.0.0/24",
    "--var",
    "public_subnet_two_cidr=10.50.1.0/24",
    "--var",
    "private_subnet_one_cidr=10.50.2.0/24",
    "--var",
    "private_subnet_two_cidr=10.50.3.0/24",
];

/// A stack of the blueprint applied through a proxy that releases a
/// deleted NAT gateway's EIPs, as AWS does (moto 5.2.5 keeps them
/// associated, so no replacement of a NAT gateway that keeps its EIP could
/// pass against it): the proxy, the stack and the blueprint's path.
fn applied(url: &str, name: &str) -> (Proxy, Stack, String) {
    let nat = Proxy::builder(url).release_nat_eips().start();
    let s = Stack::new(&nat.url, name);
    let bp = s.builtin(BP);
    ok(&s.run(&["apply", &bp, "--auto-approve"]));
    (nat, s, bp)
}

fn with<'a>(args: &[&'a str], vars: &[&'a str]) -> Vec<&'a str> {
    args.iter().chain(vars).copied().collect()
}

/// What of the stack's network exists, read back with the SDK: VPC
/// ranges, subnet ranges, the VPCs its internet gateways are attached
/// to, the NAT gateways not deleted, and the EIPs with what holds them.
#[derive(Debug)]
struct Network {
    vpcs: Vec<String>,
    subnets: Vec<String>,
    igw_vpcs: Vec<String>,
    nats: usize,
    eips: usize,
}

fn network(url: &str, s: &Stack) -> Network {
    rt().block_on(async {
        let ec2 = ec2(url);
        let f = || s.tag_filter();
        let vpcs = ec2.describe_vpcs().filters(f()).send().await.unwrap();
        let subnets = ec2.describe_subnets().filters(f()).send().await.unwrap();
        let igws = ec2.describe_internet_gateways().filters(f()).send().await.unwrap();
        let eips = ec2.describe_addresses().filters(f()).send().await.unwrap();
        // moto ignores tag filters on NAT gateways: filter here.
        let nats = ec2.describe_nat_gateways().send().await.unwrap();
        let mut n = Network {
            vpcs: vpcs.vpcs().iter().filter_map(|v| v.cidr_block().map(str::to_string)).collect(),
            subnets: subnets
                .subnets()
                .iter()
                .filter_map(|v| v.cidr_block().map(str::to_string))
                .collect(),
            igw_vpcs: igws
                .internet_gateways()
                .iter()
                .flat_map(|g| g.attachments())
                .filter_map(|a| a.vpc_id().map(str::to_string))
                .collect(),
            nats: nats
                .nat_gateways()
                .iter()
                .filter(|g| crate::moto::tags(g.tags()).get("archkit:stack") == Some(&s.name))
                .filter(|g| {
                    !matches!(
                        g.state(),
                        Some(
                            aws_sdk_ec2::types::NatGatewayState::Deleted
                                | aws_sdk_ec2::types::NatGatewayState::Deleting
                        )
                    )
                })
                .count(),
            eips: eips.addresses().len(),
        };
        n.vpcs.sort();
        n.subnets.sort();
        n
    })
}

/// Applies `vars`, then asserts the next plan is empty and a second apply
/// does nothing.
fn converges(s: &Stack, bp: &str, vars: &[&str]) {
    let out = s.run(&with(&["apply", bp, "--auto-approve"], vars));
    ok(&out);
    let plan = s.run(&with(&["plan", bp, "--detailed-exitcode"], vars));
    assert_eq!(plan.code, 0, "the plan after the apply is not empty:\n{}", plan.stdout);
}

fn destroyed(url: &str, s: &Stack, bp: &str) {
    ok(&s.run(&["destroy", bp, "--auto-approve"]));
    let left = rt().block_on(leftovers(url, s));
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn moving_the_vpc_range_converges_in_one_apply() {
    let Some(url) = require_moto() else { return };
    let (_nat, s, bp) = applied(&url, "rvpc");
    let old_vpc = s.physical("vpc");

    // The plan says which order each replacement takes.
    let plan = s.run(&with(&["plan", &bp], &MOVED));
    ok(&plan);
    assert!(plan.stdout.contains("+/- vpc "), "{}", plan.stdout);
    assert!(plan.stdout.contains("-/+ gateway_attachment "), "{}", plan.stdout);
    // AWS cannot move a load balancer to another VPC (moto can): a new
    // one, made after the attachment it depends on, so deleted first too.
    assert!(plan.stdout.contains("-/+ public_load_balancer "), "{}", plan.stdout);

    converges(&s, &bp, &MOVED);
    let new_vpc = s.physical("vpc");
    assert_ne!(new_vpc, old_vpc);
    let n = network(&url, &s);
    assert_eq!(n.vpcs, ["10.50.0.0/16"], "{n:?}");
    assert_eq!(n.subnets, ["10.50.0.0/24", "10.50.1.0/24", "10.50.2.0/24", "10.50.3.0/24"]);
    assert_eq!(n.igw_vpcs, [new_vpc], "the gateway is attached to the new VPC only");
    assert_eq!((n.nats, n.eips), (2, 2), "{n:?}");
    destroyed(&url, &s, &bp);
}

#[test]
fn moving_a_public_subnet_converges_in_one_apply() {
    let Some(url) = require_moto() else { return };
    let (_nat, s, bp) = applied(&url, "rsub");
    let eip = s.physical("nat_one_eip");
    let old_nat = s.physical("nat_gateway_one");

    let vars = ["--var", "public_subnet_one_cidr=10.0.10.0/24"];
    let plan = s.run(&with(&["plan", &bp], &vars));
    ok(&plan);
    // The EIP can be on one NAT gateway at a time: the old one goes first.
    assert!(plan.stdout.contains("-/+ nat_gateway_one "), "{}", plan.stdout);
    // A new subnet takes a new association: no conflict, create first.
    assert!(plan.stdout.contains("+/- public_subnet_one_association "), "{}", plan.stdout);

    converges(&s, &bp, &vars);
    assert_ne!(s.physical("nat_gateway_one"), old_nat);
    assert_eq!(s.physical("nat_one_eip"), eip, "the EIP is kept, not replaced");
    let n = network(&url, &s);
    assert_eq!(n.vpcs, ["10.0.0.0/16"]);
    assert_eq!(n.subnets, ["10.0.1.0/24", "10.0.10.0/24", "10.0.2.0/24", "10.0.3.0/24"]);
    assert_eq!((n.nats, n.eips), (2, 2), "{n:?}");
    rt().block_on(async {
        let a = ec2(&url).describe_addresses().allocation_ids(&eip).send().await.unwrap();
        let held_by = a.addresses()[0].network_interface_id().map(str::to_string);
        let nat = ec2(&url)
            .describe_nat_gateways()
            .nat_gateway_ids(s.physical("nat_gateway_one"))
            .send()
            .await
            .unwrap();
        let eni = nat.nat_gateways()[0].nat_gateway_addresses()[0].network_interface_id();
        assert_eq!(held_by.as_deref(), eni, "the EIP is on the new NAT gateway");
    });
    destroyed(&url, &s, &bp);
}

/// A real SIGKILL of archkit after the old attachment was detached and
/// before the new one was made (the delete of a delete-first replacement
/// done, its create not): the rerun finds the gap and converges.
#[test]
fn a_kill_between_the_delete_and_the_create_of_a_replacement_converges() {
    let Some(url) = require_moto() else { return };
    let (nat, s, bp) = applied(&url, "rkill");

    let proxy = Proxy::builder(&nat.url).kill_op("AttachInternetGateway", false).start();
    let (out, signal) =
        proxy.spawn(&mut s.cmd_at(&proxy.url, &with(&["apply", &bp, "--auto-approve"], &MOVED)));
    assert_eq!(signal, Some(9), "archkit was not killed: {}\n{}", out.stdout, out.stderr);
    let ops: Vec<String> = serde_json::from_value(proxy.stats()["ops"].clone()).unwrap();
    let detach = ops.iter().position(|o| o == "DetachInternetGateway");
    assert!(detach.is_some(), "the old attachment went first: {ops:?}");
    drop(proxy);

    // Whatever the state file says now, the rerun converges.
    converges(&s, &bp, &MOVED);
    let n = network(&url, &s);
    assert_eq!(n.vpcs, ["10.50.0.0/16"], "{n:?}");
    assert_eq!(n.igw_vpcs, [s.physical("vpc")]);
    assert_eq!(n.subnets.len(), 4, "{n:?}");
    destroyed(&url, &s, &bp);
}
