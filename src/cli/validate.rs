//! `archkit validate`: check a blueprint (and any parameter values given)
//! without contacting AWS.

use clap::Args;
use serde::Serialize;

use super::{ExitStatus, GlobalArgs, load_blueprint, var_inputs};
use crate::blueprint::params::{self, Require};
use crate::output::Printer;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A blueprint directory, a blueprint.yaml, or a built-in name
    pub blueprint: String,
}

#[derive(Serialize)]
struct Valid<'a> {
    valid: bool,
    name: &'a str,
    resources: usize,
    parameters: usize,
    outputs: usize,
}

pub fn run(args: &ValidateArgs, g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    let Some(bp) = load_blueprint(&args.blueprint, printer) else {
        return ExitStatus::Failure;
    };
    let Some(inputs) = var_inputs(g, printer) else {
        return ExitStatus::Failure;
    };
    // Values are optional here; the ones given must be valid.
    let values = match params::resolve(&bp, &inputs, Require::Given, &mut |_| None) {
        Ok(v) => v,
        Err(d) => {
            printer.diagnostics(&d);
            return ExitStatus::Failure;
        }
    };
    // `when:` and conditionals must make sense for these values too, and
    // what the values make must be within AWS's limits.
    if let Err(d) = bp
        .clone()
        .select(|p| values.value(p))
        .and_then(|chosen| crate::blueprint::check::check_values(&chosen, &values))
    {
        printer.diagnostics(&d);
        return ExitStatus::Failure;
    }
    if printer.json {
        printer.json_out(&Valid {
            valid: true,
            name: &bp.name,
            resources: bp.resources.len(),
            parameters: bp.parameters.len(),
            outputs: bp.outputs.len(),
        });
    } else {
        printer.status(&format!(
            "{} is valid: {} resources, {} parameters, {} outputs",
            bp.file.name,
            bp.resources.len(),
            bp.parameters.len(),
            bp.outputs.len()
        ));
    }
    ExitStatus::Success
}
