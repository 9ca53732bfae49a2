//! `archkit graph`: print the dependency graph as DOT or Mermaid.

use clap::Args;

use super::{ExitStatus, GlobalArgs, GraphFormat, load_blueprint};
use crate::graph::{Graph, export};
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
    let graph = match Graph::build(&bp) {
        Ok(g) => g,
        // load_blueprint already reported cycles; this is unreachable in
        // practice but must not panic.
        Err(_) => return ExitStatus::Failure,
    };
    let text = match args.format {
        GraphFormat::Dot => export::dot(&bp, &graph),
        GraphFormat::Mermaid => export::mermaid(&bp, &graph),
    };
    printer.out(&text);
    ExitStatus::Success
}
