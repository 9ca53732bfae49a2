//! What `plan`, `apply` and `destroy` share: their arguments, opening a
//! session, the runtime, confirmation and interrupt handling.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{CliError, ExitStatus, GlobalArgs, prompt_secret, var_inputs};
use crate::blueprint::params::Require;
use crate::blueprint::source;
use crate::engine::Cancel;
use crate::output::Printer;
use crate::session::{Open, OpenError, Session};

/// Options of the commands that touch a stack.
#[derive(Debug, Args, Clone)]
pub struct StackArgs {
    /// How long to wait for another run's state lock (e.g. 30s, 5m)
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
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

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| e.to_string())
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
    // A destroy asks for nothing: it removes what state records.
    let destroy = require == Require::Given;
    let located = match source::locate(blueprint) {
        Ok(l) => l,
        Err(e) => {
            printer.error(&e);
            return None;
        }
    };
    let inputs = var_inputs(g, printer)?;
    let mut ask = prompt_secret;
    let mut never = |_: &crate::blueprint::Parameter| None;
    let prompt: &mut dyn FnMut(&crate::blueprint::Parameter) -> Option<String> =
        if destroy { &mut never } else { &mut ask };
    let opened = rt.block_on(Session::open(Open {
        located: &located,
        inputs: &inputs,
        stack: g.stack.as_deref(),
        state_path: g.state.clone(),
        region: g.region.as_deref(),
        lock_owner: owner,
        lock_timeout: stack.lock_timeout,
        prompt,
        require,
        aws: crate::aws::Settings {
            region: g.region.clone(),
            profile: g.profile.clone(),
            endpoint_url: g.endpoint_url.clone(),
            max_attempts: std::env::var("ARCHKIT_AWS_MAX_ATTEMPTS")
                .ok()
                .and_then(|v| v.parse().ok()),
        },
    }));
    match opened {
        Ok(s) => Some(s),
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

/// Asks "yes" on the terminal. Refuses, rather than hangs, without one.
/// Ctrl-C at the prompt is an interrupt (exit 130), nothing changed.
pub(crate) fn confirm(
    question: &str,
    rt: &tokio::runtime::Runtime,
    printer: &Printer,
) -> Result<bool, ExitStatus> {
    if !std::io::stdin().is_terminal() {
        printer.error(&CliError::new(
            "archkit::confirm::no_terminal",
            "refusing to ask for confirmation: standard input is not a terminal",
            Some("review the plan, then pass --auto-approve (or apply a saved plan file)".into()),
        ));
        return Err(ExitStatus::Failure);
    }
    eprint!("{question} Only 'yes' is accepted: ");
    let _ = std::io::stderr().flush();
    // Spawned inside the runtime: a blocking read raced against Ctrl-C.
    let answer = rt.block_on(async {
        interruptible(tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            line
        }))
        .await
    });
    match answer {
        None => {
            eprintln!();
            Err(ExitStatus::Interrupted)
        }
        Some(line) => Ok(line.unwrap_or_default().trim() == "yes"),
    }
}

/// Runs `fut` unless Ctrl-C or SIGTERM comes first (`None`): a plan that
/// only reads is simply abandoned, and the caller returns normally so the
/// state lock is released.
pub(crate) async fn interruptible<T>(fut: impl std::future::Future<Output = T>) -> Option<T> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return Some(fut.await);
        };
        tokio::select! {
            v = fut => Some(v),
            _ = tokio::signal::ctrl_c() => None,
            _ = term.recv() => None,
        }
    }
    #[cfg(not(unix))]
    {
        tokio::select! {
            v = fut => Some(v),
            _ = tokio::signal::ctrl_c() => None,
        }
    }
}

/// Cancels `cancel` on Ctrl-C or SIGTERM, so in-flight work finishes, state
/// is written and the lock released before exiting 130.
pub(crate) fn on_interrupt(cancel: Arc<Cancel>, printer: Printer) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = match signal(SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return,
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        printer.status("interrupted: finishing operations in flight and saving state...");
        cancel.cancel();
    });
}
