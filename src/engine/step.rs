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
    #[error("{0}")]
    Panicked(String),
}

/// Why a step failed, as the report keeps it: shared between the walk and
/// the report, and compared by what it says.
#[derive(Debug, Clone)]
pub struct Failure(Arc<StepError>);

impl Failure {
    pub fn error(&self) -> &StepError {
        &self.0
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for Failure {
    fn eq(&self, other: &Failure) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Failure {}

impl From<StepError> for Failure {
    fn from(e: StepError) -> Failure {
        Failure(Arc::new(e))
    }
}

impl From<super::walk::Panicked> for Failure {
    fn from(p: super::walk::Panicked) -> Failure {
        StepError::Panicked(p.to_string()).into()
    }
}

pub(super) async fn run_step(shared: &Arc<Shared>, c: &Change, step: Step) -> Result<(), Failure> {
    let op = step.op();
    let kind = shared
        .registry
        .kind(&c.kind)
        .ok_or_else(|| Failure::from(StepError::NoImplementation(c.kind.clone())))?
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
    .map_err(Failure::from);
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
        Err(e) => {
            shared.events.event(&Event::Failed { id: c.id.clone(), op, error: e.to_string() })
        }
    }
    result
}
