//! The delete step (of a resource, or of a replacement's old object): a
//! pending record on disk, the delete, asked again only if the resource
//! can still be read after a lost answer, then the wait until it is gone.

use crate::plan::Change;
use crate::provider::{Op, Props, ProviderError, ResourceKind};
use crate::state::Operation;

use super::call::{call_for, read_one, try_again};
use super::journal::{note_state, write_state};
use super::order::Step;
use super::wait::wait_deleted;
use super::{Shared, StepError};

pub(super) async fn delete(
    shared: &Shared,
    kind: &dyn ResourceKind,
    c: &Change,
    step: Step,
) -> Result<(), StepError> {
    let (pid, props) = target(shared, c, step)?;
    write_state(shared, &c.id, |st| st.begin(&c.id, &c.kind, Operation::Delete)).await?;
    let result = match delete_once(shared, kind, c, &pid, &props).await {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    };
    if let Err(e) = result {
        note_state(shared, &c.id, |st| st.end(&c.id))?;
        return Err(e.into());
    }
    if !wait_deleted(shared, kind, &c.id, &pid).await? {
        return Err(StepError::InterruptedDelete);
    }
    note_state(shared, &c.id, |st| {
        st.deposed.retain(|d| d.physical_id != pid);
        if st.resources.get(&c.id).is_some_and(|r| r.physical_id == pid) {
            st.resources.remove(&c.id);
        }
        st.end(&c.id);
    })
}

/// The object to delete, and its recorded properties.
fn target(shared: &Shared, c: &Change, step: Step) -> Result<(String, Props), StepError> {
    let st = shared.state.lock().unwrap();
    if step == Step::DeleteOld {
        // Create-before-delete: the old object was deposed by the create.
        // Delete-first: it is still the recorded one.
        if let Some(d) = st.deposed.iter().find(|d| d.id == c.id) {
            return Ok((d.physical_id.clone(), d.properties.clone()));
        }
        let r = st
            .resources
            .get(&c.id)
            .filter(|r| Some(&r.physical_id) == c.physical_id.as_ref())
            .ok_or_else(|| StepError::NoOldObject(c.id.clone()))?;
        return Ok((r.physical_id.clone(), r.properties.clone()));
    }
    let pid = c.physical_id.clone().unwrap_or_default();
    let props = st
        .resources
        .get(&c.id)
        .filter(|r| r.physical_id == pid)
        .map_or_else(|| c.before.clone(), |r| r.properties.clone());
    Ok((pid, props))
}

/// Deletes `pid`. Its answer was lost: if it can still be read, delete
/// again. Asking first, rather than deleting again at once, also spares
/// services that answer a second delete with an error (moto's MQ answers
/// 500).
async fn delete_once(
    shared: &Shared,
    kind: &dyn ResourceKind,
    c: &Change,
    pid: &str,
    props: &Props,
) -> Result<(), ProviderError> {
    let once =
        || call_for(shared, Some((&c.id, Op::Delete)), || kind.delete(&shared.ctx, pid, props));
    let mut result = once().await;
    let mut lost = 0;
    while let Err(e) = &result
        && try_again(shared, e, &mut lost)
    {
        result = match read_one(shared, kind, pid, props).await {
            Ok(None) => Ok(()),
            _ => once().await,
        };
    }
    result
}
