//! `archkit state`: inspect a stack's state, repair it when things went
//! wrong (pull, push, mv, rm: each asks first and keeps a backup), and
//! break a stale lock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};

use super::deploy::{StackArgs, confirm, runtime, settings};
use super::{CliError, ExitStatus, GlobalArgs};
use crate::output::Printer;
use crate::state::{State, StateError, StateStore};

#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the resources recorded in a stack's state
    List,
    /// Print one resource's record: kind, id, status, properties, attributes
    Show {
        /// The resource's logical id
        id: String,
    },
    /// Print the whole state document (e.g. `archkit state pull > backup.json`)
    Pull,
    /// Replace the stored state with FILE (asks first; keeps a backup)
    Push {
        /// A state document, as `state pull` prints it
        file: PathBuf,
        /// Push even a state of another lineage, or one older than the stored one
        #[arg(long)]
        force: bool,
        #[arg(long)]
        auto_approve: bool,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Rename a resource's logical id, after renaming it in the blueprint
    /// (asks first; keeps a backup). The next apply updates its tags.
    Mv {
        from: String,
        to: String,
        #[arg(long)]
        auto_approve: bool,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Forget resources without deleting them (asks first; keeps a backup).
    /// They keep their tags in AWS: remove them from the blueprint too, or
    /// the next plan finds them again by their tags and adopts them
    Rm {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        auto_approve: bool,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Remove a stack's lock, e.g. one left by a killed run. ID (from the
    /// lock error) is required for state in S3; a lock whose holder still
    /// runs on this host is refused without --force
    Unlock {
        /// The lock's id, as the error about it names it
        id: Option<String>,
        /// Remove the lock even though its holder is still running
        #[arg(long)]
        force: bool,
    },
}

/// The store `--state` (or archkit.toml in the working directory) names,
/// or the default for `--stack`.
pub(crate) fn store(g: &GlobalArgs, printer: &Printer) -> Option<Arc<dyn StateStore>> {
    store_with(g, &StackArgs { lock_timeout: None }, printer).map(|(s, _)| s)
}

/// [`store`] and the lock timeout to use with it.
fn store_with(
    g: &GlobalArgs,
    args: &StackArgs,
    printer: &Printer,
) -> Option<(Arc<dyn StateStore>, std::time::Duration)> {
    let (location, timeout) = super::deploy::store_settings(g, args, None, printer)?;
    let stack = match (&location, &g.stack) {
        (_, Some(stack)) => stack.clone(),
        // The stack is only needed to name a default file or a key under
        // an s3:// prefix.
        (Some(p), None) if !p.to_str().is_some_and(|p| p.ends_with('/')) => {
            p.file_stem().and_then(|s| s.to_str()).unwrap_or("state").to_string()
        }
        (_, None) => {
            printer.error(&CliError::new(
                "archkit::state::which",
                "which stack? no --stack or --state given",
                Some(
                    "pass --stack NAME (state in .archkit/NAME.state.json) or --state PATH".into(),
                ),
            ));
            return None;
        }
    };
    match crate::session::open_store(location, &stack, &settings(g)) {
        Ok(s) => {
            for a in s.advice() {
                printer.status(&format!("note: {a}"));
            }
            Some((s, timeout))
        }
        Err(e) => {
            printer.error(&e);
            None
        }
    }
}

pub fn run(args: &StateArgs, g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    let none = StackArgs { lock_timeout: None };
    let stack_args = match &args.command {
        StateCommand::Push { stack, .. }
        | StateCommand::Mv { stack, .. }
        | StateCommand::Rm { stack, .. } => stack,
        _ => &none,
    };
    let Some((store, timeout)) = store_with(g, stack_args, printer) else {
        return ExitStatus::Failure;
    };
    let result = match &args.command {
        StateCommand::Unlock { id, force } => unlock(&*store, id.as_deref(), *force, printer),
        StateCommand::List => with_state(&*store, printer, |s| list(s, printer)),
        StateCommand::Show { id } => with_state(&*store, printer, |s| show(s, id, printer)),
        StateCommand::Pull => with_state(&*store, printer, |s| {
            printer.out(&document(s));
            Ok(ExitStatus::Success)
        }),
        StateCommand::Push { file, force, auto_approve, .. } => {
            let pushed = match read_file(file) {
                Ok(s) => s,
                Err(e) => return fail(printer, &e),
            };
            if let Some(want) = g.stack.as_ref().filter(|w| **w != pushed.stack) {
                return fail(
                    printer,
                    &CliError::new(
                        "archkit::state::wrong_stack",
                        format!(
                            "{} is the state of stack `{}`, not `{want}`",
                            file.display(),
                            pushed.stack
                        ),
                        Some("pass the matching --stack".into()),
                    ),
                );
            }
            change(&*store, g, timeout, *auto_approve, printer, "archkit state push", |current| {
                push(current, pushed, *force, file)
            })
        }
        StateCommand::Mv { from, to, auto_approve, .. } => {
            change(&*store, g, timeout, *auto_approve, printer, "archkit state mv", |current| {
                mv(current, from, to)
            })
        }
        StateCommand::Rm { ids, auto_approve, .. } => {
            change(&*store, g, timeout, *auto_approve, printer, "archkit state rm", |current| {
                rm(current, ids)
            })
        }
    };
    result.unwrap_or_else(|e| e)
}

type Outcome = Result<ExitStatus, ExitStatus>;

fn fail(printer: &Printer, e: &dyn miette::Diagnostic) -> ExitStatus {
    printer.error(e);
    ExitStatus::Failure
}

/// Runs `f` on the stored state; no state is an error.
fn with_state(
    store: &dyn StateStore,
    printer: &Printer,
    f: impl FnOnce(&State) -> Outcome,
) -> Outcome {
    match store.load() {
        Ok(Some(s)) => f(&s),
        Ok(None) => Err(fail(printer, &no_state(store))),
        Err(e) => Err(fail(printer, &e)),
    }
}

fn no_state(store: &dyn StateStore) -> CliError {
    CliError::new(
        "archkit::state::none",
        format!("no state at {}", store.location()),
        Some("apply the stack first, or pass --stack NAME / --state PATH".into()),
    )
}

fn document(state: &State) -> String {
    let mut text = serde_json::to_string_pretty(state).expect("state serialises");
    text.push('\n');
    text
}

fn list(state: &State, printer: &Printer) -> Outcome {
    if printer.json {
        printer.json_out(state);
        return Ok(ExitStatus::Success);
    }
    let mut text = String::new();
    for (id, r) in &state.resources {
        let status = match r.status {
            crate::state::Status::Ready => "",
            crate::state::Status::Tainted => "  (tainted)",
            crate::state::Status::Creating => "  (not ready yet)",
        };
        text.push_str(&format!("{id}  {}  {}{status}\n", r.kind, r.physical_id));
    }
    for p in state.pending.values() {
        text.push_str(&format!("{}  {}  pending {:?} since {}\n", p.id, p.kind, p.op, p.started));
    }
    printer.out(&text);
    Ok(ExitStatus::Success)
}

fn show(state: &State, id: &str, printer: &Printer) -> Outcome {
    let Some(r) = state.resources.get(id) else {
        return Err(fail(printer, &unknown_id(state, id)));
    };
    if printer.json {
        printer.json_out(r);
        return Ok(ExitStatus::Success);
    }
    let status = serde_json::to_value(r.status).expect("status serialises");
    let mut text = format!(
        "{id}\n  kind: {}\n  physical id: {}\n  status: {}\n",
        r.kind,
        r.physical_id,
        status.as_str().unwrap_or_default()
    );
    if !r.depends_on.is_empty() {
        text.push_str(&format!("  depends on: {}\n", r.depends_on.join(", ")));
    }
    // Secrets are recorded only as digests, so printing a record prints
    // no secret.
    let mut section = |title: &str, values: Vec<(&String, &serde_json::Value)>| {
        if values.is_empty() {
            return;
        }
        text.push_str(&format!("  {title}:\n"));
        for (k, v) in values {
            text.push_str(&format!("    {k} = {}\n", serde_json::to_string(v).unwrap()));
        }
    };
    section("properties", r.properties.iter().collect());
    section("attributes", r.attributes.iter().collect());
    printer.out(&text);
    Ok(ExitStatus::Success)
}

fn unknown_id(state: &State, id: &str) -> CliError {
    let ids: Vec<&str> = state.resources.keys().map(String::as_str).collect();
    let close = ids.iter().copied().find(|k| strsim::jaro_winkler(k, id) > 0.85);
    CliError::new(
        "archkit::state::unknown_id",
        format!("stack `{}` records no resource `{id}`", state.stack),
        Some(match close {
            Some(c) => format!("did you mean `{c}`? (`archkit state list` lists them)"),
            None => "`archkit state list` lists the recorded resources".into(),
        }),
    )
}

fn read_file(file: &Path) -> Result<State, StateError> {
    let text = std::fs::read_to_string(file).map_err(|source| StateError::Io {
        action: "read",
        path: file.to_path_buf(),
        source,
    })?;
    crate::state::local::parse(file, &text)
}

/// What a change does to the stored state, described for the question.
struct Edit {
    state: State,
    summary: String,
}

/// Locks the store, loads the state, asks, keeps a backup, writes.
fn change(
    store: &dyn StateStore,
    g: &GlobalArgs,
    timeout: std::time::Duration,
    auto_approve: bool,
    printer: &Printer,
    owner: &str,
    edit: impl FnOnce(Option<State>) -> Result<Edit, CliError>,
) -> Outcome {
    let _lock = store.lock(owner, timeout).map_err(|e| fail(printer, &e))?;
    let current = store.load().map_err(|e| fail(printer, &e))?;
    if let (Some(s), Some(want)) = (&current, &g.stack)
        && &s.stack != want
    {
        return Err(fail(
            printer,
            &CliError::new(
                "archkit::state::wrong_stack",
                format!("state {} belongs to stack `{}`, not `{want}`", store.location(), s.stack),
                Some("pass the matching --stack, or another --state".into()),
            ),
        ));
    }
    let backup_of = current.clone();
    let Edit { mut state, summary } = edit(current).map_err(|e| fail(printer, &e))?;
    printer.status(&format!("{} {summary}", store.location()));
    if !auto_approve {
        let rt = runtime();
        match confirm("Change the stored state?", &rt, printer) {
            Ok(true) => {}
            Ok(false) => {
                printer.status("Nothing changed.");
                return Err(ExitStatus::Failure);
            }
            Err(status) => return Err(status),
        }
    }
    if let Some(old) = &backup_of {
        let path = backup(old).map_err(|e| fail(printer, &e))?;
        printer.status(&format!("backup of serial {}: {}", old.serial, path.display()));
    }
    store.write(&mut state).map_err(|e| fail(printer, &e))?;
    printer.status(&format!("state written (serial {})", state.serial));
    Ok(ExitStatus::Success)
}

/// Keeps `state` as `.archkit/backups/<stack>.<serial>.<time>.state.json`
/// in the working directory, whatever store it came from.
fn backup(state: &State) -> Result<PathBuf, StateError> {
    let dir = PathBuf::from(".archkit").join("backups");
    let time = crate::state::now().replace(':', "");
    let path = dir.join(format!("{}.{}.{time}.state.json", state.stack, state.serial));
    let io = |source| StateError::Io { action: "write the backup", path: path.clone(), source };
    std::fs::create_dir_all(&dir).map_err(io)?;
    std::fs::write(&path, document(state)).map_err(io)?;
    Ok(path)
}

fn push(
    current: Option<State>,
    mut pushed: State,
    force: bool,
    file: &Path,
) -> Result<Edit, CliError> {
    let refuse = |message: String, help: &str| {
        CliError::new("archkit::state::push_refused", message, Some(help.to_string()))
    };
    let Some(current) = current else {
        let summary = format!(
            "has no state: push {} (stack `{}`, {} resources)",
            file.display(),
            pushed.stack,
            pushed.resources.len()
        );
        return Ok(Edit { state: pushed, summary });
    };
    if !force {
        if pushed.lineage != current.lineage {
            return Err(refuse(
                format!(
                    "{} is of another lineage ({}) than the stored state ({})",
                    file.display(),
                    pushed.lineage,
                    current.lineage
                ),
                "it was not made from this stack's state; --force replaces the stored state anyway",
            ));
        }
        if pushed.serial < current.serial || (pushed.serial == current.serial && pushed != current)
        {
            return Err(refuse(
                format!(
                    "{} (serial {}) is older than the stored state (serial {}): pushing it \
                     would roll back what was written since",
                    file.display(),
                    pushed.serial,
                    current.serial
                ),
                "pull the stored state and edit that; --force pushes the older one anyway",
            ));
        }
    }
    let summary = format!(
        "serial {} ({} resources) is replaced by {} (serial {}, {} resources)",
        current.serial,
        current.resources.len(),
        file.display(),
        pushed.serial,
        pushed.resources.len()
    );
    // Written as the stored state's next serial: a push is one more write.
    pushed.serial = current.serial;
    Ok(Edit { state: pushed, summary })
}

fn mv(current: Option<State>, from: &str, to: &str) -> Result<Edit, CliError> {
    let mut state = current
        .ok_or_else(|| CliError::new("archkit::state::none", "the stack has no state", None))?;
    if state.resources.contains_key(to) {
        return Err(CliError::new(
            "archkit::state::id_taken",
            format!("stack `{}` already records `{to}`", state.stack),
            Some(format!("`archkit state rm {to}` first, if that record is wrong")),
        ));
    }
    let Some(record) = state.resources.remove(from) else {
        return Err(unknown_id(&state, from));
    };
    let summary = format!("`{from}` ({} {}) becomes `{to}`", record.kind, record.physical_id);
    state.resources.insert(to.to_string(), record);
    for r in state.resources.values_mut() {
        for d in &mut r.depends_on {
            if d == from {
                *d = to.to_string();
            }
        }
    }
    if let Some(mut p) = state.pending.remove(from) {
        p.id = to.to_string();
        state.pending.insert(p.id.clone(), p);
    }
    for d in &mut state.deposed {
        if d.id == from {
            d.id = to.to_string();
        }
    }
    Ok(Edit { state, summary })
}

fn rm(current: Option<State>, ids: &[String]) -> Result<Edit, CliError> {
    let mut state = current
        .ok_or_else(|| CliError::new("archkit::state::none", "the stack has no state", None))?;
    if let Some(id) = ids.iter().find(|id| !state.resources.contains_key(*id)) {
        return Err(unknown_id(&state, id));
    }
    let mut forgotten = Vec::new();
    for id in ids {
        let r = state.resources.remove(id).expect("checked above");
        forgotten.push(format!("`{id}` ({} {})", r.kind, r.physical_id));
    }
    let dependents: Vec<&String> = state
        .resources
        .iter()
        .filter(|(_, r)| r.depends_on.iter().any(|d| ids.contains(d)))
        .map(|(id, _)| id)
        .collect();
    let mut summary =
        format!("forgets {}; AWS keeps them, with their archkit tags", forgotten.join(", "));
    if !dependents.is_empty() {
        let names: Vec<&str> = dependents.iter().map(|s| s.as_str()).collect();
        summary.push_str(&format!(" (still recorded and depending on them: {})", names.join(", ")));
    }
    Ok(Edit { state, summary })
}

fn unlock(store: &dyn StateStore, id: Option<&str>, force: bool, printer: &Printer) -> Outcome {
    match store.unlock(id, force) {
        Ok(Some(info)) => {
            printer.status(&format!(
                "removed the lock of {} held by `{}` (pid {} on {}, since {})",
                store.location(),
                info.owner,
                info.pid,
                info.host,
                info.created
            ));
            Ok(ExitStatus::Success)
        }
        Ok(None) => {
            printer.status(&format!("{} was not locked", store.location()));
            Ok(ExitStatus::Success)
        }
        Err(e) => Err(fail(printer, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ResourceState, Status};

    fn record(deps: &[&str]) -> ResourceState {
        ResourceState {
            kind: "aws.ec2.subnet".into(),
            physical_id: "subnet-1".into(),
            properties: Default::default(),
            attributes: Default::default(),
            status: Status::Ready,
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    fn sample() -> State {
        let mut s = State::new("demo", "bp");
        s.serial = 4;
        s.resources.insert("vpc".into(), record(&[]));
        s.resources.insert("subnet".into(), record(&["vpc"]));
        s
    }

    #[test]
    fn mv_renames_the_record_and_what_depends_on_it() {
        let e = mv(Some(sample()), "vpc", "network").unwrap();
        assert!(e.state.resources.contains_key("network"));
        assert!(!e.state.resources.contains_key("vpc"));
        assert_eq!(e.state.resources["subnet"].depends_on, vec!["network"]);
        assert!(mv(Some(sample()), "vpc", "subnet").is_err(), "an id in use is refused");
        assert!(mv(Some(sample()), "nope", "x").is_err());
    }

    #[test]
    fn rm_forgets_and_names_what_still_depends() {
        let e = rm(Some(sample()), &["vpc".into()]).unwrap();
        assert_eq!(e.state.resources.len(), 1);
        assert!(e.summary.contains("depending on them: subnet"), "{}", e.summary);
        assert!(rm(Some(sample()), &["vpc".into(), "nope".into()]).is_err());
    }

    #[test]
    fn push_refuses_other_lineages_and_older_serials_unless_forced() {
        let f = Path::new("f.json");
        let current = sample();
        let mut older = current.clone();
        older.serial = 3;
        assert!(push(Some(current.clone()), older.clone(), false, f).is_err());
        assert_eq!(push(Some(current.clone()), older, true, f).unwrap().state.serial, 4);
        let mut other = current.clone();
        other.lineage = "another".into();
        other.serial = 9;
        assert!(push(Some(current.clone()), other, false, f).is_err());
        let mut diverged = current.clone();
        diverged.resources.clear();
        assert!(
            push(Some(current.clone()), diverged, false, f).is_err(),
            "same serial, other content"
        );
        let mut newer = current.clone();
        newer.serial = 7;
        // Written as the next serial after the stored one.
        assert_eq!(push(Some(current), newer, false, f).unwrap().state.serial, 4);
    }
}
