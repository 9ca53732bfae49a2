//! The update step: from what is live to what the blueprint wants, then
//! the wait until it is ready again (an update can start a rollout).

use crate::plan::Change;
use crate::provider::{Attrs, Props, ResourceKind};
use crate::state::Operation;

use super::call::call;
use super::create::finish_create;
use super::journal::{note_state, record_ready, stored_props, write_state};
use super::resolve_now;
use super::wait::wait_ready;
use super::{Shared, StepError};

pub(super) async fn update(
    shared: &Shared,
    kind: &dyn ResourceKind,
    c: &Change,
) -> Result<(), StepError> {
    let props = resolve_now(shared, &c.id)?;
    let recorded = shared
        .state
        .lock()
        .unwrap()
        .resources
        .get(&c.id)
        .map(|r| (r.physical_id.clone(), r.properties.clone()));
    let (pid, applied) = recorded.ok_or_else(|| StepError::NotInState(c.id.clone()))?;
    let stored = stored_props(c, &props);
    write_state(shared, &c.id, |st| st.begin(&c.id, &c.kind, Operation::Update)).await?;
    let new: Props = props.into_iter().collect();
    let old = old_props(c, applied, &new);
    // Nothing to change: the update only resumes a wait for readiness.
    let result = if c.changed.is_empty() {
        Ok(Attrs::new())
    } else {
        match call(shared, || kind.update(&shared.ctx, &pid, &old, &new)).await {
            // Its answer was lost: part of it may be done. Update again
            // from what is live now.
            Err(e) if e.is_outcome_unknown() => {
                finish_create(shared, kind, &pid, &new).await.map(|c| c.attributes)
            }
            other => other,
        }
    };
    note_state(shared, &c.id, |st| {
        if let Ok(attrs) = &result
            && let Some(r) = st.resources.get_mut(&c.id)
        {
            r.properties = stored.clone();
            r.attributes.extend(attrs.clone());
            r.depends_on = c.depends_on.clone();
        }
        st.end(&c.id);
    })?;
    result?;
    // An update can start a rollout (an ECS service moving to a new task
    // definition): dependents wait until it is ready again. A failed
    // rollout is reported, but the resource is not tainted: its update
    // was made, and the next plan shows what is live.
    match wait_ready(shared, kind, &c.id, &pid, false).await {
        Ok(Some(attrs)) => record_ready(shared, &c.id, attrs),
        Ok(None) => Err(StepError::InterruptedReady),
        Err(e) => Err(e),
    }
}

/// The properties the update starts from: what is live, not only what was
/// `applied`, so that it also undoes drift (a value changed outside
/// archkit). State holds only digests of secrets: a secret the plan found
/// unchanged is given as its `new` value on both sides, so the provider
/// sees it did not change.
fn old_props(c: &Change, applied: Props, new: &Props) -> Props {
    let mut old = applied;
    for (k, v) in &c.before {
        if !c.sensitive.contains(k) {
            old.insert(k.clone(), v.clone());
        }
    }
    for k in &c.sensitive {
        if !c.changed.contains(k)
            && let Some(v) = new.get(k)
        {
            old.insert(k.clone(), v.clone());
        }
    }
    old
}
