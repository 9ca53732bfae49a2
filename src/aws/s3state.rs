//! State in S3 (`--state s3://bucket/key`): one JSON object per stack,
//! written with compare-and-swap and guarded by a lock object, so a team
//! and its CI runners share a stack with no server of ours.
//!
//! - **Writes** carry `If-Match` with the ETag this run last read or wrote
//!   (`If-None-Match: *` for a stack's first state), so a writer that
//!   lost the lock can never overwrite a newer serial: S3 answers 412 and
//!   the run stops, telling why.
//! - **Grouped**: an operation's record is put at once only when 50
//!   operations or a second have passed since the last put; otherwise a
//!   flusher thread puts the latest state a second after the last put (a
//!   whole-object PUT per operation made an apply O(stack²) in bytes and
//!   72 writes for `fargate-public-private`). A crash loses at most that
//!   second's records, and what they recorded is found again by its tags
//!   on the next plan (every taggable resource carries `archkit:stack` and
//!   `archkit:id`); the start and end of a run are always put at once.
//! - **The lock** is `<key>.lock`, created with `If-None-Match: *` (as
//!   Terraform 1.10's S3 `use_lockfile`), holding its id, the operation,
//!   user, host, pid and time. It is released with `If-Match` on its own
//!   ETag, so a release never removes another run's lock.
//! - **Versioning** is checked when the store opens and recommended when
//!   off: with it, every earlier serial can be restored.
//!
//! The state store trait is synchronous (the engine records state from
//! wherever an operation ends), so the S3 calls run on a thread of their
//! own with its own runtime: a call is safe from async and plain code
//! alike, and connections never outlive the runtime they were made on.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::client::Settings;
use crate::state::local::{check_unlock, locked_error, parse};
use crate::state::{FORMAT_VERSION, LockGuard, LockInfo, State, StateError, StateSink, StateStore};

/// Whether `location` names an S3 object rather than a file.
pub fn is_s3(location: &Path) -> bool {
    location.to_str().is_some_and(|s| s.starts_with("s3://"))
}

/// A stack's state in S3.
pub struct S3Store {
    inner: Arc<Inner>,
    advice: Vec<String>,
    /// Puts the grouped records (see the module docs); ends with the store.
    flusher: Option<std::thread::JoinHandle<()>>,
}

/// What the store and its flusher share.
struct Inner {
    bucket: String,
    key: String,
    /// `s3://bucket/key`, for messages (as a path: the errors name files).
    url: PathBuf,
    worker: Arc<Worker>,
    /// What this run last saw of the object (the condition of its next
    /// write) and the serial it last put; held through every put, so puts
    /// are made one at a time, in serial order.
    seen: Mutex<(Seen, u64)>,
    group: Mutex<Group>,
    /// Tells the flusher of a new unsent state, or of the store's end.
    wake: Condvar,
}

/// Records not yet put.
struct Group {
    /// The latest state not yet put, as its bytes, with its serial.
    unsent: Option<(Vec<u8>, u64)>,
    /// The resources whose operation ended in this run (an operation
    /// records its pending entry, then its outcome, and a create later
    /// that the resource is ready: one operation), and how many had when
    /// the state was last put.
    done: std::collections::HashSet<String>,
    done_at_put: usize,
    last_put: Instant,
    /// Why the flusher's last put failed: the next record reports it.
    failed: Option<StateError>,
    closed: bool,
}

impl Group {
    /// The state was just put: the next group starts.
    fn put_now(&mut self) {
        self.done_at_put = self.done.len();
        self.last_put = Instant::now();
    }
}

/// A put at once every this many operations ended...
const GROUP_OPS: usize = 50;
/// ...or this long after the last put.
const GROUP_TIME: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
enum Seen {
    /// Not read yet: a write expects no object (never overwrites one).
    Unread,
    Absent,
    ETag(String),
}

