//! The engine against the in-memory test provider: ordering, bounded
//! concurrency, failure isolation, crash recovery, replacement, drift,
//! secrets and saved plans. The in-memory provider is a test double for
//! scheduling only; AWS behaviour is tested against moto.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use archkit::blueprint::params::{self, Inputs, Require, Values};
use archkit::blueprint::{self, Blueprint};
use archkit::engine::{self, Cancel, Event, Events, MemorySink, Options, Outcome};
use archkit::plan::{self, Action, Plan, Reason};
use archkit::provider::memory::{Fault, MemoryCloud};
use archkit::provider::{Context, Op, Registry};
use archkit::state::State;

const STACK: &str = "test";

struct Harness {
    cloud: Arc<MemoryCloud>,
    registry: Registry,
    state: State,
    opts: Options,
    env: Vec<(String, String)>,
}

/// Records engine events.
#[derive(Default)]
struct Log(Mutex<Vec<Event>>);

impl Events for Log {
    fn event(&self, e: &Event) {
        self.0.lock().unwrap().push(e.clone());
    }
}

impl Harness {
    fn new() -> Harness {
        let cloud = MemoryCloud::new();
        Harness {
            registry: Registry::with_kinds(cloud.kinds()),
            cloud,
            state: State::new(STACK, "t"),
            opts: Options {
                backoff: Duration::from_millis(1),
                min_poll: Duration::from_millis(1),
                ..Options::default()
            },
            env: Vec::new(),
        }
    }

    fn load(&self, src: &str) -> (Blueprint, Values) {
        let bp = blueprint::load_bytes("t.yaml", src.as_bytes(), &self.registry)
            .unwrap_or_else(|e| panic!("{}", archkit::output::render_diagnostics(&e, false, 100)));
        let inputs = Inputs { env: self.env.clone(), ..Inputs::default() };
        let values = params::resolve(&bp, &inputs, Require::All, &mut |_| None).unwrap();
        (bp, values)
    }

    async fn plan_with(&self, src: &str, destroy: bool) -> Plan {
        let (bp, values) = self.load(src);
        let ctx = Context::new(STACK);
        let kinds: BTreeSet<String> = bp.resources.values().map(|r| r.kind().to_string()).collect();
        let live = plan::refresh(&self.registry, &ctx, &self.state, &kinds, 10).await.unwrap();
        let azs = vec!["zone-a".to_string(), "zone-b".to_string()];
        plan::diff(
            &plan::Input {
                blueprint: &bp,
                params: &values,
                stack: STACK,
                region: "mem-1",
                azs: &azs,
                state: &self.state,
                registry: &self.registry,
                destroy,
                expires_at: None,
            },
            live,
        )
        .unwrap()
    }

    async fn plan(&self, src: &str) -> Plan {
        self.plan_with(src, false).await
    }

    /// Runs the engine on `plan` with `sink`, from the harness's state.
    async fn run(
        &self,
        src: &str,
        plan: &Plan,
        sink: Arc<MemorySink>,
        cancel: Arc<Cancel>,
    ) -> (State, engine::Report) {
        let (bp, values) = self.load(src);
        let bp = Arc::new(bp);
        let azs = vec!["zone-a".to_string(), "zone-b".to_string()];
        let ctx = Context::new(STACK);
        engine::apply(
            &self.registry,
            &ctx,
            engine::Inputs { blueprint: &bp, params: &values, region: "mem-1", azs: &azs },
            Arc::new(plan.clone()),
            self.state.clone(),
            sink,
            Arc::new(Log::default()),
            self.opts.clone(),
            cancel,
        )
        .await
        .unwrap()
    }

    /// Plans and applies; returns the plan and report.
    async fn apply_with(
        &mut self,
        src: &str,
        destroy: bool,
        cancel: Arc<Cancel>,
    ) -> (Plan, engine::Report, Arc<MemorySink>) {
        let plan = self.plan_with(src, destroy).await;
        let sink = Arc::new(MemorySink::default());
        let (state, report) = self.run(src, &plan, sink.clone(), cancel).await;
        self.state = state;
        (plan, report, sink)
    }

    async fn apply(&mut self, src: &str) -> (Plan, engine::Report) {
        let (p, r, _) = self.apply_with(src, false, Cancel::new()).await;
        (p, r)
    }

    async fn destroy(&mut self, src: &str) -> engine::Report {
        self.apply_with(src, true, Cancel::new()).await.1
    }

    /// The stack's resources in the cloud by logical id.
    fn cloud_ids(&self) -> BTreeMap<String, Vec<String>> {
        self.cloud.by_logical_id(STACK)
    }

    /// No duplicate, no orphan, state and cloud agree.
    fn assert_consistent(&self, expected: &[&str]) {
        let ids = self.cloud_ids();
        for (id, pids) in &ids {
            assert_eq!(pids.len(), 1, "duplicate `{id}`: {pids:?}");
            let recorded = self.state.resources.get(id).map(|r| r.physical_id.clone());
            assert_eq!(
                recorded.as_ref(),
                Some(&pids[0]),
                "`{id}` is not recorded in state (orphan)"
            );
        }
        let want: BTreeSet<&str> = expected.iter().copied().collect();
        let have: BTreeSet<&str> = ids.keys().map(|s| s.as_str()).collect();
        assert_eq!(have, want);
        assert_eq!(self.state.resources.len(), expected.len());
    }
}

