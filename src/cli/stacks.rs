//! `archkit stacks`: the stacks archkit finds by tag in the account and
//! region, with their age, expiry and estimated running cost. Needs no
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
pub struct StacksArgs {}

/// One row of `archkit stacks` (and of `stacks --json`).
#[derive(Debug, Clone, Serialize)]
pub struct StackRow {
    pub name: String,
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
        match &self.only {
            Some(n) => format!("stack `{n}` in {}", self.region),
            None => format!("every stack in {}", self.region),
        }
    }

    pub fn warn(&self, printer: &Printer) {
        for w in &self.warnings {
            printer.warn(w);
        }
    }
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
/// line: an `ARCHKIT_STACK` a CI workflow sets for its deploy steps must
/// not narrow its nightly sweep.
pub(crate) fn find(
    rt: &tokio::runtime::Runtime,
    g: &GlobalArgs,
    printer: &Printer,
    with_cost: bool,
) -> Option<Found> {
    let mut g = g.clone();
    if g.stack_from_env {
        g.stack = None;
    }
    let g = &g;
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
    let row_of = |t: &TaggedStack, rt: &tokio::runtime::Runtime| -> Option<StackRow> {
        let created_at = t.lineages.iter().filter_map(|l| created(l)).min();
        let mut row = StackRow {
            name: t.name.clone(),
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
    Some(Found { region, only: g.stack.clone(), rows, warnings })
}

fn ago(secs: u64) -> String {
    humantime::format_duration(Duration::from_secs(secs.max(60) / 60 * 60)).to_string()
}

pub fn run(_args: &StacksArgs, g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    let rt = runtime();
    let Some(found) = find(&rt, g, printer, true) else {
        return ExitStatus::Failure;
    };
    found.warn(printer);
    let scope = found.scope();
    let warnings = found.warnings.clone();
    let rows: Vec<StackRow> = found.rows.into_iter().map(|(_, r)| r).collect();
    if printer.json {
        printer.json_out(
            &serde_json::json!({ "looked_at": scope, "stacks": rows, "warnings": warnings }),
        );
        return ExitStatus::Success;
    }
    if rows.is_empty() {
        printer.out(&format!("No archkit stacks: looked at {scope}.\n"));
        return ExitStatus::Success;
    }
    let now = SystemTime::now();
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(5);
    let mut out = format!(
        "{:<width$}  {:>10}  {:<32}  {:>10}  RESOURCES\n",
        "STACK", "AGE", "EXPIRES", "COST/HOUR"
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
            r.name, age, expires, cost, r.resources
        ));
    }
    printer.out(&out);
    printer.status(&format!("Looked at {scope}."));
    ExitStatus::Success
}