impl S3Store {
    /// Opens `s3://bucket/key` (a key ending in `/`, or none, is a prefix:
    /// `<stack>.state.json` is added), checking that the bucket exists
    /// and whether it keeps versions.
    pub fn connect(settings: &Settings, url: &str, stack: &str) -> Result<S3Store, StateError> {
        let (bucket, key) = split_url(url, stack).map_err(|message| StateError::Remote {
            action: "open",
            path: PathBuf::from(url),
            message,
            help: "give the state as s3://BUCKET/KEY, e.g. s3://my-team-state/archkit/demo.json"
                .into(),
        })?;
        let url = PathBuf::from(format!("s3://{bucket}/{key}"));
        let remote = |action, e: S3Error| remote(action, &url, &bucket, e);
        let worker = Arc::new(Worker::start(settings.clone()).map_err(|e| {
            StateError::Remote {
                action: "open",
                path: url.clone(),
                message: e.to_string(),
                help: "the state store uses the same credentials, region and endpoint as the rest \
                   of archkit: pass --region or --profile, or set AWS_* in the environment"
                    .into(),
            }
        })?);
        let b = bucket.clone();
        let enabled =
            worker
                .run(move |c| async move {
                    super::s3::versioning_enabled(&c, &b).await.map_err(classify)
                })
                .map_err(|e| remote("open", e))?;
        let mut advice = Vec::new();
        if !enabled {
            advice.push(format!(
                "versioning is off for bucket {bucket}: each state write replaces the last, \
                 with no earlier serial to restore. Turn it on: aws s3api put-bucket-versioning \
                 --bucket {bucket} --versioning-configuration Status=Enabled"
            ));
        }
        let inner = Arc::new(Inner {
            bucket,
            key,
            url,
            worker,
            seen: Mutex::new((Seen::Unread, 0)),
            group: Mutex::new(Group {
                unsent: None,
                done: Default::default(),
                done_at_put: 0,
                last_put: Instant::now(),
                failed: None,
                closed: false,
            }),
            wake: Condvar::new(),
        });
        let flusher = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("archkit-state-flush".into())
                .spawn(move || inner.flush_loop())
                .ok()
        };
        Ok(S3Store { inner, advice, flusher })
    }
}

impl Drop for S3Store {
    /// Puts what is still unsent (a run that stopped before its last
    /// write), then lets the flusher end.
    fn drop(&mut self) {
        self.inner.group.lock().unwrap().closed = true;
        self.inner.wake.notify_all();
        if let Some(f) = self.flusher.take() {
            let _ = f.join();
        }
    }
}

impl Inner {
    fn lock_key(&self) -> String {
        format!("{}.lock", self.key)
    }

    /// The flusher: puts the latest unsent state once [`GROUP_TIME`] has
    /// passed since the last put, and what is left when the store closes.
    fn flush_loop(&self) {
        let mut g = self.group.lock().unwrap();
        loop {
            let due = g.last_put + GROUP_TIME;
            match g.unsent.take() {
                Some(unsent) if g.closed || Instant::now() >= due => {
                    drop(g);
                    let result = self.put_state(unsent.0, unsent.1, true);
                    g = self.group.lock().unwrap();
                    match result {
                        Ok(()) => g.put_now(),
                        Err(e) => g.failed = Some(e),
                    }
                }
                Some(unsent) => {
                    g.unsent = Some(unsent);
                    let wait = due.saturating_duration_since(Instant::now());
                    g = self.wake.wait_timeout(g, wait).unwrap().0;
                }
                None if g.closed => return,
                None => g = self.wake.wait(g).unwrap(),
            }
        }
    }

    /// Puts `body`, the state at `serial`; with `if_newer` (the flusher),
    /// only if no later state was put meanwhile (by a run's full write).
    fn put_state(&self, body: Vec<u8>, serial: u64, if_newer: bool) -> Result<(), StateError> {
        let mut seen = self.seen.lock().unwrap();
        if if_newer && serial <= seen.1 && matches!(seen.0, Seen::ETag(_)) {
            return Ok(());
        }
        match self.put(&self.key, body.clone(), &seen.0) {
            Ok(etag) => {
                *seen = (Seen::ETag(etag), serial);
                Ok(())
            }
            Err(e) => {
                // A 412 after the SDK retried a put whose first attempt
                // landed (its answer lost) is this write itself; so is an
                // unknown outcome that did land. Anything else in the
                // object is another writer's, and is left alone.
                if let Ok(Some((now, etag))) = self.get(&self.key)
                    && now == body
                {
                    *seen = (Seen::ETag(etag), serial);
                    return Ok(());
                }
                Err(match e {
                    S3Error::Precondition => StateError::Conflict { path: self.url.clone() },
                    e => remote("write", &self.url, &self.bucket, e),
                })
            }
        }
    }