/// a → b → c, a → d, e alone; f depends on b and e.
const DIAMOND: &str = r#"
name: t
resources:
  a:
    type: test.thing
    properties: {value: "1"}
  b:
    type: test.thing
    properties: {value: "${a.id}"}
  c:
    type: test.thing
    properties: {value: "${b.arn}"}
  d:
    type: test.thing
    properties: {refs: ["${a.id}"]}
  e:
    type: test.slow
    properties: {value: x}
  f:
    type: test.thing
    depends_on: [e]
    properties: {value: "${b.id}"}
"#;
const ALL: &[&str] = &["a", "b", "c", "d", "e", "f"];

fn position(log: &[(String, String, String)], what: &str, id: &str) -> usize {
    log.iter()
        .position(|(w, _, l)| w == what && l == id)
        .unwrap_or_else(|| panic!("no {what} of {id}"))
}

/// With fewer slots than kinds, the kind whose read takes the most
/// rounds starts first; otherwise kinds start in name order.
#[tokio::test]
async fn refresh_starts_the_longest_read_chains_first() {
    let h = Harness::new();
    let ctx = Context::new(STACK);
    let kinds: BTreeSet<String> =
        ["test.slow", "test.thing", "test.unique"].into_iter().map(String::from).collect();
    plan::refresh(&h.registry, &ctx, &h.state, &kinds, 1).await.unwrap();
    assert_eq!(h.cloud.reads(), ["test.unique", "test.slow", "test.thing"]);
}

#[tokio::test]
async fn apply_creates_in_dependency_order_and_converges() {
    let mut h = Harness::new();
    h.cloud.slow_polls.store(3, std::sync::atomic::Ordering::SeqCst);
    let (plan, report) = h.apply(DIAMOND).await;
    assert_eq!(plan.count(Action::Create), 6);
    assert!(report.ok(), "{report:?}");
    let log = h.cloud.log.lock().unwrap().clone();
    for (before, after) in [("a", "b"), ("b", "c"), ("a", "d"), ("b", "f"), ("e", "f")] {
        assert!(
            position(&log, "create", before) < position(&log, "create", after),
            "{before} before {after}"
        );
    }
    // f waited until e was ready (three polls), not just created.
    let e_ready = log.iter().rposition(|(w, _, l)| w == "poll" && l == "e").unwrap();
    assert!(e_ready < position(&log, "create", "f"));
    h.assert_consistent(ALL);
    // References were resolved to real values at apply time.
    let b = &h.state.resources["b"];
    assert_eq!(b.properties["value"], h.state.resources["a"].physical_id.as_str());

    // Idempotent: the next plan is empty and a second apply writes nothing.
    let plan = h.plan(DIAMOND).await;
    assert!(!plan.has_changes(), "{}", plan::render::human(&plan));
    let before = h.cloud.mutation_count();
    let (_, report) = h.apply(DIAMOND).await;
    assert!(report.operations.is_empty());
    assert_eq!(h.cloud.mutation_count(), before, "a no-change apply made a write call");
}

#[tokio::test]
async fn concurrency_never_exceeds_parallelism() {
    let mut src = String::from("name: t\nresources:\n");
    for i in 0..40 {
        src.push_str(&format!("  r{i}:\n    type: test.thing\n    properties: {{value: v{i}}}\n"));
    }
    for parallelism in [1, 4, 10] {
        let mut h = Harness::new();
        h.cloud.set_latency(Duration::from_millis(10));
        h.opts.parallelism = parallelism;
        let (_, report) = h.apply(&src).await;
        assert!(report.ok());
        let peak = h.cloud.peak_inflight.load(std::sync::atomic::Ordering::SeqCst);
        assert!(peak <= parallelism, "peak {peak} > {parallelism}");
        assert_eq!(
            peak, parallelism,
            "the limit should be used fully with 40 independent resources"
        );
    }
}

#[tokio::test]
async fn a_failure_skips_exactly_its_dependents_and_a_rerun_finishes() {
    let mut h = Harness::new();
    h.cloud.fault("b", Op::Create, Fault::Fail);
    let (_, report) = h.apply(DIAMOND).await;
    let outcome = |id: &str| report.operations.iter().find(|o| o.0 == id).unwrap().2.clone();
    assert_eq!(outcome("a"), Outcome::Done);
    assert!(matches!(outcome("b"), Outcome::Failed(_)));
    assert!(matches!(outcome("c"), Outcome::Skipped { .. }));
    assert!(matches!(outcome("f"), Outcome::Skipped { .. }));
    assert_eq!(outcome("d"), Outcome::Done);
    assert_eq!(outcome("e"), Outcome::Done);
    assert_eq!(report.failed(), 1);
    assert_eq!(report.skipped(), 2);
    assert!(h.state.pending.is_empty(), "a clean failure leaves nothing pending");
    h.cloud.clear_faults();
    let (plan, report) = h.apply(DIAMOND).await;
    assert_eq!(plan.count(Action::Create), 3, "{}", plan::render::human(&plan));
    assert!(report.ok());
    h.assert_consistent(ALL);
}

