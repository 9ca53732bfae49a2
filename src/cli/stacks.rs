//! `archkit stacks`: the stacks archkit finds by tag in the account and
//! region (or, with `--all-regions`, every region the account has
//! enabled), with their age, expiry and estimated running cost. Needs no
//! state file: each stack's cost comes from a discovery of its resources.

use std::time::{Duration, SystemTime};

use clap::Args;
use serde::Serialize;

use super::deploy::{StackArgs, open_discovery, runtime, settings};
use super::{ExitStatus, GlobalArgs};
use crate::aws::stacks::TaggedStack;
use crate::output::Printer;
use crate::session::Backend;

#[derive(Debug, Args)]
pub struct StacksArgs {
    /// Look in every region the account has enabled (DescribeRegions), read
    /// concurrently, instead of the configured one
    #[arg(long)]
    pub all_regions: bool,
}

/// One row of `archkit stacks` (and of `stacks --json`).
#[derive(Debug, Clone, Serialize)]
pub struct StackRow {
    pub name: String,
    /// The region it was found in.
    pub region: String,
    /// When its state was begun (from its lineage), RFC 3339.
    pub created_at: Option<String>,
    pub age_seconds: Option<u64>,
    pub expires_at: Option<String>,
    pub expired: bool,
    /// Known running cost, USD (null when no prices for the region).
    pub hourly: Option<f64>,
    pub monthly: Option<f64>,
    /// Resources whose cost is unknown.
    pub unknown: Vec<String>,
    /// Resources of the stack archkit found.
    pub resources: usize,
    /// An `archkit:expires-at` that is not an RFC 3339 time (never read
    /// as an expiry: the stack is not swept).
    pub invalid_expires_at: Option<String>,
}

/// What `stacks` and `sweep` looked at and found.
pub(crate) struct Found {
    pub region: String,
    /// The stack `--stack` narrowed the search to, if any.
    pub only: Option<String>,
    pub rows: Vec<(TaggedStack, StackRow)>,
    /// Tags that made no stack or no expiry, to report.
    pub warnings: Vec<String>,
}

impl Found {
    /// "every stack in us-east-1" or "stack `demo` in us-east-1".
    pub fn scope(&self) -> String {
        scope_in(self.only.as_deref(), &self.region)
    }

    pub fn warn(&self, printer: &Printer) {
        for w in &self.warnings {
            printer.warn(w);
        }
    }
}

/// "every stack in PLACE" or "stack `NAME` in PLACE".
fn scope_in(only: Option<&str>, place: &str) -> String {
    match only {
        Some(n) => format!("stack `{n}` in {place}"),
        None => format!("every stack in {place}"),
    }
}

/// The global arguments of a command that looks at every stack: `--stack`
/// on the command line narrows it, an `ARCHKIT_STACK` in the environment
/// does not (a CI workflow sets that for its deploy steps, and its nightly
/// sweep must still look at every stack).
pub(crate) fn listing_args(g: &GlobalArgs) -> GlobalArgs {
    let mut g = g.clone();
    if g.stack_from_env {
        g.stack = None;
    }
    g
}

