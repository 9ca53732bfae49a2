//! The local state store: one JSON file per stack, written atomically
//! (temporary file, fsync, rename, fsync of the directory), a backup of the
//! previous version beside it, and a lock file that names its owner.
//!
//! Between full writes, each operation is appended to a journal beside
//! it ([`super::journal`]), so the cost of recording an operation does
//! not grow with the stack.
//!
//! Default path: `.archkit/<stack>.state.json` in the working directory;
//! `--state PATH` overrides it. The lock is `<path>.lock`, the backup
//! `<path>.backup`, the journal `<path>.journal`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::journal::{self, Journal, Syncer};
use super::{FORMAT_VERSION, State};

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockInfo {
    /// The lock's own id: `archkit state unlock ID` breaks this lock and
    /// no other (empty in locks written before it existed).
    #[serde(default)]
    pub id: String,
    /// What is running: `archkit apply`, ...
    pub owner: String,
    /// The user running it.
    #[serde(default)]
    pub user: String,
    pub pid: u32,
    pub host: String,
    /// RFC 3339 time the lock was taken.
    pub created: String,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StateError {
    /// A state (a store's, or a file being pushed) of another stack than
    /// the one the command is about.
    #[error("{what} belongs to stack `{found}`, not `{expected}`")]
    #[diagnostic(
        code(archkit::state::wrong_stack),
        help("pass the matching --stack, or another --state path")
    )]
    WrongStack { what: String, found: String, expected: String },
    #[error("cannot {action} state file {}", .path.display())]
    #[diagnostic(code(archkit::state::io))]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("state file {} is corrupt: {message}", .path.display())]
    #[diagnostic(
        code(archkit::state::corrupt),
        help(
            "archkit will not overwrite it. Restore {}.backup (the previous version) \
             or fix the file by hand",
            .path.display()
        )
    )]
    Corrupt { path: PathBuf, message: String },
    #[error("state journal {} cannot be replayed: {message}", .path.display())]
    #[diagnostic(
        code(archkit::state::journal),
        help(
            "the journal holds the operations recorded since the state file was last \
             written in full, and it does not continue that file (was the state file \
             replaced by hand?). archkit will not guess: put back the state file it \
             continues, or move the journal aside to use the state file as it is"
        )
    )]
    Journal { path: PathBuf, message: String },
    #[error(
        "state file {} has format version {found}; this archkit reads up to {FORMAT_VERSION}",
        .path.display()
    )]
    #[diagnostic(
        code(archkit::state::newer_format),
        help("a newer archkit wrote it; upgrade archkit. The file is left untouched")
    )]
    NewerFormat { path: PathBuf, found: u64 },
    #[error(
        "state {} is locked by `{}` (pid {} on {}) since {}",
        .path.display(), .info.owner, .info.pid, .info.host, .info.created
    )]
    #[diagnostic(code(archkit::state::locked), help("{help}"))]
    Locked { path: PathBuf, info: Box<LockInfo>, help: String },
    #[error("state {} is locked by lock {}, not {given}: not unlocked", .path.display(), .info.id)]
    #[diagnostic(
        code(archkit::state::lock_id),
        help(
            "the lock changed hands since its id was read (held by `{}`, pid {} on {}, \
             since {}); `archkit state unlock {}` breaks this one, if it too is stale",
            .info.owner, .info.pid, .info.host, .info.created, .info.id
        )
    )]
    LockMismatch { path: PathBuf, given: String, info: Box<LockInfo> },
    #[error(
        "state {} is locked by `{}` (pid {} on {}, since {}): give the lock's id to break it",
        .path.display(), .info.owner, .info.pid, .info.host, .info.created
    )]
    #[diagnostic(
        code(archkit::state::lock_id_required),
        help(
            "a shared store's lock may belong to a run on another host that archkit cannot \
             check; if you are sure it is gone, `archkit state unlock {}` breaks it",
            .info.id
        )
    )]
    LockIdRequired { path: PathBuf, info: Box<LockInfo> },
    #[error("state {} was changed by another writer since this run read it: not overwritten", .path.display())]
    #[diagnostic(
        code(archkit::state::conflict),
        help(
            "a run without the lock (a broken lock, or `archkit state push`) wrote it: \
             nothing was overwritten; run again to plan from the newer state"
        )
    )]
    Conflict { path: PathBuf },
    #[error("cannot {action} state {}: {message}", .path.display())]
    #[diagnostic(code(archkit::state::remote), help("{help}"))]
    Remote { action: &'static str, path: PathBuf, message: String, help: String },
    #[error(
        "state {} is locked by `{}`, still running (pid {} on {}, since {}): not unlocked",
        .path.display(), .info.owner, .info.pid, .info.host, .info.created
    )]
    #[diagnostic(
        code(archkit::state::lock_held),
        help(
            "breaking a live lock lets two runs write one state: wait for it to finish \
             (or stop it); `archkit state unlock --force` removes the lock anyway"
        )
    )]
    LockHeld { path: PathBuf, info: Box<LockInfo> },
}

