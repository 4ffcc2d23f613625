//! Recorded state: what `infra` created for a stack, on disk as `state/<stack>.json`
//! or, with `[backend.s3]`, as an object in a shared bucket ([`s3`]).
//!
//! This module owns the file format (serde types kept apart from the model), the
//! serial and lineage, atomic writes (temp file, fsync, rename; conditional
//! writes in S3), and the lock that lets one apply or destroy of a stack run at
//! a time. It is the only code that writes state.
//!
//! Secret values are written only encrypted (see [`crate::secret`]): a state
//! holding a secret cannot be written, nor read back, without the key.
//!
//! With a key, every document is also authenticated: the state file or object
//! carries a MAC of the whole document, and each journal line a MAC chained to
//! the line before it (the first to the snapshot's), so a changed, added,
//! removed or reordered line fails to load. A state older than one this
//! machine has already seen ([`seen`]) is refused unless rollback is allowed.
//! A state that has a key but no MAC (written before MACs) is accepted, with
//! a notice, unless this machine has read that state with a MAC before; the
//! next write adds one.

mod file;
mod journal;
mod lock;
pub mod s3;
mod seen;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use journal::Journal;
pub use lock::{Lock, LockInfo};

use crate::model::{Backend, Kind, Props, Ref, Stack, Value};
use crate::secret::{Header, KeySource, Sealer, SecretError};

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

/// What separates a resource's name from the old id in a deposed key.
const DEPOSED: &str = "~deposed~";

/// The key under which state keeps the old resource of a replacement that
/// created the new one first, from the new one's create until the old one's
/// delete: so that an apply stopped in between (or an old one AWS will not
/// delete yet) is deleted by the next plan, never lost track of. No declared
/// name holds a `~`.
pub fn deposed_key(name: &str, old_id: &str) -> String {
    format!("{name}{DEPOSED}{old_id}")
}

/// The resource whose old one a deposed key holds; `None` for any other key.
pub fn deposed_of(key: &str) -> Option<&str> {
    key.split_once(DEPOSED).map(|(name, _)| name)
}

impl State {
    /// Moves `name`'s record to its deposed key, when its id is `old_id`, so
    /// that the replacement can be recorded under `name`; the key, if moved.
    pub fn depose(&mut self, name: &str, old_id: &str) -> Option<String> {
        if self.resources.get(name).is_none_or(|r| r.id != old_id) {
            return None;
        }
        let mut old = self.resources.remove(name)?;
        let key = deposed_key(name, old_id);
        // Nothing keeps the old one: it is deleted as soon as what used it
        // has moved to the new one.
        old.protect = false;
        self.resources.insert(key.clone(), old);
        Some(key)
    }

    /// Forgets the resource `name` (`infra state rm`): state no longer records
    /// it, and AWS keeps it. Returns what was recorded.
    pub fn forget(&mut self, stack: &str, name: &str) -> Result<Recorded, StateError> {
        let rec = self.editable(stack, name)?.clone();
        self.resources.remove(name);
        Ok(rec)
    }

    /// Renames the resource `old` to `new` (`infra state mv`), and every
    /// dependency on it: the same cloud resource under another name.
    pub fn rename(&mut self, stack: &str, old: &str, new: &str) -> Result<(), StateError> {
        let rec = self.editable(stack, old)?.clone();
        if self.resources.contains_key(new) {
            return Err(StateError::NameTaken { stack: stack.to_string(), name: new.to_string() });
        }
        self.resources.remove(old);
        self.resources.insert(new.to_string(), rec);
        for rec in self.resources.values_mut() {
            for dep in rec.depends_on.iter_mut().filter(|d| *d == old) {
                *dep = new.to_string();
            }
        }
        Ok(())
    }

