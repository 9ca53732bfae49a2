//! The engine: executes a plan in dependency order with bounded
//! parallelism, writing state after every operation.
//!
//! A plan becomes a graph of operations (create, update, delete, and for a
//! replacement a create plus a delete of the old object, in the order the
//! kind needs). [`walk::walk`] runs it; each operation records a pending
//! entry in state *before* it calls the provider and its outcome right
//! after, so a crash leaves at worst a pending entry that the next plan
//! reconciles by tags. A semaphore bounds concurrent provider calls
//! (`--parallelism`, default 10); waiting for a slow resource holds no
//! permit.

mod call;
mod commit;
mod create;
mod delete;
mod events;
mod journal;
mod order;
mod step;
mod update;
mod wait;
pub mod walk;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::Semaphore;

use crate::blueprint::Blueprint;
use crate::blueprint::params::Values;
use crate::plan::resolve::{Env, Lookup, PlanValue};
use crate::plan::{self, Action, Plan};
use crate::provider::{Context, Registry};
pub use crate::state::StateSink;
use crate::state::{State, StateError, Status};
pub use events::{Event, Events, NoEvents, Options, Report};
#[cfg(feature = "test-cloud")]
pub use journal::MemorySink;
use journal::{known_after, record, stored_props};
use order::op_graph;
pub use step::Failure;
pub use step::StepError;
use step::run_step;
pub use wait::PollSchedule;
pub use walk::Cancel;

/// How one operation of an apply ended.
pub type Outcome = walk::Outcome<Failure>;

/// Values an operation needs to resolve its resource's properties.
pub struct Inputs<'a> {
    /// Shared with the engine's tasks, not copied.
    pub blueprint: &'a Arc<Blueprint>,
    pub params: &'a Values,
    pub region: &'a str,
    pub azs: &'a [String],
}

/// Everything tasks share.
struct Shared {
    registry: Registry,
    ctx: Context,
    sink: Arc<dyn StateSink>,
    events: Arc<dyn Events>,
    opts: Options,
    sem: Arc<Semaphore>,
    cancel: Arc<Cancel>,
    state: Mutex<State>,
    /// Makes pending records durable, one sync at a time for all.
    commit: commit::GroupCommit,
    /// Resolved inputs per resource id (computed when a create or update
    /// starts, from the state as it is then).
    bp: Arc<Blueprint>,
    params: Values,
    region: String,
    azs: Vec<String>,
}

/// Applies `plan`. Returns the final state and a report; state is also
/// written through `sink` after every operation.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    registry: &Registry,
    ctx: &Context,
    inputs: Inputs<'_>,
    plan: Arc<Plan>,
    state: State,
    sink: Arc<dyn StateSink>,
    events: Arc<dyn Events>,
    opts: Options,
    cancel: Arc<Cancel>,
) -> Result<(State, Report), StateError> {
    let shared = Arc::new(Shared {
        registry: registry.clone(),
        ctx: ctx.clone(),
        sink,
        events,
        sem: Arc::new(Semaphore::new(opts.parallelism.max(1))),
        opts,
        cancel: cancel.clone(),
        state: Mutex::new(state),
        commit: commit::GroupCommit::default(),
        bp: inputs.blueprint.clone(),
        params: inputs.params.clone(),
        region: inputs.region.to_string(),
        azs: inputs.azs.to_vec(),
    });
    {
        let mut st = shared.state.lock().unwrap();
        reconcile(&mut st, &plan, &inputs.blueprint.name);
        shared.sink.write(&mut st)?;
    }

    let (nodes, deps) = op_graph(&plan, registry);
    let nodes = Arc::new(nodes);
    let outcomes = {
        let shared = shared.clone();
        let plan = plan.clone();
        let nodes = nodes.clone();
        walk::walk(&deps, &cancel, move |i| {
            let shared = shared.clone();
            let plan = plan.clone();
            let nodes = nodes.clone();
            async move {
                let node = &nodes[i];
                let change = &plan.changes[node.change];
                run_step(&shared, change, node.step).await
            }
        })
        .await
    };
    let report = report(&shared, &plan, &nodes, outcomes, cancel.is_cancelled());
    // Every task has ended, so the state is taken rather than copied.
    let sink = shared.sink.clone();
    let mut st = match Arc::try_unwrap(shared) {
        Ok(shared) => shared.state.into_inner().unwrap(),
        Err(shared) => shared.state.lock().unwrap().clone(),
    };
    sink.write(&mut st)?;
    Ok((st, report))
}

