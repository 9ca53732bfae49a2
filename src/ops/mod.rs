//! The use cases behind the commands, as library functions returning
//! typed outcomes (as cargo's `ops`): each `src/cli/<verb>.rs` parses its
//! arguments, asks what must be asked, prints what comes back and maps it
//! to an exit status; the decisions are here.
//!
//! - [`apply`]: plan (checking a saved plan still holds), whether to ask,
//!   apply, and how the run ended: `plan`, `apply`, `destroy`, `sweep`.
//! - [`destroy`]: the destroy of a stack known only by its name, found by
//!   its tags (`destroy --discover`, `sweep`, `stacks`).
//! - [`state_edit`]: `archkit state push|mv|rm`, under the stack's lock,
//!   with lineage and serial rules and a backup of what is replaced.
//! - [`stacks`]: the stacks found by their tags, in one region or all,
//!   with their expiry and cost (`archkit stacks`, and `sweep`'s search).

pub mod apply;
pub mod destroy;
pub mod stacks;
pub mod state_edit;

/// A runtime of the library's own, for work spread over threads (each
/// thread's AWS clients belong to the runtime that made them).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}