#[tokio::test]
async fn throttling_is_retried() {
    let mut h = Harness::new();
    h.cloud.fault("c", Op::Create, Fault::Throttle(3));
    let (_, report) = h.apply(DIAMOND).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(h.cloud.calls("create"), 6 + 3);
    h.assert_consistent(ALL);
}

#[tokio::test]
async fn sets_listed_out_of_order_are_neither_changes_nor_drift() {
    // `refs` is a set: the provider compares it sorted. Listed here in the
    // opposite order to the ids, it must still plan nothing after apply.
    const SETS: &str = r#"
name: t
resources:
  a:
    type: test.thing
  b:
    type: test.thing
  user:
    type: test.thing
    properties: {refs: ["${b.id}", "${a.id}"]}
"#;
    let mut h = Harness::new();
    let (_, report) = h.apply(SETS).await;
    assert!(report.ok(), "{report:?}");
    let (plan, _) = h.apply(SETS).await;
    let user = plan.change("user").unwrap();
    assert_eq!(user.action, Action::NoOp);
    assert!(user.drift.is_empty(), "false drift: {:?}", user.drift);
}

#[tokio::test]
async fn a_create_throttled_after_making_its_resource_is_finished_not_repeated() {
    let mut h = Harness::new();
    h.cloud.fault("c", Op::Create, Fault::ThrottleAfterCreate);
    let (_, report) = h.apply(DIAMOND).await;
    assert!(report.ok(), "{report:?}");
    // One create per resource: the made one is completed by an update
    // from what is live, never created a second time.
    assert_eq!(h.cloud.calls("create"), 6);
    assert_eq!(h.cloud.calls("update"), 1);
    h.assert_consistent(ALL);
    let pid = &h.state.resources["c"].physical_id;
    let stored = h.cloud.resources.lock().unwrap()[pid].props.clone();
    assert!(stored.get("value").is_some(), "the missing step was applied: {stored:?}");
    let (plan, _) = h.apply(DIAMOND).await;
    assert!(!plan.has_changes(), "{}", plan::render::human(&plan));
}

#[tokio::test]
async fn dependencies_released_slowly_are_waited_for_beyond_the_attempt_limit() {
    let mut h = Harness::new();
    h.apply(DIAMOND).await;
    // Far more failures than the engine's attempts for throttling (6).
    h.cloud.fault("a", Op::Delete, Fault::InUse(12));
    let before = h.cloud.calls("delete");
    let report = h.destroy(DIAMOND).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(h.cloud.calls("delete") - before, ALL.len() + 12);
}

/// Kills the run (drops the apply future) while the n-th mutating call is
/// in flight, after the cloud performed it; then reruns from the last
/// state written. For every n the stack must converge with no duplicate
/// and no orphan.
async fn crash_at_every_step(setup: Option<&str>, target: &str, destroy: bool, expected: &[&str]) {
    let total = {
        let mut h = Harness::new();
        if let Some(s) = setup {
            h.apply(s).await;
        }
        let before = h.cloud.mutation_count();
        h.apply_with(target, destroy, Cancel::new()).await;
        h.cloud.mutation_count() - before
    };
    assert!(total > 0);
    for n in 0..total {
        let mut h = Harness::new();
        if let Some(s) = setup {
            h.apply(s).await;
        }
        h.cloud.fault_nth_mutation(n, Fault::Hang);
        let sink = Arc::new(MemorySink::default());
        {
            // Run the apply until the hung call, then drop it: a crash.
            let plan = h.plan_with(target, destroy).await;
            let run = h.run(target, &plan, sink.clone(), Cancel::new());
            let r = tokio::time::timeout(Duration::from_millis(200), run).await;
            assert!(r.is_err(), "step {n}: the run should hang at the injected call");
        }
        // Whatever was last written is what a crashed process leaves.
        if let Some(last) = sink.writes.lock().unwrap().last() {
            h.state = last.clone();
        }
        assert!(!h.state.pending.is_empty(), "step {n}: the in-flight operation was journaled");
        h.cloud.clear_faults();
        let (_, report, _) = h.apply_with(target, destroy, Cancel::new()).await;
        assert!(report.ok(), "step {n}: {report:?}");
        h.assert_consistent(expected);
        let plan = h.plan_with(target, destroy).await;
        assert!(!plan.has_changes(), "step {n}: {}", plan::render::human(&plan));
    }
}

#[tokio::test]
async fn a_crash_during_create_at_any_step_converges() {
    crash_at_every_step(None, DIAMOND, false, ALL).await;
}

#[tokio::test]
async fn a_crash_during_destroy_at_any_step_converges() {
    crash_at_every_step(Some(DIAMOND), DIAMOND, true, &[]).await;
}

