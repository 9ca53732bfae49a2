//! Repairs of a stack's stored state (`archkit state push|mv|rm`): each
//! is a pure edit of the state ([`push`], [`mv`], [`rm`]) carried out by
//! [`begin`] and [`Prepared::commit`] under the stack's lock: lock, load,
//! check the stack, edit; then (once the user agreed) keep a backup of
//! what is replaced and write the result as the next serial.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::state::{LockGuard, State, StateError, StateStore};

/// Why a state edit was refused or failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EditError {
    #[error("{0}")]
    #[diagnostic(transparent)]
    State(#[from] StateError),

    #[error("{message}")]
    #[diagnostic(code(archkit::state::none))]
    NoState {
        message: String,
        #[help]
        help: Option<String>,
    },

    #[error("stack `{stack}` records no resource `{id}`")]
    #[diagnostic(code(archkit::state::unknown_id), help("{help}"))]
    UnknownId { stack: String, id: String, help: String },

    #[error("stack `{stack}` already records `{id}`")]
    #[diagnostic(
        code(archkit::state::id_taken),
        help("`archkit state rm {id}` first, if that record is wrong")
    )]
    IdTaken { stack: String, id: String },

    #[error("{message}")]
    #[diagnostic(code(archkit::state::push_refused), help("{help}"))]
    PushRefused { message: String, help: &'static str },
}

/// A stored state edited in memory, with a description for the question.
#[derive(Debug)]
pub struct Edit {
    pub state: State,
    pub summary: String,
}

/// An edit made under the stack's lock, not yet written.
pub struct Prepared {
    _lock: LockGuard,
    replaced: Option<State>,
    pub edit: Edit,
}

/// What [`Prepared::commit`] wrote.
pub struct Written {
    /// The serial and file of the backup of the state replaced, if any.
    pub backup: Option<(u64, PathBuf)>,
    pub serial: u64,
}

/// Locks the store as `owner`, loads its state, checks it is `stack`'s
/// (when given) and edits it. The lock is held until the [`Prepared`] is
/// committed or dropped.
pub fn begin(
    store: &dyn StateStore,
    stack: Option<&str>,
    timeout: Duration,
    owner: &str,
    edit: impl FnOnce(Option<State>) -> Result<Edit, EditError>,
) -> Result<Prepared, EditError> {
    let lock = store.lock(owner, timeout)?;
    let current = store.load()?;
    if let (Some(s), Some(want)) = (&current, stack)
        && s.stack != want
    {
        let what = format!("state {}", store.location());
        let (found, expected) = (s.stack.clone(), want.to_string());
        return Err(StateError::WrongStack { what, found, expected }.into());
    }
    let replaced = current.clone();
    Ok(Prepared { _lock: lock, replaced, edit: edit(current)? })
}

impl Prepared {
    /// Keeps a backup of the state replaced, then writes the edit.
    pub fn commit(self, store: &dyn StateStore) -> Result<Written, EditError> {
        let backup = match &self.replaced {
            Some(old) => Some((old.serial, backup(old)?)),
            None => None,
        };
        let mut state = self.edit.state;
        store.write(&mut state)?;
        Ok(Written { backup, serial: state.serial })
    }
}

/// The state document as `state pull` prints it.
pub fn document(state: &State) -> String {
    let mut text = serde_json::to_string_pretty(state).expect("state serialises");
    text.push('\n');
    text
}

/// Keeps `state` as `.archkit/backups/<stack>.<serial>.<time>.state.json`
/// in the working directory, whatever store it came from.
fn backup(state: &State) -> Result<PathBuf, StateError> {
    let dir = PathBuf::from(".archkit").join("backups");
    let time = crate::state::now().replace(':', "");
    let path = dir.join(format!("{}.{}.{time}.state.json", state.stack, state.serial));
    let io = |source| StateError::Io { action: "write the backup", path: path.clone(), source };
    std::fs::create_dir_all(&dir).map_err(io)?;
    std::fs::write(&path, document(state)).map_err(io)?;
    Ok(path)
}

