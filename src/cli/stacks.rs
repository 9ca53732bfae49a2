//! `archkit stacks`: the stacks archkit finds by tag in the account and
//! region (or, with `--all-regions`, every region the account has
//! enabled), with their age, expiry and estimated running cost. Needs no
//! state file: each stack's cost comes from a discovery of its resources.

use std::time::{Duration, SystemTime};

use clap::Args;

use super::deploy::{StackArgs, runtime};
use super::stack_args::flags;
use super::{ExitStatus, GlobalArgs};
use crate::ops::stacks::{Found, Listing, Query, StackRow, find_regions, scope_of};
use crate::output::Printer;
use crate::settings::Flags;

#[derive(Debug, Args)]
pub struct StacksArgs {
    /// Look in every region the account has enabled (DescribeRegions), read
    /// concurrently, instead of the configured one
    #[arg(long)]
    pub all_regions: bool,
}

/// The global arguments of a command that looks at every stack: `--stack`
/// on the command line narrows it, an `ARCHKIT_STACK` in the environment
/// does not (a CI workflow sets that for its deploy steps, and its nightly
/// sweep must still look at every stack).
pub(crate) fn listing_flags(g: &GlobalArgs) -> Flags {
    let mut f = flags(g, &StackArgs { lock_timeout: None });
    if g.stack_from_env {
        f.stack = None;
    }
    f
}

/// Looks for stacks as the global arguments say ([`listing_flags`]),
/// printing the regions it could not look at and the tag warnings, and
/// the scope of the search.
pub(crate) fn look(
    g: &GlobalArgs,
    printer: &Printer,
    with_cost: bool,
    all: bool,
) -> (Listing, String) {
    let f = listing_flags(g);
    let q = Query { aws: f.aws(), stack: f.stack.clone(), with_cost };
    let listing = find_regions(&runtime(), &q, all);
    listing.errors.iter().for_each(|e| printer.error(e));
    listing.found.iter().flat_map(|f| &f.warnings).for_each(|w| printer.warn(w));
    let scope = scope_of(&listing.found, all, f.stack.as_deref());
    (listing, scope)
}

/// Every region's warnings, for `--json`.
pub(crate) fn warnings(found: &[Found]) -> Vec<String> {
    found.iter().flat_map(|f| f.warnings.clone()).collect()
}

fn ago(secs: u64) -> String {
    humantime::format_duration(Duration::from_secs(secs.max(60) / 60 * 60)).to_string()
}

pub fn run(args: &StacksArgs, g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    let (listing, scope) = look(g, printer, true, args.all_regions);
    let complete = listing.complete();
    if listing.found.is_empty() && !complete {
        return ExitStatus::Failure;
    }
    let warnings = warnings(&listing.found);
    let rows: Vec<StackRow> =
        listing.found.into_iter().flat_map(|f| f.rows).map(|(_, r)| r).collect();
    let status = if complete { ExitStatus::Success } else { ExitStatus::Failure };
    if printer.json {
        printer.json_out(
            &serde_json::json!({ "looked_at": scope, "stacks": rows, "warnings": warnings }),
        );
        return status;
    }
    if rows.is_empty() {
        printer.out(&format!("No archkit stacks: looked at {scope}.\n"));
        return status;
    }
    printer.out(&table(&rows, args.all_regions));
    printer.status(&format!("Looked at {scope}."));
    status
}

/// The rows as a table; a region column when the rows may differ in it.
fn table(rows: &[StackRow], regions: bool) -> String {
    let now = SystemTime::now();
    let nw = rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(5);
    let rw = rows.iter().map(|r| r.region.len()).max().unwrap_or(6).max(6);
    let label = |name: &str, region: &str| {
        if regions { format!("{name:<nw$}  {region:<rw$}") } else { name.to_string() }
    };
    let width = if regions { nw + 2 + rw } else { nw };
    let mut out = format!(
        "{:<width$}  {:>10}  {:<32}  {:>10}  RESOURCES\n",
        label("STACK", "REGION"),
        "AGE",
        "EXPIRES",
        "COST/HOUR"
    );
    for r in rows {
        let age = r.age_seconds.map_or("unknown".into(), ago);
        let expires = expires(r, now);
        let cost = match r.hourly {
            Some(h) if r.unknown.is_empty() => format!("${h:.4}"),
            Some(h) => format!("${h:.4}+?"),
            None => "unknown".into(),
        };
        out.push_str(&format!(
            "{:<width$}  {:>10}  {:<32}  {:>10}  {}\n",
            label(&r.name, &r.region),
            age,
            expires,
            cost,
            r.resources
        ));
    }
    out
}

/// When a stack expires, and how long that is from `now`.
fn expires(r: &StackRow, now: SystemTime) -> String {
    match (&r.expires_at, r.expired) {
        (None, _) if r.invalid_expires_at.is_some() => "invalid (see warning)".to_string(),
        (None, _) => "never".to_string(),
        (Some(at), true) => format!("{at} (expired)"),
        (Some(at), false) => {
            let left = humantime::parse_rfc3339(at)
                .ok()
                .and_then(|t| t.duration_since(now).ok())
                .map_or(String::new(), |d| format!(" (in {})", ago(d.as_secs())));
            format!("{at}{left}")
        }
    }
}