#[tokio::test]
async fn a_crash_during_replacement_at_any_step_converges() {
    let replaced =
        DIAMOND.replace("properties: {value: \"1\"}", "properties: {value: \"1\", name: renamed}");
    crash_at_every_step(Some(DIAMOND), &replaced, false, ALL).await;
}

#[tokio::test]
async fn updates_in_place_and_replacements_are_planned_and_applied() {
    let mut h = Harness::new();
    h.apply(DIAMOND).await;
    let old_a = h.state.resources["a"].physical_id.clone();
    let changed = DIAMOND
        .replace("properties: {value: x}", "properties: {value: y}")
        .replace("properties: {value: \"1\"}", "properties: {value: \"1\", name: renamed}");
    let plan = h.plan(&changed).await;
    let e = plan.change("e").unwrap();
    assert_eq!(e.action, Action::Update);
    assert_eq!(e.changed, ["value"]);
    let a = plan.change("a").unwrap();
    assert_eq!(a.action, Action::Replace);
    assert_eq!(a.replace_because, ["name"]);
    // b uses a's id, which is known only after apply: b is updated too.
    assert_eq!(plan.change("b").unwrap().action, Action::Update);
    assert_eq!(plan.change("b").unwrap().after["value"], None);
    let text = plan::render::human(&plan);
    assert!(text.contains("+/- a  test.thing"), "{text}");
    assert!(text.contains("replace: `name` forces replacement"), "{text}");
    assert!(text.contains("(known after apply)"), "{text}");
    let (_, report) = h.apply(&changed).await;
    assert!(report.ok(), "{report:?}");
    assert_ne!(h.state.resources["a"].physical_id, old_a);
    assert!(h.state.deposed.is_empty());
    h.assert_consistent(ALL);
    // Create before delete: the new a exists before the old one goes.
    let log = h.cloud.log.lock().unwrap().clone();
    let creates_a: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, c)| c.0 == "create" && c.2 == "a")
        .map(|(i, _)| i)
        .collect();
    let delete_a = position(&log, "delete", "a");
    assert!(*creates_a.last().unwrap() < delete_a);
    // and after b moved to it
    let update_b = position(&log, "update", "b");
    assert!(update_b < delete_a);
    assert!(!h.plan(&changed).await.has_changes());
}

#[tokio::test]
async fn removed_resources_are_deleted_dependents_first() {
    let mut h = Harness::new();
    h.apply(DIAMOND).await;
    let only_e = "name: t\nresources:\n  e:\n    type: test.slow\n    properties: {value: x}\n";
    let plan = h.plan(only_e).await;
    assert_eq!(plan.count(Action::Delete), 5);
    assert_eq!(plan.change("c").unwrap().reason, Some(Reason::NotInBlueprint));
    h.apply(only_e).await;
    let log = h.cloud.log.lock().unwrap().clone();
    for (first, then) in [("c", "b"), ("b", "a"), ("d", "a"), ("f", "b")] {
        assert!(
            position(&log, "delete", first) < position(&log, "delete", then),
            "{first} before {then}"
        );
    }
    h.assert_consistent(&["e"]);
}

#[tokio::test]
async fn out_of_band_changes_show_as_drift_or_recreation() {
    let mut h = Harness::new();
    h.apply(DIAMOND).await;
    let pid_e = h.state.resources["e"].physical_id.clone();
    let pid_d = h.state.resources["d"].physical_id.clone();
    {
        let mut res = h.cloud.resources.lock().unwrap();
        res.get_mut(&pid_e).unwrap().props.insert("value".into(), "tampered".into());
        res.remove(&pid_d);
    }
    let plan = h.plan(DIAMOND).await;
    let e = plan.change("e").unwrap();
    assert_eq!(e.action, Action::Update);
    assert_eq!(e.drift, ["value"]);
    let d = plan.change("d").unwrap();
    assert_eq!(d.action, Action::Create);
    assert_eq!(d.reason, Some(Reason::DeletedOutside));
    let text = plan::render::human(&plan);
    assert!(text.contains("changed outside archkit"), "{text}");
    assert!(text.contains("deleted outside archkit"), "{text}");
    h.apply(DIAMOND).await;
    h.assert_consistent(ALL);
    assert!(!h.plan(DIAMOND).await.has_changes());
}

#[tokio::test]
async fn resources_tagged_with_the_stack_but_untracked_are_adopted_or_removed() {
    let mut h = Harness::new();
    h.apply(DIAMOND).await;
    // Lose state entirely: everything is found again by its tags.
    h.state = State::new(STACK, "t");
    let plan = h.plan(DIAMOND).await;
    assert!(
        plan.changes.iter().all(|c| c.action == Action::NoOp),
        "{}",
        plan::render::human(&plan)
    );
    assert!(plan.changes.iter().all(|c| c.reason == Some(Reason::Adopted)));
    h.apply(DIAMOND).await;
    h.assert_consistent(ALL);
    assert!(!h.plan(DIAMOND).await.has_changes());
}

