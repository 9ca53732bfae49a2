//! What the engine tells its caller: progress [`Event`]s as operations
//! run, the [`Options`] it runs with, and the [`Report`] of a run.

use std::time::Duration;

use crate::provider::Op;
use crate::provider::retry;

use super::Outcome;

/// Progress events, one per step of each operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started {
        id: String,
        op: Op,
        expected: Duration,
    },
    Waiting {
        id: String,
        op: Op,
    },
    /// The operation waits for something AWS releases in its own time
    /// (`reason`), for up to `within`, retrying.
    Held {
        id: String,
        op: Op,
        reason: String,
        within: Duration,
    },
    /// `note`: what the resource now waits for that is not archkit's to
    /// do ([`crate::provider::ResourceKind::live_note`]).
    Finished {
        id: String,
        op: Op,
        elapsed: Duration,
        note: Option<String>,
    },
    Failed {
        id: String,
        op: Op,
        error: String,
    },
    Skipped {
        id: String,
        op: Op,
        because: String,
    },
}

pub trait Events: Send + Sync {
    fn event(&self, e: &Event);
}

/// Drops events.
pub struct NoEvents;

impl Events for NoEvents {
    fn event(&self, _e: &Event) {}
}

/// How the engine retries and waits.
#[derive(Debug, Clone)]
pub struct Options {
    pub parallelism: usize,
    /// Attempts for a retryable error (throttling, eventual consistency).
    pub attempts: u32,
    /// First retry delay; doubled each attempt.
    pub backoff: Duration,
    /// The fastest a readiness poll repeats (the kind's expected duration
    /// sets the pace up to 15 s).
    pub min_poll: Duration,
    /// Give up waiting for a resource after this long.
    pub wait_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            parallelism: 10,
            attempts: retry::ATTEMPTS,
            backoff: retry::BACKOFF,
            min_poll: Duration::from_secs(1),
            wait_timeout: Duration::from_secs(45 * 60),
        }
    }
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// (resource id, operation, outcome) in operation order.
    pub operations: Vec<(String, Op, Outcome)>,
    pub interrupted: bool,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.operations.iter().filter(|o| matches!(o.2, Outcome::Failed(_))).count()
    }
    pub fn skipped(&self) -> usize {
        self.operations.iter().filter(|o| matches!(o.2, Outcome::Skipped { .. })).count()
    }
    pub fn done(&self) -> usize {
        self.operations.iter().filter(|o| o.2 == Outcome::Done).count()
    }
    pub fn ok(&self) -> bool {
        !self.interrupted && self.operations.iter().all(|o| o.2 == Outcome::Done)
    }

    /// "N operations done, N failed, N skipped[, interrupted]".
    pub fn summary(&self) -> String {
        format!(
            "{} operations done, {} failed, {} skipped{}",
            self.done(),
            self.failed(),
            self.skipped(),
            if self.interrupted { ", interrupted" } else { "" }
        )
    }
}
