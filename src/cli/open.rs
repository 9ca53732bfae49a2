//! Opening a stack session for `plan`, `apply`, `destroy` and the
//! commands that find stacks by tag, printing why it could not open.

use super::stack_args::{StackArgs, settings, store_settings};
use super::{GlobalArgs, prompt_secret, var_inputs};
use crate::blueprint::params::Require;
use crate::blueprint::source;
use crate::output::Printer;
use crate::session::{Open, OpenError, Session};

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
