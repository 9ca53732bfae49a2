//! What archkit takes from its process environment, read in one place.
//!
//! Every environment variable archkit honours is read here and nowhere
//! else (`tests/it/layout.rs` greps the sources for `std::env`): the rest
//! of the library asks [`env`] for this one snapshot, taken the first time
//! it is asked, so what a run saw can be told from its arguments and the
//! variables listed below. The AWS SDK reads its own (`AWS_PROFILE`,
//! `AWS_REGION`, credentials) through `aws-config`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The process environment as archkit reads it.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `NO_COLOR` set and not empty: no colour, whatever the terminal.
    pub no_color: bool,
    /// `COLUMNS`: the width diagnostics wrap at.
    pub columns: Option<usize>,
    /// `ARCHKIT_AWS_MAX_ATTEMPTS`: the SDK's attempts per call.
    pub aws_max_attempts: Option<u32>,
    /// `ARCHKIT_VAR_<NAME>` as (name, value), in the environment's order.
    pub vars: Vec<(String, String)>,
    /// `USER`, else `LOGNAME`: who holds a lock.
    pub user: String,
    /// `HOSTNAME`: where a lock was taken, when the kernel does not say.
    pub hostname: Option<String>,
    /// Hooks of the test suite, read only by a build with the test cloud.
    #[cfg(any(test, feature = "test-cloud"))]
    pub test: TestHooks,
}

/// Variables only the test suite sets.
#[cfg(any(test, feature = "test-cloud"))]
#[derive(Debug, Clone, Default)]
pub struct TestHooks {
    /// `ARCHKIT_TEST_CLOUD`: the file of the in-memory test cloud to use
    /// instead of AWS.
    pub cloud: Option<PathBuf>,
    /// `ARCHKIT_TEST_LATENCY_MS`: the test cloud's latency per call.
    pub latency_ms: Option<u64>,
    /// `ARCHKIT_TEST_SLOW_POLLS`: polls a `test.slow` resource needs.
    pub slow_polls: Option<usize>,
    /// `ARCHKIT_TEST_PANIC`: panic at start (what a panic looks like).
    pub panic: bool,
    /// `ARCHKIT_TEST_STATE_PATH`: the state file of the local store's
    /// kill test's child process.
    pub state_path: Option<PathBuf>,
}

impl Env {
    /// Reads the process environment.
    pub fn read() -> Env {
        let var = |name: &str| std::env::var(name).ok();
        let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        Env {
            no_color: set("NO_COLOR").is_some(),
            columns: var("COLUMNS").and_then(|c| c.parse().ok()),
            aws_max_attempts: var("ARCHKIT_AWS_MAX_ATTEMPTS").and_then(|v| v.parse().ok()),
            vars: std::env::vars()
                .filter_map(|(k, v)| Some((k.strip_prefix("ARCHKIT_VAR_")?.to_string(), v)))
                .collect(),
            user: var("USER").or_else(|| var("LOGNAME")).unwrap_or_default(),
            hostname: var("HOSTNAME"),
            #[cfg(any(test, feature = "test-cloud"))]
            test: TestHooks {
                cloud: set("ARCHKIT_TEST_CLOUD").map(PathBuf::from),
                latency_ms: var("ARCHKIT_TEST_LATENCY_MS").and_then(|v| v.parse().ok()),
                slow_polls: var("ARCHKIT_TEST_SLOW_POLLS").and_then(|v| v.parse().ok()),
                panic: std::env::var_os("ARCHKIT_TEST_PANIC").is_some(),
                state_path: set("ARCHKIT_TEST_STATE_PATH").map(PathBuf::from),
            },
        }
    }
}

/// This process's environment, read on first use.
pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(Env::read)
}

/// The command line's arguments after the program name, for what must be
/// known before (or without) parsing them: whether a usage error is to be
/// printed as JSON.
pub fn args() -> Vec<OsString> {
    std::env::args_os().skip(1).collect()
}

/// The running executable, for commands that run archkit again.
pub fn current_exe() -> std::io::Result<PathBuf> {
    std::env::current_exe()
}