/// Brings state up to what the plan saw before anything runs: the
/// refresh saw every pending operation's outcome, adopted and unchanged
/// resources are recorded, and records the plan forgets are dropped.
fn reconcile(st: &mut State, plan: &Plan, blueprint: &str) {
    st.pending.clear();
    st.blueprint = blueprint.to_string();
    for id in &plan.forget {
        st.resources.remove(id);
    }
    for c in &plan.changes {
        let Some(pid) = &c.physical_id else {
            continue;
        };
        let recorded = st.resources.contains_key(&c.id);
        match (c.action, st.resources.get_mut(&c.id).filter(|r| r.physical_id == *pid)) {
            (Action::NoOp, Some(r)) => r.attributes.extend(c.attributes.clone()),
            (Action::NoOp, None) => {
                let props = stored_props(c, &known_after(c));
                let r = record(c, pid, props, Status::Ready).with(c.attributes.clone());
                st.resources.insert(c.id.clone(), r);
            }
            // Found by its tags and to be changed: recorded as it is live,
            // so the update (or the replacement's deposing) finds it.
            (Action::Update | Action::Replace, None) if !recorded => {
                let r = record(c, pid, c.before.clone(), Status::Ready).with(c.attributes.clone());
                st.resources.insert(c.id.clone(), r);
            }
            _ => {}
        }
    }
}

/// The report of a run, announcing skipped operations.
fn report(
    shared: &Shared,
    plan: &Plan,
    nodes: &[order::OpNode],
    outcomes: Vec<Outcome>,
    interrupted: bool,
) -> Report {
    let mut report = Report { interrupted, ..Report::default() };
    for (i, o) in outcomes.into_iter().enumerate() {
        let c = &plan.changes[nodes[i].change];
        let op = nodes[i].step.op();
        if let Outcome::Skipped { upstream } = &o {
            let up = &plan.changes[nodes[*upstream].change];
            shared.events.event(&Event::Skipped {
                id: c.id.clone(),
                op,
                because: format!("`{}` failed", up.id),
            });
        }
        report.operations.push((c.id.clone(), op, o));
    }
    report
}

/// Reads attributes from the state as it is now (apply-time resolution).
/// References resolved against recorded state (ids, attributes, then
/// applied properties).
pub struct StateLookup<'a> {
    pub state: &'a State,
}

impl Lookup for StateLookup<'_> {
    fn attr(&self, resource: &str, attr: &str) -> Option<Value> {
        let r = self.state.resources.get(resource)?;
        if attr == "id" {
            return Some(Value::String(r.physical_id.clone()));
        }
        r.attributes.get(attr).or_else(|| r.properties.get(attr)).cloned()
    }
}

/// Resolves a resource's properties against the state as it is now.
fn resolve_now(shared: &Shared, id: &str) -> Result<BTreeMap<String, Value>, StepError> {
    let st = shared.state.lock().unwrap();
    let env = Env {
        params: &shared.params,
        stack: &shared.ctx.stack,
        region: &shared.region,
        azs: &shared.azs,
        expires_at: st.expires_at.as_deref(),
    };
    let props = plan::resolve_properties(&shared.bp, id, &env, &StateLookup { state: &st })?;
    let mut out = BTreeMap::new();
    for (k, v) in props {
        match v {
            PlanValue::Known(v) => {
                out.insert(k, v);
            }
            PlanValue::Unknown => {
                return Err(StepError::Unknown(k));
            }
        }
    }
    Ok(out)
}
