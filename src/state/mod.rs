//! Stack state: what archkit created, as it last applied and read it back.
//!
//! One versioned JSON document per stack, with a lineage id (so a state
//! from another stack is never mistaken for this one) and a serial that
//! grows with every write. The engine writes it after **every** operation
//! and records pending operations before it calls AWS, so a crash, Ctrl-C
//! or AWS error never leaves a resource archkit cannot find again
//! (Terraform's `StateHook`, Pulumi's `BeginMutation`/`End`).

pub mod journal;
pub mod local;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

pub use local::{LocalStore, LockGuard, LockInfo, StateError};

/// Where a stack's state lives: a local file ([`LocalStore`]) or an
/// object in S3 (`src/aws/s3state.rs`, the only place that names the S3
/// SDK). Sessions and `archkit state` use it without knowing which.
pub trait StateStore: StateSink {
    /// The path or `s3://bucket/key`, for messages.
    fn location(&self) -> String;
    /// The stored state, `None` when the stack has none yet.
    fn load(&self) -> Result<Option<State>, StateError>;
    /// Takes the stack's lock, waiting up to `timeout` (with backoff) for
    /// another holder to finish; released when the guard drops.
    fn lock(&self, owner: &str, timeout: Duration) -> Result<LockGuard, StateError>;
    /// Who holds the lock now, if anyone.
    fn holder(&self) -> Result<Option<LockInfo>, StateError>;
    /// Breaks the lock (`archkit state unlock [ID]`): only the lock `id`
    /// names when given (a store shared between hosts requires it), and
    /// not a lock whose holder still runs on this host unless `force`.
    fn unlock(&self, id: Option<&str>, force: bool) -> Result<Option<LockInfo>, StateError>;
    /// Advice about how the store is set up (S3 versioning turned off).
    fn advice(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Where the engine writes state after every operation.
pub trait StateSink: Send + Sync {
    /// Writes the whole state (the start and end of a run).
    fn write(&self, state: &mut State) -> Result<(), StateError>;
    /// Records an operation on `id`: what state holds for it changed (its
    /// record, pending operation or deposed objects), nothing else did.
    /// Durable once [`StateSink::sync`] with the state's new serial has
    /// returned.
    fn write_one(&self, state: &mut State, id: &str) -> Result<(), StateError> {
        let _ = id;
        self.write(state)
    }
    /// Waits until every record up to `serial` is on disk.
    fn sync(&self, serial: u64) -> Result<(), StateError> {
        let _ = serial;
        Ok(())
    }
}

impl StateSink for LocalStore {
    fn write(&self, state: &mut State) -> Result<(), StateError> {
        LocalStore::write(self, state)
    }
    fn write_one(&self, state: &mut State, id: &str) -> Result<(), StateError> {
        LocalStore::write_one(self, state, id)
    }
    fn sync(&self, serial: u64) -> Result<(), StateError> {
        LocalStore::sync(self, serial)
    }
}

/// The state format this build reads and writes. A newer file is refused,
/// never overwritten.
/// Version 2 added the `creating` status; version 1 files are read as is.
pub const FORMAT_VERSION: u32 = 2;

/// The state of one stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub format_version: u32,
    /// Random id fixed when the stack's state is first created.
    pub lineage: String,
    /// Incremented on every write.
    pub serial: u64,
    pub stack: String,
    /// The blueprint's `name` when last applied.
    pub blueprint: String,
    /// Resources by logical id.
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceState>,
    /// Operations begun but not confirmed: each may have left a resource
    /// behind, to be reconciled by its tags on the next plan. At most one
    /// per logical id, keyed by it: an apply begins thousands before their
    /// calls, and each record's lookup must not cost the number pending
    /// (issue 16). Stored as a list of operations, as before.
    #[serde(default, with = "pending_list")]
    pub pending: BTreeMap<String, PendingOperation>,
    /// Old objects of replaced resources, kept until they are deleted
    /// (Terraform's "deposed" objects).
    #[serde(default)]
    pub deposed: Vec<Deposed>,
    /// When the stack expires (`apply --ttl`), RFC 3339: every taggable
    /// resource carries it as `archkit:expires-at`, for `archkit sweep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The blueprint's outputs as of the last apply, for `archkit output`
    /// (no AWS call). A sensitive one is recorded as such, without value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, StoredOutput>,
}

/// One recorded output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOutput {
    /// Null when not known, or sensitive.
    pub value: serde_json::Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

impl State {
    pub fn new(stack: &str, blueprint: &str) -> State {
        State {
            format_version: FORMAT_VERSION,
            // Version 7: the id also tells when the stack was first created
            // (its age, for `archkit stacks`), from its resources' tags alone.
            lineage: uuid::Uuid::now_v7().to_string(),
            serial: 0,
            stack: stack.to_string(),
            blueprint: blueprint.to_string(),
            resources: BTreeMap::new(),
            pending: BTreeMap::new(),
            deposed: Vec::new(),
            expires_at: None,
            outputs: BTreeMap::new(),
        }
    }

