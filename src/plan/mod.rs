//! Planning: refresh the live state of a stack, diff the blueprint's
//! desired state against it, and decide one action per resource, as
//! Terraform's `plans` package does (`Action`, `Change{before, after}`,
//! with the reason kept for display only).
//!
//! [`refresh`] talks to the provider (one batched read per kind);
//! [`diff`] is pure, so its rules are unit-tested without any cloud.

pub mod cost;
pub mod render;
pub mod resolve;
pub mod saved;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::blueprint::Blueprint;
use crate::blueprint::params::Values;
use crate::provider::retry::retrying;
use crate::provider::{Context, Observed, Props, ProviderError, ReadQuery, Registry};
use crate::state::{State, Status};
use resolve::{Env, Lookup, PlanValue, ResolveError};

/// What happens to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

/// Why an action was chosen, for display only: it never drives apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Recorded as tainted: its creation did not finish.
    Tainted,
    /// In state, but it no longer exists.
    DeletedOutside,
    /// Found by its tags though state did not record it (a create whose
    /// response was lost).
    Adopted,
    /// No longer in the blueprint.
    NotInBlueprint,
    /// Tagged with this stack, but neither in state nor in the blueprint
    /// (or a duplicate of a recorded resource).
    Orphan,
    /// Its type changed in the blueprint.
    KindChanged,
    /// `destroy` was asked for.
    Destroy,
    /// Destroyed because it is tagged with the stack, though state did not
    /// record it (`destroy --discover`, or a lost state file).
    Discovered,
    /// Created, but a wait for it to become ready did not finish: the
    /// update only waits again.
    NotReady,
}

/// The planned change of one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub id: String,
    pub kind: String,
    pub action: Action,
    /// The existing resource's id, for updates, replacements and deletes.
    pub physical_id: Option<String>,
    /// Live (or last applied) values, for display.
    pub before: Props,
    /// Desired values; `None` inside means "known after apply".
    pub after: BTreeMap<String, Option<Value>>,
    /// Properties whose value changes.
    pub changed: Vec<String>,
    /// Properties forcing a replacement.
    pub replace_because: Vec<String>,
    /// Properties changed outside archkit since the last apply.
    pub drift: Vec<String>,
    /// Properties never shown (secrets).
    pub sensitive: Vec<String>,
    pub reason: Option<Reason>,
    /// Replacement deletes the old resource first.
    pub delete_first: bool,
    /// Logical ids this resource depends on (blueprint or state).
    pub depends_on: Vec<String>,
    /// Logical ids it depended on when last applied but no longer does
    /// (a route moved to another NAT gateway): their deletion waits for
    /// this change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released: Vec<String>,
    /// What an update entails beyond the change (a broker reboot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Attributes of the existing resource, as read live.
    #[serde(default)]
    pub attributes: BTreeMap<String, Value>,
}

/// A whole plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub stack: String,
    pub blueprint: String,
    /// The state the plan was made against: a saved plan is refused when
    /// it has moved on.
    pub lineage: String,
    pub serial: u64,
    /// A plan of the destruction of everything (`plan --destroy`): a saved
    /// one is applied as a destroy.
    #[serde(default)]
    pub destroy: bool,
    /// The stack's expiry once applied (`--ttl`), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Creates and updates in dependency order, then deletes.
    pub changes: Vec<Change>,
    /// State records of resources that no longer exist, dropped from
    /// state before anything is called: those not wanted, and those
    /// wanted again (their change is a create). The plan alone says so;
    /// a change's `reason` is for display only.
    #[serde(default)]
    pub forget: Vec<String>,
    /// Systems Manager parameters looked up for this plan (`${ssm:NAME}`)
    /// and their values, already in the changes' properties. A saved plan
    /// is stale when one has changed since.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lookups: BTreeMap<String, String>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
    }

    pub fn count(&self, a: Action) -> usize {
        self.changes.iter().filter(|c| c.action == a).count()
    }

    pub fn change(&self, id: &str) -> Option<&Change> {
        self.changes.iter().find(|c| c.id == id)
    }
}

/// The live state of a stack's resources.
#[derive(Debug, Default, Clone)]
pub struct Live {
    /// Every observed resource by physical id, with its kind.
    pub by_physical: HashMap<String, (String, Observed)>,
    /// Read calls made (one per kind).
    pub reads: usize,
    /// What the reads found of the stack that another state file manages:
    /// logical id → that state's lineage. Never taken as this state's;
    /// the session refuses to plan while any exists.
    pub other_state: BTreeMap<String, String>,
}

impl Live {
    fn get(&self, pid: &str) -> Option<&Observed> {
        self.by_physical.get(pid).map(|(_, o)| o)
    }
}

