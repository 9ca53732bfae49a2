//! An in-memory provider: a test double for the engine's scheduling (order,
//! concurrency, failure isolation, crash recovery) and for its benchmark.
//! It is not a stand-in for AWS: AWS behaviour is tested against moto.
//!
//! Its kinds (`test.thing`, `test.slow`) keep resources in one shared
//! [`MemoryCloud`], which counts calls, measures peak concurrency, adds
//! latency, and fails or "crashes" on request.

use crate::provider::Result;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::{
    Attrs, Context, CreateRequest, Created, Declared, Observed, Op, Props, ProviderError,
    ReadQuery, ResourceKind,
};
use crate::schema::{Attr, Prop, Replacement, Schema, Type, rows};

pub static THING: Schema = Schema::new("test.thing", "An in-memory resource for engine tests.")
    .properties(rows! {
        Prop::new("name", Type::String, "Changing it replaces the thing.").replace(),
        Prop::new("value", Type::String, "Mutable in place."),
        Prop::new("refs", Type::List(&Type::String), "References to other things."),
        Prop::new("secret", Type::String, "A sensitive value.").sensitive(),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "A fake ARN."),
    });

pub static SLOW: Schema =
    Schema::new("test.slow", "An in-memory resource that takes a while to become ready.")
        .properties(rows! {
            Prop::new("value", Type::String, "Mutable in place."),
        });

/// Unique names (replacement deletes first) and a destroy rule: every
/// `test.thing` of the stack is deleted before any `test.unique`.
pub static UNIQUE: Schema = Schema::new("test.unique", "An in-memory resource with a unique name.")
    .properties(rows! {
        Prop::new("name", Type::String, "Unique; changing it replaces.").replace(),
    })
    .replacement(Replacement::DeleteFirst("the name is unique"));

/// A part of a `test.thing` (its `owner`, the thing's arn) that goes
/// with it: deleting the thing deletes its parts.
pub static PART: Schema = Schema::new("test.part", "An in-memory resource deleted with its owner.")
    .properties(rows! {
        Prop::new("owner", Type::String, "The arn of the test.thing it belongs to.").replace(),
    });

/// A stored resource.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stored {
    pub kind: String,
    pub stack: String,
    pub logical_id: String,
    pub props: Props,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SavedCloud {
    resources: BTreeMap<String, Stored>,
    next_id: u64,
    /// Systems Manager parameters `${ssm:NAME}` looks up.
    #[serde(default)]
    parameters: BTreeMap<String, String>,
}

/// [`SavedCloud`] as written, borrowed.
#[derive(serde::Serialize)]
struct SavedCloudRef<'a> {
    resources: &'a BTreeMap<String, Stored>,
    next_id: u64,
    parameters: &'a BTreeMap<String, String>,
}

/// What the cloud does to the next matching call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fail without side effects.
    Fail,
    /// Fail retryably `n` times, then succeed.
    Throttle(u32),
    /// Fail `n` times as "still in use" (a dependency AWS releases slowly,
    /// retried for minutes), then succeed.
    InUse(u32),
    /// Perform the call, then never answer (a crash or lost response: the
    /// test aborts the run while it waits).
    Hang,
    /// Perform the call, then answer with an error (a lost response whose
    /// retry failed).
    LoseResponse,
    /// Perform the create without its `value` (a configuration step made
    /// after the create call, such as a subnet attribute), then fail that
    /// step retryably, naming the new id.
    ThrottleAfterCreate,
}

/// The shared in-memory "cloud".
#[derive(Debug, Default)]
pub struct MemoryCloud {
    pub resources: Mutex<BTreeMap<String, Stored>>,
    next_id: AtomicU64,
    /// Whether a `test.part` was ever made: only then does a delete look
    /// for parts of what it deletes (a scan of every resource, which made
    /// a 10,000-resource destroy quadratic in the benchmark).
    parts: AtomicBool,
    /// Latency of every call.
    pub latency: Mutex<Duration>,
    /// Faults by (logical id, op).
    faults: Mutex<HashMap<(String, Op), Fault>>,
    /// A fault for the n-th mutating call (0-based), whatever it is.
    nth_fault: Mutex<Option<(usize, Fault)>>,
    mutations: AtomicUsize,
    inflight: AtomicUsize,
    pub peak_inflight: AtomicUsize,
    /// Every call: (op or "read", kind, logical id).
    pub log: Mutex<Vec<(String, String, String)>>,
    /// How many polls a `test.slow` resource needs before it is ready.
    pub slow_polls: AtomicUsize,
    polls: Mutex<HashMap<String, usize>>,
    /// Systems Manager parameters, by name, for `${ssm:NAME}`.
    pub parameters: Mutex<BTreeMap<String, String>>,
}