/// When a UUIDv7 lineage was made.
fn created(lineage: &str) -> Option<SystemTime> {
    let ts = uuid::Uuid::parse_str(lineage).ok()?.get_timestamp()?;
    let (secs, nanos) = ts.to_unix();
    Some(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Whether an RFC 3339 expiry is past at `now`.
pub(crate) fn is_expired(expires_at: Option<&str>, now: SystemTime) -> bool {
    expires_at.and_then(|e| humantime::parse_rfc3339(e).ok()).is_some_and(|at| at <= now)
}

/// The stacks tagged in the region, each looked at through a discovery
/// session (whose state is a scratch file: listing never touches a stack's
/// own state or lock). Every stack, unless `--stack` is on the command
/// line ([`listing_args`]).
pub(crate) fn find(
    rt: &tokio::runtime::Runtime,
    g: &GlobalArgs,
    printer: &Printer,
    with_cost: bool,
) -> Option<Found> {
    let g = &listing_args(g);
    let backend = match rt.block_on(Backend::connect(&settings(g))) {
        Ok(b) => b,
        Err(e) => {
            printer.error(&e);
            return None;
        }
    };
    let tagged = match rt.block_on(backend.stacks(g.stack.as_deref())) {
        Ok(t) => t,
        Err(e) => {
            printer.error(&e);
            return None;
        }
    };
    let now = SystemTime::now();
    let scratch = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            let msg = format!("cannot make a scratch directory: {e}");
            printer.error(&super::CliError::new("archkit::stacks::scratch", msg, None));
            return None;
        }
    };
    let mut warnings = Vec::new();
    for t in &tagged {
        for bad in &t.bad_expiry {
            warnings.push(format!(
                "stack `{}`: its tag archkit:expires-at is `{bad}`, not an RFC 3339 time, so it \
                 never expires and sweep leaves it; set it again with `archkit apply --ttl 2h` \
                 (or `--ttl none`)",
                t.name
            ));
        }
        if !t.is_stack() {
            warnings.push(format!(
                "{} resource(s) tagged archkit:stack={} carry no archkit:id: archkit did not make \
                 them, so `{}` is not a stack (and sweep never deletes them)",
                t.untracked, t.name, t.name
            ));
        }
    }
    let tagged: Vec<TaggedStack> = tagged
        .into_iter()
        .filter(TaggedStack::is_stack)
        // `--stack NAME` lists that stack only.
        .filter(|t| g.stack.as_ref().is_none_or(|name| t.name == *name))
        .collect();
    let region = backend.region(g.region.as_deref());
    let region = &region;
    let row_of = |t: &TaggedStack, rt: &tokio::runtime::Runtime| -> Option<StackRow> {
        let created_at = t.lineages.iter().filter_map(|l| created(l)).min();
        let mut row = StackRow {
            name: t.name.clone(),
            region: region.clone(),
            created_at: created_at.map(|c| humantime::format_rfc3339_seconds(c).to_string()),
            age_seconds: created_at.and_then(|c| now.duration_since(c).ok()).map(|d| d.as_secs()),
            expires_at: t.expires_at.clone(),
            expired: is_expired(t.expires_at.as_deref(), now),
            hourly: None,
            monthly: None,
            unknown: Vec::new(),
            resources: t.resources,
            invalid_expires_at: t.bad_expiry.first().cloned(),
        };
        // An expired stack is always looked at, cost or not: the tagging
        // API keeps listing what was deleted for a while (terminated
        // instances, deleted NAT gateways), and sweep must not name, count
        // or destroy a stack that is already gone.
        if !with_cost && !row.expired {
            return Some(row);
        }
        let mut g = g.clone();
        g.state = Some(scratch.path().join(format!("{}.state.json", t.name)));
        let quiet = Printer::new(false, true, true);
        let args = StackArgs { lock_timeout: Some(Duration::ZERO) };
        if let Some(s) = open_discovery(rt, &t.name, &g, &args, "archkit stacks", &quiet)
            && let Ok(plan) = rt.block_on(s.plan(true))
        {
            // Only stale listings left (the tagging API may list what is
            // already deleted): no stack any more.
            if plan.changes.is_empty() {
                return None;
            }
            let cost = s.cost(&plan);
            row.resources = plan.changes.len();
            row.hourly = cost.before_hourly();
            row.monthly = row.hourly.map(crate::plan::cost::monthly);
            row.unknown = cost.unknown.clone();
        }
        Some(row)
    };
    // Stacks are looked at four at a time, each on a runtime of its own
    // (a session's clients belong to the runtime that made them).
    let mut rows: Vec<(TaggedStack, StackRow)> = Vec::new();
    if !with_cost {
        rows = tagged.into_iter().filter_map(|t| row_of(&t, rt).map(|r| (t, r))).collect();
    } else {
        let chunk = tagged.len().div_ceil(4).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = tagged
                .chunks(chunk)
                .map(|part| {
                    let row_of = &row_of;
                    scope.spawn(move || {
                        let rt = runtime();
                        part.iter()
                            .filter_map(|t| row_of(t, &rt).map(|r| (t.clone(), r)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                rows.extend(h.join().unwrap_or_default());
            }
        });
    }
    Some(Found { region: region.clone(), only: g.stack.clone(), rows, warnings })
}

/// Regions looked at at once by `--all-regions` (each on a thread and a
/// runtime of its own, and each of those looks at four stacks at once).
const REGIONS_AT_ONCE: usize = 8;

/// [`find`] in the configured region, or with `all` in every region the
/// account has enabled, concurrently; the regions in order. `false` when a
/// region could not be looked at (its error printed; the others are still
/// returned, so a user sees what was found).
pub(crate) fn find_regions(
    rt: &tokio::runtime::Runtime,
    g: &GlobalArgs,
    printer: &Printer,
    with_cost: bool,
    all: bool,
) -> (Vec<Found>, bool) {
    if !all {
        return match find(rt, g, printer, with_cost) {
            Some(f) => (vec![f], true),
            None => (Vec::new(), false),
        };
    }
    let regions = rt.block_on(async {
        let backend = Backend::connect(&settings(g)).await?;
        backend.regions().await
    });
    let regions = match regions {
        Ok(r) => r,
        Err(e) => {
            printer.error(&e);
            return (Vec::new(), false);
        }
    };
    let chunk = regions.len().div_ceil(REGIONS_AT_ONCE).max(1);
    let found: Vec<Option<Found>> = std::thread::scope(|scope| {
        let handles: Vec<_> = regions
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let rt = runtime();
                    part.iter()
                        .map(|r| {
                            let mut g = g.clone();
                            g.region = Some(r.clone());
                            find(&rt, &g, printer, with_cost)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let ok = found.iter().all(Option::is_some) && found.len() == regions.len();
    (found.into_iter().flatten().collect(), ok)
}

/// What was looked at: "every stack in us-east-1", or across regions
/// "every stack in 17 regions".
pub(crate) fn scope_of(found: &[Found], all: bool, g: &GlobalArgs) -> String {
    match found {
        [one] if !all => one.scope(),
        _ => {
            let n = found.len();
            let regions = if n == 1 { "1 region".to_string() } else { format!("{n} regions") };
            scope_in(listing_args(g).stack.as_deref(), &regions)
        }
    }
}

fn ago(secs: u64) -> String {
    humantime::format_duration(Duration::from_secs(secs.max(60) / 60 * 60)).to_string()
}

pub fn run(args: &StacksArgs, g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    let rt = runtime();
    let (found, complete) = find_regions(&rt, g, printer, true, args.all_regions);
    if found.is_empty() && !complete {
        return ExitStatus::Failure;
    }
    found.iter().for_each(|f| f.warn(printer));
    let scope = scope_of(&found, args.all_regions, g);
    let warnings: Vec<String> = found.iter().flat_map(|f| f.warnings.clone()).collect();
    let rows: Vec<StackRow> = found.into_iter().flat_map(|f| f.rows).map(|(_, r)| r).collect();
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
    let now = SystemTime::now();
    // The region column only when the rows may differ in it.
    let regions = args.all_regions;
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
    for r in &rows {
        let age = r.age_seconds.map_or("unknown".into(), ago);
        let expires = match (&r.expires_at, r.expired) {
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
        };
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
    printer.out(&out);
    printer.status(&format!("Looked at {scope}."));
    status
}