    /// What state records for `name`, or an error listing what it records.
    pub fn recorded(&self, stack: &str, name: &str) -> Result<&Recorded, StateError> {
        self.resources.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.resources.keys().map(String::as_str).collect();
            StateError::NoSuchResource { stack: stack.to_string(), name: name.to_string(), known: known.join(", ") }
        })
    }

    /// What state records for `name`, when no pending operation concerns it.
    fn editable(&self, stack: &str, name: &str) -> Result<&Recorded, StateError> {
        let rec = self.recorded(stack, name)?;
        if self.pending.iter().any(|p| p.resource == name) {
            return Err(StateError::Pending { stack: stack.to_string(), name: name.to_string() });
        }
        Ok(rec)
    }

    /// The recorded value of `${resource.attr}`: the id, an output or a
    /// property; `Unknown` when state has no such resource or attribute.
    pub fn attr(&self, r: &Ref) -> Value {
        let Some(rec) = self.resources.get(&r.resource) else { return Value::Unknown };
        if r.attr == "id" {
            return Value::Str(rec.id.clone());
        }
        rec.outputs.get(&r.attr).or_else(|| rec.props.get(&r.attr)).cloned().unwrap_or(Value::Unknown)
    }

    /// Moves the serial on by one, as every write does.
    fn bump_serial(&mut self, path: &Path) -> Result<(), StateError> {
        self.serial = self.serial.checked_add(1).ok_or_else(|| StateError::Corrupt {
            path: path.to_path_buf(),
            message: format!("serial {} cannot grow any further", self.serial),
        })?;
        Ok(())
    }

    /// Gives a state that has none its lineage: a fresh id, kept for the
    /// state's life. A plan gives it before the first apply, so that what the
    /// apply creates is tagged with it; the first write at the latest.
    pub fn ensure_lineage(&mut self) -> &str {
        self.lineage.get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
    }

    /// Whether any recorded value is a secret.
    pub fn has_secrets(&self) -> bool {
        self.resources.values().flat_map(|r| r.props.values().chain(r.outputs.values())).any(Value::contains_secret)
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
    /// Protected (`protect = true`): no plan deletes or replaces it, even once
    /// its block has left the stack file, until an apply records it lifted.
    pub protect: bool,
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
    #[error("{}: {source}", location.display())]
    Remote { location: PathBuf, source: crate::provider::ProviderError },
    #[error(
        "{}: another command wrote it since this one read it, so nothing was overwritten; \
         what this command did is recorded up to its last write, and the next plan adopts the rest by its tags",
        location.display()
    )]
    Conflict { location: PathBuf },
    #[error(
        "bucket `{bucket}` does not keep versions, so an overwritten state could not be recovered; \
         run `infra backend bootstrap --fix` to turn versioning on"
    )]
    Unversioned { bucket: String },
    #[error(
        "bucket `{bucket}` exists without {missing}; \
         run `infra backend bootstrap --fix` to put them in place, or choose another bucket"
    )]
    WeakBucket { bucket: String, missing: String },
    #[error("{}: {message}; nothing was written", to.display())]
    Refused { to: PathBuf, message: String },
    #[error("{path}: not a valid state file: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("{path}: {message}; nothing was read from it, nor written")]
    Tampered { path: PathBuf, message: String },
    #[error(
        "{path}: serial {serial} is older than serial {seen} of the same state (lineage {lineage}), which this machine \
         has already read or written: an old copy was put back; nothing was written. If that is what you meant, \
         run again with --allow-rollback"
    )]
    Rollback { path: PathBuf, lineage: String, serial: u64, seen: u64 },
    #[error("{path}: state version {found} is newer than this infra understands ({VERSION}); upgrade infra")]
    TooNew { path: PathBuf, found: u32 },
    #[error("stack `{stack}` is locked by {holder}")]
    Locked { stack: String, holder: Box<LockInfo> },
    #[error(
        "stack `{stack}` is locked by {holder}; if that command is no longer running (killed, or its machine gone), \
         remove the lock with `infra unlock --stack {stack} {}`", holder.id
    )]
    LockedRemote { stack: String, holder: Box<LockInfo> },
    #[error("bucket `{bucket}` does not exist: create it with `infra backend bootstrap`")]
    NoBucket { bucket: String },
    #[error(
        "bucket `{bucket}` is not owned by account {owner} ({from}), or these credentials may not use it: \
         S3 refused a request that names that account as ExpectedBucketOwner ({source}); nothing was read or \
         written there. Check the bucket's name, or set `expected_owner` in [backend.s3] to the account that owns it"
    )]
    NotOwner { bucket: String, owner: String, from: &'static str, source: Box<crate::provider::ProviderError> },
    #[error(
        "{}: not written: this command's lock ({}) was taken over by another command, or its lease of {lease_secs} s \
         lapsed unrenewed (the process paused, or S3 unreachable); it stopped so as not to undo the other command's \
         work. Run `infra plan` to see where the stack stands",
        location.display(), lock.display()
    )]
    LockLost { location: PathBuf, lock: PathBuf, lease_secs: u64 },
    #[error("{var}=`{value}`: the lock's lease must be a whole number of seconds from 1 to {max}")]
    BadLease { var: &'static str, value: String, max: u64 },
    #[error("stack `{stack}` is locked by another infra process, whose details {} does not show", path.display())]
    LockedUnnamed { stack: String, path: PathBuf },
    #[error(
        "{} is a symbolic link: the lock file must be a plain file (it is truncated and written), remove the link",
        path.display()
    )]
    LockIsLink { path: PathBuf },
    #[error("stack `{stack}` is locked by {holder}, which is running: it releases the lock when it exits")]
    LockHeld { stack: String, holder: Box<LockInfo> },
    #[error("stack `{stack}` is not locked")]
    NotLocked { stack: String },
    #[error("stack `{stack}` is locked under id {actual}, not {given}; nothing was removed")]
    WrongLockId { stack: String, given: String, actual: String },
    #[error("{path}: {source}")]
    Secret { path: PathBuf, source: SecretError },
    #[error("stack `{stack}` records no resource `{name}`{}", if known.is_empty() { String::new() } else { format!(" (it records: {known})") })]
    NoSuchResource { stack: String, name: String, known: String },
    #[error("stack `{stack}` already records a resource `{name}`")]
    NameTaken { stack: String, name: String },
    #[error(
        "stack `{stack}` has an operation on `{name}` whose outcome an interrupted run did not record; run `infra apply` first"
    )]
    Pending { stack: String, name: String },
}

