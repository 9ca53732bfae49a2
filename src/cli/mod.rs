//! The command line: clap definitions (doc comments become `--help`) and
//! one file per subcommand that turns arguments into a call to the library
//! and an exit status.

mod apply;
mod blueprints;
mod completions;
mod deploy;
mod destroy;
mod graph;
mod init;
mod output;
mod plan;
mod stacks;
mod state;
mod sweep;
mod terminal;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::blueprint::{self, Blueprint, params};
use crate::output::Printer;

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

/// Plan, apply and tear down AWS reference architectures.
#[derive(Debug, Parser)]
#[command(name = "archkit", version, about, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Options every command accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Stack name: one deployment of a blueprint [default: the blueprint's name]
    #[arg(long, global = true, env = "ARCHKIT_STACK", value_name = "NAME")]
    pub stack: Option<String>,
    /// State file, or s3://BUCKET/KEY (a KEY ending in / is a prefix for
    /// <stack>.state.json) [default: .archkit/<stack>.state.json]
    #[arg(long, global = true, env = "ARCHKIT_STATE", value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Set a parameter (repeatable); ARCHKIT_VAR_<NAME> in the environment also works
    #[arg(long = "var", global = true, value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Read parameters from a YAML or JSON file (repeatable)
    #[arg(long = "var-file", global = true, value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// AWS region [default: from the AWS config chain]
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// AWS profile from ~/.aws/config
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (e.g. a local emulator)
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Machine-readable JSON output on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Print the number of AWS calls and time spent at the end
    #[arg(long, global = true, env = "ARCHKIT_STATS", value_parser = clap::builder::BoolishValueParser::new())]
    pub stats: bool,
    /// Disable colours (NO_COLOR is honoured too)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Less output
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// `stack` came from `ARCHKIT_STACK`, not the command line.
    #[arg(skip)]
    pub stack_from_env: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a blueprint for errors without contacting AWS
    Validate(validate::ValidateArgs),
    /// Show what apply would change
    Plan(plan::PlanArgs),
    /// Create or update a stack to match its blueprint (or apply a saved plan)
    Apply(apply::ApplyCmdArgs),
    /// Delete every resource of a stack
    Destroy(destroy::DestroyArgs),
    /// Print the resource dependency graph (DOT or Mermaid)
    Graph(graph::GraphArgs),
    /// List the built-in blueprints
    Blueprints(blueprints::BlueprintsArgs),
    /// Copy a built-in blueprint into a directory to customise it
    Init(init::InitArgs),
    /// Inspect a stack's state or break a stale lock
    State(state::StateArgs),
    /// Print the stack's outputs as of its last apply (from state, no AWS call)
    Output(output::OutputArgs),
    /// List the stacks archkit finds by tag in the account and region, with
    /// age, expiry and running cost
    Stacks(stacks::StacksArgs),
    /// Destroy every stack whose `--ttl` has passed (no state needed; for a
    /// cron job or a scheduled CI workflow)
    Sweep(sweep::SweepArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(completions::CompletionsArgs),
    /// Print archkit's man page (roff), generated from its commands
    Man(completions::ManArgs),
}

/// Graph output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got `{s}`")),
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

/// Locates and validates a blueprint, printing diagnostics on failure.
pub(crate) fn load_blueprint(arg: &str, printer: &Printer) -> Option<Blueprint> {
    let located = match blueprint::source::locate(arg) {
        Ok(l) => l,
        Err(e) => {
            printer.error(&e);
            return None;
        }
    };
    match blueprint::load(&located, &crate::session::schema_registry()) {
        Ok(bp) => Some(bp),
        Err(d) => {
            printer.diagnostics(&d);
            None
        }
    }
}

/// Collects `--var`, `--var-file` and `ARCHKIT_VAR_*` inputs.
pub(crate) fn var_inputs(g: &GlobalArgs, printer: &Printer) -> Option<params::Inputs> {
    let mut inputs =
        params::Inputs { cli: g.vars.clone(), files: Vec::new(), env: params::Inputs::from_env() };
    for f in &g.var_files {
        let name = f.display().to_string();
        const HELP: &str = "a var file is YAML or JSON text: one `name: value` line per \
                            parameter (a value may be a list), e.g. `image: nginx:1.27`";
        let text = match std::fs::read(f).map(String::from_utf8) {
            Ok(Ok(t)) => t,
            Ok(Err(_)) => {
                let msg = format!("var file {name} is not UTF-8 text");
                printer.error(&CliError::new("archkit::var_file", msg, Some(HELP.into())));
                return None;
            }
            Err(e) => {
                let msg = format!("cannot read var file {name}: {e}");
                printer.error(&CliError::new("archkit::var_file", msg, None));
                return None;
            }
        };
        match params::parse_var_file(&name, &text) {
            Ok(v) => inputs.files.extend(v),
            Err(msg) => {
                printer.error(&CliError::new("archkit::var_file", msg, Some(HELP.into())));
                return None;
            }
        }
    }
    Some(inputs)
}

/// Asks for a secret parameter on the terminal without echo. Returns
/// `None` when stdin is not a terminal (CI), so the caller reports which
/// variable to set instead of hanging.
pub fn prompt_secret(p: &blueprint::Parameter) -> Option<String> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let what =
        if p.description.is_empty() { String::new() } else { format!(" ({})", p.description) };
    rpassword::prompt_password(format!("{}{what}: ", p.name)).ok()
}

/// A simple error with a stable code, for problems outside blueprints.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    code: &'static str,
    message: String,
    help: Option<String>,
}

impl CliError {
    pub fn new(code: &'static str, message: impl Into<String>, help: Option<String>) -> Self {
        CliError { code, message: message.into(), help }
    }
}

impl miette::Diagnostic for CliError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
}
