//! The run `plan`, `apply` and `destroy` share: plan, show, ask, apply,
//! report.

use std::sync::Arc;

use super::ExitStatus;
pub(crate) use super::open::{Opening, open, open_discovery, runtime};
pub(crate) use super::report::finish;
use super::report::{print_outputs, report_run};
pub use super::stack_args::{ApplyArgs, StackArgs, TtlArgs};
pub(crate) use super::stack_args::{settings, store_settings};
use super::terminal::{confirm, interruptible, on_interrupt};
use crate::engine::Cancel;
use crate::ops;
use crate::output::Printer;
use crate::output::events::JsonEvent;
use crate::plan::render;
use crate::plan::saved::SavedPlan;
use crate::session::Session;

/// Plans, confirms and applies (a destroy session: the removal of
/// everything), printing the plan, progress, outputs and summary. `saved`
/// is a plan file being applied: the fresh plan must match it.
pub(crate) fn run_changes(
    rt: &tokio::runtime::Runtime,
    mut session: Session,
    saved: Option<&SavedPlan>,
    args: &ApplyArgs,
    printer: &Printer,
) -> ExitStatus {
    let destroy = session.mode().is_destroy();
    let planned = match make_plan(rt, &session, saved, printer) {
        Ok(p) => p,
        Err(status) => return status,
    };
    print_plan(&planned, destroy, printer);
    if !planned.needs_apply {
        if !destroy {
            print_outputs(&session, printer);
        }
        return finish(&session, ExitStatus::Success, printer);
    }
    if planned.asks && !args.auto_approve {
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
    let result = rt.block_on(async {
        on_interrupt(cancel.clone(), *printer);
        ops::apply::apply(&mut session, planned.plan, events, args.parallelism as usize, cancel)
            .await
    });
    match result {
        Ok((report, outcome)) => report_run(&session, &report, outcome, printer),
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
    saved: Option<&SavedPlan>,
    printer: &Printer,
) -> Result<ops::apply::Planned, ExitStatus> {
    match rt.block_on(interruptible(ops::apply::plan(session, saved))) {
        None => {
            printer.status("interrupted: nothing was changed");
            Err(ExitStatus::Interrupted)
        }
        Some(Ok(p)) => Ok(p),
        Some(Err(e)) => {
            printer.error(&e);
            if matches!(e, ops::apply::PlanError::Session(_)) {
                printer.api_stats(session.cloud().stats());
            }
            Err(ExitStatus::Failure)
        }
    }
}

/// The plan and, when it changes anything, its cost: text, or a `plan`
/// event with `--json`.
fn print_plan(planned: &ops::apply::Planned, destroy: bool, printer: &Printer) {
    let (plan, cost) = (&planned.plan, &planned.cost);
    if printer.json {
        let plan = render::PlanJson { cost: Some(cost.clone()), ..render::json(plan) };
        JsonEvent::Plan { plan: &plan }.emit();
    } else {
        printer.out(&render::human(plan));
        if plan.has_changes() {
            let view = if destroy { render::CostView::Destroy } else { render::CostView::Changes };
            printer.out(&render::cost(cost, view));
        }
    }
}
