//! `archkit state`: inspect a stack's state, repair it when things went
//! wrong (pull, push, mv, rm: each asks first and keeps a backup), and
//! break a stale lock.

use super::deploy::{StackArgs, runtime};
pub(crate) use super::state_args::store;
use super::state_args::store_with;
pub use super::state_args::{StateArgs, StateCommand};
use super::state_view::{Outcome, fail, list, show};
use super::terminal::confirm;
use super::{ExitStatus, GlobalArgs};
use crate::ops::state_edit;
use crate::output::Printer;
use crate::state::{State, StateStore};

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

type EditResult = Result<state_edit::Edit, state_edit::EditError>;

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
