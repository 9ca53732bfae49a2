//! The state journal: what changed since the state file's last full
//! write, one line per operation.
//!
//! Rewriting the whole state after every operation costs the size of the
//! stack each time, quadratic over an apply (issue 16 measured 12.7 s for
//! 2,000 resources). Instead the engine's per-operation writes append the
//! one resource they touched (its record, pending operation and deposed
//! objects) to `<state>.journal` and sync it; the full file is written at
//! the start and end of a run, which removes the journal. Reading the
//! state replays the journal on top of the file, so the promise stays:
//! after every operation, what it did is on disk.
//!
//! The first line names the state it continues (its lineage). Each
//! entry carries the serial it gives the state, so entries the state file
//! already holds (a crash between the full write and the journal's
//! removal) are skipped, and a gap is refused rather than guessed over.
//! A torn last line (a crash during the append) is ignored: its operation
//! had not been recorded, and the entry before it (its pending entry)
//! says what to look for.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::{Deposed, PendingOperation, ResourceState, State, StateError};

/// The journal format this build writes.
const JOURNAL_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    journal: u32,
    /// The lineage of the state it continues (where in it, each entry's
    /// serial says).
    lineage: String,
}

/// Everything state holds for one logical id after an operation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// The state's serial after this entry.
    serial: u64,
    id: String,
    resource: Option<ResourceState>,
    pending: Option<PendingOperation>,
    #[serde(default)]
    deposed: Vec<Deposed>,
}

/// [`Entry`] as written: borrowed from the state, so an append copies
/// nothing but its bytes.
#[derive(Serialize)]
struct EntryRef<'a> {
    serial: u64,
    id: &'a str,
    resource: Option<&'a ResourceState>,
    pending: Option<&'a PendingOperation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deposed: Vec<&'a Deposed>,
}

/// The journal's path beside a state file.
pub fn path_for(state: &Path) -> PathBuf {
    let mut s = state.as_os_str().to_os_string();
    s.push(".journal");
    PathBuf::from(s)
}

/// An open journal, appended to after each operation.
#[derive(Debug)]
pub struct Journal {
    /// Shared with [`Journal::syncer`], which syncs it outside the lock
    /// that orders appends.
    file: Arc<File>,
    path: PathBuf,
    /// The serial of the last entry appended.
    appended: u64,
    /// The line being appended, kept to reuse its allocation.
    line: Vec<u8>,
}

/// Makes a journal's appends durable: one sync covers every entry
/// appended before it began, and none is needed after a full write. The
/// engine calls it one sync at a time from `engine::commit`, which makes
/// operations beginning during a sync share the next.
#[derive(Debug, Default)]
pub struct Syncer {
    /// The serial up to which entries are known to be on disk.
    synced: Mutex<u64>,
}

impl Journal {
    /// Starts a journal continuing `state` (just written in full),
    /// replacing any older one.
    pub fn create(path: PathBuf, state: &State) -> Result<Journal, StateError> {
        let io = |action| {
            let path = path.clone();
            move |source| StateError::Io { action, path, source }
        };
        let mut file = File::create(&path).map_err(io("create"))?;
        let header = Header { journal: JOURNAL_VERSION, lineage: state.lineage.clone() };
        let mut line = serde_json::to_string(&header).expect("header serialises");
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(io("write"))?;
        file.sync_all().map_err(io("sync"))?;
        // The new file's name must survive a crash as well as its bytes.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(Journal { file: Arc::new(file), path, appended: state.serial, line: Vec::new() })
    }

    /// What [`Syncer::sync`] needs: the file and the serial appended.
    pub fn pending(&self) -> (Arc<File>, u64, PathBuf) {
        (self.file.clone(), self.appended, self.path.clone())
    }

