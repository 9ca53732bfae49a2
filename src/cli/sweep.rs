//! `archkit sweep`: destroys every stack of the account and region whose
//! `archkit:expires-at` (set by `apply --ttl`) has passed, found by tags
//! with no state file, each as `destroy --stack NAME --discover` would.

use clap::Args;

use super::deploy::{ApplyArgs, StackArgs, open_discovery, run_changes, runtime};
use super::{ExitStatus, GlobalArgs};
use crate::output::Printer;

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Only name the expired stacks; change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub apply: ApplyArgs,
    #[command(flatten)]
    pub stack: StackArgs,
}

pub fn run(args: &SweepArgs, g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    let rt = runtime();
    let Some(found) = super::stacks::find(&rt, g, printer, false) else {
        return ExitStatus::Failure;
    };
    found.warn(printer);
    let scope = found.scope();
    let looked = found.rows.len();
    let expired: Vec<_> = found.rows.into_iter().filter(|(_, r)| r.expired).collect();
    if args.dry_run || expired.is_empty() {
        if printer.json {
            let names: Vec<serde_json::Value> = expired
                .iter()
                .map(|(_, r)| serde_json::json!({"name": r.name, "expires_at": r.expires_at}))
                .collect();
            printer.json_out(&serde_json::json!({
                "dry_run": args.dry_run,
                "looked_at": scope,
                "stacks": looked,
                "expired": names,
                "warnings": found.warnings,
            }));
        } else if expired.is_empty() {
            printer.out(&format!("No expired stacks: looked at {scope} ({looked} found).\n"));
        } else {
            for (_, r) in &expired {
                printer.out(&format!(
                    "Would destroy stack `{}` (expired at {}).\n",
                    r.name,
                    r.expires_at.as_deref().unwrap_or("?")
                ));
            }
            printer.status(&format!("Looked at {scope} ({looked} found)."));
        }
        return ExitStatus::Success;
    }
    printer.status(&format!("Looked at {scope} ({looked} found)."));
    let mut g = g.clone();
    if g.stack_from_env {
        g.stack = None;
    }
    let g = &g;
    let mut status = ExitStatus::Success;
    for (_, r) in expired {
        printer.status(&format!(
            "Destroying stack `{}` (expired at {}).",
            r.name,
            r.expires_at.as_deref().unwrap_or("?")
        ));
        let Some(session) = open_discovery(&rt, &r.name, g, &args.stack, "archkit sweep", printer)
        else {
            status = ExitStatus::Failure;
            continue;
        };
        match run_changes(&rt, session, true, None, &args.apply, printer) {
            ExitStatus::Success => {}
            ExitStatus::Interrupted => return ExitStatus::Interrupted,
            _ => status = ExitStatus::Failure,
        }
    }
    status
}
