//! The DAG walker shared by apply and destroy: a ready queue of nodes whose
//! dependencies are done, run as tokio tasks. A failed node's transitive
//! dependents are skipped (and not reported as errors themselves, as in
//! Terraform's `walk.go`); independent branches keep going. When the run
//! is cancelled no new node starts and in-flight ones finish.
//!
//! Concurrency of API work is bounded by the executor (a semaphore taken
//! around each call, released while waiting), not here: a node waiting for
//! a slow resource must not hold a slot.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;
use tokio::task::JoinSet;

/// How one node ended; `E` is why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<E> {
    Done,
    Failed(E),
    /// Not run because a dependency failed.
    Skipped {
        upstream: usize,
    },
    /// Not run because the run was cancelled.
    NotRun,
}

/// A cancellation flag that async waits can observe.
#[derive(Debug, Default)]
pub struct Cancel {
    flag: AtomicBool,
    notify: Notify,
}

impl Cancel {
    pub fn new() -> Arc<Cancel> {
        Arc::new(Cancel::default())
    }

    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Resolves once cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// Nodes running at once, at most. Far more than the API permits
/// (`--parallelism`, at most 256), so a node waiting on a slow resource
/// never holds up a ready one in any stack AWS would let exist; but not
/// every ready node of a 10,000-resource destroy at once, whose futures
/// (about 2 KB each) were 19 MB of its peak memory.
const MAX_TASKS: usize = 1024;

/// A node's task panicked (a bug in archkit), saying this.
#[derive(Debug)]
pub struct Panicked(pub String);

impl std::fmt::Display for Panicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "internal error (a bug in archkit, please report it): {}", self.0)
    }
}

impl From<Panicked> for String {
    fn from(p: Panicked) -> String {
        p.to_string()
    }
}

/// Runs `run(i)` for every node once all of `deps[i]` are done.
pub async fn walk<E, F, Fut>(deps: &[Vec<usize>], cancel: &Cancel, run: F) -> Vec<Outcome<E>>
where
    E: From<Panicked> + Clone + Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
{
    let mut q = Queue::new(deps);
    let mut tasks = JoinSet::new();
    // Which node each task runs, so a panicking one fails its own node.
    let mut node_of = std::collections::HashMap::new();
    loop {
        if !cancel.is_cancelled() {
            while tasks.len() < MAX_TASKS
                && let Some(i) = q.ready.pop_first()
            {
                let fut = run(i);
                node_of.insert(tasks.spawn(fut).id(), i);
            }
        }
        let Some(joined) = tasks.join_next_with_id().await else {
            break;
        };
        match joined {
            Ok((id, Ok(()))) => q.done(node_of[&id]),
            Ok((id, Err(msg))) => q.failed(node_of[&id], msg),
            // A panic is a bug in archkit: it fails its node (and skips its
            // dependents), not the whole run.
            Err(e) => {
                let node = node_of[&e.id()];
                q.failed(node, Panicked(panic_text(e)).into())
            }
        }
    }
    q.outcome.into_iter().map(|o| o.unwrap_or(Outcome::NotRun)).collect()
}

/// The walk's bookkeeping: what each node waits for and how it ended.
struct Queue<E> {
    dependents: Vec<Vec<usize>>,
    /// Dependencies not done yet, per node.
    waiting: Vec<usize>,
    outcome: Vec<Option<Outcome<E>>>,
    /// Deterministic start order: lowest index first.
    ready: std::collections::BTreeSet<usize>,
}

impl<E: Clone> Queue<E> {
    fn new(deps: &[Vec<usize>]) -> Queue<E> {
        let n = deps.len();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut waiting: Vec<usize> = vec![0; n];
        for (i, ds) in deps.iter().enumerate() {
            let mut ds = ds.clone();
            ds.sort_unstable();
            ds.dedup();
            waiting[i] = ds.len();
            for d in ds {
                dependents[d].push(i);
            }
        }
        let ready = (0..n).filter(|i| waiting[*i] == 0).collect();
        Queue { dependents, waiting, outcome: vec![None; n], ready }
    }

    /// Node `i` is done: dependents with nothing left to wait for are ready.
    fn done(&mut self, i: usize) {
        self.outcome[i] = Some(Outcome::Done);
        for &d in &self.dependents[i] {
            self.waiting[d] -= 1;
            if self.waiting[d] == 0 && self.outcome[d].is_none() {
                self.ready.insert(d);
            }
        }
    }