    /// Records what `state` now holds for `id`, incrementing its serial.
    /// The cost is that of the one record, whatever the stack's size. It
    /// is durable once [`Syncer::sync`] has returned.
    pub fn append(&mut self, state: &mut State, id: &str) -> Result<(), StateError> {
        state.serial += 1;
        let entry = EntryRef {
            serial: state.serial,
            id,
            resource: state.resources.get(id),
            pending: state.pending.get(id),
            deposed: state.deposed.iter().filter(|d| d.id == id).collect(),
        };
        self.line.clear();
        serde_json::to_writer(&mut self.line, &entry).expect("entry serialises");
        self.line.push(b'\n');
        (&*self.file).write_all(&self.line).map_err(|source| StateError::Io {
            action: "append to",
            path: self.path.clone(),
            source,
        })?;
        self.appended = state.serial;
        Ok(())
    }
}

impl Syncer {
    /// Makes every entry up to `serial` durable: returns at once when a
    /// sync that began after it was appended has finished; otherwise
    /// syncs, covering all that `latest` says is appended by then.
    pub fn sync(
        &self,
        serial: u64,
        latest: impl FnOnce() -> Option<(Arc<File>, u64, PathBuf)>,
    ) -> Result<(), StateError> {
        let mut synced = self.synced.lock().unwrap();
        if *synced >= serial {
            return Ok(());
        }
        let Some((file, upto, path)) = latest() else { return Ok(()) };
        // Data only: the file's size is part of it, its times are not.
        file.sync_data().map_err(|source| StateError::Io { action: "sync", path, source })?;
        *synced = upto;
        Ok(())
    }

    /// Everything up to `serial` is on disk (a full write).
    pub fn synced_to(&self, serial: u64) {
        let mut synced = self.synced.lock().unwrap();
        *synced = (*synced).max(serial);
    }
}

/// Removes the journal once the state file holds everything in it.
pub fn remove(path: &Path) -> Result<(), StateError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StateError::Io { action: "remove", path: path.to_path_buf(), source }),
    }
}

/// The journal's bytes, if there is one. Read it *before* the state
/// file: a full write that happens in between only makes the file newer
/// than the journal (whose entries it then already holds), whereas the
/// other order could pair an old file with a newer run's journal.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Io { action: "read", path: path.to_path_buf(), source }),
    }
}

/// Applies the journal read from `path` to `state` (read from the state
/// file beside it, after the journal).
pub fn replay(path: &Path, bytes: &[u8], state: &mut State) -> Result<(), StateError> {
    let bad = |message: String| StateError::Journal { path: path.to_path_buf(), message };
    // Only whole lines count: the last one may be torn by a crash.
    let whole = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(end) => &bytes[..=end],
        None => return Ok(()),
    };
    let text = std::str::from_utf8(whole).map_err(|_| bad("it is not UTF-8 text".into()))?;
    let mut lines = text.lines().enumerate();
    let Some((_, first)) = lines.next() else { return Ok(()) };
    let header: Header =
        serde_json::from_str(first).map_err(|e| bad(format!("line 1 is not a header: {e}")))?;
    if header.journal > JOURNAL_VERSION {
        return Err(bad(format!("it has journal version {}", header.journal)));
    }
    if header.lineage != state.lineage {
        return Err(bad(format!(
            "it continues state lineage {}, but the state file is lineage {}",
            header.lineage, state.lineage
        )));
    }
    for (n, line) in lines {
        let entry: Entry =
            serde_json::from_str(line).map_err(|e| bad(format!("line {}: {e}", n + 1)))?;
        if entry.serial <= state.serial {
            // Already in the state file (written in full after it).
            continue;
        }
        if entry.serial != state.serial + 1 {
            return Err(bad(format!(
                "line {} records serial {}, but the state file is at serial {}",
                n + 1,
                entry.serial,
                state.serial
            )));
        }
        state.serial = entry.serial;
        let id = entry.id;
        match entry.resource {
            Some(r) => {
                state.resources.insert(id.clone(), r);
            }
            None => {
                state.resources.remove(&id);
            }
        }
        state.pending.remove(&id);
        if let Some(p) = entry.pending {
            state.pending.insert(p.id.clone(), p);
        }
        state.deposed.retain(|d| d.id != id);
        state.deposed.extend(entry.deposed);
    }
    Ok(())
}
