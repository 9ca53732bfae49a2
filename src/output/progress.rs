//! Progress of apply and destroy: on a terminal a live view of in-flight
//! resources (indicatif) with the action, elapsed time and the usual
//! duration; without a terminal one plain line per event; with `--json`
//! one JSON object per line on stdout.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use super::events::JsonEvent;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{Event, Events};
use crate::provider::Op;

fn verb(op: Op) -> (&'static str, &'static str) {
    match op {
        Op::Create => ("creating", "created"),
        Op::Update => ("updating", "updated"),
        Op::Delete => ("deleting", "deleted"),
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// Picks the right progress display for where output goes.
pub fn for_output(json: bool, quiet: bool) -> Box<dyn Events> {
    if json {
        Box::new(JsonLines)
    } else if quiet {
        Box::new(crate::engine::NoEvents)
    } else if std::io::stderr().is_terminal() {
        Box::new(Live::new())
    } else {
        Box::new(Plain)
    }
}

/// What a held operation waits for, and for how long at most.
fn held_line(id: &str, reason: &str, within: Duration) -> String {
    format!(
        "{id}: waiting, retrying for up to {}: {reason}",
        humantime::format_duration(Duration::from_secs(within.as_secs()))
    )
}

/// One line per event on stderr.
pub struct Plain;

impl Events for Plain {
    fn event(&self, e: &Event) {
        let mut line = match e {
            // Long operations say how long they usually take, so a CI log
            // shows a 15-minute broker creation is expected, not stuck.
            Event::Started { id, op, expected } if expected.as_secs() >= 60 => format!(
                "{id}: {}... (usually ~{})",
                verb(*op).0,
                humantime::format_duration(Duration::from_secs(expected.as_secs()))
            ),
            Event::Started { id, op, .. } => format!("{id}: {}...", verb(*op).0),
            Event::Waiting { id, .. } => format!("{id}: waiting until it is ready..."),
            Event::Held { id, reason, within, .. } => held_line(id, reason, *within),
            Event::Finished { id, op, elapsed, note } => {
                let note = note.as_ref().map(|n| format!("; {n}")).unwrap_or_default();
                format!("{id}: {} in {}{note}", verb(*op).1, secs(*elapsed))
            }
            Event::Failed { id, op, error } => format!("{id}: {} failed: {error}", verb(*op).0),
            Event::Skipped { id, because, .. } => format!("{id}: skipped because {because}"),
        };
        // One write per line: stderr is unbuffered, and `eprintln!` writes
        // the text and its newline apart (two calls per line, a tenth of a
        // 10,000-resource apply).
        line.push('\n');
        super::to_stderr(&line);
    }
}

/// JSON lines on stdout.
pub struct JsonLines;

impl Events for JsonLines {
    fn event(&self, e: &Event) {
        match e {
            Event::Started { id, op, expected } => {
                JsonEvent::Started { id, op: verb(*op).0, expected_seconds: expected.as_secs_f64() }
            }
            Event::Waiting { id, op } => JsonEvent::Waiting { id, op: verb(*op).0 },
            Event::Held { id, op, reason, within } => JsonEvent::Held {
                id,
                op: verb(*op).0,
                reason,
                within_seconds: within.as_secs_f64(),
            },
            Event::Finished { id, op, elapsed, note } => JsonEvent::Finished {
                id,
                op: verb(*op).0,
                elapsed_seconds: elapsed.as_secs_f64(),
                note: note.as_deref(),
            },
            Event::Failed { id, op, error } => JsonEvent::Failed { id, op: verb(*op).0, error },
            Event::Skipped { id, op, because } => {
                JsonEvent::Skipped { id, op: verb(*op).0, because }
            }
        }
        .emit();
    }
}

/// The live terminal view.
pub struct Live {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Live {
    fn new() -> Live {
        Live {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        }
    }
}

impl Events for Live {
    fn event(&self, e: &Event) {
        let mut bars = self.bars.lock().unwrap();
        match e {
            Event::Started { id, op, expected } => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                let style = ProgressStyle::with_template(&format!(
                    "{{spinner}} {id}: {}... {{elapsed}} (usually ~{})",
                    verb(*op).0,
                    humantime::format_duration(Duration::from_secs(expected.as_secs().max(1)))
                ))
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
                bar.set_style(style);
                bar.enable_steady_tick(Duration::from_millis(120));
                bars.insert(id.clone(), bar);
            }
            Event::Waiting { .. } => {}
            Event::Held { id, reason, within, .. } => {
                let _ = self.multi.println(held_line(id, reason, *within));
            }
            Event::Finished { id, op, elapsed, note } => {
                if let Some(bar) = bars.remove(id) {
                    bar.finish_and_clear();
                }
                let note = note.as_ref().map(|n| format!("; {n}")).unwrap_or_default();
                let _ = self.multi.println(format!(
                    "✓ {id}: {} in {}{note}",
                    verb(*op).1,
                    secs(*elapsed)
                ));
            }
            Event::Failed { id, op, error } => {
                if let Some(bar) = bars.remove(id) {
                    bar.finish_and_clear();
                }
                let _ = self.multi.println(format!("✗ {id}: {} failed: {error}", verb(*op).0));
            }
            Event::Skipped { id, because, .. } => {
                let _ = self.multi.println(format!("- {id}: skipped because {because}"));
            }
        }
    }
}
