//! The dependency graph of loaded blueprints: order, edges, cycles.

use archkit::blueprint::{Blueprint, load_bytes};
use archkit::graph::Graph;

fn graph(src: &str) -> (Blueprint, Graph) {
    let bp = load_bytes("t.yaml", src.as_bytes(), &archkit::aws::registry()).unwrap();
    let g = bp.graph.clone();
    (bp, g)
}

const NET: &str = "name: t\nresources:\n  vpc:\n    type: aws.ec2.vpc\n    properties: {cidr_block: 10.0.0.0/16}\n  b_sub:\n    type: aws.ec2.subnet\n    properties: {vpc_id: '${vpc.id}', cidr_block: 10.0.1.0/24, availability_zone: '${azs[1]}'}\n  a_sub:\n    type: aws.ec2.subnet\n    properties: {vpc_id: '${vpc.id}', cidr_block: 10.0.0.0/24, availability_zone: '${azs[0]}'}\n  igw:\n    type: aws.ec2.internet_gateway\n    depends_on: [vpc]\n  rt:\n    type: aws.ec2.route_table\n    properties: {vpc_id: '${vpc.id}', tags: {owner: '${a_sub.id}-${b_sub.id}'}}\n";

#[test]
fn create_order_is_topological_and_deterministic() {
    let (_, g) = graph(NET);
    assert_eq!(g.create_order(), ["vpc", "a_sub", "b_sub", "igw", "rt"]);
    for _ in 0..10 {
        assert_eq!(graph(NET).1.create_order(), g.create_order());
    }
}

#[test]
fn template_references_and_depends_on_are_edges() {
    let (_, g) = graph(NET);
    assert_eq!(g.dependencies("rt"), ["a_sub", "b_sub", "vpc"]);
    assert_eq!(g.dependents("vpc"), ["a_sub", "b_sub", "igw", "rt"]);
}

#[test]
fn every_node_comes_after_all_its_dependencies() {
    let (bp, g) = graph(NET);
    let order = g.create_order();
    let pos = |id: &str| order.iter().position(|o| *o == id).unwrap();
    for (id, r) in &bp.resources {
        for d in &r.deps {
            assert!(pos(&d.target) < pos(id), "{} before {id}", d.target);
        }
    }
}

#[test]
fn cycles_list_their_members_in_dependency_order() {
    let src = "name: t\nresources:\n  c:\n    type: aws.ec2.route_table\n    properties: {vpc_id: '${a.id}'}\n  a:\n    type: aws.ec2.route_table\n    properties: {vpc_id: '${b.id}'}\n  b:\n    type: aws.ec2.route_table\n    properties: {vpc_id: '${c.id}'}\n";
    let err = load_bytes("t.yaml", src.as_bytes(), &archkit::aws::registry()).unwrap_err();
    assert_eq!(err.diagnostics.len(), 1);
    assert!(
        err.diagnostics[0].message.ends_with("a → b → c → a"),
        "{}",
        err.diagnostics[0].message
    );
    assert_eq!(err.diagnostics[0].labels.len(), 3);
}
