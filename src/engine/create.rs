//! The create step: a pending record on disk, then the create, made once
//! even when answers are lost (looked up by its tags before it is made
//! again), then the wait until it is ready. A resource AWS made is always
//! recorded, tainted if its create did not finish.

use crate::plan::{Action, Change};
use crate::provider::{CreateRequest, Created, Props, ProviderError, ReadQuery, ResourceKind};
use crate::state::{Deposed, Operation, Status};

use super::call::{call, read_one, try_again};
use super::journal::{note_state, record, record_ready, stored_props, write_state};
use super::resolve_now;
use super::wait::wait_ready;
use super::{Shared, StepError};

pub(super) async fn create(
    shared: &Shared,
    kind: &dyn ResourceKind,
    c: &Change,
) -> Result<(), StepError> {
    let props = resolve_now(shared, &c.id)?;
    let stored = stored_props(c, &props);
    write_state(shared, &c.id, |st| {
        // A replacement keeps the old object as deposed until it is gone.
        if c.action == Action::Replace
            && let Some(old) = st.resources.remove(&c.id)
        {
            st.deposed.push(Deposed {
                id: c.id.clone(),
                kind: old.kind,
                physical_id: old.physical_id,
                properties: old.properties,
            });
        }
        st.begin(&c.id, &c.kind, Operation::Create);
    })
    .await?;
    let req = CreateRequest {
        logical_id: c.id.clone(),
        properties: props.into_iter().collect(),
        token: uuid::Uuid::new_v4().to_string(),
    };
    let created = match create_once(shared, kind, c, &req).await {
        // The resource was made, but a later step of its create (a
        // throttled attribute call, or one whose answer was lost) failed
        // retryably: finish it as an update of what is live.
        Err(e)
            if (e.is_retryable() || e.is_outcome_unknown())
                && let Some(pid) = e.partial_id.clone() =>
        {
            finish_create(shared, kind, &pid, &req.properties).await.map_err(|mut e| {
                e.partial_id = Some(pid);
                e
            })
        }
        other => other,
    };
    match created {
        Ok(created) => await_created(shared, kind, c, stored, created).await,
        Err(e) => Err(create_failed(shared, c, &stored, e)),
    }
}

/// Records a resource just created and waits until it is ready.
async fn await_created(
    shared: &Shared,
    kind: &dyn ResourceKind,
    c: &Change,
    stored: Props,
    created: Created,
) -> Result<(), StepError> {
    // Polled once before anything is recorded: most resources are ready
    // at once, and are then recorded once, as ready (a journal record less
    // per resource). A run that stops during that poll leaves the pending
    // record, as one that stops during the create does, and the next run
    // finds the resource the same way.
    let first = call(shared, || kind.poll_ready(&shared.ctx, &created.physical_id)).await;
    let status = if matches!(first, Ok(Some(_))) { Status::Ready } else { Status::Creating };
    // Otherwise recorded as created but not ready: a run that stops during
    // the wait (a crash, Ctrl-C) leaves it `creating`, and the next apply
    // waits again instead of taking it as ready.
    note_state(shared, &c.id, |st| {
        let mut r = record(c, &created.physical_id, stored, status);
        r.attributes.extend(created.attributes.clone());
        if let Ok(Some(attrs)) = &first {
            r.attributes.extend(attrs.clone());
        }
        st.resources.insert(c.id.clone(), r);
        st.end(&c.id);
    })?;
    let waited = match first {
        Ok(Some(_)) => return Ok(()),
        Ok(None) => wait_ready(shared, kind, &c.id, &created.physical_id, true).await,
        Err(e) => Err(e.into()),
    };
    match waited {
        Ok(Some(attrs)) => record_ready(shared, &c.id, attrs),
        Ok(None) => Err(StepError::InterruptedReady),
        Err(e) => {
            note_state(shared, &c.id, |st| {
                if let Some(r) = st.resources.get_mut(&c.id) {
                    r.status = Status::Tainted;
                }
            })?;
            Err(e)
        }
    }
}

