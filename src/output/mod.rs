//! Everything archkit prints goes through [`Printer`]: human text on a
//! terminal (colour only when stderr is one and `NO_COLOR` is unset), JSON
//! for machines with `--json`, and miette diagnostics for errors.

pub mod events;
pub mod progress;

use std::io::{IsTerminal, Write};

use miette::{GraphicalReportHandler, GraphicalTheme};
use serde::Serialize;

use crate::blueprint::{Diagnostic, Diagnostics};

/// At most this many diagnostics are rendered; the rest are counted.
pub const MAX_SHOWN: usize = 50;

/// How output is produced.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub json: bool,
    pub color: bool,
    pub quiet: bool,
    /// `--stats`: print API-call counts at the end.
    pub stats: bool,
}

impl Printer {
    pub fn new(json: bool, no_color: bool, quiet: bool) -> Self {
        let color =
            !no_color && !crate::settings::env().no_color && std::io::stderr().is_terminal();
        Printer { json, color, quiet, stats: false }
    }

    /// Prints AWS call statistics (`--stats`): a table on stderr, or with
    /// `--json` one JSON line `{"stats": ...}` on stderr, so stdout stays
    /// one parseable document.
    pub fn api_stats(&self, stats: Option<&crate::aws::client::Stats>) {
        let Some(stats) = stats.filter(|_| self.stats) else {
            return;
        };
        if self.json {
            to_stderr(&format!("{}\n", serde_json::json!({ "stats": stats.json() })));
        } else {
            to_stderr(&render_stats(&stats.json()));
        }
    }

    /// Writes to stdout; a closed pipe (`archkit graph | head`) is not an
    /// error worth a panic.
    pub fn out(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Writes a warning to stderr, `-q` or not (and beside `--json`, whose
    /// document carries the warnings too).
    pub fn warn(&self, text: &str) {
        to_stderr(&format!("warning: {text}\n"));
    }

    /// Writes a status line to stderr unless `-q`.
    pub fn status(&self, text: &str) {
        if !self.quiet {
            to_stderr(&format!("{text}\n"));
        }
    }

    pub fn json_out<T: Serialize>(&self, value: &T) {
        let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
        s.push('\n');
        self.out(&s);
    }

    /// Renders a blueprint's diagnostics to stderr (or as JSON to stdout).
    pub fn diagnostics(&self, d: &Diagnostics) {
        if self.json {
            self.json_out(&DiagnosticsJson::from(d));
            return;
        }
        to_stderr(&render_diagnostics(d, self.color, term_width()));
    }

    /// Renders any other error.
    pub fn error(&self, err: &dyn miette::Diagnostic) {
        if self.json {
            self.json_out(&ErrorJson {
                error: ErrorBody {
                    code: err.code().map(|c| c.to_string()),
                    message: err.to_string(),
                    help: err.help().map(|h| h.to_string()),
                },
            });
            return;
        }
        to_stderr(&render(err, self.color, term_width()));
    }
}

/// The human summary of AWS calls printed at the end of a command.
/// How an output is shown: `"(sensitive)"` for a secret, null when its
/// value is not known.
pub fn shown_output(value: Option<&serde_json::Value>, sensitive: bool) -> serde_json::Value {
    match (value, sensitive) {
        (_, true) => serde_json::Value::String("(sensitive)".into()),
        (Some(v), false) => v.clone(),
        (None, false) => serde_json::Value::Null,
    }
}

/// Shown outputs as aligned `name = value` lines, each after `indent`.
pub fn outputs_text(outputs: &[(String, serde_json::Value)], indent: &str) -> String {
    let width = outputs.iter().map(|o| o.0.len()).max().unwrap_or(0);
    let mut text = String::new();
    for (k, v) in outputs {
        let v = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "(not known)".into(),
            other => other.to_string(),
        };
        text.push_str(&format!("{indent}{k:width$} = {v}\n"));
    }
    text
}

pub fn render_stats(j: &crate::aws::client::StatsJson) -> String {
    let mut out = format!(
        "AWS calls: {} ({} reads, {} writes), {:.2}s waiting on AWS\n",
        j.total_calls, j.read_calls, j.write_calls, j.total_seconds
    );
    let width = |f: fn(&crate::aws::client::OperationJson) -> usize| {
        j.operations.iter().map(f).max().unwrap_or(0)
    };
    let (sw, ow) = (width(|o| o.service.len()), width(|o| o.operation.len()));
    for o in &j.operations {
        out.push_str(&format!(
            "  {:<sw$}  {:<ow$} {:>5} calls {:>4} errors {:>7.2}s\n",
            o.service, o.operation, o.stats.calls, o.stats.errors, o.stats.seconds
        ));
    }
    out
}

fn term_width() -> usize {
    crate::settings::env().columns.unwrap_or(100)
}

/// Renders one diagnostic with miette's graphical handler.
pub fn render(d: &dyn miette::Diagnostic, color: bool, width: usize) -> String {
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(width).with_links(false);
    let mut out = String::new();
    if handler.render_report(&mut out, d).is_err() {
        out = format!("error: {d}\n");
    }
    out
}

/// Renders every diagnostic, then a summary line.
pub fn render_diagnostics(d: &Diagnostics, color: bool, width: usize) -> String {
    let mut out = String::new();
    for diag in d.diagnostics.iter().take(MAX_SHOWN) {
        out.push_str(&render(diag, color, width));
        out.push('\n');
    }
    if d.diagnostics.len() > MAX_SHOWN {
        out.push_str(&format!("... and {} more not shown\n", d.diagnostics.len() - MAX_SHOWN));
    }
    out.push_str(&format!("error: {d}\n"));
    out
}

#[derive(Serialize)]
struct ErrorJson {
    error: ErrorBody,
}

#[derive(Serialize)]
struct ErrorBody {
    code: Option<String>,
    message: String,
    help: Option<String>,
}

/// `--json` form of a blueprint's diagnostics.
#[derive(Serialize)]
pub struct DiagnosticsJson {
    pub valid: bool,
    pub errors: Vec<DiagnosticJson>,
}

#[derive(Serialize)]
pub struct DiagnosticJson {
    pub code: &'static str,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub help: Option<String>,
    pub labels: Vec<LabelJson>,
}

#[derive(Serialize)]
pub struct LabelJson {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    pub length: usize,
    pub text: Option<String>,
}

impl From<&Diagnostics> for DiagnosticsJson {
    fn from(d: &Diagnostics) -> Self {
        DiagnosticsJson {
            valid: d.diagnostics.is_empty(),
            errors: d.diagnostics.iter().map(DiagnosticJson::from).collect(),
        }
    }
}

impl From<&Diagnostic> for DiagnosticJson {
    fn from(d: &Diagnostic) -> Self {
        let labels: Vec<LabelJson> = d
            .labels
            .iter()
            .map(|l| {
                let (line, column) = d.line_col(l.offset());
                LabelJson {
                    line,
                    column,
                    offset: l.offset(),
                    length: l.len(),
                    text: l.label().map(str::to_string),
                }
            })
            .collect();
        DiagnosticJson {
            code: d.code.as_str(),
            message: d.message.clone(),
            file: d.file_name().map(str::to_string),
            line: labels.first().map(|l| l.line),
            column: labels.first().map(|l| l.column),
            help: d.help.clone(),
            labels,
        }
    }
}

/// Writes `text` to stderr in one call. Unlike `eprint!`, a stderr whose
/// reader has gone (`archkit apply 2>&1 | head -1`) is not a panic: the
/// run goes on, with its lock released and its state written at the end.
pub fn to_stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
