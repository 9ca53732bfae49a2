//! `archkit plan`, `apply` and `destroy` once their session is open:
//! refresh and plan, check that a saved plan still holds, decide whether
//! there is anything to do and whether to ask first, apply, and say how
//! the run ended. The commands print and prompt around these.

use std::sync::Arc;

use crate::engine::{Cancel, Events, Options, Report};
use crate::plan::Plan;
use crate::plan::cost::CostReport;
use crate::plan::saved::{SavedPlan, SavedPlanError};
use crate::session::{Session, SessionError};

/// A fresh plan and what it means for the run.
pub struct Planned {
    pub plan: Plan,
    /// Its running cost in the session's region.
    pub cost: CostReport,
    /// Applying it has anything to do: changes, or state to bring up to
    /// what the refresh found.
    pub needs_apply: bool,
    /// Applying it changes resources no one has reviewed yet (not a saved
    /// plan): ask first, unless told not to (`--auto-approve`).
    pub asks: bool,
}

/// Why a run stopped before applying anything.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Session(#[from] SessionError),
    /// The saved plan being applied is not what applying would do now.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stale(#[from] SavedPlanError),
}

/// Refreshes and plans; with `saved` (a plan file being applied), the
/// fresh plan must be the one saved.
pub async fn plan(session: &Session, saved: Option<&SavedPlan>) -> Result<Planned, PlanError> {
    let plan = session.plan().await?;
    if let Some(saved) = saved {
        saved.check(&session.saved_again(&plan, saved))?;
    }
    Ok(Planned {
        cost: session.cost(&plan),
        needs_apply: session.needs_apply(&plan),
        asks: plan.has_changes() && saved.is_none(),
        plan,
    })
}

/// How an apply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every change was made.
    Done,
    /// Ctrl-C: what was started finished, the rest is left for next time.
    Interrupted,
    /// A change failed; what did not depend on it was still made.
    Failed,
}

impl Outcome {
    pub fn of(report: &Report) -> Outcome {
        if report.interrupted {
            Outcome::Interrupted
        } else if report.ok() {
            Outcome::Done
        } else {
            Outcome::Failed
        }
    }
}

/// Applies `plan`, at most `parallelism` operations at once, writing
/// state after every one; `cancel` stops starting new ones.
pub async fn apply(
    session: &mut Session,
    plan: Plan,
    events: Arc<dyn Events>,
    parallelism: usize,
    cancel: Arc<Cancel>,
) -> Result<(Report, Outcome), SessionError> {
    let opts = Options { parallelism, ..Options::default() };
    let report = session.apply(plan, events, opts, cancel).await?;
    let outcome = Outcome::of(&report);
    Ok((report, outcome))
}
