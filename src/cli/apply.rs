//! `archkit apply`: plan, confirm, and apply (or apply a saved plan).

use std::path::Path;

use clap::Args;

use super::deploy::{ApplyArgs, Opening, StackArgs, TtlArgs, open, run_changes, runtime};
use super::{ExitStatus, GlobalArgs};
use crate::output::Printer;
use crate::plan::saved::SavedPlan;
use crate::settings::{Expiry, Mode, Teardown};

#[derive(Debug, Args)]
pub struct ApplyCmdArgs {
    /// A blueprint (directory, blueprint.yaml or built-in name), or a plan
    /// file saved by `archkit plan --out`
    pub blueprint: String,
    #[command(flatten)]
    pub apply: ApplyArgs,
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub ttl: TtlArgs,
}

pub fn run(args: &ApplyCmdArgs, g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    // A saved plan file names its blueprint.
    let saved = match read_saved(&args.blueprint) {
        Ok(s) => s,
        Err(e) => {
            printer.error(&e);
            return ExitStatus::Failure;
        }
    };
    let blueprint = saved.as_ref().map_or(args.blueprint.clone(), |s| s.blueprint_arg.clone());
    // ... and its stack, unless --stack says otherwise (then the plan is
    // refused as made for another stack).
    let mut g = g.clone();
    if let Some(s) = &saved
        && g.stack.is_none()
    {
        g.stack = Some(s.plan.stack.clone());
    }
    let g = &g;
    // A saved destroy plan is applied as the destroy it was planned as
    // (which, like `destroy`, needs no parameter values); a saved plan
    // keeps the expiry it was planned with.
    let mode = match &saved {
        Some(s) if s.plan.destroy => Mode::Destroy(Teardown::default()),
        _ => Mode::Apply,
    };
    let expiry = match &saved {
        Some(s) => s.plan.expires_at.clone().map_or(Expiry::Clear, Expiry::At),
        None => args.ttl.expiry(),
    };
    let how = Opening { owner: "archkit apply", mode, parallelism: args.apply.parallelism, expiry };
    let rt = runtime();
    let Some(session) = open(&rt, &blueprint, g, &args.stack, how, printer) else {
        return ExitStatus::Failure;
    };
    run_changes(&rt, session, saved.as_ref(), &args.apply, printer)
}

/// A saved plan when `arg` is a file holding one.
fn read_saved(arg: &str) -> Result<Option<SavedPlan>, crate::plan::saved::SavedPlanError> {
    let p = Path::new(arg);
    if !p.is_file() || p.file_name().is_some_and(|n| n == crate::blueprint::source::FILE_NAME) {
        return Ok(None);
    }
    // Named like one (`plan --out x.plan`), or holding one: a damaged
    // plan file is then reported as a plan file, not read as a blueprint.
    let looks_like_plan = p.extension().is_some_and(|e| e == "plan")
        || std::fs::read_to_string(p)
            .is_ok_and(|t| t.trim_start().starts_with('{') && t.contains("\"blueprint_digest\""));
    if looks_like_plan { SavedPlan::read(p).map(Some) } else { Ok(None) }
}