/// A state document from a file (`state push FILE`), checked to be
/// `stack`'s when one is given.
pub fn read_file(file: &Path, stack: Option<&str>) -> Result<State, EditError> {
    let text = std::fs::read_to_string(file).map_err(|source| StateError::Io {
        action: "read",
        path: file.to_path_buf(),
        source,
    })?;
    let state = crate::state::local::parse(file, &text)?;
    if let Some(want) = stack.filter(|w| *w != state.stack) {
        let what = format!("state file {}", file.display());
        let (found, expected) = (state.stack.clone(), want.to_string());
        return Err(StateError::WrongStack { what, found, expected }.into());
    }
    Ok(state)
}

/// The error for an id `state` does not record, with the closest one.
pub fn unknown_id(state: &State, id: &str) -> EditError {
    let ids: Vec<&str> = state.resources.keys().map(String::as_str).collect();
    let close = ids.iter().copied().find(|k| strsim::jaro_winkler(k, id) > 0.85);
    EditError::UnknownId {
        stack: state.stack.clone(),
        id: id.to_string(),
        help: match close {
            Some(c) => format!("did you mean `{c}`? (`archkit state list` lists them)"),
            None => "`archkit state list` lists the recorded resources".into(),
        },
    }
}

/// The error of a command that needs a stored state and found none.
pub fn no_state(store: &dyn StateStore) -> EditError {
    EditError::NoState {
        message: format!("no state at {}", store.location()),
        help: Some("apply the stack first, or pass --stack NAME / --state PATH".into()),
    }
}

fn stored(current: Option<State>) -> Result<State, EditError> {
    current
        .ok_or_else(|| EditError::NoState { message: "the stack has no state".into(), help: None })
}

/// Replaces the stored state by `pushed`: refused, unless `force`, when it
/// is of another lineage or older than the stored one.
pub fn push(
    current: Option<State>,
    mut pushed: State,
    force: bool,
    file: &Path,
) -> Result<Edit, EditError> {
    let Some(current) = current else {
        let summary = format!(
            "has no state: push {} (stack `{}`, {} resources)",
            file.display(),
            pushed.stack,
            pushed.resources.len()
        );
        return Ok(Edit { state: pushed, summary });
    };
    if !force {
        if pushed.lineage != current.lineage {
            return Err(EditError::PushRefused {
                message: format!(
                    "{} is of another lineage ({}) than the stored state ({})",
                    file.display(),
                    pushed.lineage,
                    current.lineage
                ),
                help: "it was not made from this stack's state; --force replaces the stored state anyway",
            });
        }
        if pushed.serial < current.serial || (pushed.serial == current.serial && pushed != current)
        {
            return Err(EditError::PushRefused {
                message: format!(
                    "{} (serial {}) is older than the stored state (serial {}): pushing it \
                     would roll back what was written since",
                    file.display(),
                    pushed.serial,
                    current.serial
                ),
                help: "pull the stored state and edit that; --force pushes the older one anyway",
            });
        }
    }
    let summary = format!(
        "serial {} ({} resources) is replaced by {} (serial {}, {} resources)",
        current.serial,
        current.resources.len(),
        file.display(),
        pushed.serial,
        pushed.resources.len()
    );
    // Written as the stored state's next serial: a push is one more write.
    pushed.serial = current.serial;
    Ok(Edit { state: pushed, summary })
}

/// Renames the record `from` to `to`, and every mention of it.
pub fn mv(current: Option<State>, from: &str, to: &str) -> Result<Edit, EditError> {
    let mut state = stored(current)?;
    if state.resources.contains_key(to) {
        return Err(EditError::IdTaken { stack: state.stack, id: to.to_string() });
    }
    let Some(record) = state.resources.remove(from) else {
        return Err(unknown_id(&state, from));
    };
    let summary = format!("`{from}` ({} {}) becomes `{to}`", record.kind, record.physical_id);
    state.resources.insert(to.to_string(), record);
    for r in state.resources.values_mut() {
        for d in &mut r.depends_on {
            if d == from {
                *d = to.to_string();
            }
        }
    }
    if let Some(mut p) = state.pending.remove(from) {
        p.id = to.to_string();
        state.pending.insert(p.id.clone(), p);
    }
    for d in &mut state.deposed {
        if d.id == from {
            d.id = to.to_string();
        }
    }
    Ok(Edit { state, summary })
}

