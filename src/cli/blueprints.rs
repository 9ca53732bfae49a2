//! `archkit blueprints`: list the built-in blueprints (and, with
//! `--kinds`, the resource types blueprints can use).

use clap::Args;
use serde::Serialize;

use super::ExitStatus;
use crate::blueprint::source;
use crate::output::Printer;

#[derive(Debug, Args)]
pub struct BlueprintsArgs {
    /// List the resource types instead
    #[arg(long)]
    pub kinds: bool,
}

#[derive(Serialize)]
struct Entry {
    name: String,
    description: String,
}

pub fn run(args: &BlueprintsArgs, printer: &Printer) -> ExitStatus {
    let entries: Vec<Entry> = if args.kinds {
        crate::aws::schemas()
            .map(|s| Entry { name: s.kind.to_string(), description: s.doc.to_string() })
            .collect()
    } else {
        let registry = crate::aws::registry();
        source::builtin_names()
            .into_iter()
            .map(|name| {
                let description = source::builtin(name)
                    .and_then(|l| crate::blueprint::load(&l, &registry).ok())
                    .map(|bp| bp.description.lines().next().unwrap_or("").to_string())
                    .unwrap_or_default();
                Entry { name: name.to_string(), description }
            })
            .collect()
    };
    if printer.json {
        printer.json_out(&entries);
        return ExitStatus::Success;
    }
    let width = entries.iter().map(|e| e.name.len()).max().unwrap_or(0);
    let mut text = String::new();
    for e in &entries {
        text.push_str(&format!("{:width$}  {}\n", e.name, e.description));
    }
    printer.out(&text);
    ExitStatus::Success
}
