//! `archkit graph`: print the dependency graph as DOT or Mermaid.

use clap::Args;

use super::{ExitStatus, GlobalArgs, GraphFormat, load_blueprint};
use crate::graph::export;
use crate::output::Printer;

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// A blueprint directory, a blueprint.yaml, or a built-in name
    pub blueprint: String,
    /// Output format: `dot` for Graphviz, `mermaid` for Markdown (GitHub renders it)
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
}

pub fn run(args: &GraphArgs, _g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    let Some(bp) = load_blueprint(&args.blueprint, printer) else {
        return ExitStatus::Failure;
    };
    let kinds = bp.resources.iter().map(|(id, r)| (id.as_str(), r.kind()));
    let text = match args.format {
        GraphFormat::Dot => export::dot(&bp.name, kinds, &bp.graph),
        GraphFormat::Mermaid => export::mermaid(kinds, &bp.graph),
    };
    printer.out(&text);
    ExitStatus::Success
}
