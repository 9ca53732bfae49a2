//! The provider trait every resource kind implements, and the registry of
//! kinds that blueprints may use.
//!
//! Each kind is declared in one file under `src/aws/` and registered in
//! `aws::registry()`; the core (blueprint validation, graph, plan, engine)
//! reaches kinds only through this module, so it never knows which cloud
//! it talks to. The kind decides update versus replace and how to talk to
//! its API; the engine decides the order (as Terraform's provider
//! interface and graph walker split it).

#[cfg(feature = "test-cloud")]
pub mod file_cloud;
#[cfg(feature = "test-cloud")]
pub mod memory;
pub mod retry;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::schema::Schema;

/// The result of a provider call.
pub type Result<T, E = ProviderError> = std::result::Result<T, E>;

/// A call's answer as an `Option`: `None` when what it names is not
/// found (a describe or get of something deleted).
pub trait Found<T> {
    fn found(self) -> Result<Option<T>>;
}

impl<T> Found<T> for Result<T> {
    fn found(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Resolved property values (references replaced by their values).
pub type Props = Map<String, Value>;

/// Attributes read back from the provider (`arn`, `dns_name`, ...).
pub type Attrs = BTreeMap<String, Value>;

/// Files a blueprint ships (packaged function code), by digest.
pub type Assets = BTreeMap<String, Arc<Vec<u8>>>;

/// What every call knows about where it runs.
#[derive(Debug, Clone)]
pub struct Context {
    /// The stack name: the value of the `archkit:stack` tag.
    pub stack: String,
    /// The state's lineage: the value of the `archkit:lineage` tag, which
    /// tells two state files of one stack name apart ("" in tests: none).
    pub lineage: String,
    /// What a create or update uploads (a function's zip), by the digest
    /// its property holds; packaged when the blueprint was loaded.
    pub assets: Arc<Assets>,
    /// Search also where the stack's resources are normally known from
    /// state alone (log groups AWS names after a Lambda function), for
    /// `destroy --discover`: more calls, nothing missed.
    pub thorough: bool,
    /// Delete every object of a bucket being deleted (`archkit destroy
    /// --force-empty`); without it a bucket holding data is never deleted.
    pub force_empty: bool,
}

impl Context {
    /// The context of `stack`, with no assets.
    pub fn new(stack: &str) -> Context {
        Context {
            stack: stack.to_string(),
            lineage: String::new(),
            assets: Arc::default(),
            thorough: false,
            force_empty: false,
        }
    }

    /// The tags archkit puts on every taggable resource, besides `Name`
    /// and the user's: they let archkit find a resource again after a
    /// crash lost its id.
    pub fn system_tags(&self, logical_id: &str) -> Vec<(String, String)> {
        let mut tags = vec![
            (TAG_STACK.to_string(), self.stack.clone()),
            (TAG_ID.to_string(), logical_id.to_string()),
        ];
        if !self.lineage.is_empty() {
            tags.push((TAG_LINEAGE.to_string(), self.lineage.clone()));
        }
        tags
    }
}

pub const TAG_STACK: &str = "archkit:stack";
pub const TAG_ID: &str = "archkit:id";
pub const TAG_LINEAGE: &str = "archkit:lineage";
/// When the stack expires (`apply --ttl`): part of the `tags` a plan
/// compares, so extending or clearing it is an ordinary tag change.
pub const TAG_EXPIRES: &str = "archkit:expires-at";

/// Which instances a batched read should return.
#[derive(Debug, Clone, Default)]
pub struct ReadQuery {
    /// Physical ids recorded in state (with the properties last applied,
    /// which untaggable kinds need to find themselves: a route is known by
    /// its table and destination).
    pub known: Vec<(String, Props)>,
    /// Also return every resource tagged `archkit:stack = <stack>`
    /// (discovery of resources a lost state forgot).
    pub discover: bool,
}

impl ReadQuery {
    /// The recorded ids `seen` does not hold: those the stack's tag
    /// listing missed (tags removed outside archkit), read by id.
    pub fn unseen(&self, seen: impl Fn(&str) -> bool) -> Vec<String> {
        self.known.iter().map(|(id, _)| id.clone()).filter(|id| !seen(id)).collect()
    }
}

/// Whose a live resource is by its archkit tags: this state's `id`, or
/// another state's (the same stack name, another lineage).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Logical {
    /// The `archkit:id` tag, when the resource is this stack's and this
    /// state's.
    pub id: Option<String>,
    /// The stack's resource another state file manages: never taken as
    /// this state's, and reported so the plan stops.
    pub other_state: Option<OtherState>,
}

impl Logical {
    /// Carries no archkit tags of this stack, this state's or another's:
    /// a read leaves it out unless the state records it.
    pub fn unclaimed(&self) -> bool {
        self.id.is_none() && self.other_state.is_none()
    }
}

impl From<Option<String>> for Logical {
    fn from(id: Option<String>) -> Logical {
        Logical { id, other_state: None }
    }
}

/// A resource tagged with this stack's name by another state file: its
/// logical id there and that state's lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherState {
    pub logical_id: String,
    pub lineage: String,
}

