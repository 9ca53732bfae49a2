//! State in S3 (issue 15), as a team and its CI runners meet it, against
//! moto's S3 (which implements conditional writes: `If-Match`,
//! `If-None-Match: *`, on puts and deletes) through real `archkit`
//! processes: apply to `--state s3://...`, eight concurrent applies on one
//! stack, a lock held by another host, and the state repair commands.
//!
//! What moto cannot prove: S3's real consistency and its
//! `ConditionalRequestConflict` (409) under racing conditional writes;
//! the store treats that like a failed condition (see src/aws/s3state.rs).

use std::collections::BTreeSet;
use std::process::Stdio;

use aws_sdk_s3::primitives::ByteStream;

use crate::moto::{Stack, ok, require_moto, rt, s3};

pub(crate) fn bucket(url: &str, name: &str, versioned: bool) -> String {
    let name = format!("{name}-{}", uuid::Uuid::new_v4().simple()).to_lowercase()[..40].to_string();
    rt().block_on(async {
        let c = s3(url);
        c.create_bucket().bucket(&name).send().await.unwrap();
        if versioned {
            use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
            let on =
                VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
            c.put_bucket_versioning()
                .bucket(&name)
                .versioning_configuration(on)
                .send()
                .await
                .unwrap();
        }
    });
    name
}

const FIXTURE: &str = "iam-logs";

fn fixture() -> String {
    crate::util::fixtures().join(FIXTURE).to_str().unwrap().to_string()
}

/// The serials of every stored version of `key`, oldest first.
fn version_serials(url: &str, bucket: &str, key: &str) -> Vec<u64> {
    rt().block_on(async {
        let c = s3(url);
        let listed = c.list_object_versions().bucket(bucket).prefix(key).send().await.unwrap();
        let mut serials = Vec::new();
        for v in listed.versions().iter().filter(|v| v.key() == Some(key)) {
            let got = c
                .get_object()
                .bucket(bucket)
                .key(key)
                .version_id(v.version_id().unwrap())
                .send()
                .await
                .unwrap();
            let body = got.body.collect().await.unwrap().into_bytes();
            let state: serde_json::Value = serde_json::from_slice(&body).unwrap();
            serials.push(state["serial"].as_u64().unwrap());
        }
        // Listed newest first: in the order they were written.
        serials.reverse();
        serials
    })
}

/// The object's versions in the order S3 kept them: each serial above the
/// one before (none lost to an older writer, none rolled back), the last
/// the state's. Not one after the other: a run groups its records into
/// fewer writes (see src/aws/s3state.rs).
fn assert_serials_increase(serials: &[u64], last: u64) {
    assert!(serials.windows(2).all(|w| w[0] < w[1]), "{serials:?}");
    assert_eq!(serials.last(), Some(&last), "{serials:?}");
}

fn object(url: &str, bucket: &str, key: &str) -> Option<Vec<u8>> {
    rt().block_on(async {
        match s3(url).get_object().bucket(bucket).key(key).send().await {
            Ok(o) => Some(o.body.collect().await.unwrap().into_bytes().to_vec()),
            Err(_) => None,
        }
    })
}

fn state_at(url: &str, bucket: &str, key: &str) -> serde_json::Value {
    serde_json::from_slice(&object(url, bucket, key).expect("the state object exists")).unwrap()
}

fn retention(url: &str, group: &str) -> i32 {
    rt().block_on(async {
        let got = crate::moto::logs(url)
            .describe_log_groups()
            .log_group_name_prefix(group)
            .send()
            .await
            .unwrap();
        got.log_groups()[0].retention_in_days().unwrap()
    })
}

