//! Engine benchmark (`cargo bench --bench engine`): plan and apply of a
//! generated 10,000-resource graph on the in-memory test provider.
//!
//! 1. Zero latency: the engine's own overhead (diff, scheduling, state
//!    bookkeeping) for plan and apply. Target: under 1 s each.
//! 2. 100 ms per provider call: apply makespan against the lower bound
//!    max(critical path, total work / parallelism). Target: within 10 %.
//!
//! State writes go to memory here (the local store's fsync cost is the
//! disk's, measured separately by the moto end-to-end runs).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use archkit::blueprint::params::{self, Inputs, Require};
use archkit::engine::{self, Cancel, MemorySink, NoEvents, Options};
use archkit::plan;
use archkit::provider::memory::MemoryCloud;
use archkit::provider::{Context, Registry};
use archkit::state::State;

/// A layered DAG: `layers` levels of `width` resources; each refers to up
/// to three resources of the level below (deterministic pseudo-random).
fn blueprint(width: usize, layers: usize) -> String {
    let mut s = String::from("name: bench\nresources:\n");
    let mut seed: u64 = 42;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for l in 0..layers {
        for w in 0..width {
            s.push_str(&format!(
                "  r{l}_{w}:\n    type: test.thing\n    properties:\n      value: v{l}_{w}\n"
            ));
            if l > 0 {
                s.push_str("      refs:\n");
                let k = 1 + (next() % 3) as usize;
                for _ in 0..k {
                    let d = (next() as usize) % width;
                    s.push_str(&format!("        - ${{r{}_{d}.id}}\n", l - 1));
                }
            }
        }
    }
    s
}

struct Run {
    plan: Duration,
    apply: Duration,
    creates: usize,
}

fn run(src: &str, latency: Duration, parallelism: usize) -> Run {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let cloud = MemoryCloud::new();
    cloud.set_latency(latency);
    let registry = Registry::with_kinds(cloud.kinds());
    let bp = archkit::blueprint::load_bytes("bench.yaml", src.as_bytes(), &registry).unwrap();
    let values = params::resolve(&bp, &Inputs::default(), Require::All, &mut |_| None).unwrap();
    let ctx = Context::new("bench");
    let state = State::new("bench", "bench");
    let azs: Vec<String> = vec![];
    let kinds: BTreeSet<String> = ["test.thing".to_string()].into();
    rt.block_on(async {
        let t = Instant::now();
        let live = plan::refresh(&registry, &ctx, &state, &kinds, 10).await.unwrap();
        let p = plan::diff(
            &plan::Input {
                blueprint: &bp,
                params: &values,
                stack: "bench",
                region: "mem-1",
                azs: &azs,
                state: &state,
                registry: &registry,
                destroy: false,
                expires_at: None,
            },
            live,
        )
        .unwrap();
        let plan_time = t.elapsed();
        let sink = Arc::new(MemorySink { count_only: true, ..Default::default() });
        let bp = Arc::new(bp);
        let t = Instant::now();
        let (_, report) = engine::apply(
            &registry,
            &ctx,
            engine::Inputs { blueprint: &bp, params: &values, region: "mem-1", azs: &azs },
            Arc::new(p),
            state.clone(),
            sink,
            Arc::new(NoEvents),
            Options { parallelism, min_poll: Duration::from_millis(1), ..Options::default() },
            Cancel::new(),
        )
        .await
        .unwrap();
        assert!(report.ok());
        Run { plan: plan_time, apply: t.elapsed(), creates: report.done() }
    })
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let src = blueprint(1000, 10);
    let r = run(&src, Duration::ZERO, 10);
    println!("zero latency, 10,000 resources, parallelism 10:");
    println!("  plan (refresh + diff): {:>8.3} s", r.plan.as_secs_f64());
    println!("  apply ({} creates):  {:>8.3} s", r.creates, r.apply.as_secs_f64());
    println!(
        "  targets (< 1 s each): {}",
        if r.plan.as_secs_f64() < 1.0 && r.apply.as_secs_f64() < 1.0 { "met" } else { "NOT met" }
    );

    let (width, layers, parallelism) = (100, 10, 50);
    let src = blueprint(width, layers);
    let latency = Duration::from_millis(100);
    let r = run(&src, latency, parallelism);
    let n = width * layers;
    let critical = latency.as_secs_f64() * layers as f64;
    let work = latency.as_secs_f64() * n as f64 / parallelism as f64;
    let bound = critical.max(work);
    let ratio = r.apply.as_secs_f64() / bound;
    println!("100 ms per call, {n} resources in {layers} layers, parallelism {parallelism}:");
    println!("  apply makespan:        {:>8.3} s", r.apply.as_secs_f64());
    println!(
        "  lower bound:           {bound:>8.3} s (critical path {critical:.1} s, work/parallelism {work:.1} s)"
    );
    println!(
        "  makespan / bound:      {ratio:>8.3} ({})",
        if ratio <= 1.10 { "within 10 %: met" } else { "NOT within 10 %" }
    );
}
