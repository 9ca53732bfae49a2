//! The resource dependency graph: a petgraph DAG built from references and
//! `depends_on`, with every cycle reported, and deterministic create and
//! destroy orders for the engine.
//!
//! Edges point from a dependency to its dependent (`vpc → subnet`), so a
//! topological order is a valid create order and its reverse a valid
//! destroy order (Terraform's `DestroyEdgeTransformer` reverses the same
//! way).

pub mod export;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::blueprint::{Blueprint, Code, DepVia, Diagnostic};

/// The dependency graph of a blueprint's resources.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Node weights are resource ids; edge weights describe why.
    pub inner: DiGraph<String, DepVia>,
    index: HashMap<String, NodeIndex>,
}

impl Graph {
    /// Builds the graph, or reports every cycle (and self-reference).
    pub fn build(bp: &Blueprint) -> Result<Graph, Vec<Diagnostic>> {
        let mut inner = DiGraph::with_capacity(bp.resources.len(), bp.resources.len() * 2);
        let mut index = HashMap::with_capacity(bp.resources.len());
        for id in bp.resources.keys() {
            index.insert(id.clone(), inner.add_node(id.clone()));
        }
        let mut diags = Vec::new();
        // (from, to) → span of the reference creating it, for cycle labels.
        let mut edge_spans = HashMap::new();
        for (id, res) in &bp.resources {
            let to = index[id];
            let mut seen = BTreeSet::new();
            for dep in &res.deps {
                let Some(&from) = index.get(&dep.target) else {
                    continue;
                };
                if from == to {
                    diags.push(
                        Diagnostic::new(
                            Code::SelfReference,
                            format!("`{id}` depends on itself"),
                        )
                        .label(dep.span, "refers to its own resource")
                        .help(match &dep.via {
                            DepVia::Reference { attr } => format!(
                                "a resource cannot use its own `{attr}` before it exists; \
                                 move the value into a separate resource \
                                 (e.g. an `aws.ec2.security_group_rule` for a self-referencing group)"
                            ),
                            DepVia::DependsOn => "remove it from `depends_on`".into(),
                        }),
                    );
                    continue;
                }
                edge_spans.entry((from, to)).or_insert(dep.span);
                if seen.insert(from) {
                    inner.add_edge(from, to, dep.via.clone());
                }
            }
        }
        let graph = Graph { inner, index };
        for cycle in graph.cycles() {
            let names: Vec<&str> = cycle.iter().map(|n| graph.inner[*n].as_str()).collect();
            let mut path = names.join(" → ");
            path.push_str(" → ");
            path.push_str(names[0]);
            let mut d = Diagnostic::new(
                Code::Cycle,
                format!("dependency cycle between {} resources: {path}", names.len()),
            )
            .help(
                "break the loop: remove a reference or a `depends_on` entry; rules that \
                 reference each other's security groups belong in separate \
                 `aws.ec2.security_group_rule` resources",
            );
            // Label each reference along the loop: `a` uses `b`, ...
            for (i, &node) in cycle.iter().enumerate() {
                let next = cycle[(i + 1) % cycle.len()];
                if let Some(span) = edge_spans.get(&(next, node)) {
                    d = d.label(
                        *span,
                        format!("`{}` depends on `{}`", graph.inner[node], graph.inner[next]),
                    );
                }
            }
            diags.push(d);
        }
        if diags.is_empty() {
            Ok(graph)
        } else {
            Err(diags)
        }
    }

    /// Every cycle, each as one loop through its strongly connected
    /// component, rotated to start at its smallest id so output is stable.
    /// Node order within a cycle follows "depends on": `a` depends on
    /// `cycle[1]` and so on.
    fn cycles(&self) -> Vec<Vec<NodeIndex>> {
        let mut out = Vec::new();
        for scc in tarjan_scc(&self.inner) {
            if scc.len() < 2 {
                continue;
            }
            let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
            let start = *members
                .iter()
                .min_by_key(|n| self.inner[**n].as_str())
                .expect("an SCC has members");
            if let Some(path) = self.loop_from(start, &members) {
                out.push(path);
            }
        }
        out.sort_by(|a, b| self.inner[a[0]].cmp(&self.inner[b[0]]));
        out
    }

