//! `archkit init`: copy a built-in blueprint into a directory so it can be
//! customised.

use std::path::PathBuf;

use clap::Args;

use super::{CliError, ExitStatus};
use crate::blueprint::source;
use crate::output::Printer;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The built-in blueprint to copy (`archkit blueprints` lists them)
    pub name: String,
    /// Where to put it [default: ./<NAME>]
    pub dir: Option<PathBuf>,
    /// Overwrite files that already exist
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &InitArgs, printer: &Printer) -> ExitStatus {
    let Some(files) = source::builtin_files(&args.name) else {
        let names = source::builtin_names();
        let help = match crate::schema::did_you_mean(&args.name, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("built-in blueprints: {}", names.join(", ")),
        };
        printer.error(&CliError::new(
            "archkit::init::unknown_blueprint",
            format!("there is no built-in blueprint `{}`", args.name),
            Some(help),
        ));
        return ExitStatus::Failure;
    };
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&args.name));
    if !args.force {
        let clashes: Vec<String> = files
            .iter()
            .map(|(rel, _)| dir.join(rel))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !clashes.is_empty() {
            printer.error(&CliError::new(
                "archkit::init::exists",
                format!("{} already exists", clashes.join(", ")),
                Some("pass --force to overwrite, or choose another directory".into()),
            ));
            return ExitStatus::Failure;
        }
    }
    for (rel, contents) in &files {
        let path = dir.join(rel);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(&path, contents));
        if let Err(e) = written {
            printer.error(&CliError::new(
                "archkit::init::io",
                format!("cannot write {}: {e}", path.display()),
                None,
            ));
            return ExitStatus::Failure;
        }
    }
    printer.status(&format!(
        "created {} from the built-in blueprint `{}`; try `archkit validate {}`",
        dir.display(),
        args.name,
        dir.display()
    ));
    ExitStatus::Success
}
