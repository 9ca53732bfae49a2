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

mod commit;
mod order;
pub mod walk;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Semaphore;

use crate::blueprint::Blueprint;
use crate::blueprint::params::Values;
use crate::plan::resolve::{Env, Lookup, PlanValue};
use crate::plan::{self, Action, Change, Plan};
use crate::provider::retry;
use crate::provider::{
    Attrs, Context, CreateRequest, Created, Op, Props, ProviderError, ReadQuery, Registry,
    ResourceKind,
};
pub use crate::state::StateSink;
use crate::state::{Deposed, Operation, ResourceState, State, StateError, Status};
use order::{Step, op_graph};
pub use walk::{Cancel, Outcome};

/// Keeps every written state in memory (tests), or only counts writes
/// (benchmarks of the engine's own overhead).
#[cfg(feature = "test-cloud")]
#[derive(Debug, Default)]
pub struct MemorySink {
    pub writes: Mutex<Vec<State>>,
    /// Count writes without keeping copies.
    pub count_only: bool,
    pub count: std::sync::atomic::AtomicUsize,
}

#[cfg(feature = "test-cloud")]
impl StateSink for MemorySink {
    fn write(&self, state: &mut State) -> Result<(), StateError> {
        state.serial += 1;
        self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !self.count_only {
            self.writes.lock().unwrap().push(state.clone());
        }
        Ok(())
    }
}

/// Progress events, one per step of each operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started {
        id: String,
        op: Op,
        expected: Duration,
    },
    Waiting {
        id: String,
        op: Op,
    },
    /// The operation waits for something AWS releases in its own time
    /// (`reason`), for up to `within`, retrying.
    Held {
        id: String,
        op: Op,
        reason: String,
        within: Duration,
    },
    /// `note`: what the resource now waits for that is not archkit's to
    /// do ([`crate::provider::ResourceKind::live_note`]).
    Finished {
        id: String,
        op: Op,
        elapsed: Duration,
        note: Option<String>,
    },
    Failed {
        id: String,
        op: Op,
        error: String,
    },
    Skipped {
        id: String,
        op: Op,
        because: String,
    },
}

pub trait Events: Send + Sync {
    fn event(&self, e: &Event);
}

/// Drops events.
pub struct NoEvents;

impl Events for NoEvents {
    fn event(&self, _e: &Event) {}
}

/// How the engine retries and waits.
#[derive(Debug, Clone)]
pub struct Options {
    pub parallelism: usize,
    /// Attempts for a retryable error (throttling, eventual consistency).
    pub attempts: u32,
    /// First retry delay; doubled each attempt.
    pub backoff: Duration,
    /// The fastest a readiness poll repeats (the kind's expected duration
    /// sets the pace up to 15 s).
    pub min_poll: Duration,
    /// Give up waiting for a resource after this long.
    pub wait_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            parallelism: 10,
            attempts: retry::ATTEMPTS,
            backoff: retry::BACKOFF,
            min_poll: Duration::from_secs(1),
            wait_timeout: Duration::from_secs(45 * 60),
        }
    }
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// (resource id, operation, outcome) in operation order.
    pub operations: Vec<(String, Op, Outcome)>,
    pub interrupted: bool,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.operations.iter().filter(|o| matches!(o.2, Outcome::Failed(_))).count()
    }
    pub fn skipped(&self) -> usize {
        self.operations.iter().filter(|o| matches!(o.2, Outcome::Skipped { .. })).count()
    }
    pub fn done(&self) -> usize {
        self.operations.iter().filter(|o| o.2 == Outcome::Done).count()
    }
    pub fn ok(&self) -> bool {
        !self.interrupted && self.operations.iter().all(|o| o.2 == Outcome::Done)
    }

    /// "N operations done, N failed, N skipped[, interrupted]".
    pub fn summary(&self) -> String {
        format!(
            "{} operations done, {} failed, {} skipped{}",
            self.done(),
            self.failed(),
            self.skipped(),
            if self.interrupted { ", interrupted" } else { "" }
        )
    }
}

