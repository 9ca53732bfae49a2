//! `archkit sweep`: destroys every stack of the account and region (or,
//! with `--all-regions`, of every region the account has enabled) whose
//! `archkit:expires-at` (set by `apply --ttl`) has passed, found by tags
//! with no state file, each as `destroy --stack NAME --discover` would.

use clap::Args;

use super::deploy::{ApplyArgs, Opening, StackArgs, open_discovery, run_changes, runtime};
use super::{ExitStatus, GlobalArgs};
use crate::ops::stacks::StackRow;
use crate::output::Printer;
use crate::settings::{Expiry, Mode, Teardown};

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Only name the expired stacks; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Look in every region the account has enabled (DescribeRegions), read
    /// concurrently, instead of the configured one
    #[arg(long)]
    pub all_regions: bool,
    #[command(flatten)]
    pub apply: ApplyArgs,
    #[command(flatten)]
    pub stack: StackArgs,
}

pub fn run(args: &SweepArgs, g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    let rt = runtime();
    let all = args.all_regions;
    let (listing, scope) = super::stacks::look(g, printer, false, all);
    let complete = listing.complete();
    if listing.found.is_empty() && !complete {
        return ExitStatus::Failure;
    }
    let found = listing.found;
    let looked: usize = found.iter().map(|f| f.rows.len()).sum();
    let warnings = super::stacks::warnings(&found);
    let expired: Vec<_> =
        found.into_iter().flat_map(|f| f.rows).map(|(_, r)| r).filter(|r| r.expired).collect();
    // "in us-west-2" only when the regions may differ.
    let at = |r: &StackRow| if all { format!(" in {}", r.region) } else { String::new() };
    let failed = if complete { ExitStatus::Success } else { ExitStatus::Failure };
    if args.dry_run || expired.is_empty() {
        print_expired(&expired, args.dry_run, &scope, looked, &warnings, &at, printer);
        return failed;
    }
    printer.status(&format!("Looked at {scope} ({looked} found)."));
    let flags = super::stacks::listing_flags(g);
    let mut status = failed;
    for r in expired {
        printer.status(&format!(
            "Destroying stack `{}`{} (expired at {}).",
            r.name,
            at(&r),
            r.expires_at.as_deref().unwrap_or("?")
        ));
        let mut flags = flags.clone();
        flags.region = Some(r.region.clone());
        flags.lock_timeout = args.stack.lock_timeout;
        let how = Opening {
            owner: "archkit sweep",
            mode: Mode::Destroy(Teardown { discover: true, force_empty: false }),
            parallelism: args.apply.parallelism,
            expiry: Expiry::Keep,
        };
        let Some(session) = open_discovery(&rt, &r.name, flags, how, printer) else {
            status = ExitStatus::Failure;
            continue;
        };
        match run_changes(&rt, session, None, &args.apply, printer) {
            ExitStatus::Success => {}
            ExitStatus::Interrupted => return ExitStatus::Interrupted,
            _ => status = ExitStatus::Failure,
        }
    }
    status
}

/// What a dry run (or a sweep with nothing expired) found.
fn print_expired(
    expired: &[StackRow],
    dry_run: bool,
    scope: &str,
    looked: usize,
    warnings: &[String],
    at: &dyn Fn(&StackRow) -> String,
    printer: &Printer,
) {
    if printer.json {
        let names: Vec<serde_json::Value> = expired
            .iter()
            .map(|r| serde_json::json!({"name": r.name, "region": r.region, "expires_at": r.expires_at}))
            .collect();
        printer.json_out(&serde_json::json!({
            "dry_run": dry_run,
            "looked_at": scope,
            "stacks": looked,
            "expired": names,
            "warnings": warnings,
        }));
    } else if expired.is_empty() {
        printer.out(&format!("No expired stacks: looked at {scope} ({looked} found).\n"));
    } else {
        for r in expired {
            printer.out(&format!(
                "Would destroy stack `{}`{} (expired at {}).\n",
                r.name,
                at(r),
                r.expires_at.as_deref().unwrap_or("?")
            ));
        }
        printer.status(&format!("Looked at {scope} ({looked} found)."));
    }
}