    /// A shortest loop from `start` back to itself following dependencies
    /// (incoming edges), within `members`.
    fn loop_from(&self, start: NodeIndex, members: &BTreeSet<NodeIndex>) -> Option<Vec<NodeIndex>> {
        let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            let mut deps: Vec<NodeIndex> = self
                .inner
                .edges_directed(n, petgraph::Direction::Incoming)
                .map(|e| e.source())
                .filter(|s| members.contains(s))
                .collect();
            deps.sort_by(|a, b| self.inner[*a].cmp(&self.inner[*b]));
            for d in deps {
                if d == start {
                    let mut path = vec![n];
                    let mut cur = n;
                    while let Some(&p) = prev.get(&cur) {
                        path.push(p);
                        cur = p;
                    }
                    path.reverse();
                    return Some(path);
                }
                if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(d) {
                    e.insert(n);
                    queue.push_back(d);
                }
            }
        }
        None
    }

    pub fn len(&self) -> usize {
        self.inner.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.node_count() == 0
    }

    pub fn node(&self, id: &str) -> Option<NodeIndex> {
        self.index.get(id).copied()
    }

    /// Ids this resource depends on, sorted.
    pub fn dependencies(&self, id: &str) -> Vec<&str> {
        self.neighbours(id, petgraph::Direction::Incoming)
    }

    /// Ids that depend on this resource, sorted.
    pub fn dependents(&self, id: &str) -> Vec<&str> {
        self.neighbours(id, petgraph::Direction::Outgoing)
    }

    fn neighbours(&self, id: &str, dir: petgraph::Direction) -> Vec<&str> {
        let Some(n) = self.node(id) else {
            return Vec::new();
        };
        let mut v: Vec<&str> = self
            .inner
            .neighbors_directed(n, dir)
            .map(|m| self.inner[m].as_str())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// A deterministic create order: topological, ties broken by id (Kahn's
    /// algorithm with a min-heap).
    pub fn create_order(&self) -> Vec<&str> {
        let mut indegree: Vec<usize> = self
            .inner
            .node_indices()
            .map(|n| {
                self.inner
                    .neighbors_directed(n, petgraph::Direction::Incoming)
                    .count()
            })
            .collect();
        let mut ready: BinaryHeap<Reverse<(&str, usize)>> = self
            .inner
            .node_indices()
            .filter(|n| indegree[n.index()] == 0)
            .map(|n| Reverse((self.inner[n].as_str(), n.index())))
            .collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(Reverse((id, i))) = ready.pop() {
            order.push(id);
            for m in self
                .inner
                .neighbors_directed(NodeIndex::new(i), petgraph::Direction::Outgoing)
            {
                indegree[m.index()] -= 1;
                if indegree[m.index()] == 0 {
                    ready.push(Reverse((self.inner[m].as_str(), m.index())));
                }
            }
        }
        order
    }

    /// The reverse of [`Graph::create_order`]: dependents before their
    /// dependencies.
    pub fn destroy_order(&self) -> Vec<&str> {
        let mut order = self.create_order();
        order.reverse();
        order
    }

    /// Depth of each resource (longest chain of dependencies below it),
    /// used to lay out diagrams in ranks.
    pub fn depths(&self) -> BTreeMap<&str, usize> {
        let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
        for id in self.create_order() {
            let d = self
                .dependencies(id)
                .iter()
                .map(|dep| depth.get(dep).copied().unwrap_or(0) + 1)
                .max()
                .unwrap_or(0);
            depth.insert(id, d);
        }
        depth
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::load_bytes;

    fn graph(src: &str) -> (Blueprint, Graph) {
        let bp = load_bytes("t.yaml", src.as_bytes(), &crate::aws::registry()).unwrap();
        let g = Graph::build(&bp).unwrap();
        (bp, g)
    }

    const NET: &str = "name: t\nresources:\n  vpc:\n    type: aws.ec2.vpc\n    properties: {cidr_block: 10.0.0.0/16}\n  b_sub:\n    type: aws.ec2.subnet\n    properties: {vpc_id: '${vpc.id}', cidr_block: 10.0.1.0/24, availability_zone: '${azs[1]}'}\n  a_sub:\n    type: aws.ec2.subnet\n    properties: {vpc_id: '${vpc.id}', cidr_block: 10.0.0.0/24, availability_zone: '${azs[0]}'}\n  igw:\n    type: aws.ec2.internet_gateway\n    depends_on: [vpc]\n  rt:\n    type: aws.ec2.route_table\n    properties: {vpc_id: '${vpc.id}', tags: {owner: '${a_sub.id}-${b_sub.id}'}}\n";

    #[test]
    fn create_order_is_topological_and_deterministic() {
        let (_, g) = graph(NET);
        assert_eq!(g.create_order(), ["vpc", "a_sub", "b_sub", "igw", "rt"]);
        assert_eq!(g.destroy_order(), ["rt", "igw", "b_sub", "a_sub", "vpc"]);
        for _ in 0..10 {
            assert_eq!(graph(NET).1.create_order(), g.create_order());
        }
    }

    #[test]
    fn template_references_and_depends_on_are_edges() {
        let (_, g) = graph(NET);
        assert_eq!(g.dependencies("rt"), ["a_sub", "b_sub", "vpc"]);
        assert_eq!(g.dependents("vpc"), ["a_sub", "b_sub", "igw", "rt"]);
        assert_eq!(g.depths()["rt"], 2);
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
        let err = load_bytes("t.yaml", src.as_bytes(), &crate::aws::registry()).unwrap_err();
        assert_eq!(err.diagnostics.len(), 1);
        assert!(
            err.diagnostics[0].message.ends_with("a → b → c → a"),
            "{}",
            err.diagnostics[0].message
        );
        assert_eq!(err.diagnostics[0].labels.len(), 3);
    }
}
