//! `plan`, `apply` and `destroy` through the CLI, on the in-memory test
//! provider (ARCHKIT_TEST_CLOUD): exit codes, confirmation, saved plans,
//! JSON output, locks and interrupts. AWS itself is tested against moto.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{Run, archkit, finished_ids, fixtures, run};

struct Env {
    dir: tempfile::TempDir,
    blueprint: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        Env { blueprint: fixtures().join("memory"), dir }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = archkit(self.dir.path());
        c.env("ARCHKIT_TEST_CLOUD", self.dir.path().join("cloud.json"))
            .env("ARCHKIT_VAR_password", "a-long-secret-password")
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        let bp = self.blueprint.to_str().unwrap().to_string();
        let args: Vec<&str> =
            args.iter().map(|a| if *a == "BP" { bp.as_str() } else { a }).collect();
        run(self.cmd(&args).stdin(std::process::Stdio::null()))
    }

    fn cloud(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.dir.path().join("cloud.json"))
            .unwrap_or("{\"resources\":{}}".into());
        serde_json::from_str(&text).unwrap()
    }

    fn state_path(&self) -> PathBuf {
        self.dir.path().join(".archkit/memory.state.json")
    }

    fn state(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.state_path()).unwrap()).unwrap()
    }
}

#[test]
fn plan_apply_plan_destroy_round_trip() {
    let e = Env::new();
    let plan = e.run(&["plan", "BP", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    assert!(plan.stdout.contains("+ base  test.thing"), "{}", plan.stdout);
    assert!(plan.stdout.contains("Plan: 4 to add, 0 to change, 0 to replace, 0 to destroy."));
    assert!(plan.stdout.contains("(sensitive)"));
    assert!(!plan.stdout.contains("a-long-secret"));

    // No terminal and no --auto-approve: refuse, change nothing.
    let refused = e.run(&["apply", "BP"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("archkit::confirm::no_terminal"), "{}", refused.stderr);
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 0);

    let applied = e.run(&["apply", "BP", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    assert!(applied.stderr.contains("Apply complete"), "{}", applied.stderr);
    assert!(applied.stderr.contains("base: created in"), "{}", applied.stderr);
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 4);
    let state = std::fs::read_to_string(e.state_path()).unwrap();
    assert!(!state.contains("a-long-secret"), "the secret leaked into state");

    let again = e.run(&["plan", "BP", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.starts_with("No changes."), "{}", again.stdout);
    let serial = e.state()["serial"].clone();
    let noop = e.run(&["apply", "BP", "--auto-approve"]);
    assert_eq!(noop.code, 0);
    assert_eq!(e.state()["serial"], serial, "a no-change apply must not touch state");

    // A changed parameter is an in-place update.
    let update = e.run(&["plan", "BP", "--var", "value=two", "--detailed-exitcode"]);
    assert_eq!(update.code, 2);
    assert!(update.stdout.contains("~ base  test.thing"), "{}", update.stdout);
    assert!(update.stdout.contains("\"one\" → \"two\""), "{}", update.stdout);

    let destroyed = e.run(&["destroy", "BP", "--auto-approve"]);
    assert_eq!(destroyed.code, 0, "{}", destroyed.stderr);
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 0);
    assert_eq!(e.state()["resources"].as_object().unwrap().len(), 0);
    assert!(!Path::new(&format!("{}.lock", e.state_path().display())).exists());
}

/// `archkit apply 2>&1 | head -1`: once the reader has gone, every
/// progress and status line meets a closed pipe (EPIPE). The apply must
/// finish as if nothing happened, not panic (eprint! did, then aborted
/// while printing the panic, leaving the lock and half the stack).
#[test]
fn a_closed_stderr_pipe_does_not_stop_an_apply() {
    let e = Env::new();
    let (reader, writer) = std::io::pipe().unwrap();
    // Closed before archkit starts, so every write to stderr fails.
    drop(reader);
    let bp = e.blueprint.to_str().unwrap().to_string();
    let status = e
        .cmd(&["apply", &bp, "--auto-approve"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(writer)
        .status()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 4);
    assert!(!Path::new(&format!("{}.lock", e.state_path().display())).exists());
    let again = e.run(&["plan", "BP", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
}

#[test]
fn saved_plans_apply_exactly_and_go_stale() {
    let e = Env::new();
    let out = e.dir.path().join("plan.json");
    let plan = e.run(&["plan", "BP", "--out", out.to_str().unwrap()]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let saved = std::fs::read_to_string(&out).unwrap();
    assert!(!saved.contains("a-long-secret"), "the secret leaked into the plan file");
    // A saved plan needs no confirmation: it was reviewed.
    let applied = e.run(&["apply", out.to_str().unwrap()]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 4);

    // Plan a change, then let the state move on: the saved plan is refused.
    let out2 = e.dir.path().join("plan2.json");
    assert_eq!(
        e.run(&["plan", "BP", "--var", "value=two", "--out", out2.to_str().unwrap()]).code,
        0
    );
    assert_eq!(e.run(&["apply", "BP", "--var", "value=three", "--auto-approve"]).code, 0);
    let stale = e.run(&["apply", out2.to_str().unwrap(), "--var", "value=two"]);
    assert_eq!(stale.code, 1);
    assert!(stale.stderr.contains("archkit::plan::stale"), "{}", stale.stderr);
    assert!(stale.stderr.contains("state changed"), "{}", stale.stderr);

    // A plan saved for another stack applies to that stack without
    // repeating --stack; naming a different stack is refused.
    let other = e.dir.path().join("other.json");
    let p = e.run(&["--stack", "other", "plan", "BP", "--out", other.to_str().unwrap()]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    let wrong = e.run(&["--stack", "third", "apply", other.to_str().unwrap()]);
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    let applied = e.run(&["apply", other.to_str().unwrap()]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert!(e.dir.path().join(".archkit/other.state.json").exists());
}

#[test]
fn plan_json_is_machine_readable() {
    let e = Env::new();
    let out = e.run(&["plan", "BP", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["has_changes"], true);
    assert_eq!(v["summary"]["add"], 4);
    let base = v["changes"].as_array().unwrap().iter().find(|c| c["id"] == "base").unwrap();
    assert_eq!(base["action"], "create");
    assert_eq!(base["after"]["secret"], "(sensitive)");
    let middle = v["changes"].as_array().unwrap().iter().find(|c| c["id"] == "middle").unwrap();
    assert_eq!(middle["after_unknown"], serde_json::json!(["value"]));

    let applied = e.run(&["apply", "BP", "--auto-approve", "--json"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let lines: Vec<serde_json::Value> =
        applied.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["event"], "plan");
    assert_eq!(lines.last().unwrap()["event"], "summary");
    assert_eq!(lines.last().unwrap()["ok"], true);
    assert_eq!(lines.iter().filter(|l| l["event"] == "finished").count(), 4);
}

#[test]
fn a_locked_state_is_reported_with_its_holder() {
    let e = Env::new();
    let store = archkit::state::LocalStore::new(e.state_path());
    let _guard = store.lock("archkit apply (another run)", Duration::ZERO).unwrap();
    let out = e.run(&["plan", "BP", "--lock-timeout", "200ms"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("archkit::state::locked"), "{}", out.stderr);
    assert!(out.stderr.contains("archkit apply (another run)"), "{}", out.stderr);
}

#[test]
fn a_missing_secret_without_a_terminal_names_the_variable() {
    let e = Env::new();
    let out = run(e
        .cmd(&["plan", e.blueprint.to_str().unwrap()])
        .env_remove("ARCHKIT_VAR_password")
        .stdin(std::process::Stdio::null()));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("archkit::blueprint::missing_parameter"), "{}", out.stderr);
    assert!(out.stderr.contains("ARCHKIT_VAR_password"), "{}", out.stderr);
}

#[cfg(unix)]
#[test]
fn sigint_stops_saves_state_releases_the_lock_and_exits_130() {
    let e = Env::new();
    let mut child = e
        .cmd(&["apply", e.blueprint.to_str().unwrap(), "--auto-approve", "--parallelism", "1"])
        .env("ARCHKIT_TEST_LATENCY_MS", "300")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let it refresh and start creating, then interrupt.
    std::thread::sleep(Duration::from_millis(1200));
    let sent = Instant::now();
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let took = sent.elapsed();
    let mut stderr = String::new();
    use std::io::Read;
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(exit.code(), Some(130), "{stderr}");
    assert!(took < Duration::from_secs(3), "took {took:?} to stop");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        !Path::new(&format!("{}.lock", e.state_path().display())).exists(),
        "the lock was not released"
    );
    let state = e.state();
    assert!(state["pending"].as_array().unwrap().is_empty(), "{state}");
    let created = state["resources"].as_object().unwrap().len();
    assert!((1..4).contains(&created), "{created} created before the interrupt");
    // Running again continues where it stopped.
    let rerun = e.run(&["apply", "BP", "--auto-approve"]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 4);
}

#[cfg(unix)]
#[test]
fn sigint_during_plan_exits_130_and_releases_the_lock() {
    let e = Env::new();
    let mut child = e
        .cmd(&["plan", e.blueprint.to_str().unwrap()])
        .env("ARCHKIT_TEST_LATENCY_MS", "1000")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let lock = PathBuf::from(format!("{}.lock", e.state_path().display()));
    assert!(lock.exists(), "the plan holds the lock while it reads");
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(130));
    assert!(!lock.exists(), "the lock was not released");
}

/// The human plan view is part of the contract: a snapshot of a create
/// plan and of an update/replace/delete plan (physical ids filtered).
#[test]
fn plan_output_snapshots() {
    let e = Env::new();
    let create = e.run(&["plan", "BP", "--stack", "snap"]);
    assert_eq!(create.code, 0, "{}", create.stderr);
    insta::assert_snapshot!("plan_create", create.stdout);
    assert_eq!(e.run(&["apply", "BP", "--stack", "snap", "--auto-approve"]).code, 0);
    let edited = e.dir.path().join("edited");
    std::fs::create_dir_all(&edited).unwrap();
    let text = std::fs::read_to_string(e.blueprint.join("blueprint.yaml"))
        .unwrap()
        .replace("      value: top\n", "      value: changed\n")
        .replace(
            "  side:\n    type: test.thing\n    properties:\n      refs:\n        - ${base.arn}\n",
            "",
        );
    std::fs::write(edited.join("blueprint.yaml"), text).unwrap();
    let out = e.run(&["plan", edited.to_str().unwrap(), "--stack", "snap", "--var", "value=two"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let filtered =
        regex::Regex::new(r"(thing|slow|unique)-\d{6}").unwrap().replace_all(&out.stdout, "[ID]");
    insta::assert_snapshot!("plan_changes", filtered);
}

/// Runs `archkit apply` on a pseudo-terminal (util-linux `script`) and
/// answers the confirmation prompt.
/// `archkit apply` of the test blueprint on a pseudo-terminal (util-linux
/// `script`): what is written to the child's stdin is typed at it.
#[cfg(unix)]
fn spawn_on_a_terminal(e: &Env) -> std::process::Child {
    let exe = env!("CARGO_BIN_EXE_archkit");
    let cmdline = format!("{exe} apply {}", e.blueprint.display());
    e.cmd(&[])
        .env_remove("ARCHKIT_STACK")
        .get_envs()
        .fold(Command::new("script"), |mut c, (k, v)| {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
            c
        })
        .args(["-qec", &cmdline, "/dev/null"])
        .current_dir(e.dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs")
}

#[cfg(unix)]
fn apply_on_a_terminal(e: &Env, answer: &str) -> (i32, String) {
    use std::io::Write;
    let mut child = spawn_on_a_terminal(e);
    // Answer once the prompt is up.
    std::thread::sleep(Duration::from_millis(800));
    child.stdin.take().unwrap().write_all(format!("{answer}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[cfg(unix)]
#[test]
fn on_a_terminal_apply_asks_and_only_yes_applies() {
    let e = Env::new();
    let (code, text) = apply_on_a_terminal(&e, "no");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("Only 'yes' is accepted"), "{text}");
    assert!(text.contains("Nothing was changed"), "{text}");
    assert_eq!(e.cloud()["resources"].as_object().map_or(0, |r| r.len()), 0);
    let (code, text) = apply_on_a_terminal(&e, "yes");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Apply complete"), "{text}");
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 4);
}

#[test]
fn optional_resources_follow_their_parameter_and_release_before_deletion() {
    let mut e = Env::new();
    e.blueprint = fixtures().join("optional");
    let applied = e.run(&["apply", "BP", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let cloud = e.cloud();
    let things = cloud["resources"].as_object().unwrap();
    assert_eq!(things.len(), 3);
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(e.dir.path().join(".archkit/optional.state.json")).unwrap(),
    )
    .unwrap();
    let two_id = state["resources"]["two"]["physical_id"].clone();
    assert_eq!(state["resources"]["user"]["properties"]["value"], two_id);

    // Turned off: `user` moves to `one` first, then `two` is deleted.
    let plan = e.run(&["plan", "BP", "--var", "two=false", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let action = |id: &str| {
        v["changes"].as_array().unwrap().iter().find(|c| c["id"] == id).map(|c| c["action"].clone())
    };
    assert_eq!(action("user"), Some("update".into()));
    assert_eq!(action("two"), Some("delete".into()));
    let out = e.run(&["apply", "BP", "--var", "two=false", "--auto-approve", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let order = finished_ids(&out.stdout);
    assert_eq!(order, ["user", "two"], "the user lets go before the delete");
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 2);
    let again = e.run(&["plan", "BP", "--var", "two=false", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);

    // A reference that does not follow the condition is refused up front.
    let bad = e.dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(fixtures().join("optional/blueprint.yaml"))
        .unwrap()
        .replace("\"${params.two ? two.id : one.id}\"", "${two.id}");
    std::fs::write(&bad, text).unwrap();
    let bad = bad.to_str().unwrap();
    assert_eq!(e.run(&["validate", bad]).code, 0);
    let out = e.run(&["validate", bad, "--var", "two=false"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("archkit::blueprint::disabled_resource"), "{}", out.stderr);
    let out = e.run(&["plan", bad, "--var", "two=false"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("disabled_resource"), "{}", out.stderr);
}

/// Issue 13 (5): a stack name is part of every resource name and of the
/// state file's path, so it is checked before anything is written.
#[test]
fn stack_names_are_checked_before_anything_is_written() {
    let e = Env::new();
    let escape = std::env::temp_dir().join(format!("archkit-escape-{}", std::process::id()));
    let escape_arg = format!("../../../../../../..{}", escape.display());
    let long = "x".repeat(33);
    for bad in
        [escape_arg.as_str(), "a/b", "", "-leading", "trailing-", "with space", "dot.ted", &long]
    {
        let flag = format!("--stack={bad}");
        let out = e.run(&[&flag, "plan", "BP"]);
        assert_eq!(out.code, 1, "{bad:?}: {}", out.stderr);
        assert!(out.stderr.contains("archkit::stack::invalid_name"), "{bad:?}: {}", out.stderr);
        assert!(out.stderr.contains("letters, digits and `-`"), "{}", out.stderr);
    }
    for f in ["", ".state.json", ".state.json.lock"] {
        let p = format!("{}{f}", escape.display());
        assert!(!std::path::Path::new(&p).exists(), "{p} was written");
    }
    assert!(!e.dir.path().join(".archkit").exists(), "nothing was written for a bad name");
    // Good names of every allowed shape.
    for good in ["a", "dev-2", "team-blue-42", &"y".repeat(32)] {
        assert_eq!(e.run(&["--stack", good, "plan", "BP"]).code, 0, "{good}");
    }
    // Upper case is refused for what makes resources (AWS folds it: RDS
    // identifiers, IAM names), with the reason (issue 31 §3).
    let out = e.run(&["--stack", "Team-Blue-42", "plan", "BP"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("archkit::stack::invalid_name"), "{}", out.stderr);
    assert!(out.stderr.contains("upper-case"), "{}", out.stderr);
    // A saved plan whose stack was edited to a bad name is refused too.
    let saved = e.dir.path().join("p.json");
    assert_eq!(e.run(&["plan", "BP", "--out", saved.to_str().unwrap()]).code, 0);
    let text = std::fs::read_to_string(&saved).unwrap();
    std::fs::write(&saved, text.replace("\"stack\": \"memory\"", "\"stack\": \"../evil\""))
        .unwrap();
    let out = e.run(&["apply", saved.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("archkit::stack::invalid_name"), "{}", out.stderr);
}

/// Issue 13 (7): a saved destroy plan records that it is one, so applying
/// it destroys instead of being refused as stale.
#[test]
fn a_saved_destroy_plan_applies() {
    let e = Env::new();
    assert_eq!(e.run(&["apply", "BP", "--auto-approve"]).code, 0);
    let saved = e.dir.path().join("destroy.json");
    let plan = e.run(&["plan", "BP", "--destroy", "--out", saved.to_str().unwrap()]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let out = e.run(&["apply", saved.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Destroy complete"), "{}", out.stderr);
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 0);
    assert_eq!(e.state()["resources"], serde_json::json!({}));
}

/// Issue 13 (8), as a user meets it: `state unlock` will not break the lock
/// of a run that is still going, and the lock of a run killed with
/// SIGKILL is taken over by the next run, which says so.
#[test]
fn unlock_refuses_a_live_holder_and_a_killed_holder_is_taken_over() {
    let e = Env::new();
    assert_eq!(e.run(&["apply", "BP", "--auto-approve"]).code, 0);
    // A live holder: a real archkit process waiting at a lock of its own
    // is too racy; a process that sleeps holds a lock file naming it.
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let lock = e.state_path().with_extension("json.lock");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    let info = |pid: u32| {
        serde_json::json!({"owner": "archkit apply", "pid": pid, "host": host, "created": "2026-12-01T00:00:00Z"})
            .to_string()
    };
    std::fs::write(&lock, info(sleeper.id())).unwrap();
    let out = e.run(&["--stack", "memory", "state", "unlock"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("archkit::state::lock_held"), "{}", out.stderr);
    assert!(lock.exists(), "a live lock was broken");
    let out = e.run(&["--stack", "memory", "state", "unlock", "--force"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!lock.exists());

    // The same holder killed with SIGKILL: the next run takes over.
    std::fs::write(&lock, info(sleeper.id())).unwrap();
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    let out = e.run(&["plan", "BP", "--detailed-exitcode"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("took over the lock left by `archkit apply`"), "{}", out.stderr);
    assert!(!lock.exists(), "the run released the lock it took over");
}

/// Issue 13 (10): a state record of a kind this build does not know is
/// refused, not silently dropped from the state.
#[test]
fn a_state_record_of_an_unknown_kind_is_refused_and_kept() {
    let e = Env::new();
    assert_eq!(e.run(&["apply", "BP", "--auto-approve"]).code, 0);
    let mut state = e.state();
    let id = state["resources"].as_object().unwrap().keys().next().unwrap().clone();
    state["resources"][&id]["kind"] = serde_json::json!("test.from_the_future");
    let text = serde_json::to_string_pretty(&state).unwrap();
    std::fs::write(e.state_path(), &text).unwrap();
    for cmd in [
        &["plan", "BP"][..],
        &["apply", "BP", "--auto-approve"],
        &["destroy", "BP", "--auto-approve"],
    ] {
        let out = e.run(cmd);
        assert_eq!(out.code, 1, "{cmd:?}: {}", out.stderr);
        assert!(out.stderr.contains("archkit::state::unknown_kind"), "{}", out.stderr);
        assert!(out.stderr.contains("test.from_the_future"), "{}", out.stderr);
    }
    assert_eq!(std::fs::read_to_string(e.state_path()).unwrap(), text, "the state was rewritten");
}

/// Issue 13 (4): Ctrl-C typed at the confirmation prompt of a real
/// terminal exits 130 at once (it used to wait for Enter), changing
/// nothing. `script` gives archkit a pseudo-terminal; the ^C byte goes
/// through its line discipline, which sends SIGINT, as a keyboard does.
#[cfg(unix)]
#[test]
fn ctrl_c_at_the_prompt_exits_130_at_once() {
    use std::io::{Read, Write};
    let e = Env::new();
    let mut child = spawn_on_a_terminal(&e);
    // Wait for the question, then type ^C.
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let start = Instant::now();
    while !String::from_utf8_lossy(&seen).contains("Only 'yes' is accepted") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no prompt: {}",
            String::from_utf8_lossy(&seen)
        );
        let mut buf = [0u8; 4096];
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "archkit ended before asking: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    let typed = Instant::now();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"\x03").unwrap();
    stdin.flush().unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if typed.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            panic!("still waiting at the prompt {:?} after ^C", typed.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = typed.elapsed();
    eprintln!("figures: ^C at the prompt: exit after {:.3}s", took.as_secs_f64());
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 0, "nothing was created");
    assert!(!e.state_path().with_extension("json.lock").exists(), "the lock was released");
}

/// Issue 13 (3): CI runners send SIGINT, then SIGTERM seconds later: the
/// second signal exits at once (130) instead of waiting for the call in
/// flight, and the rerun converges (the stale lock is taken over).
#[test]
fn a_second_interrupt_exits_at_once_and_the_rerun_converges() {
    let e = Env::new();
    let mut cmd =
        e.cmd(&["apply", e.blueprint.to_str().unwrap(), "--auto-approve", "--parallelism", "1"]);
    cmd.env("ARCHKIT_TEST_LATENCY_MS", "3000");
    // Wait until the first create call is in flight (it takes 3 s).
    let (mut child, rx, mut seen) = spawn_until(&mut cmd, "creating");
    let kill = |sig: &str| {
        assert!(
            Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap().success()
        )
    };
    std::thread::sleep(Duration::from_millis(300));
    kill("-INT");
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    kill("-TERM");
    let exit = child.wait().unwrap();
    let took = sent.elapsed();
    read_to_end(&rx, &mut seen);
    let stderr = seen.join("\n");
    eprintln!("figures: second interrupt: exit after {:.3}s", took.as_secs_f64());
    assert_eq!(exit.code(), Some(130), "{stderr}");
    assert!(took < Duration::from_secs(1), "took {took:?} after the second signal");
    assert!(stderr.contains("interrupted again"), "{stderr}");
    let rerun = e.run(&["apply", "BP", "--auto-approve"]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 4);
    assert_eq!(e.run(&["plan", "BP", "--detailed-exitcode"]).code, 0);
}

/// Spawns `cmd` and reads its stderr until a line contains `marker`: the
/// process, the rest of its stderr lines, and the lines read so far.
fn spawn_until(
    cmd: &mut Command,
    marker: &str,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>, Vec<String>) {
    use std::io::BufRead;
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains(marker)) {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => seen.push(l),
            Err(_) => panic!("no `{marker}` in: {}", seen.join("\n")),
        }
    }
    (child, rx, seen)
}

/// Spawns `cmd`, waits for a line of its stderr containing `marker`, then
/// sends `signal` after `delay`: its exit code, the seconds from the
/// signal to the exit, and its stderr.
pub(crate) fn interrupt_at(
    cmd: &mut Command,
    marker: &str,
    delay: Duration,
    signal: &str,
) -> (Option<i32>, f64, String) {
    let (mut child, rx, mut seen) = spawn_until(cmd, marker);
    std::thread::sleep(delay);
    let sent = Instant::now();
    let pid = child.id().to_string();
    assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
    let exit = child.wait().unwrap();
    let took = sent.elapsed().as_secs_f64();
    read_to_end(&rx, &mut seen);
    (exit.code(), took, seen.join("\n"))
}

/// The rest of a dead child's stderr lines: its reader thread may not have
/// read the last ones when `wait` returns (a race a busy machine shows), so
/// read until the thread ends at the pipe's end, at most 10 s.
fn read_to_end(rx: &std::sync::mpsc::Receiver<String>, seen: &mut Vec<String>) {
    let until = Instant::now() + Duration::from_secs(10);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
}

/// Issue 13: SIGINT and SIGTERM during a readiness wait (a `test.slow`
/// resource that never becomes ready) stop the run within 2 s: exit 130,
/// the lock released, the resource recorded as still being created, and
/// the rerun waits again and converges.
#[test]
fn an_interrupt_during_a_readiness_wait_stops_at_once_and_the_rerun_waits_again() {
    for signal in ["-INT", "-TERM"] {
        let e = Env::new();
        let mut cmd = e.cmd(&["apply", e.blueprint.to_str().unwrap(), "--auto-approve"]);
        cmd.env("ARCHKIT_TEST_SLOW_POLLS", "1000000");
        let (code, took, stderr) = interrupt_at(
            &mut cmd,
            "top: waiting until it is ready",
            Duration::from_millis(500),
            signal,
        );
        eprintln!("figures: {signal} during a readiness wait: exit after {took:.3}s");
        assert_eq!(code, Some(130), "{stderr}");
        assert!(took < 2.0, "took {took}s to stop");
        assert!(!Path::new(&format!("{}.lock", e.state_path().display())).exists());
        let state = e.state();
        assert_eq!(state["resources"]["top"]["status"], "creating", "{state}");
        let rerun = e.run(&["apply", "BP", "--auto-approve"]);
        assert_eq!(rerun.code, 0, "{}", rerun.stderr);
        assert_eq!(e.state()["resources"]["top"]["status"], "ready");
        assert_eq!(e.run(&["plan", "BP", "--detailed-exitcode"]).code, 0);
    }
}

/// Issue 13: two real `archkit apply` processes on one stack at once: one
/// proceeds, the other fails clearly on the lock (or, with
/// `--lock-timeout`, waits and then finds nothing left to do); the state
/// is never torn.
#[test]
fn two_applies_at_once_one_proceeds_the_other_is_refused_or_waits() {
    let e = Env::new();
    let bp = e.blueprint.to_str().unwrap().to_string();
    let spawn = |extra: &[&str]| {
        e.cmd(&[&["apply", bp.as_str(), "--auto-approve"][..], extra].concat())
            .env("ARCHKIT_TEST_LATENCY_MS", "200")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn(&[]);
    std::thread::sleep(Duration::from_millis(300));
    let second = spawn(&[]);
    let (a, b) = (first.wait_with_output().unwrap(), second.wait_with_output().unwrap());
    let err = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).to_string();
    // Whichever took the lock (under load the second may start first).
    let (won, lost) = if a.status.code() == Some(0) { (&a, &b) } else { (&b, &a) };
    assert_eq!(won.status.code(), Some(0), "{}", err(won));
    assert_eq!(lost.status.code(), Some(1), "{}", err(lost));
    assert!(err(lost).contains("archkit::state::locked"), "{}", err(lost));
    assert_eq!(e.state()["resources"].as_object().unwrap().len(), 4);

    // With a lock timeout the second waits its turn, then has nothing to do.
    let out = e.run(&["destroy", "BP", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first = spawn(&["--lock-timeout", "60s"]);
    std::thread::sleep(Duration::from_millis(300));
    let second = spawn(&["--lock-timeout", "60s"]);
    let (a, b) = (first.wait_with_output().unwrap(), second.wait_with_output().unwrap());
    assert_eq!((a.status.code(), b.status.code()), (Some(0), Some(0)), "{}\n{}", err(&a), err(&b));
    // The one that waited planned after the other finished: it created
    // nothing (the test cloud used to be read before the lock was taken,
    // so the waiting run made it all again).
    let created = |o: &std::process::Output| err(o).contains("creating");
    assert!(created(&a) != created(&b), "exactly one created: {}\n{}", err(&a), err(&b));
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 4, "no duplicate");
    assert_eq!(e.run(&["plan", "BP", "--detailed-exitcode"]).code, 0);
}

/// Issue 13's hostile-input corpus, for the files archkit reads besides
/// blueprints: a damaged or newer state file and a damaged or newer saved
/// plan, for plan, apply and destroy, are each a clear error (code and
/// help) and leave the state file byte for byte as it was; var files of
/// the wrong shape or type point at the file, line and column.
#[test]
fn damaged_state_plan_and_var_files_are_clear_errors_and_nothing_is_overwritten() {
    let e = Env::new();
    assert_eq!(e.run(&["apply", "BP", "--auto-approve"]).code, 0);
    let good = std::fs::read(e.state_path()).unwrap();
    let newer = {
        let mut v: serde_json::Value = serde_json::from_slice(&good).unwrap();
        v["format_version"] = 99.into();
        v["a_field_from_the_future"] = true.into();
        serde_json::to_vec(&v).unwrap()
    };
    let states: [(&str, Vec<u8>, &str); 4] = [
        ("truncated", good[..good.len() / 2].to_vec(), "archkit::state::corrupt"),
        ("not UTF-8", b"\x00\xff{\"format_version\": 2}".to_vec(), "archkit::state::corrupt"),
        ("empty", Vec::new(), "archkit::state::corrupt"),
        ("newer", newer, "archkit::state::newer_format"),
    ];
    for (what, bytes, code) in &states {
        for cmd in [
            &["plan", "BP"][..],
            &["apply", "BP", "--auto-approve"],
            &["destroy", "BP", "--auto-approve"],
        ] {
            std::fs::write(e.state_path(), bytes).unwrap();
            let out = e.run(cmd);
            assert_eq!(out.code, 1, "{what} state, {}: {}", cmd[0], out.stderr);
            assert!(out.stderr.contains(code), "{what} state, {}: {}", cmd[0], out.stderr);
            assert!(out.stderr.contains("help:"), "{what} state, {}: {}", cmd[0], out.stderr);
            assert!(!out.stderr.contains("panicked"));
            assert_eq!(
                &std::fs::read(e.state_path()).unwrap(),
                bytes,
                "{what} state was overwritten"
            );
        }
    }
    std::fs::write(e.state_path(), &good).unwrap();

    let plan_file = e.dir.path().join("change.plan");
    let made = e.run(&["plan", "BP", "--var", "value=two", "--out", plan_file.to_str().unwrap()]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let saved = std::fs::read(&plan_file).unwrap();
    let newer_plan = {
        let mut v: serde_json::Value = serde_json::from_slice(&saved).unwrap();
        v["format_version"] = 99.into();
        serde_json::to_vec(&v).unwrap()
    };
    let plans: [(&str, Vec<u8>, &str); 4] = [
        ("truncated", saved[..saved.len() / 2].to_vec(), "archkit::plan::saved_invalid"),
        ("not UTF-8", b"\x00\xff".to_vec(), "archkit::plan::saved_invalid"),
        ("empty", Vec::new(), "archkit::plan::saved_invalid"),
        ("newer", newer_plan, "archkit::plan::saved_version"),
    ];
    for (what, bytes, code) in &plans {
        std::fs::write(&plan_file, bytes).unwrap();
        let out = e.run(&["apply", plan_file.to_str().unwrap()]);
        assert_eq!(out.code, 1, "{what} plan: {}", out.stderr);
        assert!(out.stderr.contains(code), "{what} plan: {}", out.stderr);
        assert!(out.stderr.contains("help:"), "{what} plan: {}", out.stderr);
        assert_eq!(std::fs::read(e.state_path()).unwrap(), good, "{what} plan changed the state");
    }
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 4);

    let vars: [(&str, &[u8], &str); 4] = [
        ("tfvars syntax", b"value = 3\n", "v.vars:1:1: a var file is a mapping"),
        ("nested mapping", b"value:\n  a: 1\n", "v.vars:2:3: `value` must be a scalar or a list"),
        ("not UTF-8", b"value: caf\xe9\n", "var file v.vars is not UTF-8 text"),
        ("a list for a string", b"value: [1, 2]\n", "is not a string"),
    ];
    for (what, bytes, message) in vars {
        std::fs::write(e.dir.path().join("v.vars"), bytes).unwrap();
        let out = e.run(&["plan", "BP", "--var-file", "v.vars"]);
        assert_eq!(out.code, 1, "{what}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{what}: {}", out.stderr);
        assert!(out.stderr.contains("help:"), "{what}: {}", out.stderr);
    }
    assert_eq!(std::fs::read(e.state_path()).unwrap(), good);
}

/// `${ssm:NAME}` is looked up once at plan time, substituted, and shown in
/// the plan; a changed value plans an update and makes a saved plan
/// stale; a name that does not exist is an error before anything changes.
/// `for_each` over a number parameter makes instances 1 to N.
#[test]
fn lookups_and_counted_instances() {
    let e = Env::new();
    let bp = e.dir.path().join("lookups.yaml");
    std::fs::write(
        &bp,
        "name: memory\nparameters:\n  copies:\n    type: number\n    default: 2\n  \
         other:\n    default: /aws/service/y/image_id\nresources:\n  \
         image:\n    type: test.thing\n    properties:\n      value: ${ssm:/aws/service/x/image_id}\n  \
         named:\n    type: test.thing\n    properties:\n      value: ${ssm:params.other}\n  \
         copy:\n    type: test.thing\n    for_each: ${params.copies}\n    properties:\n      \
         value: copy-${each.value} of ${ssm:/aws/service/x/image_id}\n",
    )
    .unwrap();
    let bp = bp.to_str().unwrap();
    let cloud = |image: &str| {
        let mut c = e.cloud();
        c["next_id"] = c.get("next_id").cloned().unwrap_or(1.into());
        c["parameters"] = serde_json::json!({ "/aws/service/x/image_id": image, "/aws/service/y/image_id": "ami-y" });
        std::fs::write(e.dir.path().join("cloud.json"), c.to_string()).unwrap();
    };

    // Not there: a clear error naming the parameter and its user.
    let out = e.run(&["plan", bp]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let err = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(err.contains("archkit::lookup::not_found"), "{err}");
    assert!(err.contains("SSM parameter `/aws/service/x/image_id` (used by `image`)"), "{err}");

    cloud("ami-1");
    let plan = e.run(&["plan", bp, "--json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(json["lookups"]["/aws/service/x/image_id"], "ami-1");
    let after = |id: &str| {
        json["changes"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()["after"]
            ["value"]
            .clone()
    };
    assert_eq!(after("image"), "ami-1");
    assert_eq!(after("copy[1]"), "copy-1 of ami-1");
    assert_eq!(after("copy[2]"), "copy-2 of ami-1");
    // The parameter's name from a blueprint parameter.
    assert_eq!(after("named"), "ami-y");
    assert_eq!(json["lookups"]["/aws/service/y/image_id"], "ami-y");
    assert_eq!(json["changes"].as_array().unwrap().len(), 4);
    let human = e.run(&["plan", bp]);
    assert!(
        human.stdout.contains("Looked up at plan time:\n  ssm:/aws/service/x/image_id = ami-1")
    );

    let plan_file = e.dir.path().join("p.plan");
    let out = e.run(&["plan", bp, "--out", plan_file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(e.run(&["apply", bp, "--auto-approve", "--var", "copies=3"]).code, 0);
    assert_eq!(e.run(&["plan", bp, "--detailed-exitcode", "--var", "copies=3"]).code, 0);
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 5);

    // AWS publishes a new image: the plan updates its users, and a plan
    // saved before is refused.
    cloud("ami-2");
    let out = e.run(&["plan", bp, "--json", "--var", "copies=3"]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["summary"]["change"], 4, "{}", out.stdout);
    let out = e.run(&["apply", plan_file.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("archkit::plan::stale"), "{}", out.stderr);

    let out = e.run(&["plan", bp, "--var", "copies=3", "--var", "other=/nowhere"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("`/nowhere` (used by `named`)"), "{}", out.stderr);

    // A count below zero is refused at its line.
    let out = e.run(&["plan", bp, "--var", "copies=-1"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("`for_each` over -1 instances"), "{}", out.stderr);
}

/// `${r[*].attr}` lists every instance of a `for_each` resource,
/// `${element(r[*].attr, each.value)}` spreads one resource's instances
/// over another's round robin, and `${r[each.value].attr}` pairs the
/// instances of two resources over the same parameter. Each instance
/// depends only on the instances it uses; a new count converges.
#[test]
fn instances_are_referred_to_by_splat_element_and_item() {
    let e = Env::new();
    let bp = e.dir.path().join("spread.yaml");
    std::fs::write(
        &bp,
        "name: memory\nparameters:\n  zones:\n    type: number\n    default: 2\n  \
         count:\n    type: number\n    default: 3\nresources:\n  \
         net:\n    type: test.thing\n    for_each: ${params.zones}\n    properties:\n      \
         value: net-${each.value}\n  \
         pair:\n    type: test.thing\n    for_each: ${params.zones}\n    properties:\n      \
         value: ${net[each.value].arn}\n  \
         box:\n    type: test.thing\n    for_each: ${params.count}\n    properties:\n      \
         value: ${element(net[*].arn, each.value)}\n  \
         all:\n    type: test.thing\n    properties:\n      refs: ${net[*].arn}\n  \
         last:\n    type: test.thing\n    depends_on: [net]\n\
         outputs:\n  nets: ${net[*].arn}\n",
    )
    .unwrap();
    let bp = bp.to_str().unwrap();

    let applied = e.run(&["apply", bp, "--auto-approve", "--json"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let arn = |s: &serde_json::Value, id: &str| s["resources"][id]["attributes"]["arn"].clone();
    let value = |s: &serde_json::Value, id: &str| s["resources"][id]["properties"]["value"].clone();
    let s = e.state();
    assert!(arn(&s, "net[1]").as_str().is_some_and(|a| a.starts_with("arn:memory:")), "{s}");
    assert_eq!(value(&s, "box[1]"), arn(&s, "net[2]"));
    assert_eq!(value(&s, "box[2]"), arn(&s, "net[1]"));
    assert_eq!(value(&s, "box[3]"), arn(&s, "net[2]"));
    assert_eq!(value(&s, "pair[1]"), arn(&s, "net[1]"));
    assert_eq!(value(&s, "pair[2]"), arn(&s, "net[2]"));
    assert_eq!(
        s["resources"]["all"]["properties"]["refs"],
        serde_json::json!([arn(&s, "net[1]"), arn(&s, "net[2]")])
    );
    // Each box waits for the one net it uses, not for all of them.
    assert_eq!(s["resources"]["box[2]"]["depends_on"], serde_json::json!(["net[1]"]));
    assert_eq!(s["resources"]["box[3]"]["depends_on"], serde_json::json!(["net[2]"]));
    // `depends_on` a `for_each` resource waits for every instance.
    assert_eq!(s["resources"]["last"]["depends_on"], serde_json::json!(["net[1]", "net[2]"]));
    let out = e.run(&["output", "--stack", "memory", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let outputs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(outputs["nets"], serde_json::json!([arn(&s, "net[1]"), arn(&s, "net[2]")]));
    assert_eq!(e.run(&["plan", bp, "--detailed-exitcode"]).code, 0);

    // A third zone: one more net and pair, the list grows, and the boxes
    // are dealt again (box[2] to net[3], box[3] to net[1]).
    let plan = e.run(&["plan", bp, "--json", "--var", "zones=3"]);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(json["summary"]["add"], 2, "{}", plan.stdout);
    assert_eq!(e.run(&["apply", bp, "--auto-approve", "--var", "zones=3"]).code, 0);
    let s = e.state();
    assert_eq!(value(&s, "box[1]"), arn(&s, "net[2]"));
    assert_eq!(value(&s, "box[2]"), arn(&s, "net[3]"));
    assert_eq!(value(&s, "box[3]"), arn(&s, "net[1]"));
    assert_eq!(s["resources"]["all"]["properties"]["refs"].as_array().unwrap().len(), 3);
    assert_eq!(e.run(&["plan", bp, "--detailed-exitcode", "--var", "zones=3"]).code, 0);
    assert_eq!(e.run(&["destroy", bp, "--auto-approve", "--var", "zones=3"]).code, 0);
    assert_eq!(e.cloud()["resources"].as_object().unwrap().len(), 0);
}
