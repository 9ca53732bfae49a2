//! The terminal's side of a run: the yes-or-no question before a change,
//! and Ctrl-C / SIGTERM, which stop a run cleanly (operations in flight
//! finish, state is written, the lock released, exit 130).

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use super::{CliError, ExitStatus};
use crate::engine::Cancel;
use crate::output::Printer;

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
    // Listening before the question is shown: a Ctrl-C typed at once is an
    // interrupt, not the default SIGINT death.
    let mut interrupts = {
        let _in_runtime = rt.enter();
        Interrupts::listen()
    };
    crate::output::to_stderr(&format!("{question} Only 'yes' is accepted: "));
    let _ = std::io::stderr().flush();
    // The read runs on a thread of its own, raced against Ctrl-C inside the
    // runtime. Not on the runtime's blocking pool: dropping the runtime
    // waits for those, so an interrupted prompt hung until Enter.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        let _ = tx.send(line);
    });
    let answer = rt.block_on(async {
        tokio::select! {
            line = rx => Some(line),
            _ = interrupts.recv() => None,
        }
    });
    match answer {
        None => {
            crate::output::to_stderr("\n");
            Err(ExitStatus::Interrupted)
        }
        Some(line) => Ok(line.unwrap_or_default().trim() == "yes"),
    }
}

/// Ctrl-C (SIGINT) and SIGTERM, listened for from the moment this is made
/// (in the runtime's context): a signal that arrives before anything waits
/// for it is still seen, instead of killing the process.
pub(crate) struct Interrupts {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Interrupts {
    pub(crate) fn listen() -> Interrupts {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Interrupts {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Interrupts {}
    }

    /// Resolves at the first interrupt.
    pub(crate) async fn recv(&mut self) {
        #[cfg(unix)]
        {
            async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = next(&mut self.int) => {}
                _ = next(&mut self.term) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Runs `fut` unless Ctrl-C or SIGTERM comes first (`None`): a plan that
/// only reads is simply abandoned, and the caller returns normally so the
/// state lock is released.
pub(crate) async fn interruptible<T>(fut: impl std::future::Future<Output = T>) -> Option<T> {
    let mut interrupts = Interrupts::listen();
    tokio::select! {
        v = fut => Some(v),
        _ = interrupts.recv() => None,
    }
}

/// Cancels `cancel` on Ctrl-C or SIGTERM, so in-flight work finishes, state
/// is written and the lock released before exiting 130.
pub(crate) fn on_interrupt(cancel: Arc<Cancel>, printer: Printer) {
    let mut interrupts = Interrupts::listen();
    tokio::spawn(async move {
        interrupts.recv().await;
        printer.status(
            "interrupted: finishing operations in flight and saving state (interrupt again to stop at once)...",
        );
        cancel.cancel();
        // A second interrupt (CI runners send SIGTERM seconds after
        // SIGINT) exits at once: state was written after the last
        // operation, and one in flight is reconciled by the next plan.
        interrupts.recv().await;
        printer.status("interrupted again: exiting now");
        std::process::exit(130);
    });
}
