//! The resource dependency graph: a petgraph DAG built from references and
//! `depends_on`, with every cycle reported, and a deterministic create
//! order for the planner. It knows nothing of blueprints: it orders ids
//! by their [`Dep`]s (the engine derives destroy order from the plan).
//!
//! Edges point from a dependency to its dependent (`vpc → subnet`), so a
//! topological order is a valid create order and its reverse a valid
//! destroy order (Terraform's `DestroyEdgeTransformer` reverses the same
//! way).

pub mod export;

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use miette::SourceSpan;

/// Why a resource depends on another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepVia {
    /// A `${other.attr}` reference in a property.
    Reference { attr: String },
    /// An entry of `depends_on`.
    DependsOn,
}

/// One dependency edge, with the place in the file that creates it.
#[derive(Debug, Clone)]
pub struct Dep {
    pub target: String,
    pub via: DepVia,
    pub span: SourceSpan,
}

/// Why a set of resources has no order: the blueprint turns these into
/// diagnostics pointing at the references.
#[derive(Debug, Clone)]
pub enum GraphError {
    /// `id` refers to itself through `dep`.
    SelfReference { id: String, dep: Dep },
    /// A loop of dependencies: `path[0]` depends on `path[1]`, ... and the
    /// last on the first; `labels` are the references along it.
    Cycle { path: Vec<String>, labels: Vec<(SourceSpan, String)> },
}

/// The dependency graph of a blueprint's resources.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Node weights are resource ids; edge weights describe why.
    pub inner: DiGraph<String, DepVia>,
    index: HashMap<String, NodeIndex>,
}

impl Graph {
    /// Builds the graph of `nodes` (each id with its dependencies), or
    /// reports every cycle and self-reference. Dependencies on ids that
    /// are not nodes are left out (validation reports them).
    pub fn build<'a>(
        nodes: impl IntoIterator<Item = (&'a str, &'a [Dep])>,
    ) -> Result<Graph, Vec<GraphError>> {
        let nodes: Vec<(&str, &[Dep])> = nodes.into_iter().collect();
        let mut inner = DiGraph::with_capacity(nodes.len(), nodes.len() * 2);
        let mut index = HashMap::with_capacity(nodes.len());
        for (id, _) in &nodes {
            index.insert(id.to_string(), inner.add_node(id.to_string()));
        }
        let mut errors = Vec::new();
        // (from, to) → span of the reference creating it, for cycle labels.
        let mut edge_spans = HashMap::new();
        for (id, deps) in &nodes {
            let to = index[*id];
            let mut seen = BTreeSet::new();
            for dep in deps.iter() {
                let Some(&from) = index.get(&dep.target) else {
                    continue;
                };
                if from == to {
                    errors.push(GraphError::SelfReference { id: id.to_string(), dep: dep.clone() });
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
            let path: Vec<String> = cycle.iter().map(|n| graph.inner[*n].clone()).collect();
            // Each reference along the loop: `a` uses `b`, ...
            let labels = cycle
                .iter()
                .enumerate()
                .filter_map(|(i, &node)| {
                    let next = cycle[(i + 1) % cycle.len()];
                    let span = edge_spans.get(&(next, node))?;
                    Some((
                        *span,
                        format!("`{}` depends on `{}`", graph.inner[node], graph.inner[next]),
                    ))
                })
                .collect();
            errors.push(GraphError::Cycle { path, labels });
        }
        if errors.is_empty() { Ok(graph) } else { Err(errors) }
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
        let mut v: Vec<&str> =
            self.inner.neighbors_directed(n, dir).map(|m| self.inner[m].as_str()).collect();
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
            .map(|n| self.inner.neighbors_directed(n, petgraph::Direction::Incoming).count())
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
            for m in self.inner.neighbors_directed(NodeIndex::new(i), petgraph::Direction::Outgoing)
            {
                indegree[m.index()] -= 1;
                if indegree[m.index()] == 0 {
                    ready.push(Reverse((self.inner[m].as_str(), m.index())));
                }
            }
        }
        order
    }
}
