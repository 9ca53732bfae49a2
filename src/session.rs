//! A stack session: everything `plan`, `apply` and `destroy` share. It
//! loads the blueprint and parameter values, connects to the [`Cloud`],
//! takes the state lock, refreshes and plans, and runs the engine.
//!
//! The cloud is AWS. A build with the `test-cloud` feature (the test
//! suite's) can instead use the in-memory test cloud kept in the file
//! `ARCHKIT_TEST_CLOUD` names (kinds `test.*` only): see `crate::cloud`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::blueprint::params::{self, Require, Values};
use crate::blueprint::source::Located;
use crate::blueprint::{self, Blueprint, Diagnostics};
use crate::cloud::{Cloud, CloudError};
use crate::engine::{self, Cancel, Events, Options, Report};
use crate::plan::saved::SavedPlan;
use crate::plan::{self, Plan, PlanError};
use crate::provider::{Context, ProviderError, Registry};
use crate::settings::{Mode, Settings};
use crate::state::{LocalStore, LockGuard, State, StateError, StateStore};

/// The store `--state` names (a path, or `s3://bucket/key`), or the
/// stack's default file.
pub fn open_store(
    location: Option<PathBuf>,
    stack: &str,
    aws: &crate::aws::Settings,
) -> Result<Arc<dyn StateStore>, StateError> {
    let location = location.unwrap_or_else(|| LocalStore::default_path(stack));
    if crate::aws::s3state::is_s3(&location) {
        let url = location.to_str().expect("an s3:// location is text");
        Ok(Arc::new(crate::aws::s3state::S3Store::connect(aws, url, stack)?))
    } else {
        Ok(Arc::new(LocalStore::new(location)))
    }
}

/// The cloud this run talks to: AWS, or, in a build with the
/// `test-cloud` feature, the test cloud `ARCHKIT_TEST_CLOUD` names.
pub async fn connect(settings: &crate::aws::Settings) -> Result<Box<dyn Cloud>, CloudError> {
    #[cfg(feature = "test-cloud")]
    if let Some(path) = &crate::settings::env().test.cloud {
        return Ok(Box::new(crate::provider::file_cloud::FileCloud::load(path.clone())?));
    }
    Ok(Box::new(crate::aws::cloud::AwsCloud::connect(settings).await?))
}

/// The kinds blueprints may use, known before connecting: AWS's, or the
/// test cloud's.
pub fn schema_registry() -> Registry {
    #[cfg(feature = "test-cloud")]
    if crate::settings::env().test.cloud.is_some() {
        return Registry::with_kinds(crate::provider::memory::MemoryCloud::new().kinds());
    }
    crate::aws::registry()
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SessionError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Plan(#[from] PlanError),
    #[error(
        "SSM parameter `{name}` (used by `{user}`) does not exist in region {region}{}",
        if *others > 0 { format!(", nor {others} more of the blueprint's lookups") } else { String::new() }
    )]
    #[diagnostic(
        code(archkit::lookup::not_found),
        help(
            "check the name and the region: `aws ssm get-parameter --region {region} --name {name}`; \
             AWS's public parameters are under /aws/service/ (nothing was changed)"
        )
    )]
    LookupNotFound { name: String, user: String, region: String, others: usize },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Cloud(#[from] CloudError),
    #[error(
        "stack `{stack}` has resources (`{ids}`) that another state file manages (lineage {lineage})"
    )]
    #[diagnostic(
        code(archkit::plan::other_state),
        help(
            "two state files use one stack name in this account and region; nothing was \
             changed: use that state (`--state PATH`), or give this one another `--stack` name"
        )
    )]
    OtherState { stack: String, lineage: String, ids: String },
    #[error("state records `{id}` of type `{kind}`, which this archkit does not know")]
    #[diagnostic(
        code(archkit::state::unknown_kind),
        help(
            "the state was written by an archkit that knows `{kind}`: use that version; \
             nothing was changed"
        )
    )]
    UnknownKind { id: String, kind: String },
    #[error("`{name}` is not a valid stack name{origin}: {reason}")]
    #[diagnostic(
        code(archkit::stack::invalid_name),
        help(
            "a stack name has 1 to 32 lower-case letters, digits and `-`, starts with a letter \
             and does not end with `-`: it goes into every resource's name and tags and into \
             the state file's name; pass another with --stack"
        )
    )]
    InvalidStack { name: String, origin: &'static str, reason: &'static str },
}

