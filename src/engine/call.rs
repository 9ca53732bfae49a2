//! One provider call as the engine makes it: under an API permit, retried
//! while the error is retryable, abandoned soon after an interrupt; and
//! the repeat of a step whose answer was lost.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::provider::retry;
use crate::provider::{Op, Props, ProviderError, ReadQuery, ResourceKind};

use super::{Event, Shared};

/// How long a call in flight at an interrupt may still take.
pub(super) const INTERRUPT_GRACE: Duration = Duration::from_millis(800);

/// Runs a provider call under an API permit, retrying retryable errors.
pub(super) async fn call<T, F, Fut>(shared: &Shared, f: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    call_for(shared, None, f).await
}

/// [`call`] for the operation `op` of `id`: the first retry of an error
/// AWS resolves in its own time (a dependency it releases in minutes) is
/// told as [`Event::Held`], so a long wait says what it waits for.
pub(super) async fn call_for<T, F, Fut>(
    shared: &Shared,
    what: Option<(&str, Op)>,
    mut f: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut told = false;
    let mut delay = shared.opts.backoff;
    let mut attempt = 1;
    let started = Instant::now();
    loop {
        let result = {
            let _permit = shared.sem.acquire().await.expect("semaphore open");
            // After an interrupt a call already sent gets a moment to
            // answer; one still inside the SDK's own retries after that is
            // abandoned (its outcome unknown: a create stays pending, to
            // be looked up by its tags), so the run stops within 2 s.
            tokio::select! {
                r = f() => r,
                _ = async {
                    shared.cancel.cancelled().await;
                    tokio::time::sleep(INTERRUPT_GRACE).await;
                } => Err(ProviderError::abandoned()),
            }
        };
        match result {
            Err(e)
                if retry::again(&e, attempt, shared.opts.attempts, started)
                    && !shared.cancel.is_cancelled() =>
            {
                attempt += 1;
                if let (Some((id, op)), Some(within), false) = (what, e.retry_window(), told) {
                    told = true;
                    shared.events.event(&Event::Held {
                        id: id.to_string(),
                        op,
                        reason: e.message.clone(),
                        within,
                    });
                }
                // An interrupt ends the backoff at once with the last
                // error: the run stops, saves state and exits.
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shared.cancel.cancelled() => return Err(e),
                }
                delay = retry::next(delay);
            }
            other => return other,
        }
    }
}

/// Whether to repeat a step after `e`: its answer was lost (it may or may
/// not have been carried out), fewer than the attempts were lost so far,
/// and no interrupt came. Counts the attempt.
pub(super) fn try_again(shared: &Shared, e: &ProviderError, lost: &mut u32) -> bool {
    let again =
        e.is_outcome_unknown() && *lost < shared.opts.attempts && !shared.cancel.is_cancelled();
    *lost += u32::from(again);
    again
}

/// The live form of the resource `pid`, if it still exists.
pub(super) async fn read_one(
    shared: &Shared,
    kind: &dyn ResourceKind,
    pid: &str,
    props: &Props,
) -> Result<Option<crate::provider::Observed>, ProviderError> {
    let query = ReadQuery { known: vec![(pid.to_string(), props.clone())], discover: false };
    let live = call(shared, || kind.read(&shared.ctx, &query)).await?;
    Ok(live.into_iter().find(|o| o.physical_id == pid))
}
