//! The `--json` event stream of `apply` and `destroy`: one JSON object a
//! line on stdout, each naming itself in `event`. This enum is the whole
//! schema (the README documents it): `plan` first, then per operation
//! `started`, `waiting`, `held`, `finished`, `failed` or `skipped`, then `outputs`
//! after a successful apply, and `summary` last. Every line also carries
//! `time`, when it was written (RFC 3339, milliseconds), so a CI log
//! shows where the minutes went.

use std::io::Write;

use serde::Serialize;
use serde_json::{Map, Value};

/// One line of the stream.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JsonEvent<'a> {
    /// The plan about to be applied (the form `plan --json` prints).
    Plan {
        plan: &'a crate::plan::render::PlanJson,
    },
    Started {
        id: &'a str,
        op: &'static str,
        expected_seconds: f64,
    },
    /// The operation was made and archkit waits for the resource.
    Waiting {
        id: &'a str,
        op: &'static str,
    },
    /// The operation waits for something AWS releases in its own time.
    Held {
        id: &'a str,
        op: &'static str,
        reason: &'a str,
        within_seconds: f64,
    },
    Finished {
        id: &'a str,
        op: &'static str,
        elapsed_seconds: f64,
        /// What the resource now waits for that is not archkit's to do.
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<&'a str>,
    },
    Failed {
        id: &'a str,
        op: &'static str,
        error: &'a str,
    },
    /// Not run because an operation it depends on failed.
    Skipped {
        id: &'a str,
        op: &'static str,
        because: &'a str,
    },
    /// The blueprint's outputs; sensitive ones read `(sensitive)`.
    Outputs {
        outputs: Map<String, Value>,
    },
    Summary {
        ok: bool,
        done: usize,
        failed: usize,
        skipped: usize,
        interrupted: bool,
        state_serial: u64,
    },
}

impl JsonEvent<'_> {
    /// Writes the event as one line on stdout.
    pub fn emit(&self) {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Value::Object(o) = &mut value {
            let now = humantime::format_rfc3339_millis(std::time::SystemTime::now());
            o.insert("time".into(), Value::String(now.to_string()));
        }
        let line = value.to_string();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}