/// A read of the refresh that failed: the cloud's call error.
impl From<ProviderError> for SessionError {
    fn from(e: ProviderError) -> Self {
        SessionError::Cloud(CloudError::Call(e))
    }
}

/// The longest stack name: the shortest names derived from it (load
/// balancers, target groups: 32 characters) still carry a readable part.
pub const STACK_NAME_MAX: usize = 32;

/// Why `name` cannot be a stack name, if it cannot.
pub fn stack_name_error(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.len() > STACK_NAME_MAX {
        Some("it is longer than 32 characters")
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Some("only letters, digits and `-` are allowed")
    } else if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("it must start with a letter")
    } else if name.ends_with('-') {
        Some("it must not end with `-`")
    } else {
        None
    }
}

/// The values of the Systems Manager parameters `wanted` names (each with
/// the resource that uses it first); every one must exist.
async fn lookup(
    cloud: &dyn Cloud,
    wanted: &BTreeMap<String, String>,
    region: &str,
) -> Result<BTreeMap<String, String>, SessionError> {
    if wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    let names: Vec<String> = wanted.keys().cloned().collect();
    let (found, missing) = cloud.parameters(&names).await?;
    match missing.first() {
        None => Ok(found),
        Some(name) => Err(SessionError::LookupNotFound {
            name: name.clone(),
            user: wanted.get(name).cloned().unwrap_or_default(),
            region: region.to_string(),
            others: missing.len() - 1,
        }),
    }
}

/// What a session knows once loaded. Nothing of it changes once open
/// but the state, which applying writes.
pub struct Session {
    cloud: Box<dyn Cloud>,
    registry: Registry,
    blueprint: Arc<Blueprint>,
    values: Values,
    stack: String,
    region: String,
    mode: Mode,
    /// The `${ssm:NAME}` parameters looked up when the session opened,
    /// already substituted into `blueprint`.
    lookups: BTreeMap<String, String>,
    store: Arc<dyn StateStore>,
    state: State,
    blueprint_bytes: Vec<u8>,
    read_parallelism: usize,
    /// The stack's expiry the plan gives it: the recorded one, unless
    /// `--ttl` (or a saved plan) set or cleared it.
    expires_at: Option<String>,
    _lock: LockGuard,
}

/// Either blueprint diagnostics or another error.
pub enum OpenError {
    Blueprint(Diagnostics),
    Other(SessionError),
}

impl From<SessionError> for OpenError {
    fn from(e: SessionError) -> Self {
        OpenError::Other(e)
    }
}

impl Session {
    /// Validates the blueprint and its values first (no AWS call for a
    /// blueprint with errors), then connects and takes the lock.
    /// `prompt` asks for a secret no input gives (never for a destroy).
    pub async fn open(
        o: &Settings,
        located: &Located,
        prompt: &mut dyn FnMut(&blueprint::Parameter) -> Option<String>,
    ) -> Result<Session, OpenError> {
        let schemas = schema_registry();
        let bp = blueprint::load(located, &schemas).map_err(OpenError::Blueprint)?;
        let require = o.mode.require();
        let values =
            params::resolve(&bp, &o.inputs, require, prompt).map_err(OpenError::Blueprint)?;
        // Only what these values turn on is planned (a destroy plans from
        // state, whatever the values).
        let bp = if require == Require::All {
            let bp = bp.select(|p| values.value(p)).map_err(OpenError::Blueprint)?;
            blueprint::check::check_values(&bp, &values).map_err(OpenError::Blueprint)?;
            bp
        } else {
            bp
        };
        let stack = o.stack.clone().unwrap_or_else(|| bp.name.clone());
        // Upper case is refused for new work only, so that a stack made
        // before the rule can still be torn down.
        let reason = stack_name_error(&stack).or_else(|| {
            (require == Require::All && stack.chars().any(|c| c.is_ascii_uppercase())).then_some(
                "it has upper-case letters, which AWS folds (RDS lower-cases its identifiers, \
                 IAM names ignore case): `AU` and `au` would collide",
            )
        });
        if let Some(reason) = reason {
            let origin = if o.stack.is_some() { "" } else { " (the blueprint's name)" };
            return Err(SessionError::InvalidStack { name: stack, origin, reason }.into());
        }
        // The lock first: everything the session reads (the state, and
        // the cloud it refreshes) is read while no other run can change it.
        let store = open_store(o.state.clone(), &stack, &o.aws).map_err(SessionError::from)?;
        let lock = store.lock(&o.lock_owner, o.lock_timeout).map_err(SessionError::from)?;
        let cloud = connect(&o.aws).await.map_err(SessionError::from)?;
        let registry = cloud.registry();
        let region = cloud.region(o.aws.region.as_deref());
        cloud.start_zones();
        // Looked up once, before planning, so every resource of this run
        // sees the same value (a destroy needs none).
        let refs = if require == Require::All {
            bp.lookups(|p| {
                values.value(p).and_then(|v| match v {
                    crate::blueprint::expr::Expr::Str(s) => Some(s),
                    _ => None,
                })
            })
        } else {
            BTreeMap::new()
        };
        let wanted: BTreeMap<String, String> =
            refs.values().map(|(name, user)| (name.clone(), user.clone())).collect();
        let lookups = lookup(cloud.as_ref(), &wanted, &region).await?;
        let by_ref: BTreeMap<String, String> = refs
            .iter()
            .filter_map(|(key, (name, _))| Some((key.clone(), lookups.get(name)?.clone())))
            .collect();
        let bp = bp.with_lookups(&by_ref);
        let state = match store.load().map_err(SessionError::from)? {
            Some(s) if s.stack != stack => {
                let what = format!("state {}", store.location());
                let wrong = StateError::WrongStack { what, found: s.stack, expected: stack };
                return Err(SessionError::State(wrong).into());
            }
            Some(s) => s,
            None => State::new(&stack, &bp.name),
        };
        Ok(Session {
            expires_at: o.expiry.resolve(state.expires_at.as_deref()),
            mode: o.mode,
            cloud,
            registry,
            blueprint: Arc::new(bp),
            values,
            stack,
            region,
            lookups,
            store,
            state,
            blueprint_bytes: located.bytes.clone(),
            read_parallelism: o.read_parallelism,
            _lock: lock,
        })
    }