/// One live resource as the provider sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub physical_id: String,
    /// The `archkit:id` tag, when the resource is this state's.
    pub logical_id: Option<String>,
    /// Set when the resource is another state's of the same stack name.
    pub other_state: Option<OtherState>,
    /// Current values of the schema's properties.
    pub properties: Props,
    pub attributes: Attrs,
}

impl Observed {
    /// A live resource: its id, whose it is by its tags, and its
    /// properties; attributes are added with [`Observed::with`].
    pub fn new(
        physical_id: impl Into<String>,
        logical: impl Into<Logical>,
        properties: Props,
    ) -> Self {
        let Logical { id, other_state } = logical.into();
        Observed {
            physical_id: physical_id.into(),
            logical_id: id,
            other_state,
            properties,
            attributes: Attrs::new(),
        }
    }

    pub fn with(mut self, attributes: Attrs) -> Self {
        self.attributes.extend(attributes);
        self
    }
}

/// A create request.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub logical_id: String,
    pub properties: Props,
    /// Unique to this create and the same across its retries: the client
    /// token (idempotency token) where the API has one, so a retry after
    /// a lost answer returns the first resource instead of a second.
    pub token: String,
}

/// The outcome of a successful create.
#[derive(Debug, Clone)]
pub struct Created {
    pub physical_id: String,
    pub attributes: Attrs,
}

impl Created {
    /// A resource created under `physical_id`, with no attributes yet.
    pub fn new(physical_id: impl Into<String>) -> Self {
        Created { physical_id: physical_id.into(), attributes: Attrs::new() }
    }

    pub fn with(mut self, attributes: Attrs) -> Self {
        self.attributes.extend(attributes);
        self
    }
}

/// Kinds of operation, for expected durations and progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Create,
    Update,
    Delete,
}

/// What a failed provider call means for the one who made it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorKind {
    /// It failed, and trying again would fail the same way.
    #[default]
    Failed,
    /// Worth retrying: throttling, eventual consistency.
    Retryable,
    /// Something AWS releases slowly is still in the way (network
    /// interfaces of a deleted load balancer or task holding a security
    /// group, a role not yet propagated): keep retrying for this long,
    /// beyond the engine's usual number of attempts.
    RetryWithin(Duration),
    /// The resource does not exist (deletes treat this as success).
    NotFound,
    /// The request may have reached the provider and its outcome is
    /// unknown (a lost response): the pending operation is kept and
    /// reconciled by tags on the next plan.
    OutcomeUnknown,
}

/// An error from a provider call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub message: String,
    /// The provider's error code (`InvalidVpcID.NotFound`, `Throttling`).
    pub code: Option<String>,
    pub kind: ErrorKind,
    /// A create failed after the resource may have been made: the id, if
    /// the provider returned one, so it is recorded (tainted), never lost.
    pub partial_id: Option<String>,
}

