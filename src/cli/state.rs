//! `archkit state`: inspect a stack's state and break a stale lock.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CliError, ExitStatus, GlobalArgs};
use crate::output::Printer;
use crate::state::LocalStore;

#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the resources recorded in a stack's state
    List,
    /// Remove a stack's lock, e.g. one left by a killed run (a lock whose
    /// holder still runs on this host is refused without --force)
    Unlock {
        /// Remove the lock even though its holder is still running
        #[arg(long)]
        force: bool,
    },
}

/// The state file named by `--state`, or the default for `--stack`.
pub(crate) fn store(g: &GlobalArgs, printer: &Printer) -> Option<LocalStore> {
    let path: PathBuf = match (&g.state, &g.stack) {
        (Some(p), _) => p.clone(),
        (None, Some(stack)) => LocalStore::default_path(stack),
        (None, None) => {
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
    Some(LocalStore::new(path))
}

pub fn run(args: &StateArgs, g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    let Some(store) = store(g, printer) else {
        return ExitStatus::Failure;
    };
    match args.command {
        StateCommand::Unlock { force } => match store.unlock(force) {
            Ok(Some(info)) => {
                printer.status(&format!(
                    "removed the lock of {} held by `{}` (pid {} on {}, since {})",
                    store.path().display(),
                    info.owner,
                    info.pid,
                    info.host,
                    info.created
                ));
                ExitStatus::Success
            }
            Ok(None) => {
                printer.status(&format!("{} was not locked", store.path().display()));
                ExitStatus::Success
            }
            Err(e) => {
                printer.error(&e);
                ExitStatus::Failure
            }
        },
        StateCommand::List => match store.load() {
            Ok(None) => {
                printer.status(&format!("no state at {}", store.path().display()));
                ExitStatus::Success
            }
            Ok(Some(state)) => {
                if printer.json {
                    printer.json_out(&state);
                    return ExitStatus::Success;
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
                for p in &state.pending {
                    text.push_str(&format!(
                        "{}  {}  pending {:?} since {}\n",
                        p.id, p.kind, p.op, p.started
                    ));
                }
                printer.out(&text);
                ExitStatus::Success
            }
            Err(e) => {
                printer.error(&e);
                ExitStatus::Failure
            }
        },
    }
}
