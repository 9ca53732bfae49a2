//! Waiting on a status, shared by the kinds whose resources come up over
//! minutes (RDS, MQ, Directory Service, NAT gateways): which statuses
//! mean ready, which mean it failed for good, and that every other (or
//! none yet) means "not yet".

use crate::provider::{Attrs, ProviderError, Result};

/// The answer of a `poll_ready` from `status`: the attributes `ready`
/// gives once it is one of `ready_in`; the error `failed` words for one of
/// `failed_in`; otherwise not ready yet.
pub fn ready_when<T: PartialEq + ?Sized>(
    status: Option<&T>,
    ready_in: &[&T],
    failed_in: &[&T],
    ready: impl FnOnce() -> Attrs,
    failed: impl FnOnce(&T) -> ProviderError,
) -> Result<Option<Attrs>> {
    match status {
        Some(s) if ready_in.contains(&s) => Ok(Some(ready())),
        Some(s) if failed_in.contains(&s) => Err(failed(s)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(status: Option<&str>) -> Result<Option<Attrs>> {
        ready_when(status, &["available"], &["failed", "storage-full"], Attrs::new, |s| {
            ProviderError::new(format!("it is {s}"))
        })
    }

    #[test]
    fn ready_failed_and_not_yet() {
        assert_eq!(poll(Some("available")).unwrap(), Some(Attrs::new()));
        assert_eq!(poll(Some("storage-full")).unwrap_err().message, "it is storage-full");
        assert_eq!(poll(Some("creating")).unwrap(), None);
        assert_eq!(poll(None).unwrap(), None);
    }
}