#[tokio::test]
async fn secrets_stay_out_of_state_and_output() {
    let src = "name: t\nparameters:\n  pw:\n    secret: true\nresources:\n  s:\n    type: test.thing\n    properties: {value: plain, secret: \"${params.pw}\"}\n";
    let mut h = Harness::new();
    h.env = vec![("pw".into(), "correct-horse-battery-staple".into())];
    let (plan, report) = h.apply(src).await;
    assert!(report.ok());
    let shown =
        plan::render::human(&plan) + &serde_json::to_string(&plan::render::json(&plan)).unwrap();
    assert!(!shown.contains("correct-horse"), "{shown}");
    assert!(shown.contains("(sensitive)"));
    let state = serde_json::to_string(&h.state).unwrap();
    assert!(!state.contains("correct-horse"), "{state}");
    assert!(state.contains("argon2id$m=65536,t=2,p=1$"), "{state}");
    assert!(!h.plan(src).await.has_changes());
    // A new password plans an update without showing either value.
    h.env = vec![("pw".into(), "another-long-password".into())];
    let plan = h.plan(src).await;
    let s = plan.change("s").unwrap();
    assert_eq!((s.action, s.changed.clone()), (Action::Update, vec!["secret".to_string()]));
    let text = plan::render::human(&plan);
    assert!(!text.contains("another-long") && !text.contains("correct-horse"), "{text}");
}

#[tokio::test]
async fn a_stale_saved_plan_is_refused() {
    use archkit::plan::saved::SavedPlan;
    let mut h = Harness::new();
    let (bp, values) = h.load(DIAMOND);
    let plan = h.plan(DIAMOND).await;
    let saved = SavedPlan::new(&plan, "t", DIAMOND.as_bytes(), &values, "mem-1");
    // Unchanged: accepted.
    let again = saved.again(&h.plan(DIAMOND).await, DIAMOND.as_bytes(), &values, "mem-1");
    saved.check(&again).unwrap();
    // The blueprint changed.
    let other = DIAMOND.replace("value: x", "value: z");
    let now = saved.again(&h.plan(&other).await, other.as_bytes(), &values, "mem-1");
    assert!(saved.check(&now).unwrap_err().to_string().contains("blueprint changed"));
    // The state moved on.
    h.apply(DIAMOND).await;
    let now = saved.again(&h.plan(DIAMOND).await, DIAMOND.as_bytes(), &values, "mem-1");
    let err = saved.check(&now).unwrap_err().to_string();
    assert!(err.contains("state changed"), "{err}");
    // Issue 13 (10): the parameter digest is salted per plan: two plans of
    // the same values share no digest (a weak secret's digest cannot be
    // looked up), while each still checks against itself.
    let second = SavedPlan::new(&plan, "t", DIAMOND.as_bytes(), &values, "mem-1");
    assert_ne!(saved.params_salt, second.params_salt);
    assert_ne!(saved.params_digest, second.params_digest);
    let unsalted = archkit::plan::saved::digest_params(&values, "");
    assert_ne!(saved.params_digest, unsalted);
    let _ = bp;
}

#[tokio::test]
async fn cancelling_stops_new_work_and_a_rerun_finishes() {
    let mut h = Harness::new();
    h.cloud.set_latency(Duration::from_millis(30));
    h.opts.parallelism = 1;
    let cancel = Cancel::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(75)).await;
        c.cancel();
    });
    let (_, report, _) = h.apply_with(DIAMOND, false, cancel).await;
    assert!(report.interrupted);
    assert!(report.operations.iter().any(|o| o.2 == Outcome::NotRun));
    assert!(h.state.pending.is_empty(), "in-flight work finished and was recorded");
    let created = h.cloud_ids().len();
    assert!((1..6).contains(&created), "{created}");
    let (_, report) = h.apply(DIAMOND).await;
    assert!(report.ok());
    h.assert_consistent(ALL);
}

#[tokio::test]
async fn destroy_removes_everything_dependents_first_and_empties_state() {
    let mut h = Harness::new();
    h.apply(DIAMOND).await;
    let plan = h.plan_with(DIAMOND, true).await;
    assert_eq!(plan.count(Action::Delete), 6);
    assert!(plan.changes.iter().all(|c| c.reason == Some(Reason::Destroy)));
    let report = h.destroy(DIAMOND).await;
    assert!(report.ok(), "{report:?}");
    let log = h.cloud.log.lock().unwrap().clone();
    for (first, then) in [("c", "b"), ("b", "a"), ("d", "a"), ("f", "b"), ("f", "e")] {
        assert!(
            position(&log, "delete", first) < position(&log, "delete", then),
            "{first} before {then}"
        );
    }
    h.assert_consistent(&[]);
    assert!(h.state.is_empty());
    // Destroying again is a no-op.
    assert!(!h.plan_with(DIAMOND, true).await.has_changes());
}

const UNIQUE: &str = r#"
name: t
resources:
  anchor:
    type: test.unique
    properties: {name: first}
  a:
    type: test.thing
    properties: {value: "1"}
  b:
    type: test.thing
    properties: {value: "2"}