/// A state file on local disk.
#[derive(Debug, Clone)]
pub struct LocalStore {
    path: PathBuf,
    /// The journal this process appends to.
    journal: Arc<Mutex<JournalState>>,
    syncer: Arc<Syncer>,
}

#[derive(Debug, Default)]
enum JournalState {
    /// This process has not written the state in full yet.
    #[default]
    Unwritten,
    /// Written in full; the next record starts a journal.
    Ready,
    Open(Journal),
}

impl LocalStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalStore { path: path.into(), journal: Arc::default(), syncer: Arc::default() }
    }

    /// The default location for a stack's state.
    pub fn default_path(stack: &str) -> PathBuf {
        PathBuf::from(".archkit").join(format!("{stack}.state.json"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        suffixed(&self.path, ".lock")
    }

    pub fn backup_path(&self) -> PathBuf {
        suffixed(&self.path, ".backup")
    }

    pub fn journal_path(&self) -> PathBuf {
        journal::path_for(&self.path)
    }

    /// Reads the state, the file and then its journal; `None` when the
    /// stack has none yet.
    pub fn load(&self) -> Result<Option<State>, StateError> {
        // A reader without the lock (`archkit state list` during a run)
        // may read a journal just before a full write removes it, and the
        // new file after: a state begun afresh (another lineage) does not
        // match it. Read both again before calling it a mismatch.
        let mut tries = 0;
        loop {
            match self.load_once() {
                Err(StateError::Journal { .. }) if tries < 3 => tries += 1,
                other => return other,
            }
        }
    }

    fn load_once(&self) -> Result<Option<State>, StateError> {
        // The journal first: a full write between the two reads then only
        // makes the file newer than the journal (whose records it holds),
        // never pairs an old file with a newer run's journal.
        let journal = journal::read(&self.journal_path())?;
        let bytes = match fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Io { action: "read", path: self.path.clone(), source });
            }
        };
        // Bytes that are not text are a corrupt file (restore the backup),
        // not an I/O failure.
        let text = String::from_utf8(bytes).map_err(|_| StateError::Corrupt {
            path: self.path.clone(),
            message: "it is not UTF-8 text".into(),
        })?;
        let mut state = parse(&self.path, &text)?;
        if let Some(j) = journal {
            journal::replay(&self.journal_path(), &j, &mut state)?;
        }
        Ok(Some(state))
    }

    /// Records one operation: appends what `state` now holds for `id` to
    /// the journal, incrementing the serial; durable once
    /// [`LocalStore::sync`] returns, which the caller calls after
    /// releasing its own lock, so operations finishing together share one
    /// sync. A run that has not written the state in full yet writes it in
    /// full instead: a journal left by another run is folded into the
    /// file, never appended to.
    pub fn write_one(&self, state: &mut State, id: &str) -> Result<(), StateError> {
        let mut journal = self.journal.lock().unwrap();
        match &mut *journal {
            JournalState::Unwritten => {
                drop(journal);
                self.write(state)
            }
            JournalState::Ready => {
                let mut j = Journal::create(self.journal_path(), state)?;
                j.append(state, id)?;
                *journal = JournalState::Open(j);
                Ok(())
            }
            JournalState::Open(j) => j.append(state, id),
        }
    }

    /// Waits until every record up to `serial` is on disk.
    pub fn sync(&self, serial: u64) -> Result<(), StateError> {
        self.syncer.sync(serial, || match &*self.journal.lock().unwrap() {
            JournalState::Open(j) => Some(j.pending()),
            _ => None,
        })
    }

    /// Writes `state` in full, atomically, incrementing its serial first,
    /// and removes the journal, which the file now holds. The previous
    /// file is kept as the backup. A reader sees the old file or the new
    /// one, never a torn one; a crash before the journal is removed
    /// leaves entries the file already has, which a read skips by their
    /// serials.
    pub fn write(&self, state: &mut State) -> Result<(), StateError> {
        let mut journal = self.journal.lock().unwrap();
        self.write_file(state)?;
        self.syncer.synced_to(state.serial);
        *journal = JournalState::Unwritten;
        journal::remove(&self.journal_path())?;
        *journal = JournalState::Ready;
        Ok(())
    }

    fn write_file(&self, state: &mut State) -> Result<(), StateError> {
        let io_err = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| StateError::Io { action, path, source }
        };
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(io_err("create the directory of", &self.path))?;
        state.serial += 1;
        state.format_version = FORMAT_VERSION;
        let mut text = serde_json::to_string_pretty(state).expect("state serialises");
        text.push('\n');
        let tmp = suffixed(&self.path, &format!(".tmp.{}", std::process::id()));
        let replaced = (|| {
            {
                let mut f = File::create(&tmp).map_err(io_err("write", &tmp))?;
                f.write_all(text.as_bytes()).map_err(io_err("write", &tmp))?;
                f.sync_all().map_err(io_err("sync", &tmp))?;
            }
            // The backup is a hard link to the current file when possible
            // (no copy), so it always holds a complete previous version.
            let backup = self.backup_path();
            if self.path.exists() {
                let _ = fs::remove_file(&backup);
                if fs::hard_link(&self.path, &backup).is_err() {
                    let _ = fs::copy(&self.path, &backup);
                }
            }
            fs::rename(&tmp, &self.path).map_err(io_err("replace", &self.path))
        })();
        if let Err(e) = replaced {
            // A write that failed (disk full, the path taken by a
            // directory) leaves no half-written `*.tmp.<pid>` beside the
            // state; the state itself is the previous, whole version.
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        // Persist the rename itself.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Takes the stack's lock, waiting up to `timeout` for another holder
    /// to finish. The lock is released when the guard drops.
    pub fn lock(&self, owner: &str, timeout: Duration) -> Result<LockGuard, StateError> {
        let path = self.lock_path();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| StateError::Io {
                action: "create the directory of",
                path: path.clone(),
                source,
            })?;
        }
        let info = LockInfo::new(owner);
        let start = Instant::now();
        let mut stale = None;
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let text = serde_json::to_string(&info).expect("lock info serialises");
                    f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(|source| {
                        StateError::Io { action: "write the lock of", path: path.clone(), source }
                    })?;
                    return Ok(LockGuard::new(stale, move || {
                        let _ = fs::remove_file(&path);
                    }));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| serde_json::from_str::<LockInfo>(&t).ok());
                    // Left by a run that died on this host (a kill -9): its
                    // holder can never release it, so it is taken over.
                    if let Some(h) = holder.as_ref().filter(|h| h.is_stale()) {
                        let _ = fs::remove_file(&path);
                        stale = Some(h.clone());
                        continue;
                    }
                    if start.elapsed() >= timeout {
                        return Err(locked_error(&self.path, holder));
                    }
                    std::thread::sleep(Duration::from_millis(100).min(timeout));
                }
                Err(source) => {
                    return Err(StateError::Io { action: "lock", path, source });
                }
            }
        }
    }

    /// Who holds the lock, if anyone.
    pub fn holder(&self) -> Option<LockInfo> {
        fs::read_to_string(self.lock_path())
            .ok()
            .and_then(|t| serde_json::from_str::<LockInfo>(&t).ok())
    }

    /// Removes the lock (`archkit state unlock [ID]`): the one `id` names
    /// when given. A lock whose holder is still running on this host is
    /// refused unless `force`: breaking it would let two runs write one
    /// state.
    pub fn unlock(&self, id: Option<&str>, force: bool) -> Result<Option<LockInfo>, StateError> {
        let path = self.lock_path();
        let holder = self.holder();
        if let Some(h) = &holder {
            check_unlock(&self.path, h, id, force, false)?;
        }
        match fs::remove_file(&path) {
            Ok(()) => Ok(holder),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Io { action: "unlock", path, source }),
        }
    }
}

