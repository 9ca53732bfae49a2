//! `archkit destroy`: delete every resource of a stack, dependents first,
//! leaving nothing that costs money and an empty state.

use clap::Args;

use super::deploy::{ApplyArgs, Opening, StackArgs, open, open_discovery};
use super::stack_args::flags;
use super::{ExitStatus, GlobalArgs};
use crate::output::Printer;
use crate::settings::{Expiry, Mode, Teardown};

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
    /// Delete every object version in the stack's buckets with them
    /// (without it, a bucket holding data stops the destroy, untouched)
    #[arg(long)]
    pub force_empty: bool,
    #[command(flatten)]
    pub apply: ApplyArgs,
    #[command(flatten)]
    pub stack: StackArgs,
}

pub fn run(args: &DestroyArgs, g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    let rt = super::deploy::runtime();
    let teardown = Teardown { discover: args.discover, force_empty: args.force_empty };
    let how = || Opening {
        owner: "archkit destroy",
        mode: Mode::Destroy(teardown),
        parallelism: args.apply.parallelism,
        expiry: Expiry::Keep,
    };
    let opened = match (&args.blueprint, &g.stack) {
        (Some(bp), _) => open(&rt, bp, g, &args.stack, how(), printer),
        (None, Some(stack)) => open_discovery(&rt, stack, flags(g, &args.stack), how(), printer),
        (None, None) => {
            printer.error(&super::CliError::new(
                "archkit::cli::discover_needs_stack",
                "`destroy --discover` without a blueprint needs the stack's name",
                Some("pass --stack NAME (or a blueprint, whose name is the default stack)".into()),
            ));
            return ExitStatus::Failure;
        }
    };
    let Some(session) = opened else {
        return ExitStatus::Failure;
    };
    super::deploy::run_changes(&rt, session, None, &args.apply, printer)
}