"#;

#[tokio::test]
async fn kinds_with_unique_names_are_replaced_delete_first() {
    let mut h = Harness::new();
    h.apply(UNIQUE).await;
    let renamed = UNIQUE.replace("name: first", "name: second");
    let plan = h.plan(&renamed).await;
    let u = plan.change("anchor").unwrap();
    assert_eq!((u.action, u.delete_first), (Action::Replace, true));
    assert!(plan::render::human(&plan).contains("(delete first)"));
    let (_, report) = h.apply(&renamed).await;
    assert!(report.ok(), "{report:?}");
    let log = h.cloud.log.lock().unwrap().clone();
    let delete = position(&log, "delete", "anchor");
    let last_create = log.iter().rposition(|c| c.0 == "create" && c.2 == "anchor").unwrap();
    assert!(delete < last_create, "the old object goes before the new one is made");
    h.assert_consistent(&["a", "anchor", "b"]);
}

/// A replaced dependent of a delete-first replacement goes first too
/// (Pulumi's rule): its new object waits for the new anchor, which is made
/// only after the old anchor goes, which waits for the old dependent.
#[tokio::test]
async fn dependents_of_a_delete_first_replacement_are_deleted_first() {
    let bp = format!(
        "{UNIQUE}  c:\n    type: test.thing\n    properties: {{name: \"${{anchor.id}}\"}}\n"
    );
    let mut h = Harness::new();
    h.apply(&bp).await;
    let renamed = bp.replace("name: first", "name: second");
    let plan = h.plan(&renamed).await;
    let c = plan.change("c").unwrap();
    assert_eq!((c.action, c.delete_first), (Action::Replace, true), "{c:?}");
    // Siblings that depend on nothing replaced are left alone.
    assert_eq!(plan.change("a").map(|c| c.action), Some(Action::NoOp));
    let text = plan::render::human(&plan);
    assert!(text.contains("-/+ anchor  test.unique"), "{text}");
    assert!(text.contains("-/+ c  test.thing"), "{text}");
    let (_, report) = h.apply(&renamed).await;
    assert!(report.ok(), "{report:?}");
    let log = h.cloud.log.lock().unwrap().clone();
    let delete_c = position(&log, "delete", "c");
    let delete_anchor = position(&log, "delete", "anchor");
    let create_anchor = log.iter().rposition(|c| c.0 == "create" && c.2 == "anchor").unwrap();
    let create_c = log.iter().rposition(|c| c.0 == "create" && c.2 == "c").unwrap();
    assert!(
        delete_c < delete_anchor && delete_anchor < create_anchor && create_anchor < create_c,
        "{log:?}"
    );
    h.assert_consistent(&["a", "anchor", "b", "c"]);
    assert!(!h.plan(&renamed).await.has_changes());
}

#[tokio::test]
async fn kind_rules_order_destroy_beyond_the_graph() {
    let mut h = Harness::new();
    h.apply(UNIQUE).await;
    // One operation at a time, so without the rule `anchor` (sorted
    // between `a` and `b`) would go second. Nothing references it, yet
    // every test.thing must go first.
    h.opts.parallelism = 1;
    let report = h.destroy(UNIQUE).await;
    assert!(report.ok(), "{report:?}");
    let log = h.cloud.log.lock().unwrap().clone();
    let u = position(&log, "delete", "anchor");
    assert!(position(&log, "delete", "a") < u && position(&log, "delete", "b") < u);
    h.assert_consistent(&[]);
}

const PARTS: &str = r#"
name: t
resources:
  a:
    type: test.part
    properties: {owner: "${owner.arn}"}
  owner:
    type: test.thing
    properties: {value: "1"}
"#;

