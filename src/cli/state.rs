//! `archkit state`: inspect a stack's state, repair it when things went
//! wrong (pull, push, mv, rm: each asks first and keeps a backup), and
//! break a stale lock.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};

use super::deploy::{StackArgs, runtime, settings};
use super::terminal::confirm;
use super::{CliError, ExitStatus, GlobalArgs};
use crate::ops::state_edit;
use crate::output::Printer;
use crate::state::{State, StateStore};

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
    let store = &*store;
    let edit = |auto_approve: bool, verb: &str, f: &dyn Fn(Option<State>) -> EditResult| {
        change(store, g, timeout, auto_approve, printer, &format!("archkit state {verb}"), f)
    };
    let result = match &args.command {
        StateCommand::Unlock { id, force } => unlock(store, id.as_deref(), *force, printer),
        StateCommand::List => with_state(store, printer, |s| list(s, printer)),
        StateCommand::Show { id } => with_state(store, printer, |s| show(s, id, printer)),
        StateCommand::Pull => with_state(store, printer, |s| {
            printer.out(&state_edit::document(s));
            Ok(ExitStatus::Success)
        }),
        StateCommand::Push { file, force, auto_approve, .. } => {
            match state_edit::read_file(file, g.stack.as_deref()) {
                Ok(pushed) => edit(*auto_approve, "push", &|current| {
                    state_edit::push(current, pushed.clone(), *force, file)
                }),
                Err(e) => Err(fail(printer, &e)),
            }
        }
        StateCommand::Mv { from, to, auto_approve, .. } => {
            edit(*auto_approve, "mv", &|current| state_edit::mv(current, from, to))
        }
        StateCommand::Rm { ids, auto_approve, .. } => {
            edit(*auto_approve, "rm", &|current| state_edit::rm(current, ids))
        }
    };
    result.unwrap_or_else(|e| e)
}

type Outcome = Result<ExitStatus, ExitStatus>;
type EditResult = Result<state_edit::Edit, state_edit::EditError>;

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
        Ok(None) => Err(fail(printer, &state_edit::no_state(store))),
        Err(e) => Err(fail(printer, &e)),
    }
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
        return Err(fail(printer, &state_edit::unknown_id(state, id)));
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

/// Edits the stored state under its lock, asks, keeps a backup, writes.
fn change(
    store: &dyn StateStore,
    g: &GlobalArgs,
    timeout: std::time::Duration,
    auto_approve: bool,
    printer: &Printer,
    owner: &str,
    edit: &dyn Fn(Option<State>) -> EditResult,
) -> Outcome {
    let prepared = state_edit::begin(store, g.stack.as_deref(), timeout, owner, edit)
        .map_err(|e| fail(printer, &e))?;
    printer.status(&format!("{} {}", store.location(), prepared.edit.summary));
    if !auto_approve {
        match confirm("Change the stored state?", &runtime(), printer) {
            Ok(true) => {}
            Ok(false) => {
                printer.status("Nothing changed.");
                return Err(ExitStatus::Failure);
            }
            Err(status) => return Err(status),
        }
    }
    let written = prepared.commit(store).map_err(|e| fail(printer, &e))?;
    if let Some((serial, path)) = &written.backup {
        printer.status(&format!("backup of serial {serial}: {}", path.display()));
    }
    printer.status(&format!("state written (serial {})", written.serial));
    Ok(ExitStatus::Success)
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