/// Where a stack's state and lock live, and the key its secrets are sealed with.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
    stack: String,
    keys: Arc<Keys>,
    /// The S3 backend, when the stack declares one; `dir` otherwise.
    remote: Option<Arc<s3::Remote>>,
    /// Where this machine records the highest serial it has seen of each
    /// state ([`seen`]); `None`: no record, no rollback check.
    seen: Option<PathBuf>,
    /// Load a state older than one already seen (`--allow-rollback`).
    allow_rollback: bool,
}

/// The key material, and the sealer once made (deriving a key from a
/// passphrase is slow on purpose: once per process and salt).
#[derive(Debug)]
struct Keys {
    source: Result<KeySource, SecretError>,
    sealer: Mutex<Option<Arc<Sealer>>>,
}

impl Store {
    /// A store whose key comes from `INFRA_STATE_KEY` or `INFRA_STATE_PASSPHRASE`,
    /// and that records the serials it sees where [`seen::default_dir`] says.
    pub fn new(dir: impl Into<PathBuf>, stack: &str) -> Self {
        Store::with_keys(dir, stack, KeySource::from_env()).with_seen(seen::default_dir())
    }

    /// A store with the given key material (programs and tests), with no
    /// record of the serials seen.
    pub fn with_keys(dir: impl Into<PathBuf>, stack: &str, source: Result<KeySource, SecretError>) -> Self {
        let keys = Arc::new(Keys { source, sealer: Mutex::new(None) });
        Store { dir: dir.into(), stack: stack.to_string(), keys, remote: None, seen: None, allow_rollback: false }
    }

    /// This store recording the highest serial it sees of its state in `dir`
    /// (`None`: not at all), and refusing an older one.
    pub fn with_seen(mut self, dir: Option<PathBuf>) -> Self {
        self.seen = dir;
        self
    }

    /// This store loading a state older than one already seen, when `allow`
    /// (`--allow-rollback`).
    pub fn allowing_rollback(mut self, allow: bool) -> Self {
        self.allow_rollback = allow;
        self
    }

    /// Whether a key is set: then every document written carries a MAC, and
    /// every document read must.
    pub fn keyed(&self) -> bool {
        self.keys.source.as_ref().is_ok_and(KeySource::is_set)
    }

    /// The record of the serials this machine has seen of this state.
    fn seen(&self) -> Option<seen::Seen> {
        let location = match &self.remote {
            Some(_) => self.path(),
            None => std::path::absolute(self.path()).unwrap_or_else(|_| self.path()),
        };
        self.seen.as_deref().map(|dir| seen::Seen::new(dir, &location))
    }

