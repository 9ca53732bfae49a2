//! `aws.glue.database`, `aws.glue.crawler` and `aws.glue.job`: a Data
//! Catalog database, a crawler filling it from S3, and a Spark job.
//!
//! Physical ids are the names (derived from the stack and id when
//! omitted). Glue's reads return no ARNs, and its tag calls take them:
//! they are built from the region and the account (asked of STS once).
//! Every create looks for its name first: AWS refuses a duplicate, but
//! moto (5.2.5) silently overwrites a job of the same name, and a job that
//! is not this stack's must never be taken over.
//!
//! moto does not implement UpdateCrawler or UpdateJob (HTTP 500): the
//! in-place updates are tested through the fault proxy's canned answers,
//! which check the request archkit sends but cannot prove AWS applies it.

use crate::aws::prelude::*;
use crate::schema::Default;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_glue::types::{
    CrawlerState, CrawlerTargets, DatabaseInput, JobCommand, JobUpdate, S3Target, Schedule,
    WorkerType,
};

const NAME_MAX: usize = 255;

/// Every item of every page of a Glue listing whose paginator has no
/// item stream: `pages!(glue.get_jobs(), jobs)`.
macro_rules! pages {
    ($req:expr, $items:ident) => {{
        let pages: Vec<_> =
            $req.into_paginator().send().try_collect().await.map_err(crate::aws::error::err)?;
        pages.iter().flat_map(|p| p.$items().iter().cloned()).collect()
    }};
}
const WORKER_TYPES: &[&str] = &["G.025X", "G.1X", "G.2X", "G.4X", "G.8X", "Z.2X"];

/// A Glue name for `id` of `stack`: lower case with underscores, which
/// Athena also accepts for databases and tables.
pub(super) fn glue_name(stack: &str, id: &str) -> String {
    unique_name(stack, id, NAME_MAX).to_ascii_lowercase().replace('-', "_")
}

fn prefix(stack: &str) -> String {
    glue_name(stack, "")
}

async fn arn(c: &Clients, what: &str, name: &str) -> Result<String> {
    Ok(format!("arn:aws:glue:{}:{}:{what}/{name}", c.region, c.account_id().await?))
}

/// A resource's tags; `None` when it is gone.
async fn tags_of(c: &Clients, arn: &str) -> Result<Option<HashMap<String, String>>> {
    Ok(send!(c.glue.get_tags().resource_arn(arn))
        .found()?
        .map(|t| t.tags().cloned().unwrap_or_default()))
}

/// The names worth a tag read: those recorded, and the stack's by name.
fn candidates<'a>(
    q: &ReadQuery,
    stack: &str,
    listed: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<String> {
    let prefix = prefix(stack);
    let mut names: BTreeSet<String> = q.known.iter().map(|(id, _)| id.clone()).collect();
    names.extend(listed.into_iter().filter(|n| n.starts_with(&prefix)).map(str::to_string));
    names
}