/// Values an operation needs to resolve its resource's properties.
pub struct Inputs<'a> {
    /// Shared with the engine's tasks, not copied.
    pub blueprint: &'a Arc<Blueprint>,
    pub params: &'a Values,
    pub region: &'a str,
    pub azs: &'a [String],
}

/// Why one operation failed. Its text is what progress and the report
/// show.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("{0}")]
    Provider(#[from] ProviderError),
    #[error("cannot write state: {0}")]
    State(#[from] StateError),
    #[error("{0}")]
    Resolve(#[from] plan::PlanError),
    #[error("`{0}` still refers to a value that is not known")]
    Unknown(String),
    #[error("no implementation of {0}")]
    NoImplementation(String),
    #[error("`{0}` is not in state")]
    NotInState(String),
    #[error("no old object of `{0}` to delete")]
    NoOldObject(String),
    #[error("interrupted while waiting for it to become ready")]
    InterruptedReady,
    #[error("interrupted while waiting for deletion")]
    InterruptedDelete,
    #[error("not ready after {0:?}")]
    NotReady(Duration),
    #[error("still not deleted after {0:?}")]
    NotDeleted(Duration),
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

/// Values known after apply, for recording adopted resources.
fn known_after(c: &Change) -> BTreeMap<String, Value> {
    c.after.iter().filter_map(|(k, v)| Some((k.clone(), v.clone()?))).collect()
}

/// What is stored in state for a resource: its applied properties, with
/// secrets replaced by their digest.
fn stored_props(c: &Change, props: &BTreeMap<String, Value>) -> Props {
    props
        .iter()
        .map(|(k, v)| {
            if c.sensitive.contains(k) {
                (k.clone(), plan::secret_digest(k, v))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
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

async fn run_step(shared: &Arc<Shared>, c: &Change, step: Step) -> Result<(), String> {
    let op = step.op();
    let kind = shared
        .registry
        .kind(&c.kind)
        .ok_or_else(|| StepError::NoImplementation(c.kind.clone()).to_string())?
        .clone();
    let started = Instant::now();
    shared.events.event(&Event::Started {
        id: c.id.clone(),
        op,
        expected: kind.expected_duration(op),
    });
    let result = match step {
        Step::Create => create(shared, kind.as_ref(), c).await,
        Step::Update => update(shared, kind.as_ref(), c).await,
        Step::Delete | Step::DeleteOld => delete(shared, kind.as_ref(), c, step).await,
    }
    .map_err(|e| e.to_string());
    match &result {
        Ok(()) => {
            let note = match step {
                Step::Create | Step::Update => {
                    let st = shared.state.lock().unwrap();
                    st.resources.get(&c.id).and_then(|r| kind.live_note(&r.attributes))
                }
                Step::Delete | Step::DeleteOld => None,
            };
            shared.events.event(&Event::Finished {
                id: c.id.clone(),
                op,
                elapsed: started.elapsed(),
                note,
            })
        }
        Err(e) => shared.events.event(&Event::Failed { id: c.id.clone(), op, error: e.clone() }),
    }
    result
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

/// Changes what state holds for `id` and records it, returning once the
/// record is on disk: for the records that precede a call that changes
/// AWS (an operation begins). The sync happens outside the state's lock
/// and off the runtime's threads, so operations beginning meanwhile
/// share the next one ([`commit`]).
async fn write_state(
    shared: &Shared,
    id: &str,
    f: impl FnOnce(&mut State),
) -> Result<(), StepError> {
    note_state(shared, id, f)?;
    sync_state(shared).await
}

/// Changes what state holds for `id` and records it without waiting for
/// the disk: for outcomes (created, ready, deleted). The record is in the
/// file at once (a reader, or the next run after a kill, sees it) and on
/// disk by the task's next change to AWS or wait ([`sync_state`]),
/// another task's, or the run's last write. A machine that loses power
/// before then loses at most outcomes whose operations' beginnings are on
/// disk, which the next plan reconciles by tags, as it does a crash
/// between an AWS answer and its record.
fn note_state(shared: &Shared, id: &str, f: impl FnOnce(&mut State)) -> Result<(), StepError> {
    let mut st = shared.state.lock().unwrap();
    f(&mut st);
    Ok(shared.sink.write_one(&mut st, id)?)
}

/// Waits until every record so far is on disk.
async fn sync_state(shared: &Shared) -> Result<(), StepError> {
    let serial = || shared.state.lock().unwrap().serial;
    Ok(shared.commit.durable(&shared.sink, serial(), serial).await?)
}

/// How long a call in flight at an interrupt may still take.
const INTERRUPT_GRACE: Duration = Duration::from_millis(800);

/// Runs a provider call under an API permit, retrying retryable errors.
async fn call<T, F, Fut>(shared: &Shared, f: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    call_for(shared, None, f).await
}

/// [`call`] for the operation `op` of `id`: the first retry of an error
/// AWS resolves in its own time (a dependency it releases in minutes) is
/// told as [`Event::Held`], so a long wait says what it waits for.
async fn call_for<T, F, Fut>(
    shared: &Shared,
    what: Option<(&str, Op)>,
    mut f: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut told = false;
    let mut delay = shared.opts.backoff;
    let mut attempt = 1;
    let started = Instant::now();
    loop {
        let result = {
            let _permit = shared.sem.acquire().await.expect("semaphore open");
            // After an interrupt a call already sent gets a moment to
            // answer; one still inside the SDK's own retries after that is
            // abandoned (its outcome unknown: a create stays pending, to
            // be looked up by its tags), so the run stops within 2 s.
            tokio::select! {
                r = f() => r,
                _ = async {
                    shared.cancel.cancelled().await;
                    tokio::time::sleep(INTERRUPT_GRACE).await;
                } => Err(ProviderError::abandoned()),
            }
        };
        match result {
            Err(e)
                if retry::again(&e, attempt, shared.opts.attempts, started)
                    && !shared.cancel.is_cancelled() =>
            {
                attempt += 1;
                if let (Some((id, op)), Some(within), false) = (what, e.retry_within, told) {
                    told = true;
                    shared.events.event(&Event::Held {
                        id: id.to_string(),
                        op,
                        reason: e.message.clone(),
                        within,
                    });
                }
                // An interrupt ends the backoff at once with the last
                // error: the run stops, saves state and exits.
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shared.cancel.cancelled() => return Err(e),
                }
                delay = retry::next(delay);
            }
            other => return other,
        }
    }
}

/// The pauses between readiness (or deletion) polls: each a twentieth of
/// the time waited so far, at least `min` and at most a tenth of the
/// kind's expected duration (at most 15 s). So a wait ends at most
/// `max(min, 5 %)` after the resource became ready (1 s for the first 20 s
/// of a wait, 3 s a minute in, 15 s from five minutes on): a dependent
/// starts soon after its input is ready, and a 15-minute broker is polled
/// every 15 s, not every second (issue 34 §1).
#[derive(Debug, Clone)]
pub struct PollSchedule {
    min: Duration,
    cap: Duration,
    /// The pauses so far.
    waited: Duration,
}

impl PollSchedule {
    pub fn new(min: Duration, expected: Duration) -> PollSchedule {
        let cap = (expected / 10).max(min).min(Duration::from_secs(15));
        PollSchedule { min: min.min(cap), cap, waited: Duration::ZERO }
    }
}

impl Iterator for PollSchedule {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let now = (self.waited / 20).clamp(self.min, self.cap);
        self.waited += now;
        Some(now)
    }
}

fn polls(shared: &Shared, kind: &dyn ResourceKind, op: Op) -> PollSchedule {
    PollSchedule::new(shared.opts.min_poll, kind.expected_duration(op))
}

/// Polls until ready, holding no permit between polls. `Ok(None)` when
/// interrupted.
///
/// `polled`: the caller has polled once already and it was not ready, so
/// the wait begins with a pause.
async fn wait_ready(
    shared: &Shared,
    kind: &dyn ResourceKind,
    id: &str,
    pid: &str,
    mut polled: bool,
) -> Result<Option<Attrs>, StepError> {
    let deadline = Instant::now() + shared.opts.wait_timeout;
    let mut announced = false;
    let mut pauses = polls(shared, kind, Op::Create);
    loop {
        if !std::mem::take(&mut polled) {
            match call(shared, || kind.poll_ready(&shared.ctx, pid)).await {
                Ok(Some(attrs)) => return Ok(Some(attrs)),
                Ok(None) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !announced {
            // Minutes may pass: what was recorded goes to disk first.
            sync_state(shared).await?;
            shared.events.event(&Event::Waiting { id: id.to_string(), op: Op::Create });
            announced = true;
        }
        if Instant::now() >= deadline {
            return Err(StepError::NotReady(shared.opts.wait_timeout));
        }
        tokio::select! {
            _ = tokio::time::sleep(pauses.next().expect("endless")) => {}
            _ = shared.cancel.cancelled() => return Ok(None),
        }
    }
}

async fn create(shared: &Shared, kind: &dyn ResourceKind, c: &Change) -> Result<(), StepError> {
    let props = resolve_now(shared, &c.id)?;
    let stored = stored_props(c, &props);
    write_state(shared, &c.id, |st| {
        // A replacement keeps the old object as deposed until it is gone.
        if c.action == Action::Replace
            && let Some(old) = st.resources.remove(&c.id)
        {
            st.deposed.push(Deposed {
                id: c.id.clone(),
                kind: old.kind,
                physical_id: old.physical_id,
                properties: old.properties,
            });
        }
        st.begin(&c.id, &c.kind, Operation::Create);
    })
    .await?;
    let req = CreateRequest {
        logical_id: c.id.clone(),
        properties: props.into_iter().collect(),
        token: uuid::Uuid::new_v4().to_string(),
    };
    let created = match create_once(shared, kind, c, &req).await {
        // The resource was made, but a later step of its create (a
        // throttled attribute call, or one whose answer was lost) failed
        // retryably: finish it as an update of what is live.
        Err(e)
            if (e.retryable || e.outcome_unknown)
                && let Some(pid) = e.partial_id.clone() =>
        {
            finish_create(shared, kind, &pid, &req.properties).await.map_err(|mut e| {
                e.partial_id = Some(pid);
                e
            })
        }
        other => other,
    };
    let created = match created {
        Ok(c) => c,
        Err(e) => return Err(create_failed(shared, c, &stored, e)),
    };
    // Polled once before anything is recorded: most resources are ready
    // at once, and are then recorded once, as ready (a journal record less
    // per resource). A run that stops during that poll leaves the pending
    // record, as one that stops during the create does, and the next run
    // finds the resource the same way.
    let first = call(shared, || kind.poll_ready(&shared.ctx, &created.physical_id)).await;
    let status = if matches!(first, Ok(Some(_))) { Status::Ready } else { Status::Creating };
    // Otherwise recorded as created but not ready: a run that stops during
    // the wait (a crash, Ctrl-C) leaves it `creating`, and the next apply
    // waits again instead of taking it as ready.
    note_state(shared, &c.id, |st| {
        let mut r = record(c, &created.physical_id, stored.clone(), status);
        r.attributes.extend(created.attributes.clone());
        if let Ok(Some(attrs)) = &first {
            r.attributes.extend(attrs.clone());
        }
        st.resources.insert(c.id.clone(), r);
        st.end(&c.id);
    })?;
    let waited = match first {
        Ok(Some(_)) => return Ok(()),
        Ok(None) => wait_ready(shared, kind, &c.id, &created.physical_id, true).await,
        Err(e) => Err(e.into()),
    };
    match waited {
        Ok(Some(attrs)) => record_ready(shared, &c.id, attrs),
        Ok(None) => Err(StepError::InterruptedReady),
        Err(e) => {
            note_state(shared, &c.id, |st| {
                if let Some(r) = st.resources.get_mut(&c.id) {
                    r.status = Status::Tainted;
                }
            })?;
            Err(e)
        }
    }
}

/// Creates `c` once, even when answers are lost: a create whose outcome
/// is unknown (its answer lost; the SDK does not retry it) is looked up
/// by its tags and only made again when it is not there. A create that
/// fails after a lost answer (an SDK-retried one that conflicts with what
/// the first made) is looked up the same way. Untaggable kinds recognise
/// their own lost creates (a gateway already attached, a route that
/// exists).
async fn create_once(
    shared: &Shared,
    kind: &dyn ResourceKind,
    c: &Change,
    req: &CreateRequest,
) -> Result<Created, ProviderError> {
    let mut lost = 0;
    loop {
        match call(shared, || kind.create(&shared.ctx, req)).await {
            Ok(created) => return Ok(created),
            Err(e) if e.partial_id.is_some() => return Err(e),
            Err(e) if shared.cancel.is_cancelled() => return Err(e),
            Err(e) => {
                // Found: its create may have stopped before its later
                // steps (attributes, rules), so finish it from what is live.
                if let Some(found) = find_created(shared, kind, c).await {
                    return finish_create(shared, kind, &found.physical_id, &req.properties)
                        .await
                        .map_err(|e| e.partial(&found.physical_id));
                }
                if !try_again(shared, &e, &mut lost) {
                    return Err(e);
                }
            }
        }
    }
}

/// Whether to repeat a step after `e`: its answer was lost (it may or may
/// not have been carried out), fewer than the attempts were lost so far,
/// and no interrupt came. Counts the attempt.
fn try_again(shared: &Shared, e: &ProviderError, lost: &mut u32) -> bool {
    let again = e.outcome_unknown && *lost < shared.opts.attempts && !shared.cancel.is_cancelled();
    *lost += u32::from(again);
    again
}

/// The live form of the resource `pid`, if it still exists.
async fn read_one(
    shared: &Shared,
    kind: &dyn ResourceKind,
    pid: &str,
    props: &Props,
) -> Result<Option<crate::provider::Observed>, ProviderError> {
    let query = ReadQuery { known: vec![(pid.to_string(), props.clone())], discover: false };
    let live = call(shared, || kind.read(&shared.ctx, &query)).await?;
    Ok(live.into_iter().find(|o| o.physical_id == pid))
}

/// Records a failed create: the id AWS returned (tainted, never
/// forgotten), or, when the outcome is unknown, the pending entry stays
/// for the next plan to look the resource up by its tags.
fn create_failed(shared: &Shared, c: &Change, stored: &Props, e: ProviderError) -> StepError {
    let written = note_state(shared, &c.id, |st| {
        if let Some(pid) = &e.partial_id {
            let r = record(c, pid, stored.clone(), Status::Tainted);
            st.resources.insert(c.id.clone(), r);
            st.end(&c.id);
        } else if !e.outcome_unknown {
            st.end(&c.id);
        }
    });
    match written {
        Ok(()) => e.into(),
        Err(w) => w,
    }
}

/// The state record of `c` created as `pid`.
fn record(c: &Change, pid: &str, properties: Props, status: Status) -> ResourceState {
    ResourceState {
        kind: c.kind.clone(),
        physical_id: pid.to_string(),
        properties,
        attributes: Default::default(),
        status,
        depends_on: c.depends_on.clone(),
    }
}

/// Completes a create whose resource exists but whose later steps did
/// not all happen: reads it, then updates it from what is live to what
/// the blueprint wants; again from what is live while answers are lost.
async fn finish_create(
    shared: &Shared,
    kind: &dyn ResourceKind,
    pid: &str,
    props: &Props,
) -> Result<Created, ProviderError> {
    let mut lost = 0;
    loop {
        match update_from_live(shared, kind, pid, props).await {
            Err(e) if try_again(shared, &e, &mut lost) => {}
            other => return other,
        }
    }
}

async fn update_from_live(
    shared: &Shared,
    kind: &dyn ResourceKind,
    pid: &str,
    props: &Props,
) -> Result<Created, ProviderError> {
    let live = read_one(shared, kind, pid, props)
        .await?
        .ok_or_else(|| ProviderError::new(format!("`{pid}` was created but cannot be read")))?;
    let mut attributes = live.attributes;
    attributes
        .extend(call(shared, || kind.update(&shared.ctx, pid, &live.properties, props)).await?);
    Ok(Created { physical_id: pid.to_string(), attributes })
}

/// Records that a resource is ready, with the attributes it reported.
fn record_ready(shared: &Shared, id: &str, attrs: Attrs) -> Result<(), StepError> {
    let st = shared.state.lock().unwrap();
    let unchanged =
        attrs.is_empty() && st.resources.get(id).is_none_or(|r| r.status == Status::Ready);
    drop(st);
    if unchanged {
        return Ok(());
    }
    note_state(shared, id, |st| {
        if let Some(r) = st.resources.get_mut(id) {
            r.attributes.extend(attrs);
            r.status = Status::Ready;
        }
    })
}

/// A resource of this kind tagged with `c`'s logical id that state does
/// not know yet: the product of a create whose answer was lost.
async fn find_created(
    shared: &Shared,
    kind: &dyn ResourceKind,
    c: &Change,
) -> Option<crate::provider::Created> {
    if !kind.schema().taggable {
        return None;
    }
    let query = crate::provider::ReadQuery { known: Vec::new(), discover: true };
    let found = call(shared, || kind.read(&shared.ctx, &query)).await.ok()?;
    let st = shared.state.lock().unwrap();
    let known = |pid: &str| {
        st.resources.values().any(|r| r.physical_id == pid)
            || st.deposed.iter().any(|d| d.physical_id == pid)
    };
    found
        .into_iter()
        .find(|o| o.logical_id.as_deref() == Some(c.id.as_str()) && !known(&o.physical_id))
        .map(|o| crate::provider::Created { physical_id: o.physical_id, attributes: o.attributes })
}

async fn update(shared: &Shared, kind: &dyn ResourceKind, c: &Change) -> Result<(), StepError> {
    let props = resolve_now(shared, &c.id)?;
    let (pid, old) = {
        let st = shared.state.lock().unwrap();
        let r = st.resources.get(&c.id).ok_or_else(|| StepError::NotInState(c.id.clone()))?;
        // What is live, not only what was applied: an update must also
        // undo drift (a value changed outside archkit).
        let mut old = r.properties.clone();
        for (k, v) in &c.before {
            if !c.sensitive.contains(k) {
                old.insert(k.clone(), v.clone());
            }
        }
        (r.physical_id.clone(), old)
    };
    let stored = stored_props(c, &props);
    write_state(shared, &c.id, |st| st.begin(&c.id, &c.kind, Operation::Update)).await?;
    let new: Props = props.into_iter().collect();
    // State holds only digests of secrets: a secret the plan found
    // unchanged is given to the provider as its new value on both sides,
    // so the provider sees it did not change.
    let mut old = old;
    for k in &c.sensitive {
        if !c.changed.contains(k)
            && let Some(v) = new.get(k)
        {
            old.insert(k.clone(), v.clone());
        }
    }
    // Nothing to change: the update only resumes a wait for readiness.
    let result = if c.changed.is_empty() {
        Ok(Attrs::new())
    } else {
        match call(shared, || kind.update(&shared.ctx, &pid, &old, &new)).await {
            // Its answer was lost: part of it may be done. Update again
            // from what is live now.
            Err(e) if e.outcome_unknown => {
                finish_create(shared, kind, &pid, &new).await.map(|c| c.attributes)
            }
            other => other,
        }
    };
    note_state(shared, &c.id, |st| {
        if let Ok(attrs) = &result
            && let Some(r) = st.resources.get_mut(&c.id)
        {
            r.properties = stored.clone();
            r.attributes.extend(attrs.clone());
            r.depends_on = c.depends_on.clone();
        }
        st.end(&c.id);
    })?;
    result?;
    // An update can start a rollout (an ECS service moving to a new task
    // definition): dependents wait until it is ready again. A failed
    // rollout is reported, but the resource is not tainted: its update
    // was made, and the next plan shows what is live.
    match wait_ready(shared, kind, &c.id, &pid, false).await {
        Ok(Some(attrs)) => record_ready(shared, &c.id, attrs),
        Ok(None) => Err(StepError::InterruptedReady),
        Err(e) => Err(e),
    }
}

async fn delete(
    shared: &Shared,
    kind: &dyn ResourceKind,
    c: &Change,
    step: Step,
) -> Result<(), StepError> {
    let (pid, props) = {
        let st = shared.state.lock().unwrap();
        match step {
            Step::DeleteOld => {
                // Create-before-delete: the old object was deposed by the
                // create. Delete-first: it is still the recorded one.
                if let Some(d) = st.deposed.iter().find(|d| d.id == c.id) {
                    (d.physical_id.clone(), d.properties.clone())
                } else {
                    let r = st
                        .resources
                        .get(&c.id)
                        .filter(|r| Some(&r.physical_id) == c.physical_id.as_ref())
                        .ok_or_else(|| StepError::NoOldObject(c.id.clone()))?;
                    (r.physical_id.clone(), r.properties.clone())
                }
            }
            _ => {
                let pid = c.physical_id.clone().unwrap_or_default();
                let props = st
                    .resources
                    .get(&c.id)
                    .filter(|r| r.physical_id == pid)
                    .map_or_else(|| c.before.clone(), |r| r.properties.clone());
                (pid, props)
            }
        }
    };
    write_state(shared, &c.id, |st| st.begin(&c.id, &c.kind, Operation::Delete)).await?;
    let mut result =
        call_for(shared, Some((&c.id, Op::Delete)), || kind.delete(&shared.ctx, &pid, &props))
            .await;
    // Its answer was lost: if it can still be read, delete again.
    // Asking first, rather than deleting again at once, also spares
    // services that answer a second delete with an error (moto's MQ
    // answers 500).
    let mut lost = 0;
    while let Err(e) = &result
        && try_again(shared, e, &mut lost)
    {
        result = match read_one(shared, kind, &pid, &props).await {
            Ok(None) => Ok(()),
            _ => {
                call_for(shared, Some((&c.id, Op::Delete)), || {
                    kind.delete(&shared.ctx, &pid, &props)
                })
                .await
            }
        };
    }
    let result = match result {
        Err(e) if e.not_found => Ok(()),
        other => other,
    };
    if let Err(e) = result {
        note_state(shared, &c.id, |st| st.end(&c.id))?;
        return Err(e.into());
    }
    // Wait until it is really gone, holding no permit between polls.
    let deadline = Instant::now() + shared.opts.wait_timeout;
    let mut pauses = polls(shared, kind, Op::Delete);
    loop {
        match call(shared, || kind.poll_deleted(&shared.ctx, &pid)).await {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) if e.not_found => break,
            Err(e) => return Err(e.into()),
        }
        if Instant::now() >= deadline {
            return Err(StepError::NotDeleted(shared.opts.wait_timeout));
        }
        tokio::select! {
            _ = tokio::time::sleep(pauses.next().expect("endless")) => {}
            _ = shared.cancel.cancelled() => return Err(StepError::InterruptedDelete),
        }
    }
    note_state(shared, &c.id, |st| {
        st.deposed.retain(|d| d.physical_id != pid);
        if st.resources.get(&c.id).is_some_and(|r| r.physical_id == pid) {
            st.resources.remove(&c.id);
        }
        st.end(&c.id);
    })
}