    /// Records that `state` (with a MAC, or not) is now the latest.
    fn note_written(&self, state: &State, mac: bool) -> Result<(), StateError> {
        match (self.seen(), state.lineage.as_deref()) {
            (Some(seen), Some(lineage)) => seen.record(lineage, state.serial, mac, true),
            _ => Ok(()),
        }
    }

    /// The store of `stack`: its `[backend]`, or local files in `dir`, with
    /// the key from the environment.
    pub fn for_stack(dir: impl Into<PathBuf>, stack: &Stack) -> Self {
        Store::new(dir, &stack.name).with_backend(stack.backend.as_ref(), stack.region.as_deref())
    }

    /// This store with its state in `backend` (`None`: local files); the
    /// bucket's region defaults to `region`.
    pub fn with_backend(mut self, backend: Option<&Backend>, region: Option<&str>) -> Self {
        self.remote = backend.map(|Backend::S3 { bucket, key_prefix, region: own, expected_owner, .. }| {
            let region = own.as_deref().or(region);
            let at = s3::Location::new(bucket, key_prefix, &self.stack, region).owned_by(expected_owner.as_deref());
            Arc::new(s3::Remote::new(at))
        });
        self
    }

    /// This store with its state at `at` in S3, reached through `client`.
    pub fn with_s3(mut self, at: s3::Location, client: aws_sdk_s3::Client) -> Self {
        self.remote = Some(Arc::new(s3::Remote::with_client(at, client)));
        self
    }

    /// This store with its S3 lock held under a lease of `lease` (tests;
    /// commands take [`s3::LEASE_VAR`]).
    pub fn with_lock_lease(self, lease: std::time::Duration) -> Self {
        if let Some(remote) = &self.remote {
            remote.set_lease(lease);
        }
        self
    }

    /// The same stack's state in local files, with the same key (`infra state
    /// push` and `pull`).
    pub fn local(&self) -> Store {
        Store { remote: None, ..self.clone() }
    }

    /// Whether state lives in a backend rather than local files.
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    fn secret_error(&self, source: SecretError) -> StateError {
        StateError::Secret { path: self.path(), source }
    }

    fn source(&self) -> Result<&KeySource, StateError> {
        self.keys.source.as_ref().map_err(|e| self.secret_error(e.clone()))
    }

    /// Fails unless secrets could be written: for a stack that declares some,
    /// checked before the first AWS call.
    pub fn require_key(&self) -> Result<(), StateError> {
        match self.source()? {
            source if source.is_set() => Ok(()),
            _ => Err(self.secret_error(SecretError::NoKey)),
        }
    }