/// A part its owner's deletion takes with it (a cluster's role
/// association) is not deleted first: it waits for the owner, then finds
/// itself gone. Without the rule, `a` would be deleted before `owner`.
#[tokio::test]
async fn a_resource_deleted_with_its_owner_waits_for_the_owner() {
    let mut h = Harness::new();
    h.apply(PARTS).await;
    h.opts.parallelism = 1;
    let report = h.destroy(PARTS).await;
    assert!(report.ok(), "{report:?}");
    let log = h.cloud.log.lock().unwrap().clone();
    // The part's own delete finds it gone (no logical id left to log).
    let part = log.iter().position(|(w, k, _)| w == "delete" && k == "test.part");
    assert!(part.is_some_and(|p| position(&log, "delete", "owner") < p), "{log:?}");
    h.assert_consistent(&[]);
    // Alone, the part is deleted by its own call.
    h.apply(PARTS).await;
    let alone =
        PARTS.replace("  a:\n    type: test.part\n    properties: {owner: \"${owner.arn}\"}\n", "");
    assert!(!alone.contains("test.part"));
    let (_, report) = h.apply(&alone).await;
    assert!(report.ok(), "{report:?}");
    h.assert_consistent(&["owner"]);
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_by_its_tags() {
    let mut h = Harness::new();
    h.cloud.fault("b", Op::Create, Fault::LoseResponse);
    let (_, report) = h.apply(DIAMOND).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(h.cloud.calls("create"), 6, "no second create of `b`");
    h.assert_consistent(ALL);
    assert!(!h.plan(DIAMOND).await.has_changes());
}

/// Issue 13 (1): a resource found by its tags (state lost its record, as a
/// SIGKILL between a create and its state write does) that also needs an
/// update is recorded before it is updated; it used to fail every rerun
/// with "`x` is not in state".
#[tokio::test]
async fn an_adopted_resource_that_needs_an_update_is_recorded_then_updated() {
    let mut h = Harness::new();
    h.apply(DIAMOND).await;
    h.state.resources.remove("e");
    let changed = DIAMOND.replace("properties: {value: x}", "properties: {value: y}");
    let plan = h.plan(&changed).await;
    let e = plan.change("e").unwrap();
    assert_eq!((e.action, e.reason.clone()), (Action::Update, Some(Reason::Adopted)), "{e:?}");
    let (_, report) = h.apply(&changed).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(h.state.resources["e"].physical_id, e.physical_id.clone().unwrap());
    assert!(!h.plan(&changed).await.has_changes());
    h.assert_consistent(ALL);
}

/// Issue 13 (10): a resource is recorded `creating` until its readiness
/// wait ends, so a run that stops during the wait (a crash, Ctrl-C) is
/// resumed by the next apply, which waits again before its dependents.
#[tokio::test]
async fn a_wait_cut_short_is_resumed_by_the_next_apply() {
    let mut h = Harness::new();
    h.apply(DIAMOND).await;
    assert!(h.state.resources.values().all(|r| r.status == archkit::state::Status::Ready));
    // As a crash during e's wait leaves it.
    h.state.resources.get_mut("e").unwrap().status = archkit::state::Status::Creating;
    let plan = h.plan(DIAMOND).await;
    let e = plan.change("e").unwrap();
    assert_eq!((e.action, e.reason.clone()), (Action::Update, Some(Reason::NotReady)), "{e:?}");
    assert!(e.changed.is_empty(), "{e:?}");
    let (_, report) = h.apply(DIAMOND).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(h.state.resources["e"].status, archkit::state::Status::Ready);
    assert!(!h.plan(DIAMOND).await.has_changes());
    h.assert_consistent(ALL);
}

/// Issue 13 (10): after a create-before-delete replacement whose create
/// failed, the deposed old object is deleted only once its replacement
/// exists and the resources using it have moved to the new one, as in the
/// replacement itself (it used to be deleted with no ordering at all).
#[tokio::test]
async fn after_a_failed_replacement_the_old_object_goes_last() {
    use archkit::provider::memory::Fault;
    let mut h = Harness::new();
    let one =
        DIAMOND.replace(r#"properties: {value: "1"}"#, r#"properties: {name: one, value: "1"}"#);
    let two = one.replace("name: one", "name: two");
    h.apply(&one).await;
    let old = h.state.resources["a"].physical_id.clone();
    // The replacement's create fails: the old object stays, deposed.
    h.cloud.fault_nth_mutation(0, Fault::Fail);
    let (plan, report) = h.apply(&two).await;
    assert_eq!(plan.change("a").unwrap().action, Action::Replace);
    assert!(!report.ok());
    assert!(h.state.deposed.iter().any(|d| d.physical_id == old), "{:?}", h.state.deposed);
    h.cloud.clear_faults();
    h.cloud.log.lock().unwrap().clear();
    let (_, report) = h.apply(&two).await;
    assert!(report.ok(), "{report:?}");
    let log = h.cloud.log.lock().unwrap().clone();
    let deleted = position(&log, "delete", "a");
    assert!(position(&log, "create", "a") < deleted, "{log:?}");
    for user in ["b", "d"] {
        assert!(position(&log, "update", user) < deleted, "{user} moved off first: {log:?}");
    }
    assert!(h.state.deposed.is_empty());
    assert!(!h.plan(&two).await.has_changes());
}

/// Issue 13 (3): an interrupt stops a retry at once: an operation waiting
/// out a backoff (a dependency AWS releases slowly, retried for minutes)
/// ends when the run is cancelled, instead of sleeping on.
#[tokio::test]
async fn an_interrupt_ends_a_retry_backoff_at_once() {
    use archkit::provider::memory::Fault;
    let mut h = Harness::new();
    h.opts.backoff = Duration::from_secs(20);
    h.cloud.fault_nth_mutation(0, Fault::InUse(1_000));
    let cancel = Cancel::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.cancel();
    });
    let started = std::time::Instant::now();
    let (_, report, _) = h.apply_with(DIAMOND, false, cancel).await;
    let took = started.elapsed();
    assert!(report.interrupted, "{report:?}");
    assert!(took < Duration::from_secs(2), "the interrupt waited out the backoff: {took:?}");
}