/// Whether `holder`'s lock may be broken by `archkit state unlock [id]`
/// (`id_required`: a store shared between hosts, where a lock without an
/// id to name it is never broken).
pub(crate) fn check_unlock(
    state: &Path,
    holder: &LockInfo,
    id: Option<&str>,
    force: bool,
    id_required: bool,
) -> Result<(), StateError> {
    let boxed = || Box::new(holder.clone());
    match id {
        Some(id) if id != holder.id => {
            return Err(StateError::LockMismatch {
                path: state.to_path_buf(),
                given: id.to_string(),
                info: boxed(),
            });
        }
        None if id_required => {
            return Err(StateError::LockIdRequired { path: state.to_path_buf(), info: boxed() });
        }
        _ => {}
    }
    if !force && holder.is_running_here() {
        return Err(StateError::LockHeld { path: state.to_path_buf(), info: boxed() });
    }
    Ok(())
}

/// The error for a lock still held after `--lock-timeout`.
pub(crate) fn locked_error(state: &Path, holder: Option<LockInfo>) -> StateError {
    let info = holder.unwrap_or_else(LockInfo::unknown);
    let unlock = match info.id.as_str() {
        "" => format!("archkit state unlock --state {}", state.display()),
        id => format!("archkit state unlock {id} --state {}", state.display()),
    };
    let help = if info.is_stale() {
        format!(
            "process {} is no longer running, so the lock is stale: break it with `{unlock}`",
            info.pid
        )
    } else {
        format!(
            "wait for it to finish, or pass a longer --lock-timeout; if it is gone, \
             `{unlock}` breaks the lock"
        )
    };
    StateError::Locked { path: state.to_path_buf(), info: Box::new(info), help }
}

