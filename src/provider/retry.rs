//! When a failed provider call is tried again, shared by the engine and
//! the plan's refresh: throttling and eventual consistency (retryable
//! errors), with a doubling backoff, for a number of attempts or, for
//! errors AWS resolves in its own time, for as long as they ask.

use std::future::Future;
use std::time::{Duration, Instant};

use super::{ProviderError, Result};

/// Attempts for a retryable error, the SDK's own retries aside.
pub const ATTEMPTS: u32 = 6;
/// First retry delay; doubled each attempt, up to [`MAX_BACKOFF`].
pub const BACKOFF: Duration = Duration::from_millis(500);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Whether to try again after `e` on attempt `attempt` of `attempts`,
/// the first made at `started`. A create that made its resource
/// (`partial_id`) is never run again: that would make a second one.
pub fn again(e: &ProviderError, attempt: u32, attempts: u32, started: Instant) -> bool {
    e.is_retryable()
        && e.partial_id.is_none()
        && (attempt < attempts || e.retry_window().is_some_and(|d| started.elapsed() < d))
}

/// The delay after `delay`.
pub fn next(delay: Duration) -> Duration {
    delay.saturating_mul(2).min(MAX_BACKOFF)
}

/// Runs `f` until it succeeds or [`again`] says stop. Dropping the
/// future (an interrupt) ends the wait.
pub async fn retrying<T, F, Fut>(mut f: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let started = Instant::now();
    let mut delay = BACKOFF;
    let mut attempt = 1;
    loop {
        match f().await {
            Err(e) if again(&e, attempt, ATTEMPTS, started) => {
                attempt += 1;
                tokio::time::sleep(delay).await;
                delay = next(delay);
            }
            other => return other,
        }
    }
}