/// Creates `c` once, even when answers are lost: a create whose outcome
/// is unknown (its answer lost; the SDK does not retry it) is looked up
/// by its tags and only made again when it is not there. A create that
/// fails after a lost answer (an SDK-retried one that conflicts with what
/// the first made) is looked up the same way. Untaggable kinds recognise
/// their own lost creates (a gateway already attached, a route that
/// exists).
async fn create_once(
    shared: &Shared,
    kind: &dyn ResourceKind,
    c: &Change,
    req: &CreateRequest,
) -> Result<Created, ProviderError> {
    let mut lost = 0;
    loop {
        match call(shared, || kind.create(&shared.ctx, req)).await {
            Ok(created) => return Ok(created),
            Err(e) if e.partial_id.is_some() => return Err(e),
            Err(e) if shared.cancel.is_cancelled() => return Err(e),
            Err(e) => {
                // Found: its create may have stopped before its later
                // steps (attributes, rules), so finish it from what is live.
                if let Some(found) = find_created(shared, kind, c).await {
                    return finish_create(shared, kind, &found.physical_id, &req.properties)
                        .await
                        .map_err(|e| e.partial(&found.physical_id));
                }
                if !try_again(shared, &e, &mut lost) {
                    return Err(e);
                }
            }
        }
    }
}

/// Records a failed create: the id AWS returned (tainted, never
/// forgotten), or, when the outcome is unknown, the pending entry stays
/// for the next plan to look the resource up by its tags.
fn create_failed(shared: &Shared, c: &Change, stored: &Props, e: ProviderError) -> StepError {
    let written = note_state(shared, &c.id, |st| {
        if let Some(pid) = &e.partial_id {
            let r = record(c, pid, stored.clone(), Status::Tainted);
            st.resources.insert(c.id.clone(), r);
            st.end(&c.id);
        } else if !e.is_outcome_unknown() {
            st.end(&c.id);
        }
    });
    match written {
        Ok(()) => e.into(),
        Err(w) => w,
    }
}

/// Completes a create whose resource exists but whose later steps did
/// not all happen: reads it, then updates it from what is live to what
/// the blueprint wants; again from what is live while answers are lost.
pub(super) async fn finish_create(
    shared: &Shared,
    kind: &dyn ResourceKind,
    pid: &str,
    props: &Props,
) -> Result<Created, ProviderError> {
    let mut lost = 0;
    loop {
        match update_from_live(shared, kind, pid, props).await {
            Err(e) if try_again(shared, &e, &mut lost) => {}
            other => return other,
        }
    }
}

async fn update_from_live(
    shared: &Shared,
    kind: &dyn ResourceKind,
    pid: &str,
    props: &Props,
) -> Result<Created, ProviderError> {
    let live = read_one(shared, kind, pid, props)
        .await?
        .ok_or_else(|| ProviderError::new(format!("`{pid}` was created but cannot be read")))?;
    let mut attributes = live.attributes;
    attributes
        .extend(call(shared, || kind.update(&shared.ctx, pid, &live.properties, props)).await?);
    Ok(Created { physical_id: pid.to_string(), attributes })
}

/// A resource of this kind tagged with `c`'s logical id that state does
/// not know yet: the product of a create whose answer was lost.
async fn find_created(shared: &Shared, kind: &dyn ResourceKind, c: &Change) -> Option<Created> {
    if !kind.schema().taggable {
        return None;
    }
    let query = ReadQuery { known: Vec::new(), discover: true };
    let found = call(shared, || kind.read(&shared.ctx, &query)).await.ok()?;
    let st = shared.state.lock().unwrap();
    let known = |pid: &str| {
        st.resources.values().any(|r| r.physical_id == pid)
            || st.deposed.iter().any(|d| d.physical_id == pid)
    };
    found
        .into_iter()
        .find(|o| o.logical_id.as_deref() == Some(c.id.as_str()) && !known(&o.physical_id))
        .map(|o| Created { physical_id: o.physical_id, attributes: o.attributes })
}