    /// The object's bytes and ETag, `None` when there is none.
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, S3Error> {
        let (b, k) = (self.bucket.clone(), key.to_string());
        self.worker.run(move |c| async move {
            match c.get_object().bucket(b).key(k).send().await.map_err(classify) {
                Ok(o) => {
                    let etag = o.e_tag().unwrap_or_default().to_string();
                    let bytes =
                        o.body.collect().await.map_err(|e| S3Error::Other(e.to_string()))?;
                    Ok(Some((bytes.into_bytes().to_vec(), etag)))
                }
                Err(S3Error::NoSuchKey) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    /// Puts `body` at `key` on the condition `seen` gives; the new ETag.
    fn put(&self, key: &str, body: Vec<u8>, seen: &Seen) -> Result<String, S3Error> {
        let (b, k, seen) = (self.bucket.clone(), key.to_string(), seen.clone());
        self.worker.run(move |c| async move {
            let req = c
                .put_object()
                .bucket(b)
                .key(k)
                .content_type("application/json")
                .body(ByteStream::from(body));
            let req = match seen {
                Seen::ETag(e) => req.if_match(e),
                Seen::Absent | Seen::Unread => req.if_none_match("*"),
            };
            let out = req.send().await.map_err(classify)?;
            Ok(out.e_tag().unwrap_or_default().to_string())
        })
    }

    /// Deletes `key` if its ETag is still `etag`.
    fn delete(&self, key: &str, etag: &str) -> Result<(), S3Error> {
        delete(&self.worker, &self.bucket, key, etag)
    }
}

fn delete(worker: &Worker, bucket: &str, key: &str, etag: &str) -> Result<(), S3Error> {
    let (b, k, e) = (bucket.to_string(), key.to_string(), etag.to_string());
    worker.run(move |c| async move {
        match c.delete_object().bucket(b).key(k).if_match(e).send().await.map_err(classify) {
            Ok(_) | Err(S3Error::NoSuchKey) => Ok(()),
            Err(e) => Err(e),
        }
    })
}

/// The next serial and this build's format for `state`, and its bytes.
fn next_version(state: &mut State) -> Vec<u8> {
    state.serial += 1;
    state.format_version = FORMAT_VERSION;
    let mut text = serde_json::to_string_pretty(state).expect("state serialises");
    text.push('\n');
    text.into_bytes()
}

impl StateSink for S3Store {
    /// The whole state, put at once (a run's start and end): one
    /// conditional PUT, which S3's versions (when on) keep.
    fn write(&self, state: &mut State) -> Result<(), StateError> {
        let body = next_version(state);
        {
            let mut g = self.inner.group.lock().unwrap();
            // This state is newer than anything unsent or failed.
            g.unsent = None;
            g.failed = None;
        }
        match self.inner.put_state(body, state.serial, false) {
            Ok(()) => {
                self.inner.group.lock().unwrap().put_now();
                Ok(())
            }
            Err(e) => {
                state.serial -= 1;
                Err(e)
            }
        }
    }

    /// One operation's record: put at once when due (see the module
    /// docs), else left to the flusher. A failed put of the flusher's is
    /// reported here, stopping the run as a failed write would.
    fn write_one(&self, state: &mut State, id: &str) -> Result<(), StateError> {
        let mut g = self.inner.group.lock().unwrap();
        if let Some(e) = g.failed.take() {
            return Err(e);
        }
        if !state.pending.contains_key(id) && !g.done.contains(id) {
            g.done.insert(id.to_string());
        }
        if g.done.len() - g.done_at_put >= GROUP_OPS || g.last_put.elapsed() >= GROUP_TIME {
            drop(g);
            return self.write(state);
        }
        let body = next_version(state);
        g.unsent = Some((body, state.serial));
        drop(g);
        self.inner.wake.notify_all();
        Ok(())
    }
}

impl StateStore for S3Store {
    fn location(&self) -> String {
        self.inner.url.display().to_string()
    }

    fn load(&self) -> Result<Option<State>, StateError> {
        let mut seen = self.inner.seen.lock().unwrap();
        match self
            .inner
            .get(&self.inner.key)
            .map_err(|e| remote("read", &self.inner.url, &self.inner.bucket, e))?
        {
            None => {
                *seen = (Seen::Absent, 0);
                Ok(None)
            }
            Some((bytes, etag)) => {
                let text = String::from_utf8(bytes).map_err(|_| StateError::Corrupt {
                    path: self.inner.url.clone(),
                    message: "it is not UTF-8 text".into(),
                })?;
                let state = parse(&self.inner.url, &text)?;
                *seen = (Seen::ETag(etag), state.serial);
                Ok(Some(state))
            }
        }
    }

    fn lock(&self, owner: &str, timeout: Duration) -> Result<LockGuard, StateError> {
        let info = LockInfo::new(owner);
        let body = serde_json::to_vec(&info).expect("lock info serialises");
        let key = self.inner.lock_key();
        let start = Instant::now();
        let mut pause = Duration::from_millis(200);
        let mut took_over = None;
        let err = |e| remote("lock", &self.inner.url, &self.inner.bucket, e);
        loop {
            let held = match self.inner.put(&key, body.clone(), &Seen::Absent) {
                Ok(etag) => etag,
                Err(S3Error::Precondition | S3Error::Conflict) => {
                    match self.inner.holder_with_etag().map_err(err)? {
                        // Released meanwhile: try again at once.
                        None => continue,
                        // A retried attempt of this very put, whose first
                        // attempt took the lock.
                        Some((h, etag)) if h.id == info.id => etag,
                        // Left by a run that died on this host.
                        Some((h, etag)) if h.is_stale() => {
                            self.inner.delete(&key, &etag).map_err(err)?;
                            took_over = Some(h);
                            continue;
                        }
                        Some((h, _)) => {
                            let waited = start.elapsed();
                            if waited >= timeout {
                                return Err(locked_error(&self.inner.url, Some(h)));
                            }
                            // Backoff with jitter, so waiting runs do not
                            // ask in step.
                            let jitter = Duration::from_millis(u64::from(
                                uuid::Uuid::new_v4().as_bytes()[0],
                            ));
                            std::thread::sleep((pause + jitter).min(timeout - waited));
                            pause = (pause * 2).min(Duration::from_secs(5));
                            continue;
                        }
                    }
                }
                Err(e) => return Err(err(e)),
            };
            let (worker, bucket) = (self.inner.worker.clone(), self.inner.bucket.clone());
            return Ok(LockGuard::new(took_over, move || {
                let _ = delete(&worker, &bucket, &key, &held);
            }));
        }
    }

    fn holder(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(self
            .inner
            .holder_with_etag()
            .map_err(|e| remote("read the lock of", &self.inner.url, &self.inner.bucket, e))?
            .map(|(h, _)| h))
    }

    fn unlock(&self, id: Option<&str>, force: bool) -> Result<Option<LockInfo>, StateError> {
        let err = |e| remote("unlock", &self.inner.url, &self.inner.bucket, e);
        let Some((holder, etag)) = self.inner.holder_with_etag().map_err(err)? else {
            return Ok(None);
        };
        check_unlock(&self.inner.url, &holder, id, force, true)?;
        match self.inner.delete(&self.inner.lock_key(), &etag) {
            Ok(()) => Ok(Some(holder)),
            // Taken again since it was read: that lock is not the one named.
            Err(S3Error::Precondition) => match self.inner.holder_with_etag().map_err(err)? {
                Some((h, _)) => Err(StateError::LockMismatch {
                    path: self.inner.url.clone(),
                    given: holder.id,
                    info: Box::new(h),
                }),
                None => Ok(Some(holder)),
            },
            Err(e) => Err(err(e)),
        }
    }

    fn advice(&self) -> Vec<String> {
        self.advice.clone()
    }
}

impl Inner {
    fn holder_with_etag(&self) -> Result<Option<(LockInfo, String)>, S3Error> {
        Ok(self.get(&self.lock_key())?.map(|(bytes, etag)| {
            let info = serde_json::from_slice(&bytes).unwrap_or_else(|_| LockInfo::unknown());
            (info, etag)
        }))
    }
}

/// Bucket and key of `s3://bucket/key`; a key ending in `/` (or none)
/// is a prefix for `<stack>.state.json`.
fn split_url(url: &str, stack: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("s3://").ok_or("it does not start with s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err("it names no bucket".into());
    }
    let key = if key.is_empty() || key.ends_with('/') {
        format!("{key}{stack}.state.json")
    } else {
        key.to_string()
    };
    Ok((bucket.to_string(), key))
}

/// S3 outcomes the store acts on.
#[derive(Debug)]
enum S3Error {
    /// 412: the condition (If-Match / If-None-Match) failed.
    Precondition,
    /// 409 ConditionalRequestConflict: a concurrent conditional write won.
    Conflict,
    NoSuchKey,
    NoSuchBucket,
    Other(String),
}

fn classify<E>(
    e: SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> S3Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match e.code() {
        Some("PreconditionFailed") => S3Error::Precondition,
        Some("ConditionalRequestConflict") => S3Error::Conflict,
        Some("NoSuchKey") => S3Error::NoSuchKey,
        Some("NoSuchBucket") => S3Error::NoSuchBucket,
        _ => S3Error::Other(super::error::err(e).message),
    }
}

fn remote(action: &'static str, url: &Path, bucket: &str, e: S3Error) -> StateError {
    let (message, help) = match e {
        S3Error::NoSuchBucket => (
            format!("bucket {bucket} does not exist"),
            format!(
                "create it first, with versioning on: aws s3api create-bucket --bucket {bucket} \
                 && aws s3api put-bucket-versioning --bucket {bucket} \
                 --versioning-configuration Status=Enabled"
            ),
        ),
        S3Error::Precondition | S3Error::Conflict => (
            "another writer changed it at the same moment".into(),
            "run again: nothing was overwritten".into(),
        ),
        S3Error::NoSuchKey => ("it does not exist".into(), "check the key".into()),
        S3Error::Other(m) => (
            m,
            "check that your credentials may read and write the bucket (s3:GetObject, \
             s3:PutObject, s3:DeleteObject, s3:GetBucketVersioning)"
                .into(),
        ),
    };
    StateError::Remote { action, path: url.to_path_buf(), message, help }
}

type Job = Box<dyn FnOnce(&tokio::runtime::Runtime, &aws_sdk_s3::Client) + Send>;

/// The thread that makes the store's S3 calls, on a runtime of its own.
struct Worker {
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    fn start(settings: Settings) -> Result<Worker, super::client::ClientError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, started) = mpsc::channel();
        std::thread::Builder::new()
            .name("archkit-state-s3".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the state store");
                let client = match rt.block_on(super::client::sdk_config(&settings)) {
                    Ok(config) => {
                        // Path-style addressing against an emulator or
                        // private endpoint, whose host has no bucket names.
                        let path_style = config.endpoint_url().is_some();
                        aws_sdk_s3::Client::from_conf(
                            aws_sdk_s3::config::Builder::from(&config)
                                .force_path_style(path_style)
                                .build(),
                        )
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                // Ends when the store and its lock guards are gone.
                for job in queue {
                    job(&rt, &client);
                }
            })
            .expect("a thread for the state store");
        started.recv().expect("the state store thread starts")?;
        Ok(Worker { jobs })
    }

    /// Runs `call` on the worker's runtime and waits for its answer.
    fn run<T, F>(&self, call: impl FnOnce(aws_sdk_s3::Client) -> F + Send + 'static) -> T
    where
        T: Send + 'static,
        F: std::future::Future<Output = T>,
    {
        let (answer, answered) = mpsc::channel();
        self.jobs
            .send(Box::new(move |rt, client| {
                let _ = answer.send(rt.block_on(call(client.clone())));
            }))
            .expect("the state store thread runs");
        answered.recv().expect("the state store thread answers")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_key_or_a_prefix_for_the_stack() {
        let split = |u| split_url(u, "demo");
        assert_eq!(split("s3://b/k.json"), Ok(("b".into(), "k.json".into())));
        assert_eq!(split("s3://b/team/"), Ok(("b".into(), "team/demo.state.json".into())));
        assert_eq!(split("s3://b"), Ok(("b".into(), "demo.state.json".into())));
        assert!(split("s3:///k").is_err());
        assert!(split("http://b/k").is_err());
    }
}
