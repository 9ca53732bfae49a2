//! The order of a plan's operations: the one place that decides what runs
//! before what, for applies and destroys alike.
//!
//! Each change becomes one or two operations (a replacement is a create
//! and a delete of the old object). Creates and updates follow their
//! dependencies; deletes wait for everything that still uses what they
//! delete (its dependents' deletes, the changes that move off it), and for
//! the kind rules the graph cannot see (NAT gateways before their EIPs).
//! A resource its parent's deletion takes with it (a cluster's role
//! association) is the exception: it waits for the parent's delete.

use std::collections::HashMap;

use crate::plan::{Action, Change, Plan};
use crate::provider::{Op, Registry};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Create,
    Update,
    /// Delete the resource recorded under its id.
    Delete,
    /// Delete the deposed old object of a replacement.
    DeleteOld,
}

impl Step {
    pub(crate) fn op(self) -> Op {
        match self {
            Step::Create => Op::Create,
            Step::Update => Op::Update,
            Step::Delete | Step::DeleteOld => Op::Delete,
        }
    }

    fn deletes(self) -> bool {
        matches!(self, Step::Delete | Step::DeleteOld)
    }
}

pub(crate) struct OpNode {
    /// Index of the change in the plan.
    pub change: usize,
    pub step: Step,
}

/// The operations of a plan and, for each, the operations it waits for.
pub(crate) fn op_graph(plan: &Plan, registry: &Registry) -> (Vec<OpNode>, Vec<Vec<usize>>) {
    let ops = Ops::of(plan);
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); ops.nodes.len()];
    // Who depends on whom, among everything in the plan.
    let mut dependents: HashMap<&str, Vec<&Change>> = HashMap::new();
    for c in &plan.changes {
        for d in c.depends_on.iter().chain(&c.released) {
            dependents.entry(d.as_str()).or_default().push(c);
        }
    }
    let by_id: HashMap<&str, &Change> = plan.changes.iter().map(|c| (c.id.as_str(), c)).collect();
    // `child` goes with `parent`: both are deleted, and the parent's kind
    // takes the child's instances with it.
    let swept = |child: &Change, parent: &Change| {
        ops.del.contains_key(child.id.as_str())
            && ops.del.contains_key(parent.id.as_str())
            && registry
                .kind(&child.kind)
                .is_some_and(|k| k.deleted_with().iter().any(|s| s.kind == parent.kind))
    };
    for (ni, node) in ops.nodes.iter().enumerate() {
        let c = &plan.changes[node.change];
        if node.step.deletes() {
            let users: Vec<&Change> = dependents
                .get(c.id.as_str())
                .map_or(&[][..], |v| v)
                .iter()
                .copied()
                .filter(|u| !swept(u, c))
                .collect();
            let users = users.as_slice();
            for parent in c.depends_on.iter().filter_map(|d| by_id.get(d.as_str())) {
                if swept(c, parent) {
                    deps[ni].extend(ops.del[parent.id.as_str()].iter().copied());
                }
            }
            let delete_first = ops
                .up
                .get(c.id.as_str())
                .is_some_and(|&n| goes_first(registry, c, &plan.changes[ops.nodes[n].change]));
            ops.delete_edges(c, node.step, users, delete_first, &mut deps[ni]);
            kind_rule_edges(plan, registry, &ops.nodes, ni, &mut deps[ni]);
        } else {
            ops.create_edges(c, node.step, &mut deps[ni]);
            // A create of an id whose deposed object must go first.
            if node.step == Step::Create && c.action == Action::Create {
                for &d in ops.del.get(c.id.as_str()).into_iter().flatten() {
                    if goes_first(registry, &plan.changes[ops.nodes[d].change], c) {
                        deps[ni].push(d);
                    }
                }
            }
        }
        deps[ni].retain(|d| *d != ni);
    }
    (ops.nodes, deps)
}

/// Whether `old`, an object deleted under the id that `new` creates again
/// (one deposed by a replacement whose create failed), must be gone before
/// the create: the kind's replacement rule on the two.
fn goes_first(registry: &Registry, old: &Change, new: &Change) -> bool {
    let sides = crate::schema::Sides { before: &old.before, after: &new.after };
    registry.schema(&new.kind).is_some_and(|s| s.replacement.delete_first(&sides))
}

