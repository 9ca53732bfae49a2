//! Opening a stack session for `plan`, `apply`, `destroy` and the
//! commands that find stacks by tag, printing why it could not open.

use super::stack_args::{StackArgs, flags};
use super::{GlobalArgs, prompt_secret, var_inputs};
use crate::blueprint::source;
use crate::output::Printer;
use crate::session::{OpenError, Session};
use crate::settings::{Expiry, Flags, Mode, Settings};

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    crate::ops::runtime()
}

/// What a command opens its session for, beyond the global options.
pub(crate) struct Opening<'a> {
    /// Who holds the lock (`archkit apply`).
    pub owner: &'a str,
    pub mode: Mode,
    /// Kinds the refresh reads at once (`--parallelism`).
    pub parallelism: u16,
    pub expiry: Expiry,
}

/// Opens a session for BLUEPRINT, printing any error. `rt` is the
/// command's one runtime: the AWS clients made here keep their connection
/// pool on it, so the later plan and apply must run on the same one.
pub(crate) fn open(
    rt: &tokio::runtime::Runtime,
    blueprint: &str,
    g: &GlobalArgs,
    stack: &StackArgs,
    how: Opening<'_>,
    printer: &Printer,
) -> Option<Session> {
    let located = source::locate(blueprint).map_err(|e| printer.error(&e)).ok()?;
    let mut settings =
        Settings::resolve(&flags(g, stack), located.dir.as_deref(), how.mode, how.owner)
            .map_err(|e| printer.error(&*e))
            .ok()?;
    settings.inputs = var_inputs(g, printer)?;
    settings.read_parallelism = how.parallelism as usize;
    settings.expiry = how.expiry;
    // A destroy asks for nothing: it removes what state records.
    let mut never = |_: &crate::blueprint::Parameter| None;
    let mut ask = prompt_secret;
    let prompt: &mut dyn FnMut(&crate::blueprint::Parameter) -> Option<String> =
        if how.mode.is_destroy() { &mut never } else { &mut ask };
    opened(rt.block_on(Session::open(&settings, &located, prompt)), printer)
}

/// A destroy session of stack `name` with no blueprint, reading every
/// kind for the stack's tags (`destroy --discover`, `sweep`).
pub(crate) fn open_discovery(
    rt: &tokio::runtime::Runtime,
    name: &str,
    mut f: Flags,
    how: Opening<'_>,
    printer: &Printer,
) -> Option<Session> {
    f.stack = Some(name.to_string());
    let (state, lock_timeout) = f.store(None).map_err(|e| printer.error(&*e)).ok()?;
    let settings = Settings {
        lock_timeout,
        mode: how.mode,
        read_parallelism: how.parallelism as usize,
        ..crate::ops::destroy::discovery(name, &f.aws(), state, how.owner)
    };
    opened(rt.block_on(crate::ops::destroy::open_discovery(&settings)), printer)
}

/// The session, after telling what opening it noticed; `None` after
/// printing why it did not open.
fn opened(opened: Result<Session, OpenError>, printer: &Printer) -> Option<Session> {
    match opened {
        Ok(s) => {
            for a in s.store().advice() {
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