/// Forgets the records `ids` (AWS keeps the resources), naming those
/// still recorded that depend on them.
pub fn rm(current: Option<State>, ids: &[String]) -> Result<Edit, EditError> {
    let mut state = stored(current)?;
    if let Some(id) = ids.iter().find(|id| !state.resources.contains_key(*id)) {
        return Err(unknown_id(&state, id));
    }
    let mut forgotten = Vec::new();
    for id in ids {
        let r = state.resources.remove(id).expect("checked above");
        forgotten.push(format!("`{id}` ({} {})", r.kind, r.physical_id));
    }
    let dependents: Vec<&str> = state
        .resources
        .iter()
        .filter(|(_, r)| r.depends_on.iter().any(|d| ids.contains(d)))
        .map(|(id, _)| id.as_str())
        .collect();
    let mut summary =
        format!("forgets {}; AWS keeps them, with their archkit tags", forgotten.join(", "));
    if !dependents.is_empty() {
        summary.push_str(&format!(
            " (still recorded and depending on them: {})",
            dependents.join(", ")
        ));
    }
    Ok(Edit { state, summary })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ResourceState, Status};

    fn record(deps: &[&str]) -> ResourceState {
        ResourceState {
            kind: "aws.ec2.subnet".into(),
            physical_id: "subnet-1".into(),
            properties: Default::default(),
            attributes: Default::default(),
            status: Status::Ready,
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    fn sample() -> State {
        let mut s = State::new("demo", "bp");
        s.serial = 4;
        s.resources.insert("vpc".into(), record(&[]));
        s.resources.insert("subnet".into(), record(&["vpc"]));
        s
    }

    #[test]
    fn mv_renames_the_record_and_what_depends_on_it() {
        let e = mv(Some(sample()), "vpc", "network").unwrap();
        assert!(e.state.resources.contains_key("network"));
        assert!(!e.state.resources.contains_key("vpc"));
        assert_eq!(e.state.resources["subnet"].depends_on, vec!["network"]);
        assert!(mv(Some(sample()), "vpc", "subnet").is_err(), "an id in use is refused");
        assert!(mv(Some(sample()), "nope", "x").is_err());
    }

    #[test]
    fn rm_forgets_and_names_what_still_depends() {
        let e = rm(Some(sample()), &["vpc".into()]).unwrap();
        assert_eq!(e.state.resources.len(), 1);
        assert!(e.summary.contains("depending on them: subnet"), "{}", e.summary);
        assert!(rm(Some(sample()), &["vpc".into(), "nope".into()]).is_err());
    }

    #[test]
    fn push_refuses_other_lineages_and_older_serials_unless_forced() {
        let f = Path::new("f.json");
        let current = sample();
        let mut older = current.clone();
        older.serial = 3;
        assert!(push(Some(current.clone()), older.clone(), false, f).is_err());
        assert_eq!(push(Some(current.clone()), older, true, f).unwrap().state.serial, 4);
        let mut other = current.clone();
        other.lineage = "another".into();
        other.serial = 9;
        assert!(push(Some(current.clone()), other, false, f).is_err());
        let mut diverged = current.clone();
        diverged.resources.clear();
        assert!(
            push(Some(current.clone()), diverged, false, f).is_err(),
            "same serial, other content"
        );
        let mut newer = current.clone();
        newer.serial = 7;
        // Written as the next serial after the stored one.
        assert_eq!(push(Some(current), newer, false, f).unwrap().state.serial, 4);
    }
}
