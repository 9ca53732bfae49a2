//! Secret digest benchmark (`cargo bench --bench secret_digest`): what one
//! offline guess against a state file costs, since a secret's digest is
//! all the state holds of it. Target (issue 31): at least 50 ms per guess
//! on one core of the machine that runs it.
//!
//! It times `secret_matches` on a digest `secret_digest` wrote, for a
//! wrong guess (what an attacker pays) and the right value (what each plan
//! pays per secret), and the legacy `sha256:` digest for comparison.

use std::time::{Duration, Instant};

use archkit::plan::{secret_digest, secret_matches};
use serde_json::json;

fn per_call(rounds: u32, mut f: impl FnMut() -> bool) -> (Duration, bool) {
    let start = Instant::now();
    let mut last = false;
    for _ in 0..rounds {
        last = f();
    }
    (start.elapsed() / rounds, last)
}

fn main() {
    let value = json!("Correct-Horse-Battery-9");
    let stored = secret_digest("master_password", &value);
    let rounds = 10;
    let (guess, matched) =
        per_call(rounds, || secret_matches("lineage", "master_password", &json!("guess"), &stored));
    assert!(!matched, "a wrong guess must not match");
    let (right, matched) =
        per_call(rounds, || secret_matches("lineage", "master_password", &value, &stored));
    assert!(matched, "the value must match its own digest");
    println!(
        "digest: {}",
        stored.as_str().unwrap().split('$').take(2).collect::<Vec<_>>().join("$")
    );
    println!("one wrong guess: {:.1} ms (target >= 50 ms)", guess.as_secs_f64() * 1e3);
    println!("one plan-time check of the right value: {:.1} ms", right.as_secs_f64() * 1e3);
    if guess < Duration::from_millis(50) {
        eprintln!("below target: raise the Argon2id cost in src/plan/mod.rs");
        std::process::exit(1);
    }
}