impl LockInfo {
    /// A lock whose holder cannot be read: it still locks, shown as unknown.
    pub fn unknown() -> LockInfo {
        LockInfo {
            id: String::new(),
            owner: "unknown".into(),
            user: String::new(),
            pid: 0,
            host: "unknown".into(),
            created: "unknown".into(),
        }
    }

    /// A new lock for `owner` (the operation) held by this process.
    pub fn new(owner: &str) -> LockInfo {
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            owner: owner.to_string(),
            user: crate::settings::env().user.clone(),
            pid: std::process::id(),
            host: hostname(),
            created: super::now(),
        }
    }

    /// Held by a process that is still running on this host.
    pub fn is_running_here(&self) -> bool {
        self.host == hostname() && self.pid != 0 && process_alive(self.pid)
    }

    /// Held by a process of this host that no longer runs.
    pub fn is_stale(&self) -> bool {
        self.host == hostname() && self.pid != 0 && !process_alive(self.pid)
    }
}

/// Releases the lock on drop.
pub struct LockGuard {
    /// The stale lock this one replaced, to tell the user.
    pub took_over: Option<LockInfo>,
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl LockGuard {
    /// A held lock that `release` gives back.
    pub fn new(
        took_over: Option<LockInfo>,
        release: impl FnOnce() + Send + Sync + 'static,
    ) -> Self {
        LockGuard { took_over, release: Some(Box::new(release)) }
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard").field("took_over", &self.took_over).finish_non_exhaustive()
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Parses a state document read from `path` (a file, or an S3 URL).
pub(crate) fn parse(path: &Path, text: &str) -> Result<State, StateError> {
    // The version is checked before the full shape, so a newer format with
    // new fields is reported as newer, not as corrupt.
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| StateError::Corrupt { path: path.to_path_buf(), message: format!("{e}") })?;
    let version = value.get("format_version").and_then(|v| v.as_u64());
    match version {
        Some(v) if v > u64::from(FORMAT_VERSION) => {
            return Err(StateError::NewerFormat { path: path.to_path_buf(), found: v });
        }
        None => {
            return Err(StateError::Corrupt {
                path: path.to_path_buf(),
                message: "it has no format_version".into(),
            });
        }
        _ => {}
    }
    serde_json::from_value(value)
        .map_err(|e| StateError::Corrupt { path: path.to_path_buf(), message: format!("{e}") })
}

pub(crate) fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| crate::settings::env().hostname.clone())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether a process with this pid exists on this host (Linux: /proc).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") { Path::new(&format!("/proc/{pid}")).exists() } else { true }
}