/// Reads every resource of the stack: those in state by id, and every
/// resource tagged with the stack, one batched call per kind, up to
/// `parallelism` kinds at once (a plan then costs about its slowest
/// kind's reads, not the sum of all).
pub async fn refresh(
    registry: &Registry,
    ctx: &Context,
    state: &State,
    blueprint_kinds: &BTreeSet<String>,
    parallelism: usize,
) -> Result<Live, ProviderError> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    let mut kinds: BTreeSet<String> = blueprint_kinds.clone();
    kinds.extend(state.resources.values().map(|r| r.kind.clone()));
    kinds.extend(state.pending.values().map(|p| p.kind.clone()));
    kinds.extend(state.deposed.iter().map(|d| d.kind.clone()));
    // Longest read chains first: with more kinds than slots, a chain that
    // starts behind one-call reads ends that much later. The sort is
    // stable, so kinds of equal chains stay in name order.
    let mut kinds: Vec<(String, &std::sync::Arc<dyn crate::provider::ResourceKind>)> = kinds
        .into_iter()
        .filter_map(|kind| {
            let k = registry.kind(&kind)?;
            Some((kind, k))
        })
        .collect();
    kinds.sort_by_key(|(_, k)| std::cmp::Reverse(k.read_rounds()));
    let reads = stream::iter(kinds.into_iter().map(|(kind, k)| read_kind(kind, k, ctx, state)))
        .buffer_unordered(parallelism.max(1));
    let mut read: Vec<(String, Vec<Observed>)> = reads.try_collect().await?;
    // In kind order, whatever order the reads finished in.
    read.sort_by(|a, b| a.0.cmp(&b.0));
    let mut live = Live::default();
    for (kind, observed) in read {
        live.reads += 1;
        for o in observed {
            if let Some(other) = o.other_state {
                live.other_state.insert(other.logical_id, other.lineage);
            } else {
                live.by_physical.insert(o.physical_id.clone(), (kind.clone(), o));
            }
        }
    }
    Ok(live)
}

/// One kind's resources: those recorded (by id) and those tagged with the
/// stack, normalised.
async fn read_kind(
    kind: String,
    k: &std::sync::Arc<dyn crate::provider::ResourceKind>,
    ctx: &Context,
    state: &State,
) -> Result<(String, Vec<Observed>), ProviderError> {
    {
        let mut known: Vec<(String, Props)> = state
            .resources
            .values()
            .filter(|r| r.kind == kind)
            .map(|r| (r.physical_id.clone(), r.properties.clone()))
            .collect();
        known.extend(
            state
                .deposed
                .iter()
                .filter(|d| d.kind == kind)
                .map(|d| (d.physical_id.clone(), d.properties.clone())),
        );
        let query = ReadQuery { known, discover: k.schema().taggable };
        let known: std::collections::HashSet<String> =
            query.known.iter().map(|(id, _)| id.clone()).collect();
        // Throttling and eventual consistency are retried here as in
        // apply: a plan must not fail where an apply would go on.
        let observed = retrying(|| k.read(ctx, &query)).await?;
        // Only what state records or what is tagged with this stack (by
        // this state or another): a provider's filter is not trusted to
        // have been applied.
        let observed = observed
            .into_iter()
            .filter(|o| {
                o.logical_id.is_some() || o.other_state.is_some() || known.contains(&o.physical_id)
            })
            .map(|mut o| {
                k.normalize(&mut o.properties);
                o
            })
            .collect();
        Ok((kind, observed))
    }
}

/// Everything [`diff`] needs.
pub struct Input<'a> {
    pub blueprint: &'a Blueprint,
    pub params: &'a Values,
    pub stack: &'a str,
    pub region: &'a str,
    pub azs: &'a [String],
    pub state: &'a State,
    pub registry: &'a Registry,
    /// Plan the destruction of everything instead.
    pub destroy: bool,
    /// The stack's expiry after the plan (`--ttl`, or the one recorded).
    pub expires_at: Option<&'a str>,
}

/// A problem that prevents planning.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
pub enum PlanError {
    #[error("cannot plan `{id}`: {message}")]
    #[diagnostic(code(archkit::plan::resolve), help("{help}"))]
    Resolve { id: String, message: String, help: String },
    #[error("`{id}` ({kind}): {message}")]
    #[diagnostic(code(archkit::plan::invalid), help("{help}"))]
    Invalid { id: String, kind: String, message: String, help: String },
    #[error("resource type `{kind}` of `{id}` has no implementation in this build")]
    #[diagnostic(
        code(archkit::plan::unsupported_kind),
        help("this archkit can validate the type but not deploy it yet")
    )]
    Unsupported { id: String, kind: String },
}

/// The Argon2id cost of a new secret digest: 64 MiB and 2 passes, so
/// that testing one guess against a state file costs about 0.1 s of one
/// core (`cargo bench --bench secret_digest` measures it; OWASP's floor is
/// 19 MiB and 2 passes).
const DIGEST_M_KIB: u32 = 64 * 1024;
const DIGEST_T: u32 = 2;