/// The tags of `name` split into user tags and logical id, or `None` when
/// the resource is gone or is neither the stack's nor recorded.
async fn owned(
    c: &Clients,
    ctx: &Context,
    q: &ReadQuery,
    what: &str,
    name: &str,
) -> Result<Option<(Value, Logical)>> {
    let Some(tags) = tags_of(c, &arn(c, what, name).await?).await? else {
        return Ok(None);
    };
    let (user, logical) = split_tags(ctx, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if logical.unclaimed() && !q.known.iter().any(|(k, _)| *k == name) {
        return Ok(None);
    }
    Ok(Some((user, logical)))
}

/// The `name` and `arn` attributes every Glue kind has.
async fn name_attrs(c: &Clients, what: &str, name: &str) -> Result<Attrs> {
    Ok(attrs([("name", json!(name)), ("arn", json!(arn(c, what, name).await?))]))
}

/// Whether the existing resource called `name` is this stack's `logical`
/// (its tags say so): adopted after a lost answer; anyone else's is an
/// error, never overwritten.
async fn adopt(c: &Clients, ctx: &Context, what: &str, name: &str, logical: &str) -> Result<()> {
    let tags = tags_of(c, &arn(c, what, name).await?).await?.unwrap_or_default();
    let clash = Clash {
        what: format!("a Glue {what} named {name}"),
        field: "name",
        code: "AlreadyExistsException",
    };
    clash.unless_tagged(ctx, logical, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

async fn sync_glue_tags(
    c: &Clients,
    what: &str,
    name: &str,
    old: &Props,
    new: &Props,
) -> Result<()> {
    if TagChanges::between(old, new).is_empty() {
        return Ok(());
    }
    let arn = arn(c, what, name).await?;
    let arn = arn.as_str();
    sync_tags_with(
        old,
        new,
        |keys| async move {
            send!(c.glue.untag_resource().resource_arn(arn).set_tags_to_remove(Some(keys)))
        },
        |set| async move {
            send!(
                c.glue
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags_to_add(Some(set.into_iter().collect()))
            )
        },
    )
    .await
}

fn tag_map(ctx: &Context, logical: &str, p: &Props) -> HashMap<String, String> {
    create_tags(ctx, logical, p).into_iter().collect()
}

// --- database -------------------------------------------------------------

pub static DATABASE: Schema = Schema::new("aws.glue.database", "A Glue Data Catalog database.")
    .properties(rows! {
        Prop::new("name", Type::String, "The database name (lower case); derived from the stack and id when omitted.").replace(),
        Prop::new("description", Type::String, "What it holds."),
    })
    .attributes(rows! {
        Attr::new("name", Type::String, "Its name."),
        Attr::new("arn", Type::String, "Its ARN."),
    })
    .notes("Deleting a database drops its tables (those a crawler made among them); the data in S3 stays.")
    .cost(|_| Ok(Estimate::free()))
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "database names are unique in the catalog"));

kind! { Database, DATABASE }

#[async_trait]
impl ResourceKind for Database {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let all: Vec<aws_sdk_glue::types::Database> =
            pages!(self.0.glue.get_databases(), database_list);
        let mut out = Vec::new();
        for name in candidates(q, &ctx.stack, all.iter().map(|d| d.name())) {
            let Some(d) = all.iter().find(|d| d.name() == name) else { continue };
            let Some((user, logical)) = owned(&self.0, ctx, q, "database", &name).await? else {
                continue;
            };
            let p = props([
                ("name", json!(name)),
                ("description", json!(d.description())),
                ("tags", user),
            ]);
            let a = name_attrs(&self.0, "database", &name).await?;
            out.push(Observed::new(name.clone(), logical, p).with(a));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name = s(p, "name").unwrap_or_else(|| glue_name(&ctx.stack, &req.logical_id));
        let a = name_attrs(&self.0, "database", &name).await?;
        let input = DatabaseInput::builder()
            .name(&name)
            .set_description(s(p, "description"))
            .build()
            .expect("name set");
        match send!(self.0.glue.create_database().database_input(input).set_tags(Some(tag_map(
            ctx,
            &req.logical_id,
            p
        )))) {
            Ok(_) => {}
            Err(e) if e.code.as_deref() == Some("AlreadyExistsException") => {
                adopt(&self.0, ctx, "database", &name, &req.logical_id).await?;
            }
            Err(e) => return Err(e),
        }
        Ok(Created::new(name).with(a))
    }

    async fn update(&self, _ctx: &Context, name: &str, old: &Props, new: &Props) -> Result<Attrs> {
        if old.get("description") != new.get("description") {
            let input = DatabaseInput::builder()
                .name(name)
                .set_description(s(new, "description"))
                .build()
                .expect("name set");
            send!(self.0.glue.update_database().name(name).database_input(input))?;
        }
        sync_glue_tags(&self.0, "database", name, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, name: &str, _p: &Props) -> Result<()> {
        match send!(self.0.glue.delete_database().name(name)) {
            Err(e) if e.is_not_found() => Ok(()),
            r => r.map(|_| ()),
        }
    }
}

// --- crawler --------------------------------------------------------------

pub static CRAWLER: Schema = Schema::new("aws.glue.crawler", "A Glue crawler that catalogs data in S3 as tables.")
    .properties(rows! {
        Prop::new("name", Type::String, "The crawler name; derived from the stack and id when omitted.").replace(),
        Prop::new("role", Type::String, "The IAM role (ARN) the crawler reads S3 and writes the catalog with.").required(),
        Prop::new("database_name", Type::String, "The database its tables are written to.").required(),
        Prop::new("s3_paths", Type::List(&Type::String), "The S3 paths crawled, e.g. `s3://bucket/data/`.").required(),
        Prop::new("table_prefix", Type::String, "A prefix for the tables it makes."),
        Prop::new("schedule", Type::String, "A cron schedule, e.g. `cron(0 2 * * ? *)`; omitted: run on demand."),
        Prop::new("description", Type::String, "What it crawls."),
    })
    .attributes(rows! {
        Attr::new("name", Type::String, "Its name."),
        Attr::new("arn", Type::String, "Its ARN."),
    })
    .notes("A crawler that is running is stopped before it is deleted (AWS refuses to delete it otherwise).")
    .cost(crawler_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "crawler names are unique in a region"));

kind! { Crawler, CRAWLER }

impl Crawler {
    async fn get(&self, name: &str) -> Result<Option<aws_sdk_glue::types::Crawler>> {
        Ok(send!(self.0.glue.get_crawler().name(name)).found()?.and_then(|r| r.crawler().cloned()))
    }
}

fn targets(p: &Props) -> CrawlerTargets {
    let s3: Vec<S3Target> = list(p, "s3_paths")
        .into_iter()
        .map(|path| S3Target::builder().path(path).build())
        .collect();
    CrawlerTargets::builder().set_s3_targets(Some(s3)).build()
}

#[async_trait]
impl ResourceKind for Crawler {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let all: Vec<aws_sdk_glue::types::Crawler> = pages!(self.0.glue.get_crawlers(), crawlers);
        let mut out = Vec::new();
        for name in candidates(q, &ctx.stack, all.iter().filter_map(|c| c.name())) {
            let Some(c) = all.iter().find(|c| c.name() == Some(name.as_str())) else { continue };
            let Some((user, logical)) = owned(&self.0, ctx, q, "crawler", &name).await? else {
                continue;
            };
            let paths: Vec<&str> = c
                .targets()
                .map(|t| t.s3_targets().iter().filter_map(|s| s.path()).collect())
                .unwrap_or_default();
            let p = props([
                ("name", json!(name)),
                ("role", json!(c.role())),
                ("database_name", json!(c.database_name())),
                ("s3_paths", json!(paths)),
                ("table_prefix", json!(c.table_prefix().filter(|p| !p.is_empty()))),
                ("schedule", json!(c.schedule().and_then(Schedule::schedule_expression))),
                ("description", json!(c.description())),
                ("tags", user),
            ]);
            let a = name_attrs(&self.0, "crawler", &name).await?;
            out.push(Observed::new(name.clone(), logical, p).with(a));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name = s(p, "name").unwrap_or_else(|| glue_name(&ctx.stack, &req.logical_id));
        let a = name_attrs(&self.0, "crawler", &name).await?;
        if self.get(&name).await?.is_some() {
            adopt(&self.0, ctx, "crawler", &name, &req.logical_id).await?;
            return Ok(Created::new(name).with(a));
        }
        send!(
            self.0
                .glue
                .create_crawler()
                .name(&name)
                .set_role(s(p, "role"))
                .set_database_name(s(p, "database_name"))
                .targets(targets(p))
                .set_table_prefix(s(p, "table_prefix"))
                .set_schedule(s(p, "schedule"))
                .set_description(s(p, "description"))
                .set_tags(Some(tag_map(ctx, &req.logical_id, p)))
        )?;
        Ok(Created::new(name).with(a))
    }

    async fn update(&self, _ctx: &Context, name: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let fields =
            ["role", "database_name", "s3_paths", "table_prefix", "schedule", "description"];
        if fields.iter().any(|k| old.get(*k) != new.get(*k)) {
            // An empty string clears a schedule or prefix: UpdateCrawler
            // leaves a field it is not sent as it was.
            send!(
                self.0
                    .glue
                    .update_crawler()
                    .name(name)
                    .set_role(s(new, "role"))
                    .set_database_name(s(new, "database_name"))
                    .targets(targets(new))
                    .table_prefix(s(new, "table_prefix").unwrap_or_default())
                    .schedule(s(new, "schedule").unwrap_or_default())
                    .description(s(new, "description").unwrap_or_default())
            )?;
        }
        sync_glue_tags(&self.0, "crawler", name, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, name: &str, _p: &Props) -> Result<()> {
        let Some(c) = self.get(name).await? else { return Ok(()) };
        if c.state() == Some(&CrawlerState::Running) {
            match send!(self.0.glue.stop_crawler().name(name)) {
                // Finished between the read and the stop.
                Err(e) if e.code.as_deref() == Some("CrawlerNotRunningException") => {}
                r => {
                    r?;
                }
            }
        }
        match send!(self.0.glue.delete_crawler().name(name)) {
            Err(e) if e.is_not_found() => Ok(()),
            // Stopping takes a moment (the crawl in flight ends first).
            Err(e)
                if matches!(
                    e.code.as_deref(),
                    Some(
                        "CrawlerRunningException"
                            | "CrawlerStoppingException"
                            | "SchedulerTransitioningException"
                    )
                ) =>
            {
                Err(e.retry_within(Duration::from_secs(15 * 60)))
            }
            r => r.map(|_| ()),
        }
    }
}

/// A crawler bills DPU-hours while it runs.
fn crawler_cost(c: &CostInput) -> Cost {
    Ok(Estimate::free().usage("Glue crawler runs", c.price("glue_dpu_hour")?, "DPU-hour"))
}

// --- job --------------------------------------------------------------------

pub static JOB: Schema = Schema::new("aws.glue.job", "A Glue Spark (glueetl) job running a script from S3.")
    .properties(rows! {
        Prop::new("name", Type::String, "The job name; derived from the stack and id when omitted.").replace(),
        Prop::new("role", Type::String, "The IAM role (ARN) the job runs as.").required(),
        Prop::new("script_location", Type::String, "The script, `s3://bucket/key.py`.").required(),
        Prop::new("glue_version", Type::String, "The Glue version (4.0 or later: Spark 3.3, Python 3).").default(Default::Str("4.0")),
        Prop::new("worker_type", Type::Enum(WORKER_TYPES), "The worker type.").default(Default::Str("G.1X")),
        Prop::new("number_of_workers", Type::Int, "How many workers a run uses (2 or more).").at_least(2).default(Default::Int(2)),
        Prop::new("timeout_minutes", Type::Int, "A run is stopped after this long.").at_least(1).default(Default::Int(60)),
        Prop::new("max_retries", Type::Int, "Retries of a failed run.").at_least(0).default(Default::Int(0)),
        Prop::new("default_arguments", Type::StringMap, "Arguments every run gets, e.g. `--TempDir`."),
        Prop::new("description", Type::String, "What it does."),
    })
    .attributes(rows! {
        Attr::new("name", Type::String, "Its name."),
        Attr::new("arn", Type::String, "Its ARN."),
    })
    .notes("A `glueetl` job with Python 3. Runs are started by you (`aws glue start-job-run`); each bills DPU-hours for its workers.")
    .cost(job_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "job names are unique in a region"));

kind! { Job, JOB }

impl Job {
    async fn get(&self, name: &str) -> Result<Option<aws_sdk_glue::types::Job>> {
        Ok(send!(self.0.glue.get_job().job_name(name)).found()?.and_then(|r| r.job().cloned()))
    }
}

fn command(p: &Props) -> JobCommand {
    JobCommand::builder()
        .name("glueetl")
        .set_script_location(s(p, "script_location"))
        .python_version("3")
        .build()
}

fn arguments(p: &Props) -> Option<HashMap<String, String>> {
    let args: HashMap<String, String> = string_map(p, "default_arguments");
    (!args.is_empty()).then_some(args)
}

#[async_trait]
impl ResourceKind for Job {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let all: Vec<aws_sdk_glue::types::Job> = pages!(self.0.glue.get_jobs(), jobs);
        let mut out = Vec::new();
        for name in candidates(q, &ctx.stack, all.iter().filter_map(|j| j.name())) {
            let Some(j) = all.iter().find(|j| j.name() == Some(name.as_str())) else { continue };
            let Some((user, logical)) = owned(&self.0, ctx, q, "job", &name).await? else {
                continue;
            };
            let args: serde_json::Map<String, Value> = j
                .default_arguments()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
                .unwrap_or_default();
            let p = props([
                ("name", json!(name)),
                ("role", json!(j.role())),
                ("script_location", json!(j.command().and_then(|c| c.script_location()))),
                ("glue_version", json!(j.glue_version())),
                ("worker_type", json!(j.worker_type().map(|w| w.as_str()))),
                ("number_of_workers", json!(j.number_of_workers())),
                // moto leaves out what it was not sent: AWS's defaults.
                ("timeout_minutes", json!(j.timeout().unwrap_or(2880))),
                ("max_retries", json!(j.max_retries())),
                (
                    "default_arguments",
                    if args.is_empty() { Value::Null } else { Value::Object(args) },
                ),
                ("description", json!(j.description().filter(|d| !d.is_empty()))),
                ("tags", user),
            ]);
            let a = name_attrs(&self.0, "job", &name).await?;
            out.push(Observed::new(name.clone(), logical, p).with(a));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name = s(p, "name").unwrap_or_else(|| glue_name(&ctx.stack, &req.logical_id));
        let a = name_attrs(&self.0, "job", &name).await?;
        // moto overwrites a job of the same name: look first.
        if self.get(&name).await?.is_some() {
            adopt(&self.0, ctx, "job", &name, &req.logical_id).await?;
            return Ok(Created::new(name).with(a));
        }
        send!(
            self.0
                .glue
                .create_job()
                .name(&name)
                .set_role(s(p, "role"))
                .command(command(p))
                .set_glue_version(s(p, "glue_version"))
                .set_worker_type(s(p, "worker_type").map(|w| WorkerType::from(w.as_str())))
                .set_number_of_workers(i(p, "number_of_workers"))
                .set_timeout(i(p, "timeout_minutes"))
                .set_max_retries(i(p, "max_retries"))
                .set_default_arguments(arguments(p))
                .set_description(s(p, "description"))
                .set_tags(Some(tag_map(ctx, &req.logical_id, p)))
        )?;
        Ok(Created::new(name).with(a))
    }

    async fn update(&self, _ctx: &Context, name: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let fields = [
            "role",
            "script_location",
            "glue_version",
            "worker_type",
            "number_of_workers",
            "timeout_minutes",
            "max_retries",
            "default_arguments",
            "description",
        ];
        if fields.iter().any(|k| old.get(*k) != new.get(*k)) {
            // UpdateJob replaces the whole definition: every field is sent.
            let update = JobUpdate::builder()
                .set_role(s(new, "role"))
                .command(command(new))
                .set_glue_version(s(new, "glue_version"))
                .set_worker_type(s(new, "worker_type").map(|w| WorkerType::from(w.as_str())))
                .set_number_of_workers(i(new, "number_of_workers"))
                .set_timeout(i(new, "timeout_minutes"))
                .set_max_retries(i(new, "max_retries"))
                .set_default_arguments(arguments(new))
                .set_description(s(new, "description"))
                .build();
            send!(self.0.glue.update_job().job_name(name).job_update(update))?;
        }
        sync_glue_tags(&self.0, "job", name, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, name: &str, _p: &Props) -> Result<()> {
        send!(self.0.glue.delete_job().job_name(name))?;
        Ok(())
    }

    async fn poll_deleted(&self, _ctx: &Context, name: &str) -> Result<bool> {
        Ok(self.get(name).await?.is_none())
    }
}

/// A job bills DPU-hours while it runs: a G.1X worker is 1 DPU.
fn job_cost(c: &CostInput) -> Cost {
    Ok(Estimate::free().usage("Glue job runs", c.price("glue_dpu_hour")?, "DPU-hour"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_are_lower_case_with_underscores() {
        assert_eq!(glue_name("Demo-1", "players_crawler"), "demo_1_players_crawler");
        assert!(glue_name("demo", "x").starts_with(&prefix("demo")));
    }
}