#[cfg(test)]
mod tests {
    use super::super::{Operation, ResourceState, Status};
    use super::*;

    fn sample() -> State {
        let mut s = State::new("demo", "fargate-public-private");
        s.resources.insert(
            "vpc".into(),
            ResourceState {
                kind: "aws.ec2.vpc".into(),
                physical_id: "vpc-123".into(),
                properties: serde_json::json!({"cidr_block": "10.0.0.0/16"})
                    .as_object()
                    .unwrap()
                    .clone(),
                attributes: Default::default(),
                status: Status::Ready,
                depends_on: Vec::new(),
            },
        );
        s.begin("subnet", "aws.ec2.subnet", Operation::Create);
        s
    }

    #[test]
    fn round_trips_and_increments_the_serial() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("s/demo.state.json"));
        assert_eq!(store.load().unwrap(), None);
        let mut s = sample();
        store.write(&mut s).unwrap();
        store.write(&mut s).unwrap();
        let back = store.load().unwrap().unwrap();
        assert_eq!(back.serial, 2);
        assert_eq!(back, s);
        // The backup holds the previous version.
        let backup: State =
            serde_json::from_str(&fs::read_to_string(store.backup_path()).unwrap()).unwrap();
        assert_eq!(backup.serial, 1);
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.state.json");
        // The state's path taken by a non-empty directory: the temporary
        // file is written, then the rename onto the path fails.
        fs::create_dir_all(path.join("in-the-way")).unwrap();
        let err = LocalStore::new(&path).write_file(&mut sample()).unwrap_err();
        assert!(matches!(err, StateError::Io { action: "replace", .. }), "{err}");
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["demo.state.json".to_string()], "left behind: {names:?}");
    }

    #[test]
    fn corrupt_and_newer_files_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        let store = LocalStore::new(&path);
        fs::write(&path, "{\"format_version\": 1, \"lineage\": ").unwrap();
        assert!(matches!(store.load(), Err(StateError::Corrupt { .. })));
        fs::write(&path, "{\"format_version\": 7, \"future\": true}").unwrap();
        let err = store.load().unwrap_err();
        assert!(matches!(err, StateError::NewerFormat { found: 7, .. }), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"format_version\": 7, \"future\": true}");
    }

    #[test]
    fn a_second_lock_waits_then_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("x.json"));
        let guard = store.lock("archkit apply", Duration::ZERO).unwrap();
        let t = Instant::now();
        let err = store.lock("archkit plan", Duration::from_millis(300)).unwrap_err();
        assert!(t.elapsed() >= Duration::from_millis(300));
        let StateError::Locked { info, help, .. } = &err else { panic!("{err}") };
        assert_eq!(info.owner, "archkit apply");
        assert_eq!(info.pid, std::process::id());
        assert!(help.contains("--lock-timeout"), "{help}");
        drop(guard);
        store.lock("archkit plan", Duration::ZERO).unwrap();
    }

    /// Issue 13 (8): a lock left by a process that died on this host (kill
    /// -9) is taken over by the next run, which says so.
    #[test]
    fn a_lock_left_by_a_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("x.json"));
        // A pid that cannot exist (above the kernel's pid_max).
        let info = LockInfo { pid: 99_999_999, ..LockInfo::new("archkit apply") };
        fs::write(store.lock_path(), serde_json::to_string(&info).unwrap()).unwrap();
        let guard = store.lock("archkit plan", Duration::ZERO).unwrap();
        assert_eq!(guard.took_over, Some(info));
        let held: LockInfo =
            serde_json::from_str(&fs::read_to_string(store.lock_path()).unwrap()).unwrap();
        assert_eq!((held.owner.as_str(), held.pid), ("archkit plan", std::process::id()));
    }

    /// Issue 13 (8): `state unlock` refuses a lock whose holder still runs
    /// on this host; `--force` removes it.
    #[test]
    fn unlock_refuses_a_live_lock_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("x.json"));
        let guard = store.lock("archkit apply", Duration::ZERO).unwrap();
        let err = store.unlock(None, false).unwrap_err();
        assert!(matches!(err, StateError::LockHeld { .. }), "{err}");
        assert!(store.lock_path().exists());
        // An id names one lock: another one's is refused, even forced.
        let err = store.unlock(Some("not-this-one"), true).unwrap_err();
        assert!(matches!(err, StateError::LockMismatch { .. }), "{err}");
        let id = store.holder().unwrap().id;
        assert_eq!(store.unlock(Some(&id), true).unwrap().map(|i| i.pid), Some(std::process::id()));
        assert!(!store.lock_path().exists());
        drop(guard);
    }

    fn resource(pid: &str) -> ResourceState {
        ResourceState {
            kind: "aws.ec2.subnet".into(),
            physical_id: pid.into(),
            properties: serde_json::json!({"cidr_block": "10.0.1.0/24"})
                .as_object()
                .unwrap()
                .clone(),
            attributes: Default::default(),
            status: Status::Ready,
            depends_on: vec!["vpc".into()],
        }
    }

    /// A store in a new directory holding `sample()`, written in full.
    fn written(name: &str) -> (tempfile::TempDir, LocalStore, State) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join(format!("{name}.state.json")));
        let mut s = sample();
        store.write(&mut s).unwrap();
        (dir, store, s)
    }

    /// Operations go to the journal; reading replays it; a full write
    /// folds it into the file and removes it.
    #[test]
    fn operations_are_journalled_and_a_full_write_folds_them_in() {
        let (_dir, store, mut s) = written("demo");
        for i in 0..20 {
            let id = format!("subnet{i}");
            s.begin(&id, "aws.ec2.subnet", Operation::Create);
            store.write_one(&mut s, &id).unwrap();
            s.resources.insert(id.clone(), resource(&format!("subnet-{i}")));
            s.end(&id);
            store.write_one(&mut s, &id).unwrap();
        }
        s.resources.remove("subnet3");
        store.write_one(&mut s, "subnet3").unwrap();
        s.deposed.push(super::super::Deposed {
            id: "vpc".into(),
            kind: "aws.ec2.vpc".into(),
            physical_id: "vpc-old".into(),
            properties: Default::default(),
        });
        s.begin("vpc", "aws.ec2.vpc", Operation::Delete);
        store.write_one(&mut s, "vpc").unwrap();
        assert!(store.journal_path().exists());
        // The file itself was written once; the journal holds the rest.
        let file: State = serde_json::from_str(&fs::read_to_string(store.path()).unwrap()).unwrap();
        assert_eq!(file.serial, 1);
        assert_eq!(s.serial, 1 + 20 * 2 + 2);
        assert_eq!(store.load().unwrap().unwrap(), s);
        store.write(&mut s).unwrap();
        assert!(!store.journal_path().exists());
        assert_eq!(store.load().unwrap().unwrap(), s);
    }

    /// Issue 16: recording an operation costs the one record, not the
    /// stack: with 5,000 resources in state, it appends a few hundred
    /// bytes and leaves the state file alone.
    #[test]
    fn recording_an_operation_does_not_rewrite_the_stack() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("big.state.json"));
        let mut s = sample();
        for i in 0..5000 {
            s.resources.insert(format!("r{i}"), resource(&format!("subnet-{i}")));
        }
        store.write(&mut s).unwrap();
        let file_len = fs::metadata(store.path()).unwrap().len();
        s.begin("r42", "aws.ec2.subnet", Operation::Update);
        store.write_one(&mut s, "r42").unwrap();
        s.end("r42");
        store.write_one(&mut s, "r42").unwrap();
        let journal_len = fs::metadata(store.journal_path()).unwrap().len();
        assert!(file_len > 1_000_000, "{file_len}");
        assert!(journal_len < 1_000, "{journal_len} bytes for two records");
        let file: State = serde_json::from_str(&fs::read_to_string(store.path()).unwrap()).unwrap();
        assert_eq!(file.serial, 1, "the state file was not rewritten");
        assert_eq!(store.load().unwrap().unwrap(), s);
    }

    /// Group commit: one sync covers every record appended before it
    /// began, so a later caller whose record it covered does not sync
    /// again.
    #[test]
    fn one_sync_covers_every_record_appended_before_it() {
        let (_dir, store, mut s) = written("g");
        let mut serials = Vec::new();
        for id in ["a", "b", "c"] {
            s.resources.insert(id.into(), resource(id));
            store.write_one(&mut s, id).unwrap();
            serials.push(s.serial);
        }
        // The first caller's sync covers all three appends.
        let mut asked = 0;
        store
            .syncer
            .sync(serials[0], || {
                asked += 1;
                match &*store.journal.lock().unwrap() {
                    JournalState::Open(j) => Some(j.pending()),
                    _ => None,
                }
            })
            .unwrap();
        assert_eq!(asked, 1);
        for serial in &serials[1..] {
            store.syncer.sync(*serial, || panic!("already synced")).unwrap();
        }
        // A record appended after it needs a sync of its own.
        s.resources.insert("d".into(), resource("d"));
        store.write_one(&mut s, "d").unwrap();
        let mut again = false;
        store
            .syncer
            .sync(s.serial, || {
                again = true;
                None
            })
            .unwrap();
        assert!(again);
    }

    /// A crash during an append leaves a torn last line: the operations
    /// before it are read, the torn one is not.
    #[test]
    fn a_torn_last_record_is_ignored() {
        let (_dir, store, mut s) = written("t");
        s.resources.insert("a".into(), resource("subnet-a"));
        store.write_one(&mut s, "a").unwrap();
        let mut f = OpenOptions::new().append(true).open(store.journal_path()).unwrap();
        f.write_all(br#"{"serial": 3, "id": "b", "resou"#).unwrap();
        assert_eq!(store.load().unwrap().unwrap(), s);
    }

    /// A journal that does not continue the state file (the file replaced
    /// by hand: another stack's, or an older backup) is refused, not
    /// merged.
    #[test]
    fn a_journal_that_does_not_continue_the_file_is_refused() {
        let (_dir, store, mut s) = written("j");
        store.write(&mut s).unwrap();
        s.resources.insert("a".into(), resource("subnet-a"));
        store.write_one(&mut s, "a").unwrap();
        // The backup (serial 1) put back: the journal continues serial 2.
        fs::copy(store.backup_path(), store.path()).unwrap();
        let err = store.load().unwrap_err();
        assert!(matches!(err, StateError::Journal { .. }), "{err}");
        assert!(err.to_string().contains("serial 3"), "{err}");
        // Another stack's state: another lineage.
        let mut other = State::new("other", "x");
        LocalStore::new(store.path()).write_file(&mut other).unwrap();
        let err = store.load().unwrap_err();
        assert!(err.to_string().contains("lineage"), "{err}");
    }

    /// A crash after a full write but before the journal's removal leaves
    /// records the file already holds: they are skipped, not applied
    /// twice.
    #[test]
    fn records_the_file_already_holds_are_skipped() {
        let (_dir, store, mut s) = written("k");
        s.resources.insert("a".into(), resource("subnet-a"));
        store.write_one(&mut s, "a").unwrap();
        let stale = fs::read(store.journal_path()).unwrap();
        // Later, `a` is deleted and the state written in full.
        s.resources.remove("a");
        store.write_one(&mut s, "a").unwrap();
        store.write(&mut s).unwrap();
        fs::write(store.journal_path(), stale).unwrap();
        assert_eq!(store.load().unwrap().unwrap(), s);
    }

    /// A run never appends to a journal another run left (a killed
    /// apply): its first record folds that journal into a full write.
    #[test]
    fn a_new_run_folds_a_left_journal_in_before_recording() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.state.json");
        let first = LocalStore::new(&path);
        let mut s = sample();
        first.write(&mut s).unwrap();
        s.resources.insert("a".into(), resource("subnet-a"));
        first.write_one(&mut s, "a").unwrap();
        drop(first);
        let second = LocalStore::new(&path);
        let mut t = second.load().unwrap().unwrap();
        assert_eq!(t, s);
        t.resources.insert("b".into(), resource("subnet-b"));
        second.write_one(&mut t, "b").unwrap();
        assert!(!second.journal_path().exists());
        let file: State = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(file, t);
    }

    /// Run as a child by the test below: writes ever-changing states in a
    /// loop until it is killed.
    #[test]
    #[ignore = "helper process for kill_during_write_never_tears_the_file"]
    fn writer_child() {
        let Some(path) = &crate::settings::env().test.state_path else {
            return;
        };
        let store = LocalStore::new(path.clone());
        let mut s = sample();
        loop {
            // Large enough that a torn write would be visible.
            for i in 0..200 {
                s.resources.insert(format!("r{i}"), s.resources["vpc"].clone());
            }
            store.write(&mut s).unwrap();
            // Then operations through the journal, as the engine records them.
            for i in 0..50 {
                let id = format!("r{i}");
                s.begin(&id, "aws.ec2.vpc", Operation::Update);
                store.write_one(&mut s, &id).unwrap();
                s.resources.remove(&id);
                s.end(&id);
                store.write_one(&mut s, &id).unwrap();
            }
        }
    }

    /// SIGKILL of a process writing the file and its journal: every read,
    /// during and after, sees a whole state (file plus whole records).
    #[test]
    fn kill_during_write_never_tears_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("torn.json");
        for round in 0..5 {
            let mut child = std::process::Command::new(crate::settings::current_exe().unwrap())
                .args(["--exact", "state::local::tests::writer_child", "--ignored", "--nocapture"])
                .env("ARCHKIT_TEST_STATE_PATH", &path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            // Read continuously while it writes: every read must see a
            // whole file. Then SIGKILL it mid-stream.
            let until = Instant::now() + Duration::from_millis(300 + 70 * round);
            let mut reads = 0;
            while Instant::now() < until {
                if let Err(e) = LocalStore::new(&path).load() {
                    let _ = child.kill();
                    panic!("round {round}: a reader saw a torn file: {e}");
                }
                reads += 1;
            }
            assert!(reads > 10);
            child.kill().unwrap();
            child.wait().unwrap();
            let state = LocalStore::new(&path).load();
            let state = state.unwrap_or_else(|e| panic!("round {round}: {e}"));
            let state = state.expect("the child wrote at least once");
            assert!(state.serial >= 1);
        }
    }
}