#[test]
fn state_in_s3_applies_plans_clean_and_eight_concurrent_applies_take_turns() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "s3state");
    let b = bucket(&url, "archkit-state", true);
    let loc = format!("s3://{b}/team/");
    let key = format!("team/{}.state.json", s.name);
    let bp = fixture();

    let applied = s.run(&["apply", &bp, "--state", &loc, "--auto-approve"]);
    ok(&applied);
    assert!(!applied.stderr.contains("versioning is off"), "{}", applied.stderr);
    // Nothing on local disk: the state is the S3 object.
    assert!(!s.dir_path().join(".archkit").join(format!("{}.state.json", s.name)).exists());
    let state = state_at(&url, &b, &key);
    assert_eq!(state["stack"], serde_json::json!(s.name));
    let group = state["resources"]["logs"]["physical_id"].as_str().unwrap().to_string();
    let plan = s.run(&["plan", &bp, "--state", &loc, "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "a plan after apply changes nothing: {}{}", plan.stdout, plan.stderr);
    // The lock object is gone once the runs end.
    assert_eq!(object(&url, &b, &format!("{key}.lock")), None);

    // Eight applies at once, each with another retention: each waits its
    // turn (--lock-timeout) and then changes the log group.
    let retentions = [1, 3, 5, 7, 30, 60, 90, 120];
    let first_serial = state_at(&url, &b, &key)["serial"].as_u64().unwrap();
    let started = std::time::Instant::now();
    let children: Vec<_> = retentions
        .iter()
        .map(|r| {
            s.cmd(&[
                "apply",
                &bp,
                "--state",
                &loc,
                "--auto-approve",
                "--lock-timeout",
                "120s",
                "--var",
                &format!("retention={r}"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
    }
    let state = state_at(&url, &b, &key);
    let serial = state["serial"].as_u64().unwrap();
    // Every write is a version, each with a higher serial than the one
    // before: none overwrote a newer one, none rolled the serial back.
    let serials = version_serials(&url, &b, &key);
    assert_serials_increase(&serials, serial);
    // Eight applies that each changed something wrote more than the first.
    assert!(serial >= 8 * 2, "serial {serial}");
    eprintln!(
        "figures: s3 state: 8 concurrent applies took turns in {:.1}s, serial {first_serial} -> \
         {serial}, {} object versions",
        started.elapsed().as_secs_f64(),
        serials.len()
    );
    // The last writer's value is what AWS has, and what a plan sees.
    let recorded = &state["resources"]["logs"]["properties"]["retention_in_days"];
    let recorded: i64 = match recorded.as_str() {
        Some(t) => t.parse().unwrap(),
        None => recorded.as_i64().unwrap_or_else(|| panic!("{recorded}")),
    };
    assert_eq!(i64::from(retention(&url, &group)), recorded);
    assert!(retentions.contains(&(recorded as i32)));
    let plan = s.run(&[
        "plan",
        &bp,
        "--state",
        &loc,
        "--detailed-exitcode",
        "--var",
        &format!("retention={recorded}"),
    ]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);

    // Without --lock-timeout a run that finds the lock taken fails at
    // once, naming the holder, and changes nothing.
    let holder = serde_json::json!({
        "id": "0b7e-other-host-lock", "owner": "archkit apply", "user": "ci",
        "pid": 4242, "host": "runner-elsewhere", "created": "2026-12-02T00:00:00Z"
    });
    put(&url, &b, &format!("{key}.lock"), holder.to_string().into_bytes());
    let blocked =
        s.run(&["apply", &bp, "--state", &loc, "--auto-approve", "--var", "retention=14"]);
    assert_eq!(blocked.code, 1, "{}", blocked.stderr);
    assert!(blocked.stderr.contains("archkit::state::locked"), "{}", blocked.stderr);
    assert!(blocked.stderr.contains("runner-elsewhere"), "{}", blocked.stderr);
    // (Flattened: the help is wrapped to the terminal's width.)
    let flat = blocked.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("`archkit state unlock 0b7e-other-host-lock --state s3://"), "{flat}");
    assert_eq!(state_at(&url, &b, &key)["serial"].as_u64(), Some(serial));
    // A lock of another host is broken only with its id.
    let unlock = s.run(&["state", "unlock", "--state", &loc]);
    assert_eq!(unlock.code, 1, "{}", unlock.stderr);
    assert!(unlock.stderr.contains("archkit::state::lock_id_required"), "{}", unlock.stderr);
    let wrong = s.run(&["state", "unlock", "not-that-one", "--state", &loc]);
    assert!(wrong.stderr.contains("archkit::state::lock_id"), "{}", wrong.stderr);
    ok(&s.run(&["state", "unlock", "0b7e-other-host-lock", "--state", &loc]));
    assert_eq!(object(&url, &b, &format!("{key}.lock")), None);

    ok(&s.run(&["destroy", &bp, "--state", &loc, "--auto-approve"]));
    let serials = version_serials(&url, &b, &key);
    let last = s.run(&["state", "pull", "--state", &loc]);
    ok(&last);
    let last: serde_json::Value = serde_json::from_str(&last.stdout).unwrap();
    assert_serials_increase(&serials, last["serial"].as_u64().unwrap());
}

fn put(url: &str, bucket: &str, key: &str, body: Vec<u8>) {
    rt().block_on(async {
        s3(url)
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    });
}

/// Eight applies with no --lock-timeout: exactly the runs that got the
/// lock proceeded; every other one failed at once with the lock error,
/// and the versions still count every write.
#[test]
fn concurrent_applies_without_a_timeout_fail_clearly_and_lose_nothing() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "s3race");
    let b = bucket(&url, "archkit-race", true);
    let loc = format!("s3://{b}/{}.json", s.name);
    let key = format!("{}.json", s.name);
    let bp = fixture();
    let children: Vec<_> = [1, 3, 5, 7, 30, 60, 90, 120]
        .iter()
        .map(|r| {
            s.cmd(&[
                "apply",
                &bp,
                "--state",
                &loc,
                "--auto-approve",
                "--var",
                &format!("retention={r}"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut succeeded = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        match out.status.code() {
            Some(0) => succeeded += 1,
            Some(1) => assert!(err.contains("archkit::state::locked"), "{err}"),
            other => panic!("exit {other:?}: {err}"),
        }
    }
    assert!(succeeded >= 1);
    let state = state_at(&url, &b, &key);
    let serial = state["serial"].as_u64().unwrap();
    assert_serials_increase(&version_serials(&url, &b, &key), serial);
    // One stack, however many runs made it: every resource once.
    assert_eq!(state["resources"].as_object().unwrap().len(), 2, "{state}");
    ok(&s.run(&["destroy", &bp, "--state", &loc, "--auto-approve"]));
}

/// The state commands against S3: pull, mv (the next plan then updates
/// only the tag that names the id), rm and push, each keeping a backup;
/// without versioning the store says to turn it on; a write that finds
/// the object changed by someone else is refused (compare-and-swap).
#[test]
fn state_commands_repair_an_s3_state_with_backups_and_refuse_stale_writes() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "s3ops");
    let b = bucket(&url, "archkit-ops", false);
    let loc = format!("s3://{b}/{}.json", s.name);
    let key = format!("{}.json", s.name);
    let bp = fixture();
    let applied = s.run(&["apply", &bp, "--state", &loc, "--auto-approve"]);
    ok(&applied);
    assert!(applied.stderr.contains("versioning is off for bucket"), "{}", applied.stderr);

    let pulled = s.run(&["state", "pull", "--state", &loc, "-q"]);
    ok(&pulled);
    let before: serde_json::Value = serde_json::from_str(&pulled.stdout).unwrap();
    assert_eq!(before, state_at(&url, &b, &key));
    let serial = before["serial"].as_u64().unwrap();
    std::fs::write(s.dir_path().join("pulled.json"), &pulled.stdout).unwrap();

    let show = s.run(&["state", "show", "logs", "--state", &loc]);
    ok(&show);
    assert!(show.stdout.contains("kind: aws.logs.log_group"), "{}", show.stdout);
    let typo = s.run(&["state", "show", "log", "--state", &loc]);
    assert!(typo.stderr.contains("did you mean `logs`"), "{}", typo.stderr);

    // Without a terminal and --auto-approve, a change is refused.
    let refused = s.run(&["state", "mv", "logs", "log_group", "--state", &loc]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("archkit::confirm::no_terminal"), "{}", refused.stderr);
    assert_eq!(state_at(&url, &b, &key)["serial"].as_u64(), Some(serial));

    // Renamed in the blueprint and in state: the next plan only updates
    // the resource's tags (archkit:id), nothing is replaced.
    let moved = s.run(&["state", "mv", "logs", "log_group", "--state", &loc, "--auto-approve"]);
    ok(&moved);
    let backup = moved
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix(&format!("backup of serial {serial}: ")))
        .unwrap_or_else(|| panic!("{}", moved.stderr))
        .to_string();
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.dir_path().join(&backup)).unwrap())
            .unwrap();
    assert_eq!(kept, before);
    let after = state_at(&url, &b, &key);
    assert_eq!(after["serial"].as_u64(), Some(serial + 1));
    assert!(after["resources"]["log_group"].is_object());
    let dir = s.dir_path().join("renamed");
    std::fs::create_dir_all(&dir).unwrap();
    let text =
        std::fs::read_to_string(crate::util::fixtures().join(FIXTURE).join("blueprint.yaml"))
            .unwrap()
            .replace("  logs:\n", "  log_group:\n")
            .replace("${logs.arn}", "${log_group.arn}");
    std::fs::write(dir.join("blueprint.yaml"), text).unwrap();
    let renamed = dir.to_str().unwrap();
    let plan = s.run(&["plan", renamed, "--state", &loc, "--json"]);
    ok(&plan);
    let changes = crate::moto::changes(&plan);
    let actions: BTreeSet<(String, String)> =
        changes.iter().map(|(id, a, _)| (id.clone(), a.clone())).collect();
    assert!(actions.contains(&("log_group".into(), "update".into())), "{actions:?}");
    assert!(actions.iter().all(|(_, a)| a == "update"), "{actions:?}");

    // Pushing the pulled file back is refused: it is older now.
    let push = s.run(&["state", "push", "pulled.json", "--state", &loc, "--auto-approve"]);
    assert_eq!(push.code, 1);
    assert!(push.stderr.contains("archkit::state::push_refused"), "{}", push.stderr);
    let forced =
        s.run(&["state", "push", "pulled.json", "--state", &loc, "--auto-approve", "--force"]);
    ok(&forced);
    let pushed = state_at(&url, &b, &key);
    assert_eq!(pushed["serial"].as_u64(), Some(serial + 2));
    assert_eq!(pushed["resources"], before["resources"]);

    // A write that finds the object changed since it was read is refused:
    // here a plan's read and an apply's write are split by an edit made
    // while the apply waits for its confirmation on a terminal.
    let mut child = on_a_terminal(&s, &["apply", &bp, "--state", &loc, "--var", "retention=30"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let mut edited = pushed.clone();
    edited["serial"] = serde_json::json!(serial + 3);
    put(&url, &b, &key, serde_json::to_vec_pretty(&edited).unwrap());
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"yes\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("archkit::state::conflict"), "{text}");
    assert_eq!(state_at(&url, &b, &key), edited, "the other writer's state is kept");

    // rm forgets without deleting; the group is still there.
    let group = pushed["resources"]["logs"]["physical_id"].as_str().unwrap().to_string();
    let rm = s.run(&["state", "rm", "logs", "--state", &loc, "--auto-approve"]);
    ok(&rm);
    assert!(state_at(&url, &b, &key)["resources"].get("logs").is_none());
    assert!(retention(&url, &group) > 0);
    // The blueprint still declares it: the plan finds it by its tags.
    let plan = s.run(&["plan", &bp, "--state", &loc, "--json"]);
    ok(&plan);
    assert!(
        !crate::moto::changes(&plan).iter().any(|(id, a, _)| id == "logs" && a == "create"),
        "{}",
        plan.stdout
    );
    ok(&s.run(&["destroy", &bp, "--state", &loc, "--auto-approve"]));
}

/// `archkit ARGS` of stack `s` on a pseudo-terminal (util-linux
/// `script`): what is written to the child's stdin is typed at it.
fn on_a_terminal(s: &Stack, args: &[&str]) -> std::process::Child {
    let exe = env!("CARGO_BIN_EXE_archkit");
    let cmdline = std::iter::once(exe.to_string())
        .chain(["--stack".to_string(), s.name.clone()])
        .chain(args.iter().map(|a| a.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    s.cmd(&[])
        .get_envs()
        .fold(std::process::Command::new("script"), |mut c, (k, v)| {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
            c
        })
        .args(["-qec", &cmdline, "/dev/null"])
        .current_dir(s.dir_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs")
}

/// `archkit.toml` beside the blueprint names the shared store, so no run
/// needs `--state`; `--state` still wins; a mistake in the file is shown
/// at its line.
#[test]
fn archkit_toml_beside_the_blueprint_chooses_the_state_store() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "s3toml");
    let b = bucket(&url, "archkit-toml", true);
    let dir = s.dir_path().join("infra");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        crate::util::fixtures().join(FIXTURE).join("blueprint.yaml"),
        dir.join("blueprint.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("archkit.toml"),
        format!("[state]\nlocation = \"s3://{b}/stacks/\"\nlock_timeout = \"30s\"\n"),
    )
    .unwrap();
    let bp = dir.to_str().unwrap();
    ok(&s.run(&["apply", bp, "--auto-approve"]));
    let key = format!("stacks/{}.state.json", s.name);
    assert_eq!(state_at(&url, &b, &key)["stack"], serde_json::json!(s.name));
    let plan = s.run(&["plan", bp, "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    // --state overrides the file: a new local state, whose lineage does not
    // own the stack's resources, is refused (nothing changed).
    let local = s.run(&["plan", bp, "--state", "here.json"]);
    assert_eq!(local.code, 1, "{}", local.stderr);
    assert!(local.stderr.contains("archkit::plan::other_state"), "{}", local.stderr);
    std::fs::write(dir.join("archkit.toml"), "[state]\nlocaton = \"x\"\n").unwrap();
    let bad = s.run(&["plan", bp]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("archkit::config::invalid"), "{}", bad.stderr);
    assert!(bad.stderr.contains("archkit.toml:2:1"), "{}", bad.stderr);
    std::fs::write(dir.join("archkit.toml"), format!("[state]\nlocation = \"s3://{b}/stacks/\"\n"))
        .unwrap();
    ok(&s.run(&["destroy", bp, "--auto-approve"]));
    assert!(state_at(&url, &b, &key)["resources"].as_object().unwrap().is_empty());
}

/// A real SIGKILL of the `archkit apply` process while it holds the S3
/// lock (the fault proxy kills archkit's own pid on its Nth call, after
/// carrying that call out): the lock is left, naming the dead run;
/// `state unlock ID` breaks it and the rerun converges. Killed again, the
/// next run on this host takes the dead run's lock over by itself.
#[test]
fn a_sigkill_while_holding_the_s3_lock_leaves_a_lock_that_unlock_breaks() {
    use crate::faults::Proxy;
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "s3kill");
    let b = bucket(&url, "archkit-kill", true);
    let loc = format!("s3://{b}/{}.json", s.name);
    let key = format!("{}.json", s.name);
    let bp = fixture();
    let apply = |proxy: &Proxy, retention: &str| {
        let mut cmd = s.cmd_at(
            &proxy.url,
            &["apply", &bp, "--state", &loc, "--auto-approve", "--var", retention],
        );
        proxy.spawn(&mut cmd)
    };

    // Call 10: past the lock (GetBucketVersioning, the lock's PutObject,
    // the state's GetObject) and the refresh, inside the applies' writes.
    let proxy = Proxy::builder(&url).kill_at(10, true).start();
    let (run, signal) = apply(&proxy, "retention=14");
    assert_eq!(signal, Some(9), "{}", run.stderr);
    drop(proxy);
    let lock: serde_json::Value =
        serde_json::from_slice(&object(&url, &b, &format!("{key}.lock")).expect("a lock is left"))
            .unwrap();
    assert_eq!(lock["owner"], "archkit apply");
    let id = lock["id"].as_str().unwrap().to_string();
    let unlock = s.run(&["state", "unlock", &id, "--state", &loc]);
    ok(&unlock);
    assert!(unlock.stderr.contains("removed the lock"), "{}", unlock.stderr);
    assert_eq!(object(&url, &b, &format!("{key}.lock")), None);
    ok(&s.run(&["apply", &bp, "--state", &loc, "--auto-approve", "--var", "retention=14"]));
    let plan =
        s.run(&["plan", &bp, "--state", &loc, "--detailed-exitcode", "--var", "retention=14"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);

    // Killed again mid-apply: the next run takes the dead run's lock over.
    let proxy = Proxy::builder(&url).kill_at(6, true).start();
    let (run, signal) = apply(&proxy, "retention=30");
    assert_eq!(signal, Some(9), "{}", run.stderr);
    drop(proxy);
    assert!(object(&url, &b, &format!("{key}.lock")).is_some());
    let rerun = s.run(&["apply", &bp, "--state", &loc, "--auto-approve", "--var", "retention=30"]);
    ok(&rerun);
    assert!(rerun.stderr.contains("took over the lock"), "{}", rerun.stderr);
    let plan =
        s.run(&["plan", &bp, "--state", &loc, "--detailed-exitcode", "--var", "retention=30"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let serials = version_serials(&url, &b, &key);
    let last = s.run(&["state", "pull", "--state", &loc]);
    ok(&last);
    let last: serde_json::Value = serde_json::from_str(&last.stdout).unwrap();
    assert_serials_increase(&serials, last["serial"].as_u64().unwrap());
    ok(&s.run(&["destroy", &bp, "--state", &loc, "--auto-approve"]));
}