/// The digest under which a secret value is stored and compared, never
/// the value itself: Argon2id of the property name and value, with a
/// random salt of its own kept beside it, written
/// `argon2id$m=KIB,t=PASSES,p=1$SALT$HASH` (hex). Reading the state gives
/// no faster way to test a guess than the slow hash itself.
pub fn secret_digest(name: &str, value: &Value) -> Value {
    // A v4 UUID is 122 bits from the operating system's random source.
    let salt = *uuid::Uuid::new_v4().as_bytes();
    Value::String(argon2_digest(DIGEST_M_KIB, DIGEST_T, &salt, name, value))
}

fn argon2_digest(m_kib: u32, t: u32, salt: &[u8], name: &str, value: &Value) -> String {
    use argon2::{Algorithm, Argon2, Params, Version};
    let params = Params::new(m_kib, t, 1, Some(32)).expect("checked by the caller");
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(format!("{name}\0{value}").as_bytes(), salt, &mut out)
        .expect("a salt of 16 bytes and a 32-byte output are valid");
    format!("argon2id$m={m_kib},t={t},p=1${}${}", hex::encode(salt), hex::encode(out))
}

/// Whether `stored` is the digest of this secret value. A digest of an
/// older archkit (`sha256:`, salted with the lineage) is still read, and
/// replaced by an Argon2id one the next time the resource is written. A
/// digest that cannot be read, or whose cost is beyond what archkit
/// writes tenfold (a tampered state), does not match: the secret is set
/// again.
pub fn secret_matches(lineage: &str, name: &str, value: &Value, stored: &Value) -> bool {
    let Some(text) = stored.as_str() else { return false };
    if text.starts_with("sha256:") {
        return legacy_digest(lineage, name, value) == text;
    }
    let parts: Vec<&str> = text.split('$').collect();
    let [algo, params, salt, _hash] = parts[..] else { return false };
    if algo != "argon2id" {
        return false;
    }
    let mut m = None;
    let mut t = None;
    for kv in params.split(',') {
        match kv.split_once('=') {
            Some(("m", v)) => m = v.parse::<u32>().ok(),
            Some(("t", v)) => t = v.parse::<u32>().ok(),
            Some(("p", "1")) => {}
            _ => return false,
        }
    }
    let (Some(m), Some(t), Ok(salt)) = (m, t, hex::decode(salt)) else { return false };
    if !(8..=DIGEST_M_KIB * 10).contains(&m) || !(1..=DIGEST_T * 10).contains(&t) || salt.len() < 8
    {
        return false;
    }
    argon2_digest(m, t, &salt, name, value) == text
}

/// The digest earlier archkit releases wrote: SHA-256 salted with the
/// lineage, which the state file holds too.
fn legacy_digest(lineage: &str, name: &str, value: &Value) -> String {
    let mut h = Sha256::new();
    h.update(lineage.as_bytes());
    h.update(b"\0");
    h.update(name.as_bytes());
    h.update(b"\0");
    h.update(value.to_string().as_bytes());
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// Values that `${id.attr}` references see at plan time.
struct PlanLookup<'a> {
    /// Resources whose attributes are unknown until apply (created or
    /// replaced).
    pending: &'a BTreeSet<String>,
    /// Attributes an in-place update planned before changes (resource,
    /// attribute): unknown until apply too.
    updated: &'a BTreeSet<(String, String)>,
    /// Current physical ids and attributes of existing resources.
    existing: &'a HashMap<String, (String, BTreeMap<String, Value>)>,
    /// Resources already planned, whose desired properties are their
    /// changes' `after`.
    planned: &'a Planned,
}

impl Lookup for PlanLookup<'_> {
    fn attr(&self, resource: &str, attr: &str) -> Option<Value> {
        if let Some(v) = self.planned.desired(resource, attr) {
            return v;
        }
        if self.pending.contains(resource)
            || self.updated.contains(&(resource.to_string(), attr.to_string()))
        {
            return None;
        }
        let (pid, attrs) = self.existing.get(resource)?;
        if attr == "id" {
            return Some(Value::String(pid.clone()));
        }
        attrs.get(attr).cloned()
    }
}

/// The desired tags of a taggable resource: `Name` (default
/// `<stack>-<id>`) plus the user's. `archkit:*` tags are added by the
/// provider and never part of the diff.
pub fn desired_tags(stack: &str, id: &str, user: Option<&Value>, expires: Option<&str>) -> Value {
    let mut tags = serde_json::Map::new();
    tags.insert("Name".into(), Value::String(format!("{stack}-{id}")));
    if let Some(Value::Object(u)) = user {
        for (k, v) in u {
            tags.insert(k.clone(), v.clone());
        }
    }
    if let Some(at) = expires {
        tags.insert(crate::provider::TAG_EXPIRES.into(), Value::String(at.to_string()));
    }
    Value::Object(tags)
}

