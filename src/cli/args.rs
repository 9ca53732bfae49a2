//! The command line's grammar: clap definitions of the commands and of the
//! options every command accepts (doc comments become `--help`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::{
    apply, blueprints, completions, destroy, graph, init, output, plan, stacks, state, sweep,
    validate,
};

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
