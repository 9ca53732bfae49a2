//! The options of the commands that touch a stack (`--lock-timeout`,
//! `--auto-approve`, `--parallelism`, `--ttl`), where its state lives,
//! and how to reach AWS.

use std::time::Duration;

use clap::Args;

use super::GlobalArgs;
use crate::output::Printer;
use crate::session::Session;

/// Options of the commands that touch a stack.
#[derive(Debug, Args, Clone)]
pub struct StackArgs {
    /// How long to wait for another run's state lock (e.g. 30s, 5m)
    /// [default: archkit.toml's `lock_timeout`, else 0s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_timeout: Option<Duration>,
}

/// Where state lives and how long to wait for its lock: `--state`
/// (`ARCHKIT_STATE`) and `--lock-timeout`, else the `[state]` of the
/// archkit.toml beside the blueprint or in the working directory, else
/// the defaults. `None` after printing an invalid archkit.toml.
pub(crate) fn store_settings(
    g: &GlobalArgs,
    stack: &StackArgs,
    blueprint_dir: Option<&std::path::Path>,
    printer: &Printer,
) -> Option<(Option<std::path::PathBuf>, Duration)> {
    let config = match crate::config::find(blueprint_dir) {
        Ok(c) => c,
        Err(e) => {
            printer.error(&*e);
            return None;
        }
    };
    let from_file = config.as_ref().and_then(|(file, c)| c.state_location(file));
    let timeout = config.as_ref().and_then(|(_, c)| c.state.lock_timeout);
    Some((g.state.clone().or(from_file), stack.lock_timeout.or(timeout).unwrap_or(Duration::ZERO)))
}

/// Options of the commands that change a stack.
#[derive(Debug, Args, Clone)]
pub struct ApplyArgs {
    /// Do not ask for confirmation (needed without a terminal, e.g. in CI)
    #[arg(long)]
    pub auto_approve: bool,
    /// At most this many AWS operations at once
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
}

/// `--ttl` of the commands that plan a stack.
#[derive(Debug, Args, Clone)]
pub struct TtlArgs {
    /// Let the stack expire DURATION from now (e.g. 2h, 1d): its resources
    /// are tagged archkit:expires-at, and `archkit sweep` destroys it once
    /// that has passed; `none` clears it [default: keep the recorded one]
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    pub ttl: Option<Ttl>,
}

/// A stack's time to live.
#[derive(Debug, Clone, Copy)]
pub enum Ttl {
    For(Duration),
    /// No expiry.
    Clear,
}

impl TtlArgs {
    /// Sets the session's expiry when `--ttl` was given.
    pub(crate) fn apply_to(&self, session: &mut Session) {
        match self.ttl {
            Some(Ttl::For(d)) => {
                let at = std::time::SystemTime::now() + d;
                session.expires_at = Some(humantime::format_rfc3339_seconds(at).to_string());
            }
            Some(Ttl::Clear) => session.expires_at = None,
            None => {}
        }
    }
}

/// The longest `--ttl`: ten years.
const TTL_MAX: Duration = Duration::from_secs(3650 * 24 * 3600);

fn parse_ttl(s: &str) -> Result<Ttl, String> {
    if matches!(s, "none" | "off") {
        return Ok(Ttl::Clear);
    }
    match parse_duration(s)? {
        d if d.is_zero() => Err("a time to live must be longer than 0 (`none` clears it)".into()),
        // Far beyond any tutorial, and well inside what an RFC 3339 tag
        // can write (year 9999).
        d if d > TTL_MAX => Err(format!(
            "a time to live is at most 10 years (`3650d`); `{s}` is longer (`none` clears it)"
        )),
        d => Ok(Ttl::For(d)),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

/// How to reach AWS, from the global options.
pub(crate) fn settings(g: &GlobalArgs) -> crate::aws::Settings {
    crate::aws::Settings {
        region: g.region.clone(),
        profile: g.profile.clone(),
        endpoint_url: g.endpoint_url.clone(),
        max_attempts: crate::settings::env().aws_max_attempts,
    }
}