/// Resolves one resource's desired properties (tags included).
pub fn resolve_properties(
    bp: &Blueprint,
    id: &str,
    env: &Env,
    look: &dyn Lookup,
) -> Result<BTreeMap<String, PlanValue>, PlanError> {
    let res = &bp.resources[id];
    let mut out = BTreeMap::new();
    for (name, e) in &res.properties {
        let v = resolve::resolve(e, env, look).map_err(|ResolveError(m)| PlanError::Resolve {
            id: id.to_string(),
            message: m,
            help: "use a smaller index or a region with more availability zones".into(),
        })?;
        out.insert(name.clone(), v);
    }
    if res.schema.taggable {
        let tags = match out.get("tags") {
            Some(PlanValue::Unknown) => PlanValue::Unknown,
            Some(PlanValue::Known(v)) => {
                PlanValue::Known(desired_tags(env.stack, id, Some(v), env.expires_at))
            }
            None => PlanValue::Known(desired_tags(env.stack, id, None, env.expires_at)),
        };
        out.insert("tags".into(), tags);
    }
    Ok(out)
}

use crate::provider::same_value as same;

/// What of the stack exists: resources matched to their live objects, by
/// state record or (for a create whose answer was lost) by tags.
struct Existing {
    /// Logical id → (physical id, attributes) of every existing resource.
    by_id: HashMap<String, (String, BTreeMap<String, Value>)>,
    /// Found by tags though state did not record them.
    adopted: BTreeSet<String>,
    /// Recorded in state, but no longer live.
    gone: BTreeSet<String>,
    /// Live resources carrying each logical id (tag discovery), sorted.
    tagged: BTreeMap<String, Vec<String>>,
    /// What the live object of a wanted resource says beyond its values
    /// (`live_note`), taken before its attributes moved here.
    notes: HashMap<String, String>,
}

impl Existing {
    /// A wanted resource's live attributes, moved out of `live` (with the
    /// note they make), those of `recorded` kept where live has none.
    fn take_live(
        &mut self,
        input: &Input,
        id: &str,
        o: &mut crate::provider::Observed,
        recorded: Option<&BTreeMap<String, Value>>,
    ) -> BTreeMap<String, Value> {
        let k = input.registry.kind(input.blueprint.resources[id].kind());
        if let Some(note) = k.and_then(|k| k.live_note(&o.attributes)) {
            self.notes.insert(id.to_string(), note);
        }
        let mut attrs = std::mem::take(&mut o.attributes);
        for (name, v) in recorded.into_iter().flatten() {
            attrs.entry(name.clone()).or_insert_with(|| v.clone());
        }
        attrs
    }
}

/// Phase 1: match state records and tagged live resources to ids.
///
/// The live attributes of wanted resources move into [`Existing`]; those
/// of resources to delete stay in `live` for [`plan_deletes`].
fn match_existing(input: &Input, live: &mut Live) -> Existing {
    let (bp, state) = (input.blueprint, input.state);
    let mut tagged: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (pid, (_, o)) in &live.by_physical {
        if let Some(l) = &o.logical_id {
            tagged.entry(l.clone()).or_default().push(pid.clone());
        }
    }
    for pids in tagged.values_mut() {
        pids.sort();
    }
    let deposed: BTreeSet<&str> = state.deposed.iter().map(|d| d.physical_id.as_str()).collect();
    let mut ex = Existing {
        by_id: HashMap::new(),
        adopted: BTreeSet::new(),
        gone: BTreeSet::new(),
        tagged: BTreeMap::new(),
        notes: HashMap::new(),
    };
    for (id, r) in &state.resources {
        match live.by_physical.get_mut(&r.physical_id).map(|(_, o)| o) {
            Some(o) if !input.destroy && bp.resources.contains_key(id) => {
                let attrs = ex.take_live(input, id, o, Some(&r.attributes));
                ex.by_id.insert(id.clone(), (r.physical_id.clone(), attrs));
            }
            // Nothing refers to it (a destroy, or a record the blueprint
            // no longer has): its delete reads its attributes from `live`.
            Some(_) => {
                ex.by_id.insert(id.clone(), (r.physical_id.clone(), BTreeMap::new()));
            }
            None => {
                ex.gone.insert(id.clone());
            }
        }
    }
    if !input.destroy {
        for id in bp.resources.keys() {
            if ex.by_id.contains_key(id) {
                continue;
            }
            if let Some(pid) =
                tagged.get(id).and_then(|p| p.iter().find(|p| !deposed.contains(p.as_str())))
                && let Some((kind, o)) = live.by_physical.get_mut(pid)
                && *kind == bp.resources[id].kind()
            {
                let attrs = ex.take_live(input, id, o, None);
                ex.by_id.insert(id.clone(), (pid.clone(), attrs));
                ex.adopted.insert(id.clone());
                ex.gone.remove(id);
            }
        }
    }
    ex.tagged = tagged;
    ex
}

