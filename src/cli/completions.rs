//! `archkit completions SHELL` and `archkit man`: a shell completion
//! script and a man page, generated from the command definitions
//! (`clap_complete`, `clap_mangen`), so they never drift from the CLI.

use std::io::Write;

use clap::{Args, CommandFactory};

use super::{Cli, ExitStatus};
use crate::output::Printer;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: e.g. `archkit completions bash > ~/.local/share/bash-completion/completions/archkit`
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// One subcommand's page (e.g. `apply`) instead of archkit's own
    pub command: Option<String>,
}

pub fn completions(args: &CompletionsArgs) -> ExitStatus {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "archkit", &mut std::io::stdout());
    ExitStatus::Success
}

pub fn man(args: &ManArgs, printer: &Printer) -> ExitStatus {
    let mut cmd = Cli::command();
    // Building propagates the global options (`--stack`, `--region`, …)
    // into each command, so a command's page lists them too.
    cmd.build();
    let (page, title) = match &args.command {
        None => (cmd, "archkit".to_string()),
        Some(name) => match cmd.find_subcommand(name) {
            // The page of `archkit apply` is named archkit-apply.
            Some(sub) => (sub.clone(), format!("archkit-{name}")),
            None => {
                let names: Vec<String> =
                    cmd.get_subcommands().map(|c| c.get_name().to_string()).collect();
                printer.error(&super::CliError::new(
                    "archkit::man::unknown_command",
                    format!("archkit has no command `{name}`"),
                    Some(format!("its commands: {}", names.join(", "))),
                ));
                return ExitStatus::Failure;
            }
        },
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page).title(title).render(&mut out).expect("rendering into memory");
    let _ = std::io::stdout().write_all(&out);
    ExitStatus::Success
}