/// The operation nodes of a plan, indexed by resource id.
struct Ops<'a> {
    nodes: Vec<OpNode>,
    /// Each resource's create or update node.
    up: HashMap<&'a str, usize>,
    /// Each resource's delete node(s).
    del: HashMap<&'a str, Vec<usize>>,
    /// The create node of each replacement.
    create_of_replace: HashMap<&'a str, usize>,
}

impl<'a> Ops<'a> {
    fn of(plan: &'a Plan) -> Ops<'a> {
        let mut ops = Ops {
            nodes: Vec::new(),
            up: HashMap::new(),
            del: HashMap::new(),
            create_of_replace: HashMap::new(),
        };
        for (ci, c) in plan.changes.iter().enumerate() {
            let steps: &[Step] = match c.action {
                Action::NoOp => &[],
                Action::Create => &[Step::Create],
                Action::Update => &[Step::Update],
                Action::Replace => &[Step::Create, Step::DeleteOld],
                Action::Delete => &[Step::Delete],
            };
            for &step in steps {
                let n = ops.nodes.len();
                if step.deletes() {
                    ops.del.entry(&c.id).or_default().push(n);
                } else {
                    ops.up.insert(&c.id, n);
                }
                if step == Step::Create && c.action == Action::Replace {
                    ops.create_of_replace.insert(&c.id, n);
                }
                ops.nodes.push(OpNode { change: ci, step });
            }
        }
        ops
    }

    /// A create or update waits for its dependencies' creates and updates,
    /// and a delete-first replacement for the old object's deletion.
    fn create_edges(&self, c: &Change, step: Step, deps: &mut Vec<usize>) {
        deps.extend(c.depends_on.iter().filter_map(|d| self.up.get(d.as_str())));
        if step == Step::Create
            && c.action == Action::Replace
            && c.delete_first
            && let Some(ds) = self.del.get(c.id.as_str())
        {
            deps.extend(ds.iter().copied());
        }
    }

    /// Everything that depends on the deleted object lets go first: its
    /// dependents' deletions, and (create-before-delete) the creates and
    /// updates that move them to the new object.
    fn delete_edges(
        &self,
        c: &Change,
        step: Step,
        users: &[&Change],
        delete_first: bool,
        deps: &mut Vec<usize>,
    ) {
        // The old object of a replacement, or a deposed one whose id is
        // being created again (a replacement whose create failed last
        // time): its users move to the new object first (unless the kind
        // must delete before it creates: unique names).
        let recreated =
            step == Step::Delete && !delete_first && self.up.contains_key(c.id.as_str());
        let moving_off = (step == Step::DeleteOld && !c.delete_first) || recreated;
        for dep in users {
            if let Some(ds) = self.del.get(dep.id.as_str()) {
                deps.extend(ds.iter().copied());
            }
            // A resource leaving the blueprint is deleted only once the
            // resources that used it have moved off it.
            let released = step == Step::Delete && dep.released.contains(&c.id);
            if (moving_off || released)
                && let Some(&n) = self.up.get(dep.id.as_str())
            {
                deps.push(n);
            }
        }
        let replacement = if recreated {
            self.up.get(c.id.as_str())
        } else {
            self.create_of_replace.get(c.id.as_str())
        };
        if moving_off && let Some(&n) = replacement {
            deps.push(n);
        }
    }
}

/// Kind rules beyond the graph: a delete of a kind that must outlive
/// other kinds of the stack (an EIP after NAT gateways) waits for their
/// deletes.
fn kind_rule_edges(
    plan: &Plan,
    registry: &Registry,
    nodes: &[OpNode],
    ni: usize,
    deps: &mut Vec<usize>,
) {
    let c = &plan.changes[nodes[ni].change];
    let Some(k) = registry.kind(&c.kind) else {
        return;
    };
    let after = k.delete_after();
    if after.is_empty() {
        return;
    }
    deps.extend(nodes.iter().enumerate().filter_map(|(mi, m)| {
        let mc = &plan.changes[m.change];
        (mi != ni && m.step.deletes() && after.iter().any(|s| s.kind == mc.kind)).then_some(mi)
    }));
}