/// Issue 16, then 34 §1: a readiness poll comes a twentieth of the time
/// waited so far after the last (at least the minimum, at most a tenth of
/// the kind's expected duration and 15 s), so a wait ends within
/// `max(1 s, 5 %)` of the resource being ready: a resource ready in a few
/// seconds is seen within a second, and a 15-minute broker is polled
/// every 15 s.
#[test]
fn polls_come_a_twentieth_of_the_wait_apart() {
    use archkit::engine::PollSchedule;
    let s = Duration::from_secs;
    let nat = PollSchedule::new(s(1), s(180));
    let pauses: Vec<Duration> = nat.take(200).collect();
    assert!(pauses[..20].iter().all(|p| *p == s(1)), "{pauses:?}");
    // Worst case: ready just after a poll, seen at the next one.
    let mut waited = Duration::ZERO;
    for p in &pauses {
        assert!(*p <= s(1).max(waited / 20), "{p:?} after {waited:?}");
        assert!(*p <= s(15));
        waited += *p;
    }
    // A three-minute wait takes about 64 polls; then 15 s apart.
    let polls = pauses
        .iter()
        .scan(Duration::ZERO, |w, p| {
            *w += *p;
            Some(*w)
        })
        .take_while(|w| *w <= s(180))
        .count();
    assert!((55..=70).contains(&polls), "{polls}");
    assert_eq!(*pauses.last().unwrap(), s(15));
    // A short kind never waits more than a tenth of its expected time.
    let lb = PollSchedule::new(s(1), s(40));
    assert!(lb.take(200).all(|p| p <= s(4)));
    let quick = PollSchedule::new(s(1), s(2));
    assert_eq!(quick.take(3).collect::<Vec<_>>(), [s(1), s(1), s(1)]);
    let ms = Duration::from_millis;
    let test = PollSchedule::new(ms(1), ms(20));
    assert!(test.take(100).all(|p| p >= ms(1) && p <= ms(2)));
}

/// A resource ready at once is recorded once, as ready; one that must be
/// waited for is recorded `creating` before the wait, so a run stopped
/// during it waits again.
#[tokio::test]
async fn only_a_resource_waited_for_is_recorded_creating() {
    use archkit::state::Status;
    for (kind, polls, expected) in [
        ("test.thing", 1, vec![Status::Ready]),
        ("test.slow", 3, vec![Status::Creating, Status::Ready]),
    ] {
        let h = Harness::new();
        h.cloud.slow_polls.store(polls, std::sync::atomic::Ordering::SeqCst);
        let bp =
            format!("name: t\nresources:\n  a:\n    type: {kind}\n    properties: {{value: x}}\n");
        let plan = h.plan(&bp).await;
        let sink = Arc::new(MemorySink::default());
        let (_, report) = h.run(&bp, &plan, sink.clone(), Cancel::new()).await;
        assert!(report.ok(), "{report:?}");
        let mut statuses: Vec<Status> = sink
            .writes
            .lock()
            .unwrap()
            .iter()
            .filter_map(|s| s.resources.get("a").map(|r| r.status))
            .collect();
        statuses.dedup();
        assert_eq!(statuses, expected, "{kind}");
    }
}

/// Issue 34 §1: a readiness wait never holds up an unrelated resource.
/// Two independent chains of slow resources (three and two links, each
/// ready after 15 polls 20 ms apart) applied together finish within 1.05×
/// of the longer chain applied alone: the shorter one runs beside it.
#[tokio::test]
async fn two_independent_slow_chains_overlap() {
    fn chain(name: &str, n: usize) -> String {
        (1..=n)
            .map(|i| {
                let value = if i > 1 { format!("${{{name}{}.id}}", i - 1) } else { "x".into() };
                format!("  {name}{i}:\n    type: test.slow\n    properties: {{value: '{value}'}}\n")
            })
            .collect()
    }
    let setup = || {
        let mut h = Harness::new();
        h.opts.min_poll = Duration::from_millis(20);
        h.cloud.slow_polls.store(15, std::sync::atomic::Ordering::SeqCst);
        h
    };
    let longer = format!("name: t\nresources:\n{}", chain("a", 3));
    let both = format!("name: t\nresources:\n{}{}", chain("a", 3), chain("b", 2));
    let timed = |src: String| async move {
        let mut h = setup();
        let t = std::time::Instant::now();
        let (_, report) = h.apply(&src).await;
        assert!(report.ok(), "{report:?}");
        (t.elapsed().as_secs_f64(), h)
    };
    // The chain alone before and after, so a busy machine (the other
    // tests) slows the reference as much as the subject.
    let (before, _) = timed(longer.clone()).await;
    let (both_secs, h) = timed(both).await;
    let (after, _) = timed(longer).await;
    let alone_secs = before.max(after);
    h.assert_consistent(&["a1", "a2", "a3", "b1", "b2"]);
    // Three waits of about 0.3 s each: the chain alone takes about 0.9 s.
    assert!(alone_secs > 0.6, "{alone_secs}");
    assert!(
        both_secs <= alone_secs * 1.05,
        "together {both_secs:.3} s, the longer alone {alone_secs:.3} s"
    );
    eprintln!(
        "figures: two slow chains: together {both_secs:.3} s, the longer alone {alone_secs:.3} s"
    );
}
