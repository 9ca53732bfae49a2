//! What `plan`, `apply` and `destroy` share: their arguments, opening a
//! session, the runtime, and the run itself (plan, ask, apply, report).

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::terminal::{confirm, interruptible, on_interrupt};
use super::{ExitStatus, GlobalArgs, prompt_secret, var_inputs};
use crate::blueprint::params::Require;
use crate::blueprint::source;
use crate::engine::{Cancel, Report};
use crate::output::Printer;
use crate::output::events::JsonEvent;
use crate::plan::render;
use crate::plan::saved::SavedPlan;
use crate::session::{Open, OpenError, Session};

/// Options of the commands that touch a stack.
#[derive(Debug, Args, Clone)]
pub struct StackArgs {
    /// How long to wait for another run's state lock (e.g. 30s, 5m)
    /// [default: archkit.toml's `lock_timeout`, else 0s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_timeout: Option<Duration>,
}

/// Where state lives and how long to wait for its lock: `--state`
/// (`ARCHKIT_STATE`) and `--lock-timeout`, else the `[state]` of the
/// archkit.toml beside the blueprint or in the working directory, else
/// the defaults. `None` after printing an invalid archkit.toml.
pub(crate) fn store_settings(
    g: &GlobalArgs,
    stack: &StackArgs,
    blueprint_dir: Option<&std::path::Path>,
    printer: &Printer,
) -> Option<(Option<std::path::PathBuf>, Duration)> {
    let config = match crate::config::find(blueprint_dir) {
        Ok(c) => c,
        Err(e) => {
            printer.error(&*e);
            return None;
        }
    };
    let from_file = config.as_ref().and_then(|(file, c)| c.state_location(file));
    let timeout = config.as_ref().and_then(|(_, c)| c.state.lock_timeout);
    Some((g.state.clone().or(from_file), stack.lock_timeout.or(timeout).unwrap_or(Duration::ZERO)))
}

/// Options of the commands that change a stack.
#[derive(Debug, Args, Clone)]
pub struct ApplyArgs {
    /// Do not ask for confirmation (needed without a terminal, e.g. in CI)
    #[arg(long)]
    pub auto_approve: bool,
    /// At most this many AWS operations at once
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
}

/// `--ttl` of the commands that plan a stack.
#[derive(Debug, Args, Clone)]
pub struct TtlArgs {
    /// Let the stack expire DURATION from now (e.g. 2h, 1d): its resources
    /// are tagged archkit:expires-at, and `archkit sweep` destroys it once
    /// that has passed; `none` clears it [default: keep the recorded one]
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    pub ttl: Option<Ttl>,
}

/// A stack's time to live.
#[derive(Debug, Clone, Copy)]
pub enum Ttl {
    For(Duration),
    /// No expiry.
    Clear,
}

impl TtlArgs {
    /// Sets the session's expiry when `--ttl` was given.
    pub(crate) fn apply_to(&self, session: &mut Session) {
        match self.ttl {
            Some(Ttl::For(d)) => {
                let at = std::time::SystemTime::now() + d;
                session.expires_at = Some(humantime::format_rfc3339_seconds(at).to_string());
            }
            Some(Ttl::Clear) => session.expires_at = None,
            None => {}
        }
    }
}

/// The longest `--ttl`: ten years.
const TTL_MAX: Duration = Duration::from_secs(3650 * 24 * 3600);

