//! The command line: clap definitions (doc comments become `--help`) and
//! one file per subcommand that turns arguments into a call to the library
//! and an exit status.

mod apply;
mod args;
mod blueprints;
mod completions;
mod deploy;
mod destroy;
mod graph;
mod init;
mod inputs;
mod open;
mod output;
mod plan;
mod report;
mod stack_args;
mod stacks;
mod state;
mod state_args;
mod state_view;
mod sweep;
mod terminal;
mod validate;

use std::process::ExitCode;

use crate::output::Printer;
pub use args::{Cli, Command, GlobalArgs, GraphFormat};
pub use inputs::{CliError, prompt_secret};
pub(crate) use inputs::{load_blueprint, var_inputs};

/// Exit statuses: part of the user-facing contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: success, or no changes.
    Success,
    /// 1: an error.
    Failure,
    /// 2: changes are present (with `--detailed-exitcode`).
    Changes,
    /// 130: interrupted by Ctrl-C or SIGTERM.
    Interrupted,
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> ExitCode {
        ExitCode::from(match s {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Changes => 2,
            ExitStatus::Interrupted => 130,
        })
    }
}

/// Parses the command line, noting whether `--stack` came from
/// `ARCHKIT_STACK` rather than the command line (`sweep` looks at every
/// stack unless told otherwise on its own command line).
fn parse() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches, parser::ValueSource};
    let m = Cli::command().try_get_matches()?;
    let mut cli = Cli::from_arg_matches(&m)?;
    // A global option given after the subcommand is recorded there.
    let source = m
        .subcommand()
        .and_then(|(_, sub)| sub.value_source("stack"))
        .or_else(|| m.value_source("stack"));
    cli.global.stack_from_env = source == Some(ValueSource::EnvVariable);
    Ok(cli)
}

/// A usage error as archkit's JSON error: its first line as the message,
/// clap's tip (if any) as the help.
fn usage_error(e: &clap::Error) -> CliError {
    let text = e.render().to_string();
    let message = text.lines().next().unwrap_or_default().trim_start_matches("error: ").to_string();
    let tip = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("tip: "))
        .map(str::to_string)
        .unwrap_or_else(|| "see `archkit --help` or `archkit <COMMAND> --help`".into());
    CliError::new("archkit::usage", message, Some(tip))
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            // A CI step that asked for JSON reads stdout as JSON, usage
            // errors included.
            let json =
                crate::settings::args().iter().take_while(|a| *a != "--").any(|a| a == "--json");
            if json && e.use_stderr() {
                Printer::new(true, true, true).error(&usage_error(&e));
            } else {
                let _ = e.print();
            }
            // clap uses 2 for usage errors; 2 means "changes present" here.
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let mut printer = Printer::new(cli.global.json, cli.global.no_color, cli.global.quiet);
    printer.stats = cli.global.stats;
    // Lets the tests prove what a panic looks like to a user.
    #[cfg(feature = "test-cloud")]
    if crate::settings::env().test.panic {
        panic!("ARCHKIT_TEST_PANIC is set");
    }
    run(cli, &printer).into()
}

fn run(cli: Cli, printer: &Printer) -> ExitStatus {
    let g = &cli.global;
    match &cli.command {
        Command::Validate(args) => validate::run(args, g, printer),
        Command::Plan(args) => plan::run(args, g, printer),
        Command::Apply(args) => apply::run(args, g, printer),
        Command::Destroy(args) => destroy::run(args, g, printer),
        Command::Graph(args) => graph::run(args, g, printer),
        Command::Blueprints(args) => blueprints::run(args, printer),
        Command::Init(args) => init::run(args, printer),
        Command::State(args) => state::run(args, g, printer),
        Command::Output(args) => output::run(args, g, printer),
        Command::Stacks(args) => stacks::run(args, g, printer),
        Command::Sweep(args) => sweep::run(args, g, printer),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args, printer),
    }
}