    /// Node `i` failed: everything downstream is skipped.
    fn failed(&mut self, i: usize, why: E) {
        self.outcome[i] = Some(Outcome::Failed(why));
        let mut stack = self.dependents[i].clone();
        while let Some(d) = stack.pop() {
            if self.outcome[d].is_none() {
                self.outcome[d] = Some(Outcome::Skipped { upstream: i });
                self.ready.remove(&d);
                stack.extend(self.dependents[d].iter().copied());
            }
        }
    }
}

/// What a task that panicked said.
fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default(),
        Err(e) => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    async fn record(
        deps: Vec<Vec<usize>>,
        fail: Option<usize>,
    ) -> (Vec<Outcome<String>>, Vec<usize>) {
        let order = Arc::new(Mutex::new(Vec::new()));
        let cancel = Cancel::new();
        let o = order.clone();
        let out: Vec<Outcome<String>> = walk(&deps, &cancel, move |i| {
            let o = o.clone();
            async move {
                tokio::task::yield_now().await;
                o.lock().unwrap().push(i);
                if Some(i) == fail { Err("boom".into()) } else { Ok(()) }
            }
        })
        .await;
        let order = order.lock().unwrap().clone();
        (out, order)
    }

    /// Issue 13 (10): a panic in one operation is that operation's failure
    /// (a bug to report), and only its dependents are skipped.
    #[tokio::test]
    async fn a_panicking_node_fails_and_skips_its_dependents() {
        // 0 → 1 → 2; 3 independent.
        let deps = vec![vec![], vec![0], vec![1], vec![]];
        let cancel = Cancel::new();
        let out: Vec<Outcome<String>> = walk(&deps, &cancel, |i| async move {
            tokio::task::yield_now().await;
            if i == 1 {
                panic!("a bug in the step");
            }
            Ok::<(), String>(())
        })
        .await;
        assert_eq!(out[0], Outcome::Done);
        match &out[1] {
            Outcome::Failed(m) => {
                assert!(m.contains("bug") && m.contains("a bug in the step"), "{m}")
            }
            other => panic!("the panicking node is {other:?}"),
        }
        assert_eq!(out[2], Outcome::Skipped { upstream: 1 });
        assert_eq!(out[3], Outcome::Done);
    }

    #[tokio::test]
    async fn dependencies_run_first() {
        // 0 → 1 → 3, 0 → 2 → 3
        let deps = vec![vec![], vec![0], vec![0], vec![1, 2]];
        let (out, order) = record(deps, None).await;
        assert!(out.iter().all(|o| *o == Outcome::Done));
        let pos = |i| order.iter().position(|x| *x == i).unwrap();
        assert!(pos(0) < pos(1) && pos(0) < pos(2) && pos(1) < pos(3) && pos(2) < pos(3));
    }

    #[tokio::test]
    async fn a_failure_skips_exactly_its_dependents() {
        // 0 → 1 → 2; 3 independent; 4 depends on 3 and 1.
        let deps = vec![vec![], vec![0], vec![1], vec![], vec![3, 1]];
        let (out, order) = record(deps, Some(1)).await;
        assert_eq!(out[0], Outcome::Done);
        assert_eq!(out[1], Outcome::Failed("boom".into()));
        assert_eq!(out[2], Outcome::Skipped { upstream: 1 });
        assert_eq!(out[3], Outcome::Done);
        assert_eq!(out[4], Outcome::Skipped { upstream: 1 });
        assert!(!order.contains(&2) && !order.contains(&4));
    }

    /// More ready nodes than [`MAX_TASKS`]: at most that many run at once,
    /// the rest start as they end, and every node runs.
    #[tokio::test]
    async fn ready_nodes_beyond_the_cap_wait_for_a_slot() {
        use std::sync::atomic::AtomicUsize;
        let n = MAX_TASKS * 2 + 7;
        let deps = vec![Vec::new(); n];
        let running = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
        let r = running.clone();
        let out: Vec<Outcome<String>> = walk(&deps, &Cancel::new(), move |_| {
            let r = r.clone();
            async move {
                let now = r.0.fetch_add(1, Ordering::SeqCst) + 1;
                r.1.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                r.0.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .await;
        assert!(out.iter().all(|o| *o == Outcome::Done));
        assert_eq!(running.1.load(Ordering::SeqCst), MAX_TASKS);
    }

    #[tokio::test]
    async fn cancelled_runs_start_nothing_new() {
        let deps = vec![vec![], vec![0], vec![1]];
        let cancel = Cancel::new();
        let c = cancel.clone();
        let out: Vec<Outcome<String>> = walk(&deps, &cancel, move |i| {
            let c = c.clone();
            async move {
                if i == 0 {
                    c.cancel();
                }
                Ok(())
            }
        })
        .await;
        assert_eq!(out, vec![Outcome::Done, Outcome::NotRun, Outcome::NotRun]);
    }
}
