//! Helpers: run the archkit binary, locate fixtures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The checkout being tested. Read when the test runs (cargo sets it), not
/// when it was built: a build cache shared between checkouts (`.ci/run`'s)
/// keeps a test binary built in another one, whose compiled-in path would
/// point the tests at that checkout's files.
pub fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub fn fixtures() -> PathBuf {
    root().join("tests/fixtures")
}

/// The archkit command with a clean, deterministic environment.
pub fn archkit(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_archkit"));
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("ARCHKIT_STACK")
        .env_remove("ARCHKIT_STATS");
    for (k, _) in std::env::vars() {
        if k.starts_with("ARCHKIT_VAR_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output { status, stdout, stderr } = cmd.output().expect("archkit runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// The resource ids of the `finished` events of a `--json` apply or
/// destroy, in the order the operations finished.
pub fn finished_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "finished")
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}