/// Diffs the blueprint against state and live resources: match what
/// exists, plan each wanted resource in create order, then the deletes.
///
/// It consumes the refresh: what was read live moves into the changes
/// (`before`, `attributes`) rather than being copied, which at 10,000
/// resources is tens of megabytes.
pub fn diff(input: &Input, mut live: Live) -> Result<Plan, PlanError> {
    let mut ex = match_existing(input, &mut live);
    let mut forget = Vec::new();
    let mut planned = Planned::default();
    if !input.destroy {
        planned.changes.reserve(input.blueprint.resources.len());
        for id in input.blueprint.graph.create_order() {
            let (change, desired) = plan_resource(input, &live, &ex, &planned, id)?;
            planned.push(change, desired, input.blueprint.resources[id].schema.attributes);
            // A record whose resource vanished is dropped before its create.
            if ex.gone.contains(id) {
                forget.push(id.to_string());
            }
        }
    }
    let mut changes = planned.changes;
    for c in &mut changes {
        // Existing resources: what is live, moved in once every later
        // reference has been resolved.
        if let Some(pid) = &c.physical_id
            && let Some((_, o)) = live.by_physical.get_mut(pid)
        {
            c.before = std::mem::take(&mut o.properties);
            if let Some((_, attrs)) = ex.by_id.get_mut(&c.id) {
                c.attributes = std::mem::take(attrs);
            }
        }
    }
    delete_dependents_first(&mut changes);
    let (deletes, dropped) = plan_deletes(input, &mut live, &ex);
    changes.extend(deletes);
    forget.extend(dropped);
    let state = input.state;
    Ok(Plan {
        stack: input.stack.to_string(),
        blueprint: input.blueprint.name.clone(),
        // A stack never written has no lineage yet: plans against it match
        // whatever new lineage the apply creates.
        lineage: if state.serial == 0 { String::new() } else { state.lineage.clone() },
        serial: state.serial,
        destroy: input.destroy,
        expires_at: if input.destroy { None } else { input.expires_at.map(str::to_string) },
        changes,
        forget,
        lookups: BTreeMap::new(),
    })
}

/// What earlier resources of the create order resolved to, for the
/// references of later ones.
#[derive(Default)]
struct Planned {
    /// Created or replaced: their attributes are unknown until apply.
    pending: BTreeSet<String>,
    /// (resource, attribute) of attributes an update changes.
    updated: BTreeSet<(String, String)>,
    /// The changes so far, in create order; `index` finds one by id.
    changes: Vec<Change>,
    index: HashMap<String, usize>,
    /// The desired properties of the few resources with `ignore_changes`,
    /// whose `after` holds the live value of what is ignored: a reference
    /// sees the blueprint's value, as it always has.
    ignoring: HashMap<String, BTreeMap<String, PlanValue>>,
}

impl Planned {
    /// A desired property of a resource already planned: `Some(None)`
    /// when it is known only after apply, `None` when it has no such
    /// property.
    fn desired(&self, resource: &str, name: &str) -> Option<Option<Value>> {
        if let Some(props) = self.ignoring.get(resource) {
            return props.get(name).map(|v| v.known().cloned());
        }
        let c = &self.changes[*self.index.get(resource)?];
        c.after.get(name).cloned()
    }

    fn push(
        &mut self,
        change: Change,
        ignoring: Option<BTreeMap<String, PlanValue>>,
        attributes: &[crate::schema::Attr],
    ) {
        let id = &change.id;
        // Later resources of the create order refer to these.
        if matches!(change.action, Action::Create | Action::Replace) {
            self.pending.insert(id.clone());
        }
        // (A change of tags alone makes no new version of anything.)
        if change.action == Action::Update && change.changed.iter().any(|c| c != "tags") {
            let updated = attributes.iter().filter(|a| a.updated);
            self.updated.extend(updated.map(|a| (id.clone(), a.name.to_string())));
        }
        if let Some(props) = ignoring {
            self.ignoring.insert(id.clone(), props);
        }
        self.index.insert(id.clone(), self.changes.len());
        self.changes.push(change);
    }
}

/// A resource's desired properties, resolved, checked and in the
/// provider's normal form; `Unknown` where they refer to what only apply
/// will know.
fn desired_properties(
    input: &Input,
    k: &dyn crate::provider::ResourceKind,
    id: &str,
    look: &dyn Lookup,
) -> Result<BTreeMap<String, PlanValue>, PlanError> {
    let env = Env {
        params: input.params,
        stack: input.stack,
        region: input.region,
        azs: input.azs,
        expires_at: input.expires_at,
    };
    let mut props = resolve_properties(input.blueprint, id, &env, look)?;
    let mut known: Props =
        props.iter().filter_map(|(k, v)| v.known().map(|v| (k.clone(), v.clone()))).collect();
    k.check(&known).map_err(|crate::schema::Refusal { message, help }| PlanError::Invalid {
        id: id.to_string(),
        kind: k.schema().kind.to_string(),
        message,
        help,
    })?;
    k.normalize(&mut known);
    // What normalising dropped (a key that does not apply, such as a
    // range-key type without a range key) is not compared.
    props.retain(|name, v| v.known().is_none() || known.contains_key(name));
    for (name, v) in known {
        props.insert(name, PlanValue::Known(v));
    }
    Ok(props)
}

