//! The run `plan`, `apply` and `destroy` share: plan, show, ask, apply,
//! report.

use std::sync::Arc;

use super::ExitStatus;
pub(crate) use super::open::{open, open_discovery, runtime};
pub(crate) use super::report::finish;
use super::report::{print_outputs, report_run};
pub use super::stack_args::{ApplyArgs, StackArgs, TtlArgs};
pub(crate) use super::stack_args::{settings, store_settings};
use super::terminal::{confirm, interruptible, on_interrupt};
use crate::engine::Cancel;
use crate::output::Printer;
use crate::output::events::JsonEvent;
use crate::plan::render;
use crate::plan::saved::SavedPlan;
use crate::session::Session;

/// Plans, confirms and applies (`destroy`: the removal of everything),
/// printing the plan, progress, outputs and summary. `saved` is a plan
/// file being applied: the fresh plan must match it.
pub(crate) fn run_changes(
    rt: &tokio::runtime::Runtime,
    mut session: Session,
    destroy: bool,
    saved: Option<(SavedPlan, String)>,
    args: &ApplyArgs,
    printer: &Printer,
) -> ExitStatus {
    session.read_parallelism = args.parallelism as usize;
    let plan = match make_plan(rt, &session, destroy, printer) {
        Ok(p) => p,
        Err(status) => return status,
    };
    if let Some((saved, _)) = &saved
        && let Err(e) = saved.check(&session.saved_again(&plan, saved))
    {
        printer.error(&e);
        return ExitStatus::Failure;
    }
    print_plan(&session, &plan, destroy, printer);
    if !session.needs_apply(&plan) {
        if !destroy {
            print_outputs(&session, printer);
        }
        return finish(&session, ExitStatus::Success, printer);
    }
    if plan.has_changes() && saved.is_none() && !args.auto_approve {
        let q =
            if destroy { "Destroy every resource of this stack?" } else { "Apply these changes?" };
        match confirm(q, rt, printer) {
            Ok(true) => {}
            Ok(false) => {
                printer.status("Nothing was changed.");
                return finish(&session, ExitStatus::Failure, printer);
            }
            Err(status) => return finish(&session, status, printer),
        }
    }
    let cancel = Cancel::new();
    let events: Arc<dyn crate::engine::Events> =
        Arc::from(crate::output::progress::for_output(printer.json, printer.quiet));
    let opts = crate::engine::Options {
        parallelism: args.parallelism as usize,
        ..crate::engine::Options::default()
    };
    let result = rt.block_on(async {
        on_interrupt(cancel.clone(), *printer);
        session.apply(plan, events, opts, cancel.clone()).await
    });
    match result {
        Ok(report) => report_run(&session, &report, destroy, printer),
        Err(e) => {
            printer.error(&e);
            finish(&session, ExitStatus::Failure, printer)
        }
    }
}

/// Refreshes and plans; Ctrl-C abandons the reads (nothing changed yet).
/// A failure is printed, with the calls made when `--stats` asks.
pub(crate) fn make_plan(
    rt: &tokio::runtime::Runtime,
    session: &Session,
    destroy: bool,
    printer: &Printer,
) -> Result<crate::plan::Plan, ExitStatus> {
    match rt.block_on(interruptible(session.plan(destroy))) {
        None => {
            printer.status("interrupted: nothing was changed");
            Err(ExitStatus::Interrupted)
        }
        Some(Ok(p)) => Ok(p),
        Some(Err(e)) => {
            printer.error(&e);
            printer.api_stats(session.cloud.stats());
            Err(ExitStatus::Failure)
        }
    }
}

/// The plan and, when it changes anything, its cost: text, or a `plan`
/// event with `--json`.
fn print_plan(session: &Session, plan: &crate::plan::Plan, destroy: bool, printer: &Printer) {
    let cost = session.cost(plan);
    if printer.json {
        JsonEvent::Plan { plan: &render::PlanJson { cost: Some(cost), ..render::json(plan) } }
            .emit();
    } else {
        printer.out(&render::human(plan));
        if plan.has_changes() {
            let view = if destroy { render::CostView::Destroy } else { render::CostView::Changes };
            printer.out(&render::cost(&cost, view));
        }
    }
}