impl MemoryCloud {
    pub fn new() -> Arc<MemoryCloud> {
        Arc::new(MemoryCloud::default())
    }

    /// Loads a cloud saved by [`MemoryCloud::save`] (or an empty one), so
    /// separate CLI runs share it: the CLI's tests use this through
    /// `ARCHKIT_TEST_CLOUD`.
    pub fn load(path: &std::path::Path) -> std::io::Result<Arc<MemoryCloud>> {
        let cloud = MemoryCloud::default();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let saved: SavedCloud = serde_json::from_str(&text)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                let parts = saved.resources.values().any(|r| r.kind == PART.kind);
                cloud.parts.store(parts, Ordering::SeqCst);
                *cloud.resources.lock().unwrap() = saved.resources;
                cloud.next_id.store(saved.next_id, Ordering::SeqCst);
                *cloud.parameters.lock().unwrap() = saved.parameters;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(Arc::new(cloud))
    }

    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        // Serialised under the locks rather than copied out first.
        let resources = self.resources.lock().unwrap();
        let parameters = self.parameters.lock().unwrap();
        let saved = SavedCloudRef {
            resources: &resources,
            next_id: self.next_id.load(Ordering::SeqCst),
            parameters: &parameters,
        };
        let text = serde_json::to_string_pretty(&saved)?;
        drop((resources, parameters));
        std::fs::write(path, text)
    }

    pub fn set_latency(&self, d: Duration) {
        *self.latency.lock().unwrap() = d;
    }

    pub fn fault(&self, logical_id: &str, op: Op, fault: Fault) {
        self.faults.lock().unwrap().insert((logical_id.to_string(), op), fault);
    }

    /// Makes the `n`-th mutating call from now (0-based) hit `fault`.
    pub fn fault_nth_mutation(&self, n: usize, fault: Fault) {
        let base = self.mutations.load(Ordering::SeqCst);
        *self.nth_fault.lock().unwrap() = Some((base + n, fault));
    }

    pub fn clear_faults(&self) {
        self.faults.lock().unwrap().clear();
        *self.nth_fault.lock().unwrap() = None;
    }

    /// The number of mutating calls so far.
    pub fn mutation_count(&self) -> usize {
        self.mutations.load(Ordering::SeqCst)
    }

    /// Resources of a stack by logical id; several with one id would be a
    /// duplicate.
    pub fn by_logical_id(&self, stack: &str) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (pid, r) in self.resources.lock().unwrap().iter() {
            if r.stack == stack {
                out.entry(r.logical_id.clone()).or_default().push(pid.clone());
            }
        }
        out
    }

    pub fn calls(&self, what: &str) -> usize {
        self.log.lock().unwrap().iter().filter(|c| c.0 == what).count()
    }

    /// The kinds read so far, in the order their reads began.
    pub fn reads(&self) -> Vec<String> {
        self.log.lock().unwrap().iter().filter(|c| c.0 == "read").map(|c| c.1.clone()).collect()
    }

    /// Kind names of every provider this cloud backs.
    pub fn kinds(self: &Arc<Self>) -> Vec<Arc<dyn ResourceKind>> {
        vec![
            Arc::new(MemoryKind { schema: &THING, cloud: self.clone() }),
            Arc::new(MemoryKind { schema: &SLOW, cloud: self.clone() }),
            Arc::new(MemoryKind { schema: &UNIQUE, cloud: self.clone() }),
            Arc::new(MemoryKind { schema: &PART, cloud: self.clone() }),
        ]
    }

    async fn enter(&self, what: &str, kind: &str, logical: &str) -> Inflight<'_> {
        let now = self.inflight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_inflight.fetch_max(now, Ordering::SeqCst);
        self.log.lock().unwrap().push((what.to_string(), kind.to_string(), logical.to_string()));
        let latency = *self.latency.lock().unwrap();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        Inflight(self)
    }

    /// The fault for this mutating call, if any.
    fn take_fault(&self, logical: &str, op: Op) -> Option<Fault> {
        let n = self.mutations.fetch_add(1, Ordering::SeqCst);
        let mut nth = self.nth_fault.lock().unwrap();
        if let Some((at, f)) = *nth
            && at == n
        {
            *nth = None;
            return Some(f);
        }
        drop(nth);
        let mut faults = self.faults.lock().unwrap();
        let key = (logical.to_string(), op);
        match faults.get(&key).copied() {
            Some(Fault::Throttle(0)) => {
                faults.remove(&key);
                None
            }
            Some(Fault::Throttle(k)) => {
                faults.insert(key, Fault::Throttle(k - 1));
                Some(Fault::Throttle(k))
            }
            Some(Fault::InUse(0)) => {
                faults.remove(&key);
                None
            }
            Some(Fault::InUse(k)) => {
                faults.insert(key, Fault::InUse(k - 1));
                Some(Fault::InUse(k))
            }
            other => other,
        }
    }
}