    /// The sealer new secrets are written with: the one state was last read or
    /// written with, else a new one from the key material.
    pub fn sealer(&self) -> Result<Arc<Sealer>, StateError> {
        let mut cached = self.keys.sealer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sealer) = cached.as_ref() {
            return Ok(sealer.clone());
        }
        let sealer = Arc::new(Sealer::create(self.source()?).map_err(|e| self.secret_error(e))?);
        *cached = Some(sealer.clone());
        Ok(sealer)
    }

    /// The sealer a file with `header` was written with; fails when the key
    /// material is missing or is not that file's key.
    pub fn sealer_for(&self, header: &Header) -> Result<Arc<Sealer>, StateError> {
        let mut cached = self.keys.sealer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sealer) = cached.as_ref().filter(|s| s.header() == header) {
            return Ok(sealer.clone());
        }
        let sealer = Arc::new(Sealer::open(self.source()?, header).map_err(|e| self.secret_error(e))?);
        *cached = Some(sealer.clone());
        Ok(sealer)
    }

    /// Where the state lives: a file, or an `s3://` URL.
    pub fn path(&self) -> PathBuf {
        match &self.remote {
            Some(remote) => remote.at.url(&remote.at.state_key()),
            None => self.dir.join(format!("{}.json", self.stack)),
        }
    }

    /// The stack's name.
    pub fn stack(&self) -> &str {
        &self.stack
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.stack))
    }

    /// The journal of the steps recorded since the state file was last written.
    pub fn journal_path(&self) -> PathBuf {
        match &self.remote {
            Some(remote) => remote.at.url(&format!("{}.journal/", remote.at.base)),
            None => self.dir.join(format!("{}.journal", self.stack)),
        }
    }

    /// Loads the state (the state file, then its journal); a stack never
    /// applied has an empty one.
    pub fn load(&self) -> Result<State, StateError> {
        let open = |header: &Header| self.sealer_for(header);
        let seen = self.seen();
        let Some(remote) = &self.remote else {
            let loaded = file::load(&self.path(), &open)?;
            let chain = self.chain(loaded.mac, &loaded.state, seen.as_ref())?;
            let had_mac = chain.is_some();
            let mut state = loaded.state;
            journal::replay(&self.journal_path(), &self.stack, &mut state, &open, chain)?;
            return self.checked(state, had_mac, seen.as_ref());
        };
        let (text, journal) = remote.load()?;
        let loaded = match text {
            Some(text) => file::parse(&self.path(), &text, &open)?,
            None => file::Loaded { state: State::default(), mac: None },
        };
        let chain = self.chain(loaded.mac, &loaded.state, seen.as_ref())?;
        let had_mac = chain.is_some();
        let mut state = loaded.state;
        // The journal extending this snapshot: its first line under the
        // snapshot's serial, then every serial in turn. What follows a gap was
        // written by a command that lost a race, and stopped.
        let keys: Vec<String> = journal
            .range(state.serial..)
            .zip(state.serial..)
            .take_while(|((serial, _), expected)| *serial == expected)
            .map(|((_, key), _)| key.clone())
            .collect();
        if !keys.is_empty() {
            let text = remote.read_journal(&keys)?;
            let at = remote.at.url(&keys[0]);
            journal::apply_text(&at, &self.stack, &text, &mut state, &open, chain)?;
        }
        self.checked(state, had_mac, seen.as_ref())
    }

    /// What a journal extending a loaded snapshot is chained to: its MAC's
    /// sealer and tag. A snapshot without a MAC while a key is set was
    /// written before MACs: accepted, with a notice, unless this machine has
    /// read this state with a MAC before (then the MAC was removed).
    fn chain(
        &self,
        mac: Option<(Arc<Sealer>, String)>,
        state: &State,
        seen: Option<&seen::Seen>,
    ) -> Result<Option<(Arc<Sealer>, String)>, StateError> {
        if mac.is_some() || !self.keyed() || state.lineage.is_none() {
            return Ok(mac);
        }
        if seen.map(seen::Seen::had_mac).transpose()?.unwrap_or(false) {
            return Err(StateError::Tampered {
                path: self.path(),
                message: "it carries no MAC, though this machine has read it with one: \
                          the MAC was removed outside infra"
                    .into(),
            });
        }
        eprintln!(
            "notice: {}: written without a MAC (by an infra from before MACs, or without a state key); \
             accepted this once, and the next write adds one",
            self.path().display()
        );
        Ok(None)
    }

    /// Refuses `state` when older than what `seen` records of its lineage
    /// (unless rollback is allowed); records it as seen (read with a MAC,
    /// or not) otherwise.
    fn checked(&self, state: State, mac: bool, seen: Option<&seen::Seen>) -> Result<State, StateError> {
        let (Some(seen), Some(lineage)) = (seen, state.lineage.as_deref()) else { return Ok(state) };
        let highest = seen.serial(lineage)?;
        if highest.is_some_and(|h| h > state.serial) && !self.allow_rollback {
            return Err(StateError::Rollback {
                path: self.path(),
                lineage: lineage.to_string(),
                serial: state.serial,
                seen: highest.unwrap_or_default(),
            });
        }
        seen.record(lineage, state.serial, mac, false)?;
        Ok(state)
    }

    /// Writes the whole state atomically, incrementing its serial first, and
    /// removes the journal it supersedes. In S3 the write is conditional on the
    /// state being as this command read it ([`StateError::Conflict`] otherwise).
    pub fn save(&self, state: &mut State) -> Result<(), StateError> {
        self.save_snapshot(state).map(|_| ())
    }

    /// [`Store::save`], returning the new snapshot's MAC tag (when a key is set).
    fn save_snapshot(&self, state: &mut State) -> Result<Option<String>, StateError> {
        state.bump_serial(&self.path())?;
        state.ensure_lineage();
        let sealer = if state.has_secrets() || self.keyed() { Some(self.sealer()?) } else { None };
        let tag = if let Some(remote) = &self.remote {
            let rendered = file::render(&self.stack, state, sealer.as_deref());
            remote.save(&rendered.text)?;
            rendered.tag
        } else {
            let tag = file::save(&self.dir, &self.path(), &self.stack, state, sealer.as_deref())?;
            let journal = self.journal_path();
            match std::fs::remove_file(&journal) {
                Ok(()) => file::sync_dir(&self.dir)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(StateError::Io { path: journal, source }),
            }
            tag
        };
        self.note_written(state, tag.is_some())?;
        Ok(tag)
    }

    /// Writes `state` whole and opens a journal for the steps that follow:
    /// each then costs one appended line instead of a rewrite of the file.
    pub fn begin(&self, state: &mut State) -> Result<Journal<'_>, StateError> {
        let tag = self.save_snapshot(state)?;
        Journal::start(self, state, tag)
    }

    /// Removes the stack's lock, when `id` names it (`infra unlock`). Returns
    /// who held it.
    pub fn unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        if let Some(remote) = &self.remote {
            return remote.unlock(&self.stack, id);
        }
        let path = self.lock_path();
        if !path.exists() {
            return Err(StateError::NotLocked { stack: self.stack.clone() });
        }
        let holder = lock::read(&path)?;
        if holder.id != id {
            return Err(StateError::WrongLockId {
                stack: self.stack.clone(),
                given: id.to_string(),
                actual: holder.id,
            });
        }
        if !lock::remove_if_free(&path)? {
            return Err(StateError::LockHeld { stack: self.stack.clone(), holder: Box::new(holder) });
        }
        Ok(holder)
    }

    /// Takes the stack's lock for `command`. A local lock another command
    /// holds fails at once naming the holder; an S3 lock is waited for (its
    /// release, or its lease lapsing unrenewed), saying so on stderr.
    pub fn lock(&self, command: &str) -> Result<Lock, StateError> {
        match &self.remote {
            Some(remote) => Lock::acquire_remote(remote.clone(), &self.stack, command, &|m| eprintln!("{m}")),
            None => Lock::acquire(&self.dir, &self.lock_path(), &self.stack, command),
        }
    }
}

