//! What a run prints at its end: the outputs after a successful apply,
//! the summary, the call statistics; and its exit status.

use super::ExitStatus;
use crate::engine::Report;
use crate::ops::apply::Outcome;
use crate::output::Printer;
use crate::output::events::JsonEvent;
use crate::session::Session;

/// Prints what a run did (outputs after a successful apply, then the
/// summary) and returns its exit status.
pub(crate) fn report_run(
    session: &Session,
    report: &Report,
    outcome: Outcome,
    printer: &Printer,
) -> ExitStatus {
    let destroy = session.mode().is_destroy();
    let status = match outcome {
        Outcome::Done => ExitStatus::Success,
        Outcome::Interrupted => ExitStatus::Interrupted,
        Outcome::Failed => ExitStatus::Failure,
    };
    if status == ExitStatus::Success && !destroy {
        print_outputs(session, printer);
    }
    if printer.json {
        JsonEvent::Summary {
            ok: report.ok(),
            done: report.done(),
            failed: report.failed(),
            skipped: report.skipped(),
            interrupted: report.interrupted,
            state_serial: session.state().serial,
        }
        .emit();
    } else {
        let verb = if destroy { "Destroy" } else { "Apply" };
        let summary = report.summary();
        printer.status(&match status {
            ExitStatus::Success => format!("{verb} complete: {summary}."),
            ExitStatus::Interrupted => format!(
                "{verb} interrupted: {summary}. State is saved; run the command again to continue."
            ),
            _ => format!(
                "{verb} failed: {summary}. State is saved; fix the error and run the command again to continue."
            ),
        });
    }
    finish(session, status, printer)
}

/// The blueprint's outputs: `Outputs:` lines, or an `outputs` event with
/// `--json`. Sensitive values are never shown.
pub(crate) fn print_outputs(session: &Session, printer: &Printer) {
    let outputs = session.outputs();
    if outputs.is_empty() {
        return;
    }
    let shown: Vec<(String, serde_json::Value)> = outputs
        .iter()
        .map(|(k, v, s)| (k.clone(), crate::output::shown_output(v.as_ref(), *s)))
        .collect();
    if printer.json {
        JsonEvent::Outputs { outputs: shown.into_iter().collect() }.emit();
        return;
    }
    let text = format!("\nOutputs:\n{}", crate::output::outputs_text(&shown, "  "));
    printer.out(&text);
}

/// Prints call statistics and persists a test cloud.
pub(crate) fn finish(session: &Session, status: ExitStatus, printer: &Printer) -> ExitStatus {
    printer.api_stats(session.cloud().stats());
    if let Err(e) = session.cloud().finish() {
        printer.error(&e);
        return ExitStatus::Failure;
    }
    status
}
