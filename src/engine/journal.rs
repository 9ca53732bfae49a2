//! How the engine records what it does in state: a pending entry before
//! a call that changes AWS, on disk before the call ([`write_state`]); the
//! outcome right after, in the file at once and on disk by the next
//! change ([`note_state`]); and the form a resource is recorded in, with
//! secrets as digests.

use std::collections::BTreeMap;
#[cfg(feature = "test-cloud")]
use std::sync::Mutex;

use serde_json::Value;

use crate::plan::{self, Change};
use crate::provider::{Attrs, Props};
use crate::state::{ResourceState, State, Status};
#[cfg(feature = "test-cloud")]
use crate::state::{StateError, StateSink};

use super::{Shared, StepError};

/// Keeps every written state in memory (tests), or only counts writes
/// (benchmarks of the engine's own overhead).
#[cfg(feature = "test-cloud")]
#[derive(Debug, Default)]
pub struct MemorySink {
    pub writes: Mutex<Vec<State>>,
    /// Count writes without keeping copies.
    pub count_only: bool,
    pub count: std::sync::atomic::AtomicUsize,
}

#[cfg(feature = "test-cloud")]
impl StateSink for MemorySink {
    fn write(&self, state: &mut State) -> Result<(), StateError> {
        state.serial += 1;
        self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !self.count_only {
            self.writes.lock().unwrap().push(state.clone());
        }
        Ok(())
    }
}

/// Values known after apply, for recording adopted resources.
pub(super) fn known_after(c: &Change) -> BTreeMap<String, Value> {
    c.after.iter().filter_map(|(k, v)| Some((k.clone(), v.clone()?))).collect()
}

/// What is stored in state for a resource: its applied properties, with
/// secrets replaced by their digest.
pub(super) fn stored_props(c: &Change, props: &BTreeMap<String, Value>) -> Props {
    props
        .iter()
        .map(|(k, v)| {
            if c.sensitive.contains(k) {
                (k.clone(), plan::secret_digest(k, v))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

/// Changes what state holds for `id` and records it, returning once the
/// record is on disk: for the records that precede a call that changes
/// AWS (an operation begins). The sync happens outside the state's lock
/// and off the runtime's threads, so operations beginning meanwhile
/// share the next one ([`commit`]).
pub(super) async fn write_state(
    shared: &Shared,
    id: &str,
    f: impl FnOnce(&mut State),
) -> Result<(), StepError> {
    note_state(shared, id, f)?;
    sync_state(shared).await
}

/// Changes what state holds for `id` and records it without waiting for
/// the disk: for outcomes (created, ready, deleted). The record is in the
/// file at once (a reader, or the next run after a kill, sees it) and on
/// disk by the task's next change to AWS or wait ([`sync_state`]),
/// another task's, or the run's last write. A machine that loses power
/// before then loses at most outcomes whose operations' beginnings are on
/// disk, which the next plan reconciles by tags, as it does a crash
/// between an AWS answer and its record.
pub(super) fn note_state(
    shared: &Shared,
    id: &str,
    f: impl FnOnce(&mut State),
) -> Result<(), StepError> {
    let mut st = shared.state.lock().unwrap();
    f(&mut st);
    Ok(shared.sink.write_one(&mut st, id)?)
}

/// Waits until every record so far is on disk.
pub(super) async fn sync_state(shared: &Shared) -> Result<(), StepError> {
    let serial = || shared.state.lock().unwrap().serial;
    Ok(shared.commit.durable(&shared.sink, serial(), serial).await?)
}

/// The state record of `c` created as `pid`.
pub(super) fn record(c: &Change, pid: &str, properties: Props, status: Status) -> ResourceState {
    ResourceState {
        kind: c.kind.clone(),
        physical_id: pid.to_string(),
        properties,
        attributes: Default::default(),
        status,
        depends_on: c.depends_on.clone(),
    }
}

/// Records that a resource is ready, with the attributes it reported.
pub(super) fn record_ready(shared: &Shared, id: &str, attrs: Attrs) -> Result<(), StepError> {
    let st = shared.state.lock().unwrap();
    let unchanged =
        attrs.is_empty() && st.resources.get(id).is_none_or(|r| r.status == Status::Ready);
    drop(st);
    if unchanged {
        return Ok(());
    }
    note_state(shared, id, |st| {
        if let Some(r) = st.resources.get_mut(id) {
            r.attributes.extend(attrs);
            r.status = Status::Ready;
        }
    })
}