impl ProviderError {
    pub fn new(message: impl Into<String>) -> Self {
        ProviderError {
            message: message.into(),
            code: None,
            kind: ErrorKind::Failed,
            partial_id: None,
        }
    }

    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn retryable(self) -> Self {
        self.kind(ErrorKind::Retryable)
    }

    /// Retryable for up to `d` (see [`ErrorKind::RetryWithin`]).
    pub fn retry_within(self, d: Duration) -> Self {
        self.kind(ErrorKind::RetryWithin(d))
    }

    pub fn not_found(self) -> Self {
        self.kind(ErrorKind::NotFound)
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Retryable | ErrorKind::RetryWithin(_))
    }

    /// How long to keep retrying beyond the usual attempts, if at all.
    pub fn retry_window(&self) -> Option<Duration> {
        match self.kind {
            ErrorKind::RetryWithin(d) => Some(d),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    pub fn is_outcome_unknown(&self) -> bool {
        self.kind == ErrorKind::OutcomeUnknown
    }

    /// This error came after the resource `id` was made: the id is
    /// recorded (tainted, or finished as an update), never lost.
    pub fn partial(mut self, id: &str) -> Self {
        self.partial_id = Some(id.to_string());
        self
    }

    /// A call abandoned at an interrupt before AWS answered.
    pub fn abandoned() -> Self {
        ProviderError::new("interrupted before AWS answered").kind(ErrorKind::OutcomeUnknown)
    }

    /// A create whose answer named no resource: an error, so state never
    /// records an empty id (the resource, if made, is found by its tags).
    pub fn no_id(kind: &str) -> Self {
        ProviderError::new(format!("{kind}: the create call answered without an id"))
            .kind(ErrorKind::OutcomeUnknown)
    }
}

/// [`ProviderError::partial`] on results.
pub trait Partial<T> {
    fn partial(self, id: &str) -> Result<T>;
}

impl<T> Partial<T> for Result<T> {
    fn partial(self, id: &str) -> Result<T> {
        self.map_err(|e| e.partial(id))
    }
}

/// The id a create answer carried, or [`ProviderError::no_id`].
pub fn created_id(id: Option<&str>, kind: &str) -> Result<String> {
    id.filter(|i| !i.is_empty()).map(str::to_string).ok_or_else(|| ProviderError::no_id(kind))
}

/// What a kind declares rather than implements: its schema, and (for a
/// service that tags by id, as EC2) how its resources' tags change. The
/// `kind!` declarations in `src/aws/` write this.
#[async_trait]
pub trait Declared: Send + Sync {
    fn schema(&self) -> &'static Schema;

    /// Brings the user's tags (`tags`) from `old` to `new` with the
    /// service's tag calls. The default refuses a change: a taggable kind
    /// implements it with its service's tag calls.
    async fn sync_tags(
        &self,
        _ctx: &Context,
        _physical_id: &str,
        old: &Props,
        new: &Props,
    ) -> Result<()> {
        if same_value(old.get("tags"), new.get("tags")) {
            return Ok(());
        }
        Err(ProviderError::new(format!("{} cannot change tags in place", self.schema().kind)))
    }
}

/// One resource kind: its schema and its lifecycle.
#[async_trait]
pub trait ResourceKind: Declared {
    /// Reads every instance the query names (and, with `discover`, every
    /// instance tagged with the stack) in as few calls as the API allows;
    /// the number of calls must not grow with the number of instances.
    /// Instances that no longer exist are simply absent.
    async fn read(&self, ctx: &Context, query: &ReadQuery) -> Result<Vec<Observed>>;

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created>;

    /// Changes mutable properties in place. `old` is what was applied.
    /// The default serves kinds whose only mutable property is `tags`:
    /// it brings the tags over and refuses any other change (the planner
    /// replaces a resource for properties marked `replace`).
    async fn update(
        &self,
        ctx: &Context,
        physical_id: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Attrs> {
        if let Some(name) = self
            .schema()
            .properties
            .iter()
            .filter(|p| !p.replace)
            .map(|p| p.name)
            .find(|n| !same_value(old.get(*n), new.get(*n)))
        {
            return Err(ProviderError::new(format!(
                "{} cannot change `{name}` in place",
                self.schema().kind
            )));
        }
        self.sync_tags(ctx, physical_id, old, new).await?;
        Ok(Attrs::new())
    }

    /// Deletes the resource; `props` are the properties last applied.
    async fn delete(&self, ctx: &Context, physical_id: &str, props: &Props) -> Result<()>;

    /// Polls once: is the resource ready to be used by its dependents?
    /// Returns fresh attributes when it is. The engine calls this between
    /// sleeps without holding an API permit.
    async fn poll_ready(&self, _ctx: &Context, _physical_id: &str) -> Result<Option<Attrs>> {
        Ok(Some(Attrs::new()))
    }

    /// Polls once: is the resource gone?
    async fn poll_deleted(&self, _ctx: &Context, _physical_id: &str) -> Result<bool> {
        Ok(true)
    }

    /// How many round trips [`ResourceKind::read`] makes one after another
    /// (a listing of parents, then their children, then the children's
    /// tags). The refresh starts the kinds with the longest chains first,
    /// so that a plan lasts about its longest chain rather than that chain
    /// plus the one-call reads queued before it.
    fn read_rounds(&self) -> usize {
        1
    }

    /// How long an operation usually takes (progress display, poll pace).
    fn expected_duration(&self, _op: Op) -> Duration {
        Duration::from_secs(2)
    }

    /// Kinds whose instances in the same stack must be deleted before any
    /// instance of this kind, beyond the blueprint's references (an EIP is
    /// released only after the NAT gateway using it is gone).
    fn delete_after(&self) -> &'static [&'static Schema] {
        &[]
    }

    /// Kinds whose deletion takes this resource with it (a cluster's role
    /// association goes with the cluster). When the resource this one
    /// depends on is of such a kind and both are deleted in one run, this
    /// delete waits for that one (and then finds itself gone) instead of
    /// that one waiting for this.
    fn deleted_with(&self) -> &'static [&'static Schema] {
        &[]
    }

    /// What the live resource waits for that is not archkit's to do (an
    /// endpoint pending the service owner's acceptance), from its
    /// attributes: shown by plan and apply instead of an error.
    fn live_note(&self, _attributes: &Attrs) -> Option<String> {
        None
    }

    /// What deleting the live resource entails beyond its deletion (a
    /// bucket's objects going with it), from the attributes the plan read:
    /// shown by the plan, before the destroy asks.
    fn delete_note(&self, _attributes: &Attrs) -> Option<String> {
        None
    }

    /// What an in-place update of these properties entails beyond the
    /// change itself, shown in the plan ("reboots the broker").
    fn update_note(&self, _changed: &[String]) -> Option<&'static str> {
        None
    }

    /// Checks rules a schema cannot express (allowed combinations of
    /// values), on the values known at plan time, so a bad combination is
    /// refused before anything is changed.
    fn check(&self, _props: &Props) -> Result<(), crate::schema::Refusal> {
        Ok(())
    }

    /// Normalises values the provider returns in another form than the
    /// blueprint writes (ordering of sets, CIDR forms), applied to both
    /// desired and live values before they are compared.
    fn normalize(&self, _props: &mut Props) {}
}

