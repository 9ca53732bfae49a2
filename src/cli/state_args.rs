//! The subcommands of `archkit state` and the state store they work on:
//! `--state`, archkit.toml in the working directory, or `--stack`'s file.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};

use super::deploy::{StackArgs, settings};
use super::{CliError, GlobalArgs};
use crate::output::Printer;
use crate::state::StateStore;

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
pub(super) fn store_with(
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