/// Phase 2: the change of one wanted resource.
///
/// An existing resource's `before` and `attributes` are left for [`diff`]
/// to move in. Returns the desired properties too when `ignore_changes`
/// made `after` differ from them.
fn plan_resource(
    input: &Input,
    live: &Live,
    ex: &Existing,
    planned: &Planned,
    id: &str,
) -> Result<(Change, Option<BTreeMap<String, PlanValue>>), PlanError> {
    let res = &input.blueprint.resources[id];
    let kind = res.kind();
    let k = input
        .registry
        .kind(kind)
        .ok_or_else(|| PlanError::Unsupported { id: id.to_string(), kind: kind.to_string() })?;
    let look = PlanLookup {
        pending: &planned.pending,
        updated: &planned.updated,
        existing: &ex.by_id,
        planned,
    };
    let props = desired_properties(input, k.as_ref(), id, &look)?;
    let sensitive: BTreeSet<String> = res
        .properties
        .iter()
        .filter(|(name, e)| {
            res.schema.property(name).is_some_and(|p| p.sensitive)
                || resolve::uses_secret(e, input.params)
        })
        .map(|(n, _)| n.clone())
        .collect();
    let depends_on: Vec<String> =
        input.blueprint.graph.dependencies(id).into_iter().map(str::to_string).collect();
    let recorded = input.state.resources.get(id);
    let mut change = Change {
        action: Action::Create,
        after: props.iter().map(|(k, v)| (k.clone(), v.known().cloned())).collect(),
        sensitive: sensitive.iter().cloned().collect(),
        released: recorded.map_or_else(Vec::new, |r| {
            r.depends_on.iter().filter(|d| !depends_on.contains(d)).cloned().collect()
        }),
        depends_on,
        ..Change::empty(id, kind)
    };
    let mut ignoring = None;
    if let Some((pid, _)) = ex.by_id.get(id) {
        let o = live.get(pid).expect("existing resources are live");
        change.physical_id = Some(pid.clone());
        // What was applied, in the provider's normal form (sets sorted),
        // as the live and desired values are: compared raw, subnets listed
        // in another order looked like drift.
        let applied = recorded.map(|r| {
            let mut a = r.properties.clone();
            k.normalize(&mut a);
            a
        });
        compare(
            &mut change,
            &props,
            &sensitive,
            &o.properties,
            applied.as_ref(),
            &input.state.lineage,
        );
        if !res.ignore_changes.is_empty() {
            ignore_changes(&mut change, &res.ignore_changes, &o.properties);
            ignoring = Some(props);
        }
        let adopted = ex.adopted.contains(id);
        choose_action(&mut change, &o.properties, res.schema, k.as_ref(), recorded, adopted);
        if change.action == Action::NoOp {
            change.note = ex.notes.get(id).cloned();
        }
    } else if ex.gone.contains(id) {
        change.reason = Some(Reason::DeletedOutside);
        if let Some(r) = recorded {
            change.before = r.properties.clone();
        }
    }
    Ok((change, ignoring))
}

/// Phase 3: which properties differ from what is live (`changed`), and
/// which changed outside archkit since the last apply (`drift`).
fn compare(
    change: &mut Change,
    props: &BTreeMap<String, PlanValue>,
    sensitive: &BTreeSet<String>,
    live: &Props,
    applied: Option<&Props>,
    lineage: &str,
) {
    for (name, v) in props {
        // A property the provider cannot read back in its batched call (a
        // VPC's DNS attributes) is taken as last applied.
        let observed = live.get(name);
        let live_v = observed.or_else(|| applied.and_then(|a| a.get(name)));
        let differs = if sensitive.contains(name) {
            // Secrets are compared by digest against what was applied;
            // providers rarely return them.
            match (v, applied.and_then(|a| a.get(name))) {
                (PlanValue::Known(v), Some(stored)) => !secret_matches(lineage, name, v, stored),
                _ => true,
            }
        } else {
            match v {
                PlanValue::Unknown => true,
                PlanValue::Known(v) => !same(Some(v), live_v),
            }
        };
        if differs {
            change.changed.push(name.clone());
        }
        if !sensitive.contains(name)
            && observed.is_some()
            && let Some(a) = applied
            && a.contains_key(name)
            && !same(a.get(name), live_v)
        {
            change.drift.push(name.clone());
        }
    }
    // Properties dropped from the blueprint since last apply.
    for (name, v) in applied.into_iter().flatten() {
        if !props.contains_key(name) && !v.is_null() && live.get(name).is_some_and(|l| !l.is_null())
        {
            change.changed.push(name.clone());
            change.after.insert(name.clone(), Some(Value::Null));
        }
    }
}

/// The blueprint's `ignore_changes`: those properties keep their live
/// value (an update of something else sends it as it is) and are neither
/// a change nor drift.
fn ignore_changes(change: &mut Change, ignored: &[String], live: &Props) {
    change.changed.retain(|n| !ignored.contains(n));
    change.drift.retain(|n| !ignored.contains(n));
    for name in ignored {
        if let Some(v) = live.get(name) {
            change.after.insert(name.clone(), Some(v.clone()));
        }
    }
}