pub use crate::schema::same_value;

/// Every known resource kind, by its type name (`aws.ec2.vpc`).
#[derive(Clone, Default)]
pub struct Registry {
    schemas: BTreeMap<&'static str, &'static Schema>,
    kinds: BTreeMap<&'static str, Arc<dyn ResourceKind>>,
    /// The list prices of a region, for cost estimates.
    prices: Option<fn(&str) -> Option<&'static crate::price::PriceTable>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("kinds", &self.schemas.keys().collect::<Vec<_>>()).finish()
    }
}

impl Registry {
    /// A registry of schemas only: enough to validate and graph.
    pub fn new(schemas: impl IntoIterator<Item = &'static Schema>) -> Self {
        Registry {
            schemas: schemas.into_iter().map(|s| (s.kind, s)).collect(),
            kinds: BTreeMap::new(),
            prices: None,
        }
    }

    /// The same registry, estimating costs from `prices`.
    pub fn with_prices(
        mut self,
        prices: fn(&str) -> Option<&'static crate::price::PriceTable>,
    ) -> Self {
        self.prices = Some(prices);
        self
    }

    /// The list prices of `region`, if this registry has any.
    pub fn prices(&self, region: &str) -> Option<&'static crate::price::PriceTable> {
        self.prices.and_then(|p| p(region))
    }

    /// A registry of implemented kinds.
    pub fn with_kinds(kinds: impl IntoIterator<Item = Arc<dyn ResourceKind>>) -> Self {
        let mut r = Registry::default();
        for k in kinds {
            r.insert(k);
        }
        r
    }

    pub fn insert(&mut self, kind: Arc<dyn ResourceKind>) {
        let schema = kind.schema();
        self.schemas.insert(schema.kind, schema);
        self.kinds.insert(schema.kind, kind);
    }

    pub fn schema(&self, kind: &str) -> Option<&'static Schema> {
        self.schemas.get(kind).copied()
    }

    /// The implementation of a kind, when this registry has one.
    pub fn kind(&self, kind: &str) -> Option<&Arc<dyn ResourceKind>> {
        self.kinds.get(kind)
    }

    /// Kind names in sorted order.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.schemas.keys().copied()
    }

    pub fn schemas(&self) -> impl Iterator<Item = &'static Schema> + '_ {
        self.schemas.values().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Prop, Type};

    static THING: Schema = Schema::new("t.thing", "A test kind.").properties(&[
        Prop::new("size", Type::Int, "Changes in place.").required(),
        Prop::new("zone", Type::String, "Forces a replacement.").replace(),
    ]);

    /// A kind that relies on every default: tag-only updates.
    struct Thing;

    impl Declared for Thing {
        fn schema(&self) -> &'static Schema {
            &THING
        }
    }

    #[async_trait]
    impl ResourceKind for Thing {
        async fn read(&self, _: &Context, _: &ReadQuery) -> Result<Vec<Observed>> {
            Ok(Vec::new())
        }
        async fn create(&self, _: &Context, req: &CreateRequest) -> Result<Created> {
            Ok(Created::new(req.logical_id.clone()))
        }
        async fn delete(&self, _: &Context, _: &str, _: &Props) -> Result<()> {
            Ok(())
        }
    }

    fn props(v: Value) -> Props {
        v.as_object().unwrap().clone()
    }

    #[tokio::test]
    async fn the_default_update_refuses_what_it_cannot_change() {
        let ctx = Context::new("s");
        let old = props(serde_json::json!({"size": 1, "zone": "a"}));
        // Nothing but a replace-only property differs: nothing to call.
        let new = props(serde_json::json!({"size": 1, "zone": "b"}));
        assert!(Thing.update(&ctx, "x", &old, &new).await.is_ok());
        // A mutable property without an update of its own is refused, not
        // silently dropped.
        let new = props(serde_json::json!({"size": 2, "zone": "a"}));
        let e = Thing.update(&ctx, "x", &old, &new).await.unwrap_err();
        assert!(e.message.contains("cannot change `size` in place"), "{e}");
        // So is a tag change of a kind that declares no tag calls.
        let new = props(serde_json::json!({"size": 1, "zone": "a", "tags": {"k": "v"}}));
        let e = Thing.update(&ctx, "x", &old, &new).await.unwrap_err();
        assert!(e.message.contains("cannot change tags"), "{e}");
    }

    #[test]
    fn a_create_answer_without_an_id_is_an_error_never_an_empty_id() {
        assert_eq!(created_id(Some("vpc-1"), "aws.ec2.vpc").unwrap(), "vpc-1");
        for missing in [None, Some("")] {
            let e = created_id(missing, "aws.ec2.vpc").unwrap_err();
            assert!(e.message.contains("aws.ec2.vpc") && e.message.contains("without an id"));
            // The resource may exist: the next plan looks it up by tags.
            assert!(e.is_outcome_unknown());
        }
    }
}