struct Inflight<'a>(&'a MemoryCloud);

impl Drop for Inflight<'_> {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One in-memory kind.
pub struct MemoryKind {
    schema: &'static Schema,
    cloud: Arc<MemoryCloud>,
}

fn fail(f: Fault) -> ProviderError {
    match f {
        Fault::Throttle(_) => ProviderError::new("Rate exceeded").code("Throttling").retryable(),
        Fault::InUse(_) => ProviderError::new("resource has a dependent object")
            .code("DependencyViolation")
            .retry_within(Duration::from_secs(60)),
        _ => ProviderError::new("injected failure").code("Injected"),
    }
}

fn attrs(pid: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("arn".into(), Value::String(format!("arn:memory:{pid}")));
    a
}

impl Declared for MemoryKind {
    fn schema(&self) -> &'static Schema {
        self.schema
    }
}

#[async_trait]
impl ResourceKind for MemoryKind {
    /// `refs` is a set, compared in sorted order (as AWS returns subnets
    /// and security groups in any order).
    fn normalize(&self, props: &mut Props) {
        if let Some(Value::Array(refs)) = props.get_mut("refs") {
            refs.sort_by_key(|v| v.to_string());
        }
    }

    async fn read(&self, ctx: &Context, query: &ReadQuery) -> Result<Vec<Observed>> {
        let _g = self.cloud.enter("read", self.schema.kind, "*").await;
        let res = self.cloud.resources.lock().unwrap();
        let wanted: std::collections::HashSet<&str> =
            query.known.iter().map(|(id, _)| id.as_str()).collect();
        Ok(res
            .iter()
            .filter(|(pid, r)| {
                r.kind == self.schema.kind
                    && (wanted.contains(pid.as_str()) || (query.discover && r.stack == ctx.stack))
            })
            .map(|(pid, r)| Observed {
                physical_id: pid.clone(),
                logical_id: Some(r.logical_id.clone()),
                other_state: None,
                properties: r.props.clone(),
                attributes: attrs(pid),
            })
            .collect())
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let _g = self.cloud.enter("create", self.schema.kind, &req.logical_id).await;
        let fault = self.cloud.take_fault(&req.logical_id, Op::Create);
        if let Some(f @ (Fault::Fail | Fault::Throttle(_) | Fault::InUse(_))) = fault {
            return Err(fail(f));
        }
        let n = self.cloud.next_id.fetch_add(1, Ordering::SeqCst);
        let pid = format!("{}-{n:06}", self.schema.kind.trim_start_matches("test."));
        let mut props = req.properties.clone();
        if fault == Some(Fault::ThrottleAfterCreate) {
            props.remove("value");
        }
        if self.schema.kind == PART.kind {
            self.cloud.parts.store(true, Ordering::SeqCst);
        }
        self.cloud.resources.lock().unwrap().insert(
            pid.clone(),
            Stored {
                kind: self.schema.kind.to_string(),
                stack: ctx.stack.clone(),
                logical_id: req.logical_id.clone(),
                props,
            },
        );
        if fault == Some(Fault::ThrottleAfterCreate) {
            let mut e = ProviderError::new("Rate exceeded").code("Throttling").retryable();
            e.partial_id = Some(pid);
            return Err(e);
        }
        if fault == Some(Fault::Hang) {
            std::future::pending::<()>().await;
        }
        if fault == Some(Fault::LoseResponse) {
            return Err(ProviderError::new("connection reset").code("Dispatch"));
        }
        Ok(Created { attributes: attrs(&pid), physical_id: pid })
    }