/// Phase 4: the action for an existing resource, from what changed.
fn choose_action(
    change: &mut Change,
    before: &Props,
    schema: &crate::schema::Schema,
    k: &dyn crate::provider::ResourceKind,
    recorded: Option<&crate::state::ResourceState>,
    adopted: bool,
) {
    change.replace_because = change
        .changed
        .iter()
        .filter(|n| schema.property(n).is_some_and(|p| p.replace))
        .cloned()
        .collect();
    let tainted = recorded.is_some_and(|r| r.status == Status::Tainted);
    let not_ready = recorded.is_some_and(|r| r.status == Status::Creating);
    let kind_changed = recorded.is_some_and(|r| r.kind != change.kind);
    change.action = if tainted || kind_changed || !change.replace_because.is_empty() {
        Action::Replace
    } else if change.changed.is_empty() && !not_ready {
        Action::NoOp
    } else {
        Action::Update
    };
    if change.action == Action::Update {
        change.note = k.update_note(&change.changed).map(str::to_string);
    }
    change.reason = if tainted {
        Some(Reason::Tainted)
    } else if kind_changed {
        Some(Reason::KindChanged)
    } else if adopted {
        Some(Reason::Adopted)
    } else if not_ready && change.changed.is_empty() {
        Some(Reason::NotReady)
    } else {
        None
    };
    let sides = crate::schema::Sides { before, after: &change.after };
    change.delete_first =
        change.action == Action::Replace && schema.replacement.delete_first(&sides);
}

/// A replacement that deletes first takes down what depends on it before
/// its own delete; those of its dependents that are replaced too must
/// then delete first as well, or their new objects, made before the old
/// ones go, would wait for the new object this one makes only after its
/// delete (Pulumi's rule for `deleteBeforeReplace`). `changes` are in
/// create order, so one pass carries the rule down every chain.
fn delete_dependents_first(changes: &mut [Change]) {
    let mut first: BTreeSet<String> = BTreeSet::new();
    for c in changes.iter_mut() {
        if c.action != Action::Replace {
            continue;
        }
        if !c.delete_first && c.depends_on.iter().any(|d| first.contains(d)) {
            c.delete_first = true;
        }
        if c.delete_first {
            first.insert(c.id.clone());
        }
    }
}

/// Phase 5: deletes of recorded resources no longer wanted, of deposed
/// objects still live, and of orphans tagged with the stack; and the
/// records to drop because their resource is gone and not wanted.
fn plan_deletes(input: &Input, live: &mut Live, ex: &Existing) -> (Vec<Change>, Vec<String>) {
    let (bp, state) = (input.blueprint, input.state);
    let mut deletes: Vec<Change> = Vec::new();
    let mut seen_pids: BTreeSet<String> = BTreeSet::new();
    let mut forget = Vec::new();
    let why = |destroying: Reason| {
        if input.destroy { Reason::Destroy } else { destroying }
    };
    for (id, r) in &state.resources {
        seen_pids.insert(r.physical_id.clone());
        let wanted = !input.destroy && bp.resources.contains_key(id);
        if ex.gone.contains(id) && !wanted {
            forget.push(id.clone());
        }
        if wanted || ex.gone.contains(id) {
            continue;
        }
        let mut c = Change::delete(id, &r.kind, &r.physical_id, r.properties.clone());
        c.reason = Some(why(Reason::NotInBlueprint));
        c.depends_on = r.depends_on.clone();
        deletes.push(c);
    }
    for d in &state.deposed {
        seen_pids.insert(d.physical_id.clone());
        if live.get(&d.physical_id).is_some() {
            let mut c = Change::delete(&d.id, &d.kind, &d.physical_id, d.properties.clone());
            c.reason = Some(Reason::Orphan);
            deletes.push(c);
        }
    }
    let recorded = deletes.len();
    for (id, pids) in &ex.tagged {
        for pid in pids {
            let adopted_here = ex.by_id.get(id).is_some_and(|(p, _)| p == pid);
            if seen_pids.contains(pid) || adopted_here {
                continue;
            }
            let (kind, o) = live.by_physical.get_mut(pid).expect("tagged resources are live");
            let mut c = Change::delete(id, kind, pid, std::mem::take(&mut o.properties));
            c.reason = Some(if input.destroy { Reason::Discovered } else { Reason::Orphan });
            deletes.push(c);
        }
    }
    for c in &mut deletes {
        if let Some((_, o)) = c.physical_id.as_deref().and_then(|p| live.by_physical.get_mut(p)) {
            c.attributes.extend(std::mem::take(&mut o.attributes));
        }
        c.note = input.registry.kind(&c.kind).and_then(|k| k.delete_note(&c.attributes));
    }
    let found: Vec<bool> = (0..deletes.len()).map(|i| i >= recorded).collect();
    infer_dependencies(&mut deletes, &found);
    deletes.sort_by(|a, b| a.id.cmp(&b.id).then(a.physical_id.cmp(&b.physical_id)));
    (deletes, forget)
}

