//! What the commands read besides their arguments: the blueprint, the
//! values of its parameters (`--var`, `--var-file`, `ARCHKIT_VAR_*`, a
//! prompt for secrets), and the error type for problems outside
//! blueprints.

use crate::blueprint::{self, Blueprint, params};
use crate::output::Printer;

use super::GlobalArgs;

/// Locates and validates a blueprint, printing diagnostics on failure.
pub(crate) fn load_blueprint(arg: &str, printer: &Printer) -> Option<Blueprint> {
    let located = match blueprint::source::locate(arg) {
        Ok(l) => l,
        Err(e) => {
            printer.error(&e);
            return None;
        }
    };
    match blueprint::load(&located, &crate::session::schema_registry()) {
        Ok(bp) => Some(bp),
        Err(d) => {
            printer.diagnostics(&d);
            None
        }
    }
}

/// Collects `--var`, `--var-file` and `ARCHKIT_VAR_*` inputs.
pub(crate) fn var_inputs(g: &GlobalArgs, printer: &Printer) -> Option<params::Inputs> {
    let mut inputs = params::Inputs {
        cli: g.vars.clone(),
        files: Vec::new(),
        env: crate::settings::env().vars.clone(),
    };
    for f in &g.var_files {
        let name = f.display().to_string();
        const HELP: &str = "a var file is YAML or JSON text: one `name: value` line per \
                            parameter (a value may be a list), e.g. `image: nginx:1.27`";
        let text = match std::fs::read(f).map(String::from_utf8) {
            Ok(Ok(t)) => t,
            Ok(Err(_)) => {
                let msg = format!("var file {name} is not UTF-8 text");
                printer.error(&CliError::new("archkit::var_file", msg, Some(HELP.into())));
                return None;
            }
            Err(e) => {
                let msg = format!("cannot read var file {name}: {e}");
                printer.error(&CliError::new("archkit::var_file", msg, None));
                return None;
            }
        };
        match params::parse_var_file(&name, &text) {
            Ok(v) => inputs.files.extend(v),
            Err(msg) => {
                printer.error(&CliError::new("archkit::var_file", msg, Some(HELP.into())));
                return None;
            }
        }
    }
    Some(inputs)
}

/// Asks for a secret parameter on the terminal without echo. Returns
/// `None` when stdin is not a terminal (CI), so the caller reports which
/// variable to set instead of hanging.
pub fn prompt_secret(p: &blueprint::Parameter) -> Option<String> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let what =
        if p.description.is_empty() { String::new() } else { format!(" ({})", p.description) };
    rpassword::prompt_password(format!("{}{what}: ", p.name)).ok()
}

/// A simple error with a stable code, for problems outside blueprints.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    code: &'static str,
    message: String,
    help: Option<String>,
}

impl CliError {
    pub fn new(code: &'static str, message: impl Into<String>, help: Option<String>) -> Self {
        CliError { code, message: message.into(), help }
    }
}

impl miette::Diagnostic for CliError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
}
