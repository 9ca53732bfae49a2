//! `archkit plan`: show what apply would change (and optionally save it).

use std::path::PathBuf;

use clap::Args;

use super::deploy::{Opening, StackArgs, TtlArgs, make_plan, open, runtime};
use super::{ExitStatus, GlobalArgs};
use crate::output::Printer;
use crate::plan::render;
use crate::settings::{Mode, Teardown};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A blueprint directory, a blueprint.yaml, or a built-in name
    pub blueprint: String,
    /// Save the plan to FILE; `archkit apply FILE` applies exactly it
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when there are changes (0 when none, 1 on error)
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan the destruction of every resource of the stack
    #[arg(long)]
    pub destroy: bool,
    /// How to print the plan: for a terminal, as JSON (as --json), or as
    /// Markdown for a pull request or CI step summary (table, cost and a
    /// Mermaid diagram of what changes)
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// At most this many AWS reads at once while the plan reads live state
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub ttl: TtlArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Markdown,
}

pub fn run(args: &PlanArgs, g: &GlobalArgs, printer: &Printer) -> ExitStatus {
    let rt = runtime();
    let how = Opening {
        owner: "archkit plan",
        mode: if args.destroy { Mode::Destroy(Teardown::default()) } else { Mode::Plan },
        parallelism: args.parallelism,
        expiry: args.ttl.expiry(),
    };
    let Some(session) = open(&rt, &args.blueprint, g, &args.stack, how, printer) else {
        return ExitStatus::Failure;
    };
    let (plan, cost) = match make_plan(&rt, &session, None, printer) {
        Ok(p) => (p.plan, p.cost),
        Err(status) => return status,
    };
    if let Some(out) = &args.out
        && let Err(e) = session.saved(&plan, &args.blueprint).write(out)
    {
        printer.error(&e);
        return ExitStatus::Failure;
    }
    if printer.json || args.format == Format::Json {
        printer.json_out(&render::PlanJson { cost: Some(cost), ..render::json(&plan) });
    } else if args.format == Format::Markdown {
        printer.out(&render::markdown(&plan, Some(&cost)));
    } else {
        printer.out(&render::human(&plan));
        let view = if args.destroy {
            render::CostView::Destroy
        } else if plan.has_changes() {
            render::CostView::Changes
        } else {
            render::CostView::Unchanged
        };
        printer.out(&render::cost(&cost, view));
        if let Some(out) = &args.out {
            printer.status(&format!(
                "Saved the plan to {}; apply it with `archkit apply {}`.",
                out.display(),
                out.display()
            ));
        }
    }
    let status = if args.detailed_exitcode && plan.has_changes() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    };
    super::deploy::finish(&session, status, printer)
}
