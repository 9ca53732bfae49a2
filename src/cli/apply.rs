//! `archkit apply`: plan, confirm, and apply (or apply a saved plan).

use std::path::Path;

use clap::Args;

use super::deploy::{ApplyArgs, StackArgs, TtlArgs, open, run_changes, runtime};
use super::{ExitStatus, GlobalArgs};
use crate::blueprint::params::Require;
use crate::output::Printer;
use crate::plan::saved::SavedPlan;

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
    // (which, like `destroy`, needs no parameter values).
    let destroy = saved.as_ref().is_some_and(|s| s.plan.destroy);
    let require = if destroy { Require::Given } else { Require::All };
    let rt = runtime();
    let Some(mut session) =
        open(&rt, &blueprint, g, &args.stack, "archkit apply", require, printer)
    else {
        return ExitStatus::Failure;
    };
    // A saved plan keeps the expiry it was planned with.
    match &saved {
        Some(s) => session.expires_at = s.plan.expires_at.clone(),
        None => args.ttl.apply_to(&mut session),
    }
    run_changes(&rt, session, destroy, saved.map(|s| (s, blueprint)), &args.apply, printer)
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
