//! `archkit apply`: plan, confirm, and apply (or apply a saved plan).

use std::path::Path;
use std::sync::Arc;

use clap::Args;

use super::deploy::{ApplyArgs, StackArgs, open, runtime};
use super::{ExitStatus, GlobalArgs};
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
    let blueprint = saved
        .as_ref()
        .map_or(args.blueprint.clone(), |s| s.blueprint_arg.clone());
    // ... and its stack, unless --stack says otherwise (then the plan is
    // refused as made for another stack).
    let mut g = g.clone();
    if let Some(s) = &saved
        && g.stack.is_none()
    {
        g.stack = Some(s.plan.stack.clone());
    }
    let g = &g;
    let rt = runtime();
    let Some(session) = open(
        &rt,
        &blueprint,
        g,
        &args.stack,
        "archkit apply",
        crate::blueprint::params::Require::All,
        printer,
    ) else {
        return ExitStatus::Failure;
    };
    run_session(
        &rt,
        session,
        false,
        saved.map(|s| (s, blueprint)),
        &args.apply,
        printer,
    )
}

/// A saved plan when `arg` is a file holding one.
fn read_saved(arg: &str) -> Result<Option<SavedPlan>, crate::plan::saved::SavedPlanError> {
    let p = Path::new(arg);
    if !p.is_file()
        || p.file_name()
            .is_some_and(|n| n == crate::blueprint::source::FILE_NAME)
    {
        return Ok(None);
    }
    let looks_like_plan = std::fs::read_to_string(p)
        .is_ok_and(|t| t.trim_start().starts_with('{') && t.contains("\"blueprint_digest\""));
    if looks_like_plan {
        SavedPlan::read(p).map(Some)
    } else {
        Ok(None)
    }
}

/// Plans, confirms and applies; shared with `destroy`.
pub(crate) fn run_session(
    rt: &tokio::runtime::Runtime,
    mut session: crate::session::Session,
    destroy: bool,
    saved: Option<(SavedPlan, String)>,
    args: &ApplyArgs,
    printer: &Printer,
) -> ExitStatus {
    use crate::engine::{Cancel, Options};
    use crate::plan::render;

    let plan = match rt.block_on(super::deploy::interruptible(session.plan(destroy))) {
        None => {
            printer.status("interrupted: nothing was changed");
            return ExitStatus::Interrupted;
        }
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            printer.error(&e);
            return ExitStatus::Failure;
        }
    };
    if let Some((saved, arg)) = &saved
        && let Err(e) = saved.check(&session.saved(&plan, arg))
    {
        printer.error(&e);
        return ExitStatus::Failure;
    }
    if printer.json {
        printer.out(&format!(
            "{}\n",
            serde_json::json!({"event": "plan", "plan": render::json(&plan)})
        ));
    } else {
        printer.out(&render::human(&plan));
    }
    let reconcile = !plan.forget.is_empty()
        || !session.state.pending.is_empty()
        || plan.changes.iter().any(|c| {
            c.physical_id.as_ref().is_some_and(|pid| {
                session
                    .state
                    .resources
                    .get(&c.id)
                    .is_none_or(|r| &r.physical_id != pid)
            })
        });
    if !plan.has_changes() && !reconcile {
        if !destroy {
            print_outputs(&session, printer);
        }
        return finish(&session, ExitStatus::Success, printer);
    }
    if plan.has_changes() && saved.is_none() && !args.auto_approve {
        let q = if destroy {
            "Destroy every resource of this stack?"
        } else {
            "Apply these changes?"
        };
        match super::deploy::confirm(q, rt, printer) {
            Ok(true) => {}
            Ok(false) => {
                printer.status("Nothing was changed.");
                return finish(&session, ExitStatus::Failure, printer);
            }
            Err(status) => return finish(&session, status, printer),
        }
    }
    let cancel = Cancel::new();
    let events: Arc<dyn crate::engine::Events> = Arc::from(crate::output::progress::for_output(
        printer.json,
        printer.quiet,
    ));
    let opts = Options {
        parallelism: args.parallelism as usize,
        ..Options::default()
    };
    let result = rt.block_on(async {
        super::deploy::on_interrupt(cancel.clone(), *printer);
        session.apply(&plan, events, opts, cancel.clone()).await
    });
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            printer.error(&e);
            return finish(&session, ExitStatus::Failure, printer);
        }
    };
    let summary = format!(
        "{} operations done, {} failed, {} skipped{}",
        report.done(),
        report.failed(),
        report.skipped(),
        if report.interrupted {
            ", interrupted"
        } else {
            ""
        }
    );
    let status = if report.interrupted {
        ExitStatus::Interrupted
    } else if report.ok() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    if status == ExitStatus::Success && !destroy {
        print_outputs(&session, printer);
    }
    if printer.json {
        printer.out(&format!(
            "{}\n",
            serde_json::json!({
                "event": "summary", "ok": report.ok(), "done": report.done(),
                "failed": report.failed(), "skipped": report.skipped(),
                "interrupted": report.interrupted, "state_serial": session.state.serial,
            })
        ));
    } else {
        let verb = if destroy { "Destroy" } else { "Apply" };
        match status {
            ExitStatus::Success => printer.status(&format!("{verb} complete: {summary}.")),
            ExitStatus::Interrupted => printer.status(&format!(
                "{verb} interrupted: {summary}. State is saved; run the command again to continue."
            )),
            _ => printer.status(&format!(
                "{verb} failed: {summary}. State is saved; fix the error and run the command again to continue."
            )),
        }
    }
    finish(&session, status, printer)
}

/// The blueprint's outputs: `Outputs:` lines, or an `outputs` event with
/// `--json`. Sensitive values are never shown.
fn print_outputs(session: &crate::session::Session, printer: &Printer) {
    let outputs = session.outputs();
    if outputs.is_empty() {
        return;
    }
    let shown = |v: &Option<serde_json::Value>, sensitive: bool| match (v, sensitive) {
        (_, true) => serde_json::Value::String("(sensitive)".into()),
        (Some(v), false) => v.clone(),
        (None, false) => serde_json::Value::Null,
    };
    if printer.json {
        let map: serde_json::Map<String, serde_json::Value> = outputs
            .iter()
            .map(|(k, v, s)| (k.clone(), shown(v, *s)))
            .collect();
        printer.out(&format!(
            "{}\n",
            serde_json::json!({"event": "outputs", "outputs": map})
        ));
    } else {
        let width = outputs.iter().map(|o| o.0.len()).max().unwrap_or(0);
        let mut text = String::from("\nOutputs:\n");
        for (k, v, s) in &outputs {
            let v = match shown(v, *s) {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => "(not known)".into(),
                other => other.to_string(),
            };
            text.push_str(&format!("  {k:width$} = {v}\n"));
        }
        printer.out(&text);
    }
}

fn finish(session: &crate::session::Session, status: ExitStatus, printer: &Printer) -> ExitStatus {
    printer.api_stats(session.backend.stats());
    if let Err(e) = session.backend.finish() {
        printer.error(&e);
        return ExitStatus::Failure;
    }
    status
}