    pub fn cloud(&self) -> &dyn Cloud {
        self.cloud.as_ref()
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn store(&self) -> &dyn StateStore {
        self.store.as_ref()
    }

    /// The stale lock this session's replaced (its holder died on this
    /// host), to tell the user.
    pub fn took_over_lock(&self) -> Option<&crate::state::LockInfo> {
        self._lock.took_over.as_ref()
    }

    pub fn context(&self) -> Context {
        let teardown = self.mode.teardown().unwrap_or_default();
        Context {
            stack: self.stack.clone(),
            // Discovery takes everything tagged with the stack's name,
            // whichever state file made it (no lineage: none is foreign);
            // that is what a user who lost the state asks for.
            lineage: if teardown.discover { String::new() } else { self.state.lineage.clone() },
            assets: Arc::new(self.blueprint.assets.clone()),
            thorough: teardown.discover,
            force_empty: teardown.force_empty,
        }
    }

    /// Refreshes and plans (a destroy: the removal of everything).
    pub async fn plan(&self) -> Result<Plan, SessionError> {
        let destroy = self.mode.is_destroy();
        // A record of a kind this build cannot read would look deleted and
        // be dropped from state: refuse instead, changing nothing.
        let records = self.state.resources.iter().map(|(id, r)| (id, &r.kind));
        let deposed = self.state.deposed.iter().map(|d| (&d.id, &d.kind));
        if let Some((id, kind)) =
            records.chain(deposed).find(|(_, k)| self.registry.kind(k).is_none())
        {
            return Err(SessionError::UnknownKind { id: id.clone(), kind: kind.clone() });
        }
        let mut kinds: BTreeSet<String> =
            self.blueprint.resources.values().map(|r| r.kind().to_string()).collect();
        if self.mode.teardown().is_some_and(|t| t.discover) {
            // Untaggable kinds cannot be found by tag: they go with their
            // parents (routes with their table, a permission with its
            // function), whose deletes take them along.
            kinds.extend(
                self.registry
                    .kinds()
                    .filter(|k| self.registry.kind(k).is_some_and(|k| k.schema().taggable))
                    .map(str::to_string),
            );
        }
        let ctx = self.context();
        // Kinds reading the same listing share it, for this refresh only.
        let _shared = self.cloud.share_reads();
        let live =
            plan::refresh(&self.registry, &ctx, &self.state, &kinds, self.read_parallelism).await?;
        if let Some(lineage) = live.other_state.values().next() {
            let ids: Vec<&str> = live.other_state.keys().map(String::as_str).collect();
            return Err(SessionError::OtherState {
                stack: self.stack.clone(),
                lineage: lineage.clone(),
                ids: ids.join("`, `"),
            });
        }
        let azs = self.cloud.zones(&self.region).await?;
        let mut plan = plan::diff(
            &plan::Input {
                blueprint: &self.blueprint,
                params: &self.values,
                stack: &self.stack,
                region: &self.region,
                azs: &azs,
                state: &self.state,
                registry: &self.registry,
                destroy,
                expires_at: self.expires_at.as_deref(),
            },
            live,
        )?;
        if !destroy {
            plan.lookups = self.lookups.clone();
        }
        Ok(plan)
    }

    /// The running cost of `plan` in this session's region.
    pub fn cost(&self, plan: &Plan) -> crate::plan::cost::CostReport {
        crate::plan::cost::estimate(plan, &self.registry, &self.region, Some(&self.blueprint))
    }

    /// The blueprint's outputs, resolved against the current state; `None`
    /// for a value not known (its resource does not exist).
    pub fn outputs(&self) -> Vec<(String, Option<serde_json::Value>, bool)> {
        use crate::plan::resolve::{Env, PlanValue, resolve, uses_secret};
        let azs = self.cloud.zones_known(&self.region);
        let env = Env {
            params: &self.values,
            stack: &self.stack,
            region: &self.region,
            azs: &azs,
            expires_at: self.expires_at.as_deref(),
        };
        let look = engine::StateLookup { state: &self.state };
        self.blueprint
            .outputs
            .values()
            .map(|o| {
                let value = match resolve(&o.value, &env, &look) {
                    Ok(PlanValue::Known(v)) => Some(v),
                    _ => None,
                };
                let sensitive = o.sensitive || uses_secret(&o.value, &self.values);
                (o.name.clone(), value, sensitive)
            })
            .collect()
    }

    /// Whether applying `plan` has anything to do: changes, or state to
    /// bring up to what the refresh found (pending operations, records to
    /// forget, resources found again under another id).
    pub fn needs_apply(&self, plan: &Plan) -> bool {
        let moved = |c: &plan::Change| {
            c.physical_id.as_ref().is_some_and(|pid| {
                self.state.resources.get(&c.id).is_none_or(|r| &r.physical_id != pid)
            })
        };
        plan.has_changes()
            || !plan.forget.is_empty()
            || !self.state.pending.is_empty()
            || plan.changes.iter().any(moved)
    }

    /// The saved form of a plan made in this session.
    pub fn saved(&self, plan: &Plan, blueprint_arg: &str) -> SavedPlan {
        SavedPlan::new(plan, blueprint_arg, &self.blueprint_bytes, &self.values, &self.region)
    }

    /// A plan made in this session in the form of `saved`, to check that
    /// applying it now would do exactly what was saved.
    pub fn saved_again(&self, plan: &Plan, saved: &SavedPlan) -> SavedPlan {
        saved.again(plan, &self.blueprint_bytes, &self.values, &self.region)
    }

    /// Applies a plan, writing state after every operation.
    pub async fn apply(
        &mut self,
        plan: Plan,
        events: Arc<dyn Events>,
        opts: Options,
        cancel: Arc<Cancel>,
    ) -> Result<Report, SessionError> {
        // Recorded with the first state write: creates and updates resolve
        // their tags from it, as the plan did.
        if !plan.destroy {
            self.state.expires_at = plan.expires_at.clone();
        }
        let azs = self.cloud.zones(&self.region).await?;
        let destroy = plan.destroy;
        let (state, report) = engine::apply(
            &self.registry,
            &self.context(),
            engine::Inputs {
                blueprint: &self.blueprint,
                params: &self.values,
                region: &self.region,
                azs: &azs,
            },
            Arc::new(plan),
            // Moved, not copied: the engine returns it, and after an error
            // the session's state is not used (the store has it).
            std::mem::replace(&mut self.state, State::new(&self.stack, &self.blueprint.name)),
            self.store.clone(),
            events,
            opts,
            cancel,
        )
        .await?;
        self.state = state;
        // The outputs, recorded for `archkit output` once they can be
        // resolved (a destroy leaves none).
        let outputs: BTreeMap<String, crate::state::StoredOutput> = if destroy {
            BTreeMap::new()
        } else {
            self.outputs()
                .into_iter()
                .map(|(name, value, sensitive)| {
                    let value = if sensitive { None } else { value };
                    (
                        name,
                        crate::state::StoredOutput { value: value.unwrap_or_default(), sensitive },
                    )
                })
                .collect()
        };
        if outputs != self.state.outputs && report.ok() {
            self.state.outputs = outputs;
            self.store.write(&mut self.state)?;
        }
        Ok(report)
    }
}
