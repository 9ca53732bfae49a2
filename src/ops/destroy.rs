//! `archkit destroy` without a blueprint (`--discover`, and `sweep` and
//! `stacks`, which find stacks by their tags): a destroy session of a
//! stack known only by its name, reading every kind for its tags.

use std::path::PathBuf;
use std::time::Duration;

use crate::blueprint::source;
use crate::session::{OpenError, Session};
use crate::settings::{Expiry, Mode, Settings, Teardown};

/// The settings of a discovery of stack `name`, its state in `state`
/// (none: the stack's default file), not waiting for a lock.
pub fn discovery(
    name: &str,
    aws: &crate::aws::Settings,
    state: Option<PathBuf>,
    lock_owner: &str,
) -> Settings {
    Settings {
        mode: Mode::Destroy(Teardown { discover: true, force_empty: false }),
        stack: Some(name.to_string()),
        state,
        lock_timeout: Duration::ZERO,
        lock_owner: lock_owner.to_string(),
        aws: aws.clone(),
        inputs: Default::default(),
        read_parallelism: 10,
        expiry: Expiry::Keep,
    }
}

/// A destroy session of the stack `settings` names, with no blueprint:
/// what it has is found by its tags. `settings.mode` should be a destroy
/// with `discover`.
pub async fn open_discovery(settings: &Settings) -> Result<Session, OpenError> {
    let name = settings.stack.as_deref().unwrap_or_default();
    let located = source::discovered(name);
    Session::open(settings, &located, &mut |_| None).await
}
