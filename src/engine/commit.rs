//! Group commit of the engine's state records: one disk sync at a time,
//! covering every record appended before it began.
//!
//! An operation's pending record must be on disk before its call to AWS.
//! The store's sync blocks (an `fdatasync`), and done on a runtime worker
//! it also stopped that worker's other tasks from appending theirs, so
//! nearly every operation paid a sync of its own (issue 16: 0.9 syncs per
//! resource at 10,000). Here the sync runs on the blocking pool while the
//! tasks wait without a thread; those whose records arrive meanwhile share
//! the next one.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::state::{StateError, StateSink};

/// Where tasks wait for their records to be durable.
#[derive(Debug, Default)]
pub struct GroupCommit {
    inner: Mutex<Inner>,
    /// Told when a sync ends, successfully or not.
    ended: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    /// Every record up to this serial is on disk.
    synced: u64,
    /// A sync is running (its caller will tell the others when it ends).
    syncing: bool,
    /// Syncs started (read by the tests).
    syncs: u64,
}

impl GroupCommit {
    /// Returns once every record up to `serial` is on disk. `latest` says
    /// the serial of the last record appended, read just before a sync
    /// starts: all of those are covered by it.
    pub async fn durable(
        &self,
        sink: &Arc<dyn StateSink>,
        serial: u64,
        latest: impl Fn() -> u64,
    ) -> Result<(), StateError> {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            // Registered before the check, so an end between the check
            // and the wait is not missed.
            ended.as_mut().enable();
            let mine = {
                let mut g = self.inner.lock().unwrap();
                if g.synced >= serial {
                    return Ok(());
                }
                let free = !g.syncing;
                if free {
                    g.syncing = true;
                    g.syncs += 1;
                }
                free
            };
            if !mine {
                // Another caller's sync is running: wait for it to end.
                ended.await;
                continue;
            }
            // Resets `syncing` and wakes the others even if this future is
            // dropped mid-sync, so nobody waits on a sync no one runs.
            let mut running = Running { commit: self, upto: None };
            let upto = latest();
            let s = sink.clone();
            let result = tokio::task::spawn_blocking(move || s.sync(upto))
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            if result.is_ok() {
                running.upto = Some(upto);
            }
            drop(running);
            // A failed sync is this caller's error; a waiter tries again.
            result?;
        }
    }

    /// How many syncs were started.
    #[cfg(test)]
    pub fn syncs(&self) -> u64 {
        self.inner.lock().unwrap().syncs
    }
}

/// A sync in progress; ends it when dropped.
struct Running<'a> {
    commit: &'a GroupCommit,
    /// The serial it made durable, once it succeeded.
    upto: Option<u64>,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut g = self.commit.inner.lock().unwrap();
        g.syncing = false;
        if let Some(upto) = self.upto {
            g.synced = g.synced.max(upto);
        }
        drop(g);
        self.commit.ended.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use crate::state::State;

    /// Counts syncs and how many run at once; each takes a moment, as a
    /// disk's does.
    #[derive(Default)]
    struct SlowSink {
        syncs: AtomicU64,
        running: AtomicU64,
        most: AtomicU64,
        /// The serial each sync was asked for.
        asked: Mutex<Vec<u64>>,
    }

    impl StateSink for SlowSink {
        fn write(&self, _: &mut State) -> Result<(), StateError> {
            Ok(())
        }
        fn sync(&self, serial: u64) -> Result<(), StateError> {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            self.syncs.fetch_add(1, Ordering::SeqCst);
            self.asked.lock().unwrap().push(serial);
            self.running.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
    }

    /// Records appended while a sync runs share the next one, and no two
    /// syncs overlap: 50 tasks need 2 syncs, not 50.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_appended_during_a_sync_share_the_next() {
        let sink = Arc::new(SlowSink::default());
        let dyn_sink: Arc<dyn StateSink> = sink.clone();
        let commit = Arc::new(GroupCommit::default());
        let appended = Arc::new(AtomicU64::new(0));
        // The first record, and its sync under way.
        appended.store(1, Ordering::SeqCst);
        let first = {
            let (c, s, a) = (commit.clone(), dyn_sink.clone(), appended.clone());
            tokio::spawn(async move { c.durable(&s, 1, || a.load(Ordering::SeqCst)).await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        // 49 more while it runs: each waits for a sync that covers it.
        let mut rest = Vec::new();
        for serial in 2..=50 {
            appended.store(serial, Ordering::SeqCst);
            let (c, s, a) = (commit.clone(), dyn_sink.clone(), appended.clone());
            rest.push(tokio::spawn(async move {
                c.durable(&s, serial, || a.load(Ordering::SeqCst)).await
            }));
        }
        first.await.unwrap().unwrap();
        for t in rest {
            t.await.unwrap().unwrap();
        }
        assert_eq!(sink.syncs.load(Ordering::SeqCst), 2, "asked: {:?}", sink.asked);
        assert_eq!(*sink.asked.lock().unwrap(), vec![1, 50]);
        assert_eq!(sink.most.load(Ordering::SeqCst), 1);
        assert_eq!(commit.syncs(), 2);
    }

    /// A failed sync fails its caller; the next caller syncs again rather
    /// than taking the failed one as done.
    #[tokio::test]
    async fn a_failed_sync_is_not_taken_as_done() {
        struct Failing(AtomicU64);
        impl StateSink for Failing {
            fn write(&self, _: &mut State) -> Result<(), StateError> {
                Ok(())
            }
            fn sync(&self, _: u64) -> Result<(), StateError> {
                if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(StateError::Io {
                        action: "sync",
                        path: "journal".into(),
                        source: std::io::Error::other("disk full"),
                    });
                }
                Ok(())
            }
        }
        let sink: Arc<dyn StateSink> = Arc::new(Failing(AtomicU64::new(0)));
        let commit = GroupCommit::default();
        assert!(commit.durable(&sink, 1, || 1).await.is_err());
        commit.durable(&sink, 1, || 1).await.unwrap();
        assert_eq!(commit.syncs(), 2);
    }
}