/// Copies the state of `from` over that of `to` (`infra state push`/`pull`:
/// local files to a backend and back) as `to`'s next serial; the caller holds
/// both locks. Refuses an empty `from`, and a `to` of another lineage or with
/// a newer serial. Returns the state as written.
pub fn copy(from: &Store, to: &Store) -> Result<State, StateError> {
    let refuse = |message: String| StateError::Refused { to: to.path(), message };
    let mut state = from.load()?;
    if state.lineage.is_none() {
        return Err(refuse(format!("{} holds no state to copy", from.path().display())));
    }
    let there = to.load()?;
    if let Some(lineage) = there.lineage.as_deref() {
        if state.lineage.as_deref() != Some(lineage) {
            return Err(refuse(format!(
                "it holds another state (lineage {lineage}, not {}): a different stack's, or one made anew",
                state.lineage.as_deref().unwrap_or_default()
            )));
        }
        if there.serial > state.serial {
            return Err(refuse(format!(
                "it is newer (serial {}) than {} (serial {})",
                there.serial,
                from.path().display(),
                state.serial
            )));
        }
    }
    to.save(&mut state)?;
    Ok(state)
}

/// Parses a state file's text; `path` only names it in errors. A state holding
/// secrets needs [`Store::load`], which has the key.
pub fn parse(path: &Path, text: &str) -> Result<State, StateError> {
    let no_key = |_: &Header| Err(StateError::Secret { path: path.to_path_buf(), source: SecretError::NoKey });
    Ok(file::parse(path, text, &no_key)?.state)
}

/// Parses a state file's text and replays the text of its journal (of stack
/// `stack`) over it, as [`Store::load`] does, without a key.
pub fn parse_with_journal(
    path: &Path,
    text: &str,
    journal_path: &Path,
    journal_text: &str,
    stack: &str,
) -> Result<State, StateError> {
    let mut state = parse(path, text)?;
    let no_key = |_: &Header| Err(StateError::Secret { path: journal_path.to_path_buf(), source: SecretError::NoKey });
    journal::apply_text(journal_path, stack, journal_text, &mut state, &no_key, None)?;
    Ok(state)
}