fn parse_ttl(s: &str) -> Result<Ttl, String> {
    if matches!(s, "none" | "off") {
        return Ok(Ttl::Clear);
    }
    match parse_duration(s)? {
        d if d.is_zero() => Err("a time to live must be longer than 0 (`none` clears it)".into()),
        // Far beyond any tutorial, and well inside what an RFC 3339 tag
        // can write (year 9999).
        d if d > TTL_MAX => Err(format!(
            "a time to live is at most 10 years (`3650d`); `{s}` is longer (`none` clears it)"
        )),
        d => Ok(Ttl::For(d)),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

/// How to reach AWS, from the global options.
pub(crate) fn settings(g: &GlobalArgs) -> crate::aws::Settings {
    crate::aws::Settings {
        region: g.region.clone(),
        profile: g.profile.clone(),
        endpoint_url: g.endpoint_url.clone(),
        max_attempts: crate::settings::env().aws_max_attempts,
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}

/// Opens a session for BLUEPRINT, printing any error. `rt` is the
/// command's one runtime: the AWS clients made here keep their connection
/// pool on it, so the later plan and apply must run on the same one.
pub(crate) fn open(
    rt: &tokio::runtime::Runtime,
    blueprint: &str,
    g: &GlobalArgs,
    stack: &StackArgs,
    owner: &str,
    require: Require,
    printer: &Printer,
) -> Option<Session> {
    let located = match source::locate(blueprint) {
        Ok(l) => l,
        Err(e) => {
            printer.error(&e);
            return None;
        }
    };
    open_located(rt, &located, g, stack, owner, require, printer)
}

/// A destroy session of stack `name` with no blueprint, reading every
/// kind for the stack's tags (`destroy --discover`, `sweep`, `stacks`).
pub(crate) fn open_discovery(
    rt: &tokio::runtime::Runtime,
    name: &str,
    g: &GlobalArgs,
    stack: &StackArgs,
    owner: &str,
    printer: &Printer,
) -> Option<Session> {
    let mut g = g.clone();
    g.stack = Some(name.to_string());
    let located = source::discovered(name);
    let mut session = open_located(rt, &located, &g, stack, owner, Require::Given, printer)?;
    session.discover = true;
    Some(session)
}

/// [`open`] of a blueprint already found (or, for `destroy --discover`
/// without one, made up).
pub(crate) fn open_located(
    rt: &tokio::runtime::Runtime,
    located: &source::Located,
    g: &GlobalArgs,
    stack: &StackArgs,
    owner: &str,
    require: Require,
    printer: &Printer,
) -> Option<Session> {
    // A destroy asks for nothing: it removes what state records.
    let destroy = require == Require::Given;
    let inputs = var_inputs(g, printer)?;
    let (state_path, lock_timeout) = store_settings(g, stack, located.dir.as_deref(), printer)?;
    let mut ask = prompt_secret;
    let mut never = |_: &crate::blueprint::Parameter| None;
    let prompt: &mut dyn FnMut(&crate::blueprint::Parameter) -> Option<String> =
        if destroy { &mut never } else { &mut ask };
    let opened = rt.block_on(Session::open(Open {
        located,
        inputs: &inputs,
        stack: g.stack.as_deref(),
        state_path,
        region: g.region.as_deref(),
        lock_owner: owner,
        lock_timeout,
        prompt,
        require,
        aws: settings(g),
    }));
    match opened {
        Ok(s) => {
            for a in s.store.advice() {
                printer.status(&format!("note: {a}"));
            }
            if let Some(l) = s.took_over_lock() {
                printer.status(&format!(
                    "took over the lock left by `{}` (pid {}, since {}): that process is no longer running",
                    l.owner, l.pid, l.created
                ));
            }
            Some(s)
        }
        Err(OpenError::Blueprint(d)) => {
            printer.diagnostics(&d);
            None
        }
        Err(OpenError::Other(e)) => {
            printer.error(&e);
            None
        }
    }
}

/// Plans, confirms and applies (`destroy`: the removal of everything),
/// printing the plan, progress, outputs and summary. `saved` is a plan
/// file being applied: the fresh plan must match it.
pub(crate) fn run_changes(
    rt: &tokio::runtime::Runtime,
    mut session: Session,
    destroy: bool,
    saved: Option<(SavedPlan, String)>,
    args: &ApplyArgs,
    printer: &Printer,
) -> ExitStatus {
    session.read_parallelism = args.parallelism as usize;
    let plan = match make_plan(rt, &session, destroy, printer) {
        Ok(p) => p,
        Err(status) => return status,
    };
    if let Some((saved, _)) = &saved
        && let Err(e) = saved.check(&session.saved_again(&plan, saved))
    {
        printer.error(&e);
        return ExitStatus::Failure;
    }
    let cost = session.cost(&plan);
    if printer.json {
        JsonEvent::Plan { plan: &render::PlanJson { cost: Some(cost), ..render::json(&plan) } }
            .emit();
    } else {
        printer.out(&render::human(&plan));
        if plan.has_changes() {
            let view = if destroy { render::CostView::Destroy } else { render::CostView::Changes };
            printer.out(&render::cost(&cost, view));
        }
    }
    if !session.needs_apply(&plan) {
        if !destroy {
            print_outputs(&session, printer);
        }
        return finish(&session, ExitStatus::Success, printer);
    }
    if plan.has_changes() && saved.is_none() && !args.auto_approve {
        let q =
            if destroy { "Destroy every resource of this stack?" } else { "Apply these changes?" };
        match confirm(q, rt, printer) {
            Ok(true) => {}
            Ok(false) => {
                printer.status("Nothing was changed.");
                return finish(&session, ExitStatus::Failure, printer);
            }
            Err(status) => return finish(&session, status, printer),
        }
    }
    let cancel = Cancel::new();
    let events: Arc<dyn crate::engine::Events> =
        Arc::from(crate::output::progress::for_output(printer.json, printer.quiet));
    let opts = crate::engine::Options {
        parallelism: args.parallelism as usize,
        ..crate::engine::Options::default()
    };
    let result = rt.block_on(async {
        on_interrupt(cancel.clone(), *printer);
        session.apply(plan, events, opts, cancel.clone()).await
    });
    match result {
        Ok(report) => report_run(&session, &report, destroy, printer),
        Err(e) => {
            printer.error(&e);
            finish(&session, ExitStatus::Failure, printer)
        }
    }
}

/// Refreshes and plans; Ctrl-C abandons the reads (nothing changed yet).
/// A failure is printed, with the calls made when `--stats` asks.
pub(crate) fn make_plan(
    rt: &tokio::runtime::Runtime,
    session: &Session,
    destroy: bool,
    printer: &Printer,
) -> Result<crate::plan::Plan, ExitStatus> {
    match rt.block_on(interruptible(session.plan(destroy))) {
        None => {
            printer.status("interrupted: nothing was changed");
            Err(ExitStatus::Interrupted)
        }
        Some(Ok(p)) => Ok(p),
        Some(Err(e)) => {
            printer.error(&e);
            printer.api_stats(session.cloud.stats());
            Err(ExitStatus::Failure)
        }
    }
}

/// Prints what a run did (outputs after a successful apply, then the
/// summary) and returns its exit status.
fn report_run(session: &Session, report: &Report, destroy: bool, printer: &Printer) -> ExitStatus {
    let status = if report.interrupted {
        ExitStatus::Interrupted
    } else if report.ok() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    if status == ExitStatus::Success && !destroy {
        print_outputs(session, printer);
    }
    if printer.json {
        JsonEvent::Summary {
            ok: report.ok(),
            done: report.done(),
            failed: report.failed(),
            skipped: report.skipped(),
            interrupted: report.interrupted,
            state_serial: session.state.serial,
        }
        .emit();
    } else {
        let verb = if destroy { "Destroy" } else { "Apply" };
        let summary = report.summary();
        printer.status(&match status {
            ExitStatus::Success => format!("{verb} complete: {summary}."),
            ExitStatus::Interrupted => format!(
                "{verb} interrupted: {summary}. State is saved; run the command again to continue."
            ),
            _ => format!(
                "{verb} failed: {summary}. State is saved; fix the error and run the command again to continue."
            ),
        });
    }
    finish(session, status, printer)
}

/// The blueprint's outputs: `Outputs:` lines, or an `outputs` event with
/// `--json`. Sensitive values are never shown.
fn print_outputs(session: &Session, printer: &Printer) {
    let outputs = session.outputs();
    if outputs.is_empty() {
        return;
    }
    let shown: Vec<(String, serde_json::Value)> = outputs
        .iter()
        .map(|(k, v, s)| (k.clone(), crate::output::shown_output(v.as_ref(), *s)))
        .collect();
    if printer.json {
        JsonEvent::Outputs { outputs: shown.into_iter().collect() }.emit();
        return;
    }
    let text = format!("\nOutputs:\n{}", crate::output::outputs_text(&shown, "  "));
    printer.out(&text);
}

/// Prints call statistics and persists a test cloud.
pub(crate) fn finish(session: &Session, status: ExitStatus, printer: &Printer) -> ExitStatus {
    printer.api_stats(session.cloud.stats());
    if let Err(e) = session.cloud.finish() {
        printer.error(&e);
        return ExitStatus::Failure;
    }
    status
}
