//! Recorded state: what `infra` created for a stack, on disk as `state/<stack>.json`.
//!
//! This module owns the file format (serde types kept apart from the model), the
//! serial and lineage, atomic writes (temp file, fsync, rename), and the lock
//! that lets one apply or destroy of a stack run at a time. It is the only code
//! that writes state.

mod file;
mod lock;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use lock::{Lock, LockInfo};

use crate::model::{Kind, Props, Ref, Value};

/// The state format version this binary writes and reads.
pub const VERSION: u32 = 1;

/// A stack's recorded state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct State {
    /// Incremented on every write.
    pub serial: u64,
    /// Set when the stack is first applied; a saved plan only applies to its lineage.
    pub lineage: Option<String>,
    pub resources: BTreeMap<String, Recorded>,
    /// Mutating calls that were started but whose outcome was not recorded.
    pub pending: Vec<Pending>,
}

impl State {
    /// The recorded value of `${resource.attr}`: the id, an output or a
    /// property; `Unknown` when state has no such resource or attribute.
    pub fn attr(&self, r: &Ref) -> Value {
        let Some(rec) = self.resources.get(&r.resource) else { return Value::Unknown };
        if r.attr == "id" {
            return Value::Str(rec.id.clone());
        }
        rec.outputs.get(&r.attr).or_else(|| rec.props.get(&r.attr)).cloned().unwrap_or(Value::Unknown)
    }
}

/// One resource as `infra` last left it.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub kind: Kind,
    pub id: String,
    /// The normalised properties it was created or updated with.
    pub props: Props,
    /// Its output attributes.
    pub outputs: Props,
    /// What it depended on, so it can be deleted in the right order even once
    /// it has left the stack file.
    pub depends_on: Vec<String>,
}

/// A mutating call in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub resource: String,
    pub kind: Kind,
    pub op: PendingOp,
    /// The cloud id, when the operation acts on an existing resource.
    pub id: Option<String>,
    /// The idempotency token the create call was given.
    pub client_token: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingOp {
    Create,
    Update,
    Delete,
}

/// Why state could not be read, written or locked.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a valid state file: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("{path}: state version {found} is newer than this infra understands ({VERSION}); upgrade infra")]
    TooNew { path: PathBuf, found: u32 },
    #[error("stack `{stack}` is locked by {holder}{}", if *stale {
        format!("; that process is gone, so the lock is stale: remove it with `infra unlock --stack {stack} {}`", holder.id)
    } else {
        String::new()
    })]
    Locked { stack: String, holder: LockInfo, stale: bool },
    #[error("stack `{stack}` is not locked")]
    NotLocked { stack: String },
    #[error("stack `{stack}` is locked under id {actual}, not {given}; nothing was removed")]
    WrongLockId { stack: String, given: String, actual: String },
}

/// Where a stack's state and lock live.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
    stack: String,
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>, stack: &str) -> Self {
        Store { dir: dir.into(), stack: stack.to_string() }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.stack))
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.stack))
    }

    /// Loads the state; a stack never applied has an empty one.
    pub fn load(&self) -> Result<State, StateError> {
        file::load(&self.path())
    }

    /// Writes the state atomically, incrementing its serial first.
    pub fn save(&self, state: &mut State) -> Result<(), StateError> {
        state.serial += 1;
        if state.lineage.is_none() {
            state.lineage = Some(uuid::Uuid::new_v4().to_string());
        }
        file::save(&self.dir, &self.path(), &self.stack, state)
    }

    /// Removes the stack's lock, when `id` names it (`infra unlock`). Returns
    /// who held it.
    pub fn unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        let path = self.lock_path();
        if !path.exists() {
            return Err(StateError::NotLocked { stack: self.stack.clone() });
        }
        let holder = lock::read(&path)?;
        if holder.id != id {
            return Err(StateError::WrongLockId { stack: self.stack.clone(), given: id.to_string(), actual: holder.id });
        }
        std::fs::remove_file(&path).map_err(|source| StateError::Io { path, source })?;
        Ok(holder)
    }

    /// Takes the stack's lock for `command`, or fails at once naming the holder.
    pub fn lock(&self, command: &str) -> Result<Lock, StateError> {
        Lock::acquire(&self.dir, &self.lock_path(), &self.stack, command)
    }
}

/// Parses a state file's text; `path` only names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<State, StateError> {
    file::parse(path, text)
}