    async fn update(
        &self,
        _ctx: &Context,
        physical_id: &str,
        _old: &Props,
        new: &Props,
    ) -> Result<Attrs> {
        let logical = self.logical(physical_id);
        let _g = self.cloud.enter("update", self.schema.kind, &logical).await;
        let fault = self.cloud.take_fault(&logical, Op::Update);
        if let Some(f @ (Fault::Fail | Fault::Throttle(_) | Fault::InUse(_))) = fault {
            return Err(fail(f));
        }
        {
            let mut res = self.cloud.resources.lock().unwrap();
            let Some(r) = res.get_mut(physical_id) else {
                return Err(ProviderError::new("no such resource").code("NotFound").not_found());
            };
            r.props = new.clone();
        }
        if fault == Some(Fault::Hang) {
            std::future::pending::<()>().await;
        }
        Ok(attrs(physical_id))
    }

    async fn delete(&self, _ctx: &Context, physical_id: &str, _props: &Props) -> Result<()> {
        let logical = self.logical(physical_id);
        let _g = self.cloud.enter("delete", self.schema.kind, &logical).await;
        let fault = self.cloud.take_fault(&logical, Op::Delete);
        if let Some(f @ (Fault::Fail | Fault::Throttle(_) | Fault::InUse(_))) = fault {
            return Err(fail(f));
        }
        let removed = {
            let mut all = self.cloud.resources.lock().unwrap();
            let owner = Value::String(format!("arn:memory:{physical_id}"));
            if self.cloud.parts.load(Ordering::SeqCst) {
                all.retain(|_, r| !(r.kind == PART.kind && r.props.get("owner") == Some(&owner)));
            }
            all.remove(physical_id)
        };
        if fault == Some(Fault::Hang) {
            std::future::pending::<()>().await;
        }
        match removed {
            Some(_) => Ok(()),
            None => Err(ProviderError::new("no such resource").code("NotFound").not_found()),
        }
    }

    async fn poll_ready(&self, _ctx: &Context, physical_id: &str) -> Result<Option<Attrs>> {
        if self.schema.kind != SLOW.kind {
            return Ok(Some(attrs(physical_id)));
        }
        let logical = self.logical(physical_id);
        let _g = self.cloud.enter("poll", self.schema.kind, &logical).await;
        let need = self.cloud.slow_polls.load(Ordering::SeqCst);
        let mut polls = self.cloud.polls.lock().unwrap();
        let n = polls.entry(physical_id.to_string()).or_default();
        *n += 1;
        Ok((*n >= need).then(|| attrs(physical_id)))
    }

    fn delete_after(&self) -> &'static [&'static Schema] {
        static KINDS: [&Schema; 1] = [&THING];
        if self.schema.kind == UNIQUE.kind { &KINDS } else { &[] }
    }

    fn deleted_with(&self) -> &'static [&'static Schema] {
        static KINDS: [&Schema; 1] = [&THING];
        if self.schema.kind == PART.kind { &KINDS } else { &[] }
    }

    /// `test.unique` claims reads of two rounds, for the refresh's order.
    fn read_rounds(&self) -> usize {
        if self.schema.kind == UNIQUE.kind { 2 } else { 1 }
    }

    fn expected_duration(&self, _op: Op) -> Duration {
        if self.schema.kind == SLOW.kind {
            Duration::from_millis(20)
        } else {
            Duration::from_millis(1)
        }
    }
}

impl MemoryKind {
    fn logical(&self, physical_id: &str) -> String {
        self.cloud
            .resources
            .lock()
            .unwrap()
            .get(physical_id)
            .map(|r| r.logical_id.clone())
            .unwrap_or_default()
    }
}
