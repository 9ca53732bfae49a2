//! One node of the operation graph: which step it is, the events around
//! it, and why it failed ([`StepError`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::plan::{self, Change};
use crate::provider::ProviderError;
use crate::state::StateError;

use super::create::create;
use super::delete::delete;
use super::order::Step;
use super::update::update;
use super::{Event, Shared};

/// Why one operation failed. Its text is what progress and the report
/// show.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("{0}")]
    Provider(#[from] ProviderError),
    #[error("cannot write state: {0}")]
    State(#[from] StateError),
    #[error("{0}")]
    Resolve(#[from] plan::PlanError),
    #[error("`{0}` still refers to a value that is not known")]
    Unknown(String),
    #[error("no implementation of {0}")]
    NoImplementation(String),
    #[error("`{0}` is not in state")]
    NotInState(String),
    #[error("no old object of `{0}` to delete")]
    NoOldObject(String),
    #[error("interrupted while waiting for it to become ready")]
    InterruptedReady,
    #[error("interrupted while waiting for deletion")]
    InterruptedDelete,
    #[error("not ready after {0:?}")]
    NotReady(Duration),
    #[error("still not deleted after {0:?}")]
    NotDeleted(Duration),
}

pub(super) async fn run_step(shared: &Arc<Shared>, c: &Change, step: Step) -> Result<(), String> {
    let op = step.op();
    let kind = shared
        .registry
        .kind(&c.kind)
        .ok_or_else(|| StepError::NoImplementation(c.kind.clone()).to_string())?
        .clone();
    let started = Instant::now();
    shared.events.event(&Event::Started {
        id: c.id.clone(),
        op,
        expected: kind.expected_duration(op),
    });
    let result = match step {
        Step::Create => create(shared, kind.as_ref(), c).await,
        Step::Update => update(shared, kind.as_ref(), c).await,
        Step::Delete | Step::DeleteOld => delete(shared, kind.as_ref(), c, step).await,
    }
    .map_err(|e| e.to_string());
    match &result {
        Ok(()) => {
            let note = match step {
                Step::Create | Step::Update => {
                    let st = shared.state.lock().unwrap();
                    st.resources.get(&c.id).and_then(|r| kind.live_note(&r.attributes))
                }
                Step::Delete | Step::DeleteOld => None,
            };
            shared.events.event(&Event::Finished {
                id: c.id.clone(),
                op,
                elapsed: started.elapsed(),
                note,
            })
        }
        Err(e) => shared.events.event(&Event::Failed { id: c.id.clone(), op, error: e.clone() }),
    }
    result
}
