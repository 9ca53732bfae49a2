//! `archkit state list` and `archkit state show`: a stack's records as a
//! table, or one record whole, for people or as JSON.

use super::ExitStatus;
use crate::ops::state_edit;
use crate::output::Printer;
use crate::state::State;

/// A subcommand's exit status, `Err` once it has failed and said why.
pub(super) type Outcome = Result<ExitStatus, ExitStatus>;

/// Prints `e` and fails.
pub(super) fn fail(printer: &Printer, e: &dyn miette::Diagnostic) -> ExitStatus {
    printer.error(e);
    ExitStatus::Failure
}

pub(super) fn list(state: &State, printer: &Printer) -> Outcome {
    if printer.json {
        printer.json_out(state);
        return Ok(ExitStatus::Success);
    }
    let mut text = String::new();
    for (id, r) in &state.resources {
        let status = match r.status {
            crate::state::Status::Ready => "",
            crate::state::Status::Tainted => "  (tainted)",
            crate::state::Status::Creating => "  (not ready yet)",
        };
        text.push_str(&format!("{id}  {}  {}{status}\n", r.kind, r.physical_id));
    }
    for p in state.pending.values() {
        text.push_str(&format!("{}  {}  pending {:?} since {}\n", p.id, p.kind, p.op, p.started));
    }
    printer.out(&text);
    Ok(ExitStatus::Success)
}

pub(super) fn show(state: &State, id: &str, printer: &Printer) -> Outcome {
    let Some(r) = state.resources.get(id) else {
        return Err(fail(printer, &state_edit::unknown_id(state, id)));
    };
    if printer.json {
        printer.json_out(r);
        return Ok(ExitStatus::Success);
    }
    let status = serde_json::to_value(r.status).expect("status serialises");
    let mut text = format!(
        "{id}\n  kind: {}\n  physical id: {}\n  status: {}\n",
        r.kind,
        r.physical_id,
        status.as_str().unwrap_or_default()
    );
    if !r.depends_on.is_empty() {
        text.push_str(&format!("  depends on: {}\n", r.depends_on.join(", ")));
    }
    // Secrets are recorded only as digests, so printing a record prints
    // no secret.
    let mut section = |title: &str, values: Vec<(&String, &serde_json::Value)>| {
        if values.is_empty() {
            return;
        }
        text.push_str(&format!("  {title}:\n"));
        for (k, v) in values {
            text.push_str(&format!("    {k} = {}\n", serde_json::to_string(v).unwrap()));
        }
    };
    section("properties", r.properties.iter().collect());
    section("attributes", r.attributes.iter().collect());
    printer.out(&text);
    Ok(ExitStatus::Success)
}