/// Dependencies of the deletes state never recorded (`found`): rebuilt
/// from their own references to the other deletes, since the blueprint
/// that wrote them may be gone. A value of one resource that is another's
/// id or ARN (a subnet's `vpc_id`, a function's `role`, an endpoint's
/// `service_name`) makes it depend on that one; a reference that would
/// close a cycle (two policies naming each other) is left out.
fn infer_dependencies(deletes: &mut [Change], found: &[bool]) {
    let mut names: HashMap<String, String> = HashMap::new();
    for c in deletes.iter() {
        if let Some(p) = &c.physical_id {
            names.insert(p.clone(), c.id.clone());
        }
        for key in ["arn", "service_name"] {
            if let Some(Value::String(v)) = c.attributes.get(key) {
                names.insert(v.clone(), c.id.clone());
            }
        }
    }
    fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(m) => m.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    for i in (0..deletes.len()).filter(|i| found[*i]) {
        let mut values = Vec::new();
        for v in deletes[i].before.values() {
            strings(v, &mut values);
        }
        let refs: BTreeSet<String> = values
            .into_iter()
            .filter_map(|v| names.get(v))
            .filter(|id| **id != deletes[i].id)
            .cloned()
            .collect();
        for r in refs {
            if !deletes[i].depends_on.contains(&r) && !reaches(deletes, &r, &deletes[i].id) {
                deletes[i].depends_on.push(r);
            }
        }
    }
}

/// Whether `from` depends, directly or not, on `to` among `changes`.
fn reaches(changes: &[Change], from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(id) = stack.pop() {
        if id == to {
            return true;
        }
        if seen.insert(id.clone()) {
            for c in changes.iter().filter(|c| c.id == id) {
                stack.extend(c.depends_on.iter().cloned());
            }
        }
    }
    false
}

impl Change {
    /// The change's symbol: a replacement shows its order, `-/+` when the
    /// old object is deleted first, `+/-` when the new one is made first
    /// (as Terraform shows `create_before_destroy`).
    pub fn symbol(&self) -> &'static str {
        match self.action {
            Action::Replace if !self.delete_first => "+/-",
            a => a.symbol(),
        }
    }

    /// A change of `id` with nothing decided yet.
    fn empty(id: &str, kind: &str) -> Change {
        Change {
            id: id.to_string(),
            kind: kind.to_string(),
            action: Action::NoOp,
            physical_id: None,
            before: Props::new(),
            after: BTreeMap::new(),
            changed: Vec::new(),
            replace_because: Vec::new(),
            drift: Vec::new(),
            sensitive: Vec::new(),
            reason: None,
            delete_first: false,
            depends_on: Vec::new(),
            released: Vec::new(),
            note: None,
            attributes: BTreeMap::new(),
        }
    }

    /// The deletion of an existing object.
    fn delete(id: &str, kind: &str, pid: &str, before: Props) -> Change {
        Change {
            action: Action::Delete,
            physical_id: Some(pid.to_string()),
            before,
            ..Change::empty(id, kind)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_digests_are_slow_salted_and_still_read_the_legacy_form() {
        let pw = Value::String("correct-horse".into());
        let d = secret_digest("password", &pw);
        let text = d.as_str().unwrap();
        assert!(text.starts_with("argon2id$m=65536,t=2,p=1$"), "{text}");
        assert!(!text.contains("correct-horse"));
        // A per-secret random salt: the same value digests differently.
        assert_ne!(secret_digest("password", &pw), d);
        assert!(secret_matches("lineage", "password", &pw, &d));
        assert!(!secret_matches("lineage", "password", &Value::String("wrong".into()), &d));
        assert!(!secret_matches("lineage", "other", &pw, &d));
        // What an older archkit wrote still matches, so upgrading plans no
        // spurious update, and a change is still detected.
        let legacy = Value::String(legacy_digest("lineage", "password", &pw));
        assert!(secret_matches("lineage", "password", &pw, &legacy));
        assert!(!secret_matches("lineage", "password", &Value::String("x".into()), &legacy));
        // A tampered cost (cheaper or absurd) or a cut salt never matches.
        let cheap = text.replace("m=65536,t=2", "m=8,t=1");
        assert!(!secret_matches("lineage", "password", &pw, &Value::String(cheap)));
        let huge = text.replace("m=65536", "m=4000000000");
        assert!(!secret_matches("lineage", "password", &pw, &Value::String(huge)));
        let parts: Vec<&str> = text.split('$').collect();
        let short = format!("{}${}$abcd${}", parts[0], parts[1], parts[3]);
        assert!(!secret_matches("lineage", "password", &pw, &Value::String(short)));
        assert!(!secret_matches("lineage", "password", &pw, &Value::String("junk".into())));
    }
}
