//! The registry of the error codes archkit prints outside blueprint
//! diagnostics (those are [`crate::blueprint::diagnostic::Code`]): each
//! code with the module whose decision it reports and what it means.
//!
//! A code is declared where its error is decided (a `thiserror` +
//! `miette::Diagnostic` variant, or a `CliError` of a command) and listed
//! here once; `tests/it/layout.rs` checks that every code in the sources
//! is listed, that every listed code is used, and that no two error
//! types declare the same code. Codes are part of the user contract (CI
//! scripts match on them): a code is never renamed or reused for another
//! meaning.

/// One error code.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode {
    pub code: &'static str,
    /// The module that decides it.
    pub owner: &'static str,
    pub meaning: &'static str,
}

const fn c(code: &'static str, owner: &'static str, meaning: &'static str) -> ErrorCode {
    ErrorCode { code, owner, meaning }
}

/// Every non-blueprint code, by area.
pub const CODES: &[ErrorCode] = &[
    c(
        "archkit::usage",
        "cli",
        "The command line does not parse (an unknown flag, a missing argument).",
    ),
    c(
        "archkit::var_file",
        "cli::inputs",
        "A `--var-file` cannot be read or is not a mapping of parameter values.",
    ),
    c(
        "archkit::confirm::no_terminal",
        "cli::terminal",
        "A change needs confirmation and there is no terminal: pass `--auto-approve`.",
    ),
    c(
        "archkit::cli::discover_needs_stack",
        "cli::destroy",
        "`destroy --discover` without a blueprint was given no `--stack`.",
    ),
    c("archkit::init::unknown_blueprint", "cli::init", "`init` names no built-in blueprint."),
    c("archkit::init::exists", "cli::init", "`init` would overwrite a file."),
    c("archkit::init::io", "cli::init", "`init` cannot write its files."),
    c("archkit::man::unknown_command", "cli::completions", "`man` names no command."),
    c("archkit::output::no_state", "cli::output", "`output` found no state for the stack."),
    c("archkit::output::unknown", "cli::output", "The stack has no output of that name."),
    c("archkit::output::sensitive", "cli::output", "The output is sensitive and never printed."),
    c("archkit::config::invalid", "config", "archkit.toml does not parse."),
    c("archkit::config::io", "config", "archkit.toml cannot be read."),
    c("archkit::aws::no_region", "aws", "No AWS region is configured."),
    c("archkit::aws::no_credentials", "aws", "No AWS credentials were found."),
    c(
        "archkit::provider::read",
        "cloud",
        "A call to the cloud failed after its retries (reading live state, zones, parameters).",
    ),
    c(
        "archkit::backend",
        "cloud",
        "The test cloud cannot do this, or its file is unreadable (test builds only).",
    ),
    c("archkit::stack::invalid_name", "session", "The stack name breaks the naming rule."),
    c(
        "archkit::lookup::not_found",
        "session",
        "An `${ssm:NAME}` parameter does not exist in the region.",
    ),
    c(
        "archkit::plan::other_state",
        "session",
        "Resources of the stack are managed by another state file (another lineage).",
    ),
    c(
        "archkit::state::unknown_kind",
        "session",
        "State records a resource type this archkit does not know.",
    ),
    c("archkit::plan::resolve", "plan", "A resource's value cannot be computed."),
    c(
        "archkit::plan::invalid",
        "plan",
        "A resolved value is refused at plan time (before any change).",
    ),
    c(
        "archkit::plan::unsupported_kind",
        "plan",
        "A resource type has no implementation in this build.",
    ),
    c(
        "archkit::plan::stale",
        "plan::saved",
        "A saved plan no longer matches the blueprint, values or live state.",
    ),
    c("archkit::plan::saved_io", "plan::saved", "A saved plan file cannot be read or written."),
    c("archkit::plan::saved_invalid", "plan::saved", "A saved plan file is damaged."),
    c(
        "archkit::plan::saved_version",
        "plan::saved",
        "A saved plan file is of another format version.",
    ),
    c("archkit::state::io", "state", "The state file cannot be read or written."),
    c("archkit::state::corrupt", "state", "The state file does not parse."),
    c("archkit::state::newer_format", "state", "The state was written by a newer archkit."),
    c("archkit::state::journal", "state", "The state's journal of pending operations is damaged."),
    c(
        "archkit::state::conflict",
        "state",
        "Another run wrote the state meanwhile; nothing was overwritten.",
    ),
    c(
        "archkit::state::wrong_stack",
        "state",
        "The state belongs to another stack than the one asked.",
    ),
    c("archkit::state::locked", "state", "Another run holds the stack's lock."),
    c(
        "archkit::state::lock_held",
        "state",
        "`state unlock` was refused: the lock's holder is still running.",
    ),
    c("archkit::state::lock_id", "state", "`state unlock` was given another lock's id."),
    c("archkit::state::lock_id_required", "state", "`state unlock` needs the lock's id."),
    c("archkit::state::remote", "state", "The S3 state store failed."),
    c("archkit::state::none", "ops::state_edit", "A state edit found no state to edit."),
    c("archkit::state::unknown_id", "ops::state_edit", "The state records no resource of that id."),
    c("archkit::state::id_taken", "ops::state_edit", "`state mv` would overwrite a record."),
    c(
        "archkit::state::push_refused",
        "ops::state_edit",
        "`state push` would replace a newer or unrelated state.",
    ),
    c(
        "archkit::state::which",
        "cli::state_args",
        "A state command was given neither `--stack` nor `--state`.",
    ),
    c("archkit::stacks::lost", "ops::stacks", "Some regions' searches stopped unexpectedly."),
    c(
        "archkit::stacks::scratch",
        "ops::stacks",
        "No scratch directory for the discovery sessions.",
    ),
];

/// The entry of `code`.
pub fn lookup(code: &str) -> Option<&'static ErrorCode> {
    CODES.iter().find(|c| c.code == code)
}
