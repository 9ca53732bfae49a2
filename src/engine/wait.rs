//! Waiting for a resource to become ready or to be gone: one poll loop
//! ([`poll_until`]) with one schedule ([`PollSchedule`]), holding no API
//! permit between polls and ending at an interrupt or the wait timeout.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::provider::{Attrs, Op, ProviderError, ResourceKind};

use super::call::call;
use super::journal::sync_state;
use super::{Event, Shared, StepError};

/// The pauses between readiness (or deletion) polls: each a twentieth of
/// the time waited so far, at least `min` and at most a tenth of the
/// kind's expected duration (at most 15 s). So a wait ends at most
/// `max(min, 5 %)` after the resource became ready (1 s for the first 20 s
/// of a wait, 3 s a minute in, 15 s from five minutes on): a dependent
/// starts soon after its input is ready, and a 15-minute broker is polled
/// every 15 s, not every second (issue 34 §1).
#[derive(Debug, Clone)]
pub struct PollSchedule {
    min: Duration,
    cap: Duration,
    /// The pauses so far.
    waited: Duration,
}

impl PollSchedule {
    pub fn new(min: Duration, expected: Duration) -> PollSchedule {
        let cap = (expected / 10).max(min).min(Duration::from_secs(15));
        PollSchedule { min: min.min(cap), cap, waited: Duration::ZERO }
    }
}

impl Iterator for PollSchedule {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let now = (self.waited / 20).clamp(self.min, self.cap);
        self.waited += now;
        Some(now)
    }
}

/// The pauses of a wait for `op` of a resource of `kind`.
fn polls(shared: &Shared, kind: &dyn ResourceKind, op: Op) -> PollSchedule {
    PollSchedule::new(shared.opts.min_poll, kind.expected_duration(op))
}

/// What a wait is for.
struct Wait<'a> {
    id: &'a str,
    /// `Create` waits for readiness (after an update too); `Delete` for
    /// the resource to be gone.
    op: Op,
    /// Tell the wait ([`Event::Waiting`]), after putting what was
    /// recorded on disk: minutes may pass.
    announce: bool,
    /// The caller has polled once already and it was not done, so the
    /// wait begins with a pause.
    polled: bool,
}

/// Calls `poll` until it gives a value, holding no permit between polls.
/// `Ok(None)` when interrupted; an error once the wait timeout has passed.
async fn poll_until<T, F, Fut>(
    shared: &Shared,
    kind: &dyn ResourceKind,
    wait: Wait<'_>,
    mut poll: F,
) -> Result<Option<T>, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    let deadline = Instant::now() + shared.opts.wait_timeout;
    let mut polled = wait.polled;
    let mut announce = wait.announce;
    let mut pauses = polls(shared, kind, wait.op);
    loop {
        if !std::mem::take(&mut polled)
            && let Some(done) = poll().await?
        {
            return Ok(Some(done));
        }
        if std::mem::take(&mut announce) {
            sync_state(shared).await?;
            shared.events.event(&Event::Waiting { id: wait.id.to_string(), op: wait.op });
        }
        if Instant::now() >= deadline {
            let waited = shared.opts.wait_timeout;
            return Err(match wait.op {
                Op::Delete => StepError::NotDeleted(waited),
                _ => StepError::NotReady(waited),
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(pauses.next().expect("endless")) => {}
            _ = shared.cancel.cancelled() => return Ok(None),
        }
    }
}

/// Polls `pid` until it is ready, with the attributes it reports.
/// `Ok(None)` when interrupted. `polled`: the caller has polled once
/// already and it was not ready.
pub(super) async fn wait_ready(
    shared: &Shared,
    kind: &dyn ResourceKind,
    id: &str,
    pid: &str,
    polled: bool,
) -> Result<Option<Attrs>, StepError> {
    let wait = Wait { id, op: Op::Create, announce: true, polled };
    poll_until(shared, kind, wait, || call(shared, || kind.poll_ready(&shared.ctx, pid))).await
}

/// Polls `pid` until it is gone (a read that finds nothing counts).
/// `Ok(false)` when interrupted.
pub(super) async fn wait_deleted(
    shared: &Shared,
    kind: &dyn ResourceKind,
    id: &str,
    pid: &str,
) -> Result<bool, StepError> {
    // A delete is not announced as a wait: most are gone at the first poll.
    let wait = Wait { id, op: Op::Delete, announce: false, polled: false };
    let gone = poll_until(shared, kind, wait, || async {
        match call(shared, || kind.poll_deleted(&shared.ctx, pid)).await {
            Ok(true) => Ok(Some(())),
            Ok(false) => Ok(None),
            Err(e) if e.is_not_found() => Ok(Some(())),
            Err(e) => Err(e),
        }
    })
    .await?;
    Ok(gone.is_some())
}
