//! `archkit destroy`: delete every resource of a stack, dependents first,
//! leaving nothing that costs money and an empty state.

use clap::Args;

use super::deploy::{ApplyArgs, StackArgs, open_located};
use super::{ExitStatus, GlobalArgs};
use crate::output::Printer;

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// A blueprint directory, a blueprint.yaml, or a built-in name (optional
    /// with --discover)
    #[arg(required_unless_present = "discover")]
    pub blueprint: Option<String>,
    /// Also find every resource tagged with the stack in the region, kind by
    /// kind, so a stack whose state file is lost (or partial) is destroyed
    /// whole; needs --stack when no blueprint is given
    #[arg(long)]
    pub discover: bool,
    #[command(flatten)]
    pub apply: ApplyArgs,
    #[command(flatten)]
    pub stack: StackArgs,
}

pub fn run(args: &DestroyArgs, g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    let rt = super::deploy::runtime();
    let located = match (&args.blueprint, &g.stack) {
        (Some(bp), _) => match crate::blueprint::source::locate(bp) {
            Ok(l) => l,
            Err(e) => {
                printer.error(&e);
                return ExitStatus::Failure;
            }
        },
        (None, Some(stack)) => crate::blueprint::source::discovered(stack),
        (None, None) => {
            printer.error(&super::CliError::new(
                "archkit::cli::discover_needs_stack",
                "`destroy --discover` without a blueprint needs the stack's name",
                Some("pass --stack NAME (or a blueprint, whose name is the default stack)".into()),
            ));
            return ExitStatus::Failure;
        }
    };
    let Some(mut session) = open_located(
        &rt,
        &located,
        g,
        &args.stack,
        "archkit destroy",
        crate::blueprint::params::Require::Given,
        printer,
    ) else {
        return ExitStatus::Failure;
    };
    session.discover = args.discover;
    super::deploy::run_changes(&rt, session, true, None, &args.apply, printer)
}
