//! The options of the commands that touch a stack (`--lock-timeout`,
//! `--auto-approve`, `--parallelism`, `--ttl`), where its state lives,
//! and how to reach AWS.

use std::time::Duration;

use clap::Args;

use super::GlobalArgs;
use crate::output::Printer;
use crate::settings::{Expiry, Flags};

/// Options of the commands that touch a stack.
#[derive(Debug, Args, Clone)]
pub struct StackArgs {
    /// How long to wait for another run's state lock (e.g. 30s, 5m)
    /// [default: archkit.toml's `lock_timeout`, else 0s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_timeout: Option<Duration>,
}

/// What the command line says of where the stack lives and how to reach
/// AWS.
pub(crate) fn flags(g: &GlobalArgs, stack: &StackArgs) -> Flags {
    Flags {
        stack: g.stack.clone(),
        state: g.state.clone(),
        lock_timeout: stack.lock_timeout,
        region: g.region.clone(),
        profile: g.profile.clone(),
        endpoint_url: g.endpoint_url.clone(),
    }
}

/// [`Flags::store`], printing an invalid archkit.toml.
pub(crate) fn store_settings(
    g: &GlobalArgs,
    stack: &StackArgs,
    blueprint_dir: Option<&std::path::Path>,
    printer: &Printer,
) -> Option<(Option<std::path::PathBuf>, Duration)> {
    flags(g, stack).store(blueprint_dir).map_err(|e| printer.error(&*e)).ok()
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
    /// The expiry `--ttl` gives.
    pub(crate) fn expiry(&self) -> Expiry {
        match self.ttl {
            Some(Ttl::For(d)) => Expiry::after(d),
            Some(Ttl::Clear) => Expiry::Clear,
            None => Expiry::Keep,
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
    flags(g, &StackArgs { lock_timeout: None }).aws()
}
