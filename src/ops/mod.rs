//! The use cases behind the commands, as library functions returning
//! typed outcomes (as cargo's `ops`): each `src/cli/<verb>.rs` parses its
//! arguments, asks what must be asked, prints what comes back and maps it
//! to an exit status; the decisions are here.
//!
//! - [`state_edit`]: `archkit state push|mv|rm`, under the stack's lock,
//!   with lineage and serial rules and a backup of what is replaced.

pub mod state_edit;