    /// Records that an operation is about to start (before the API call).
    pub fn begin(&mut self, id: &str, kind: &str, op: Operation) {
        let p = PendingOperation { id: id.to_string(), kind: kind.to_string(), op, started: now() };
        self.pending.insert(id.to_string(), p);
    }

    /// Clears the pending operation of `id` once its outcome is recorded.
    pub fn end(&mut self, id: &str) {
        self.pending.remove(id);
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.pending.is_empty() && self.deposed.is_empty()
    }
}

/// Whether a recorded resource is healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ready,
    /// Created, and archkit was waiting for it to become ready when the run
    /// stopped (a crash or Ctrl-C during a NAT gateway's or broker's
    /// minutes): the next apply waits again before its dependents go on.
    Creating,
    /// Created, but its creation did not finish cleanly (it failed after
    /// AWS returned an id, or its wait failed): it is replaced next apply.
    Tainted,
}

/// One resource archkit manages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceState {
    pub kind: String,
    /// The provider's id (vpc-..., an ARN, a name).
    pub physical_id: String,
    /// The properties archkit last applied, references resolved. Secret
    /// values are stored only as a salted digest (see the engine).
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// Attributes read back after apply (ARNs, DNS names, ...).
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
    pub status: Status,
    /// Logical ids it depends on, so it can be destroyed in order after
    /// it has left the blueprint.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

impl ResourceState {
    /// This record with `attributes` added.
    pub fn with(mut self, attributes: BTreeMap<String, serde_json::Value>) -> Self {
        self.attributes.extend(attributes);
        self
    }
}

/// The old object of a resource being replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deposed {
    pub id: String,
    pub kind: String,
    pub physical_id: String,
    pub properties: serde_json::Map<String, serde_json::Value>,
}

/// What a pending operation was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Create,
    Update,
    Delete,
}

/// An operation begun but not yet confirmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingOperation {
    pub id: String,
    pub kind: String,
    pub op: Operation,
    /// RFC 3339 time the operation started.
    pub started: String,
}

/// The current time in RFC 3339, to the second.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

impl StateStore for LocalStore {
    fn location(&self) -> String {
        self.path().display().to_string()
    }
    fn load(&self) -> Result<Option<State>, StateError> {
        LocalStore::load(self)
    }
    fn lock(&self, owner: &str, timeout: Duration) -> Result<LockGuard, StateError> {
        LocalStore::lock(self, owner, timeout)
    }
    fn holder(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(LocalStore::holder(self))
    }
    fn unlock(&self, id: Option<&str>, force: bool) -> Result<Option<LockInfo>, StateError> {
        LocalStore::unlock(self, id, force)
    }
}

/// `State::pending` as the list of operations the file holds (each names
/// its id); a list naming an id twice keeps the last.
mod pending_list {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::PendingOperation;

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<String, PendingOperation>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.values())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, PendingOperation>, D::Error> {
        let list = Vec::<PendingOperation>::deserialize(d)?;
        Ok(list.into_iter().map(|p| (p.id.clone(), p)).collect())
    }
}
