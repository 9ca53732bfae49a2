//! `archkit destroy`: delete every resource of a stack, dependents first,
//! leaving nothing that costs money and an empty state.

use clap::Args;

use super::deploy::{ApplyArgs, StackArgs, open};
use super::{ExitStatus, GlobalArgs};
use crate::output::Printer;

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// A blueprint directory, a blueprint.yaml, or a built-in name
    pub blueprint: String,
    #[command(flatten)]
    pub apply: ApplyArgs,
    #[command(flatten)]
    pub stack: StackArgs,
}

pub fn run(args: &DestroyArgs, g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    let rt = super::deploy::runtime();
    let Some(session) = open(
        &rt,
        &args.blueprint,
        g,
        &args.stack,
        "archkit destroy",
        crate::blueprint::params::Require::Given,
        printer,
    ) else {
        return ExitStatus::Failure;
    };
    super::deploy::run_changes(&rt, session, true, None, &args.apply, printer)
}
