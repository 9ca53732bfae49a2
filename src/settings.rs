//! What a run is told: its process environment, the `archkit.toml` it
//! finds and the global options, resolved once into [`Settings`].
//!
//! Every environment variable archkit honours is read here and nowhere
//! else (`tests/it/layout.rs` greps the sources for `std::env`): the rest
//! of the library asks [`env`] for this one snapshot, taken the first time
//! it is asked, so what a run saw can be told from its arguments and the
//! variables listed below. The AWS SDK reads its own (`AWS_PROFILE`,
//! `AWS_REGION`, credentials) through `aws-config`.
//!
//! A stack session is opened from a [`Settings`] (what the command asks
//! for, with its [`Mode`]) and does not change it afterwards.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::blueprint::params::{Inputs, Require};

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

/// What a stack session is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `plan`: refresh and diff the blueprint; nothing is changed.
    Plan,
    /// `apply`: plan the blueprint, then make it so.
    Apply,
    /// `destroy`, `plan --destroy`, a saved destroy plan, `sweep`: remove
    /// what the stack has. Needs no parameter value: tearing a stack down
    /// never asks for its secrets again.
    Destroy(Teardown),
}

/// The options of a destroy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Teardown {
    /// Read every kind archkit implements, not only the blueprint's and
    /// state's, for what is tagged with the stack (`destroy --discover`).
    pub discover: bool,
    /// Delete the objects of buckets being deleted (`--force-empty`).
    pub force_empty: bool,
}

impl Mode {
    /// The options of a destroy; `None` for plan and apply.
    pub fn teardown(self) -> Option<Teardown> {
        match self {
            Mode::Destroy(t) => Some(t),
            Mode::Plan | Mode::Apply => None,
        }
    }

    pub fn is_destroy(self) -> bool {
        self.teardown().is_some()
    }

    /// Which parameters need a value: all of them, except for a destroy
    /// (it removes what state records).
    pub fn require(self) -> Require {
        if self.is_destroy() { Require::Given } else { Require::All }
    }
}

/// The expiry a plan gives its stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Expiry {
    /// The one state records (no `--ttl`).
    #[default]
    Keep,
    /// This RFC 3339 time (`--ttl 2h`, or a saved plan's).
    At(String),
    /// None (`--ttl none`).
    Clear,
}

impl Expiry {
    /// `duration` from now.
    pub fn after(duration: Duration) -> Expiry {
        let at = std::time::SystemTime::now() + duration;
        Expiry::At(humantime::format_rfc3339_seconds(at).to_string())
    }

    /// The expiry given `recorded`, the one state has.
    pub fn resolve(&self, recorded: Option<&str>) -> Option<String> {
        match self {
            Expiry::Keep => recorded.map(str::to_string),
            Expiry::At(at) => Some(at.clone()),
            Expiry::Clear => None,
        }
    }
}

/// What the command line says about where a stack lives and how to reach
/// AWS: the global options as parsed, before `archkit.toml` fills gaps.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub stack: Option<String>,
    /// `--state` (or `ARCHKIT_STATE`).
    pub state: Option<PathBuf>,
    pub lock_timeout: Option<Duration>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

impl Flags {
    /// Where state lives and how long to wait for its lock: `--state`
    /// and `--lock-timeout`, else the `[state]` of the archkit.toml beside
    /// the blueprint (`blueprint_dir`) or in the working directory, else
    /// the stack's default file and no wait.
    pub fn store(
        &self,
        blueprint_dir: Option<&Path>,
    ) -> Result<(Option<PathBuf>, Duration), Box<crate::config::ConfigError>> {
        let config = crate::config::find(blueprint_dir)?;
        let from_file = config.as_ref().and_then(|(file, c)| c.state_location(file));
        let timeout = config.as_ref().and_then(|(_, c)| c.state.lock_timeout);
        Ok((
            self.state.clone().or(from_file),
            self.lock_timeout.or(timeout).unwrap_or(Duration::ZERO),
        ))
    }

    /// How to reach AWS.
    pub fn aws(&self) -> crate::aws::Settings {
        crate::aws::Settings {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            max_attempts: env().aws_max_attempts,
        }
    }
}

/// Everything a stack session is opened with, resolved before it opens.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    /// The stack's name, when given (else the blueprint's).
    pub stack: Option<String>,
    /// Where state lives: `--state`, else `archkit.toml`, else the
    /// stack's default file.
    pub state: Option<PathBuf>,
    /// How long to wait for another run's lock.
    pub lock_timeout: Duration,
    /// Who holds the lock (`archkit apply`), as other runs are told.
    pub lock_owner: String,
    pub aws: crate::aws::Settings,
    /// The parameter values given.
    pub inputs: Inputs,
    /// Kinds read at once by the refresh (`--parallelism`).
    pub read_parallelism: usize,
    pub expiry: Expiry,
}

impl Settings {
    /// `flags` completed by archkit.toml ([`Flags::store`]), then the
    /// defaults (ten reads at once, the recorded expiry).
    pub fn resolve(
        flags: &Flags,
        blueprint_dir: Option<&Path>,
        mode: Mode,
        lock_owner: &str,
    ) -> Result<Settings, Box<crate::config::ConfigError>> {
        let (state, lock_timeout) = flags.store(blueprint_dir)?;
        Ok(Settings {
            mode,
            stack: flags.stack.clone(),
            state,
            lock_timeout,
            lock_owner: lock_owner.to_string(),
            aws: flags.aws(),
            inputs: Inputs::default(),
            read_parallelism: 10,
            expiry: Expiry::Keep,
        })
    }
}
