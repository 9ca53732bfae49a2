//! Finding stacks by their tags (`archkit stacks`, and what `sweep`
//! looks at): in the configured region, or in every region the account
//! has enabled, each stack with its age, expiry and, when asked, its
//! running cost from a discovery of its resources. Needs no state file:
//! a stack's discovery runs on a scratch state, never its own or its lock.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::destroy::discovery;
use crate::aws::stacks::TaggedStack;

/// What to look for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// How to reach AWS; its region is the one looked at.
    pub aws: crate::aws::Settings,
    /// Only this stack (`--stack` on the command line).
    pub stack: Option<String>,
    /// Discover each stack's resources for its running cost. Expired
    /// stacks are discovered either way (see [`find`]).
    pub with_cost: bool,
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

/// What one region's search looked at and found.
pub struct Found {
    pub region: String,
    /// The stack the search was narrowed to, if any.
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
}

/// Why a region could not be looked at.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ListError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Cloud(#[from] crate::cloud::CloudError),

    #[error("cannot make a scratch directory: {0}")]
    #[diagnostic(code(archkit::stacks::scratch))]
    Scratch(std::io::Error),

    #[error("{0} region(s) could not be looked at: their search stopped unexpectedly")]
    #[diagnostic(code(archkit::stacks::lost), help("run the command again"))]
    Lost(usize),
}

/// "every stack in PLACE" or "stack `NAME` in PLACE".
fn scope_in(only: Option<&str>, place: &str) -> String {
    match only {
        Some(n) => format!("stack `{n}` in {place}"),
        None => format!("every stack in {place}"),
    }
}

/// What was looked at: "every stack in us-east-1", or across regions
/// "every stack in 17 regions".
pub fn scope_of(found: &[Found], all: bool, only: Option<&str>) -> String {
    match found {
        [one] if !all => one.scope(),
        _ => {
            let n = found.len();
            let regions = if n == 1 { "1 region".to_string() } else { format!("{n} regions") };
            scope_in(only, &regions)
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
fn is_expired(expires_at: Option<&str>, now: SystemTime) -> bool {
    expires_at.and_then(|e| humantime::parse_rfc3339(e).ok()).is_some_and(|at| at <= now)
}

/// Warnings about the tags of `tagged`: expiries that are no time, and
/// names tagged on resources archkit did not make.
fn tag_warnings(tagged: &[TaggedStack]) -> Vec<String> {
    let mut warnings = Vec::new();
    for t in tagged {
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
    warnings
}

/// The row of one tagged stack; `None` when a discovery finds nothing of
/// it any more. An expired stack is always discovered, cost or not: the
/// tagging API keeps listing what was deleted for a while (terminated
/// instances, deleted NAT gateways), and sweep must not name, count or
/// destroy a stack that is already gone.
fn row_of(
    t: &TaggedStack,
    q: &Query,
    region: &str,
    scratch: &std::path::Path,
    rt: &tokio::runtime::Runtime,
) -> Option<StackRow> {
    let now = SystemTime::now();
    let created_at = t.lineages.iter().filter_map(|l| created(l)).min();
    let mut row = StackRow {
        name: t.name.clone(),
        region: region.to_string(),
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
    if !q.with_cost && !row.expired {
        return Some(row);
    }
    let state = scratch.join(format!("{}.state.json", t.name));
    let settings = discovery(&t.name, &q.aws, Some(state), "archkit stacks");
    if let Ok(s) = rt.block_on(super::destroy::open_discovery(&settings))
        && let Ok(plan) = rt.block_on(s.plan())
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
}

/// The stacks tagged in the query's region, each looked at through a
/// discovery session, four at a time when their cost is asked (each on a
/// runtime of its own: a session's clients belong to the runtime that
/// made them).
pub fn find(rt: &tokio::runtime::Runtime, q: &Query) -> Result<Found, ListError> {
    let backend = rt.block_on(crate::session::connect(&q.aws))?;
    let tagged = rt.block_on(backend.stacks(q.stack.as_deref()))?;
    let scratch = tempfile::tempdir().map_err(ListError::Scratch)?;
    let warnings = tag_warnings(&tagged);
    let tagged: Vec<TaggedStack> = tagged
        .into_iter()
        .filter(TaggedStack::is_stack)
        .filter(|t| q.stack.as_ref().is_none_or(|name| t.name == *name))
        .collect();
    let region = backend.region(q.aws.region.as_deref());
    let row = |t: &TaggedStack, rt: &tokio::runtime::Runtime| {
        row_of(t, q, &region, scratch.path(), rt).map(|r| (t.clone(), r))
    };
    let mut rows: Vec<(TaggedStack, StackRow)> = Vec::new();
    if !q.with_cost {
        rows = tagged.iter().filter_map(|t| row(t, rt)).collect();
    } else {
        let chunk = tagged.len().div_ceil(4).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = tagged
                .chunks(chunk)
                .map(|part| {
                    let row = &row;
                    scope.spawn(move || {
                        let rt = crate::ops::runtime();
                        part.iter().filter_map(|t| row(t, &rt)).collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                rows.extend(h.join().unwrap_or_default());
            }
        });
    }
    Ok(Found { region: region.clone(), only: q.stack.clone(), rows, warnings })
}

/// Regions looked at at once by `--all-regions` (each on a thread and a
/// runtime of its own, and each of those looks at four stacks at once).
const REGIONS_AT_ONCE: usize = 8;

/// What [`find_regions`] found, region by region in order, and the
/// regions it could not look at.
pub struct Listing {
    pub found: Vec<Found>,
    pub errors: Vec<ListError>,
}

impl Listing {
    /// Every region asked was looked at.
    pub fn complete(&self) -> bool {
        self.errors.is_empty()
    }
}

/// [`find`] in the query's region, or with `all` in every region the
/// account has enabled, concurrently.
pub fn find_regions(rt: &tokio::runtime::Runtime, q: &Query, all: bool) -> Listing {
    let one = |r: Result<Found, ListError>| match r {
        Ok(f) => Listing { found: vec![f], errors: Vec::new() },
        Err(e) => Listing { found: Vec::new(), errors: vec![e] },
    };
    if !all {
        return one(find(rt, q));
    }
    let regions = rt.block_on(async { crate::session::connect(&q.aws).await?.regions().await });
    let regions = match regions {
        Ok(r) => r,
        Err(e) => return one(Err(e.into())),
    };
    let chunk = regions.len().div_ceil(REGIONS_AT_ONCE).max(1);
    let results: Vec<Result<Found, ListError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = regions
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let rt = crate::ops::runtime();
                    part.iter()
                        .map(|r| {
                            let mut q = q.clone();
                            q.aws.region = Some(r.clone());
                            find(&rt, &q)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut listing = Listing { found: Vec::new(), errors: Vec::new() };
    if results.len() < regions.len() {
        listing.errors.push(ListError::Lost(regions.len() - results.len()));
    }
    for r in results {
        match r {
            Ok(f) => listing.found.push(f),
            Err(e) => listing.errors.push(e),
        }
    }
    listing
}
