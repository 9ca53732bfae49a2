//! `archkit output [NAME]`: the stack's outputs as of its last apply, read
//! from state alone (no blueprint, no AWS call), for scripts.

use clap::Args;

use super::{CliError, ExitStatus, GlobalArgs};
use crate::output::Printer;

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// One output: its value alone (a string printed raw, for `$(...)`)
    pub name: Option<String>,
}

pub fn run(args: &OutputArgs, g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    let Some(store) = super::state::store(g, printer) else {
        return ExitStatus::Failure;
    };
    let state = match store.load() {
        Ok(Some(s)) => s,
        Ok(None) => {
            printer.error(&CliError::new(
                "archkit::output::no_state",
                format!("no state at {}", store.location()),
                Some("apply the stack first, or pass --stack NAME / --state PATH".into()),
            ));
            return ExitStatus::Failure;
        }
        Err(e) => {
            printer.error(&e);
            return ExitStatus::Failure;
        }
    };
    if let Some(name) = &args.name {
        return one(&state, name, printer);
    }
    let shown: Vec<(String, serde_json::Value)> = state
        .outputs
        .iter()
        .map(|(k, o)| (k.clone(), crate::output::shown_output(Some(&o.value), o.sensitive)))
        .collect();
    if printer.json {
        printer.json_out(&shown.into_iter().collect::<serde_json::Map<_, _>>());
        return ExitStatus::Success;
    }
    let text = crate::output::outputs_text(&shown, "");
    printer.out(&text);
    ExitStatus::Success
}

/// Output `name` alone: a string raw, for `$(...)`.
fn one(state: &crate::state::State, name: &str, printer: &Printer) -> ExitStatus {
    let Some(o) = state.outputs.get(name) else {
        let names: Vec<&str> = state.outputs.keys().map(String::as_str).collect();
        printer.error(&CliError::new(
            "archkit::output::unknown",
            format!("stack `{}` has no output `{name}`", state.stack),
            Some(if names.is_empty() {
                "it has none recorded: apply it first".into()
            } else {
                format!("its outputs: {}", names.join(", "))
            }),
        ));
        return ExitStatus::Failure;
    };
    // A secret is never printed, even alone: exit 1 says so.
    if o.sensitive {
        printer.error(&CliError::new(
            "archkit::output::sensitive",
            format!("output `{name}` is sensitive and is not recorded"),
            None,
        ));
        return ExitStatus::Failure;
    }
    match (&o.value, printer.json) {
        (v, true) => printer.json_out(v),
        (serde_json::Value::String(s), false) => printer.out(&format!("{s}\n")),
        (v, false) => printer.out(&format!("{v}\n")),
    }
    ExitStatus::Success
}
