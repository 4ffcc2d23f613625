//! The S3 backend (`[backend.s3]`): a stack's state, lock and journal as
//! objects in a bucket that a team and its CI share.
//!
//! Objects, under the backend's key prefix:
//! - `<stack>.json`: the state, in the local file's format. Every write is
//!   conditional: `If-Match` the ETag this command last read or wrote, or
//!   `If-None-Match: *` when it found none. A 412 means another command wrote
//!   in between: the write fails with [`StateError::Conflict`] and overwrites
//!   nothing, even when the lock was broken by hand.
//! - `<stack>.lock`: the lock, created `If-None-Match: *` and holding its
//!   holder's id, pid, host, user, time and command. A 412 on a lock holding
//!   our own id is ours (the SDK retried a PUT that had succeeded). It is
//!   released by a delete `If-Match` its ETag, once its id reads back as ours.
//! - `<stack>.journal/<serial>`: an apply's journal, one object per line,
//!   created `If-None-Match: *` under the serial the line brings state to (the
//!   first line, naming the snapshot it extends, under that snapshot's serial).
//!   Two writers that both believe they hold the stack collide on a key, and
//!   one of them stops. Every later command, on any machine, replays it; the
//!   next write of the state object removes it.
//!
//! Every call passes `ExpectedBucketOwner`: `expected_owner` from
//! `[backend.s3]`, or else the account of the credentials (STS
//! GetCallerIdentity, asked once). S3 answers 403 AccessDenied when another
//! account owns the bucket, so a mistyped or re-registered bucket name is
//! refused before anything is read or written ("Verifying bucket ownership
//! with bucket owner condition",
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html>).
//!
//! The lock is a lease (see [`super::lock`]): its holder rewrites it every
//! third of the lease, `If-Match` its own last ETag; a command that finds a
//! lock unchanged for a whole lease (and a grace period) by its own clock
//! takes it over, `If-Match` that ETag, so exactly one taker wins. A holder
//! whose lease has lapsed (no renewal for a lease) or was taken writes no more
//! state and no more journal lines.
//!
//! Every command checks once that the bucket keeps versions (and so history).
//! [`bootstrap`] creates a bucket with the settings a state bucket needs.
//!
//! State's API is synchronous (a local file is written in microseconds). The
//! calls here run on a small runtime of their own while the calling thread
//! waits, so they may be made from inside async code or outside it.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete, ObjectIdentifier,
    ObjectOwnership, OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    VersioningConfiguration,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{LockInfo, StateError};
use crate::model::kinds::s3_bucket;
use crate::provider::{ProviderError, aws_error};

/// How often a conditional write that S3 answers with 409 (a concurrent
/// conditional request on the same key) is tried again.
const CONFLICT_RETRIES: usize = 5;

/// How many journal objects are read at once.
const READ_CONCURRENCY: usize = 16;

/// Where a stack's state lives in S3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    /// The key prefix and the stack's name: `infra/dev` for `infra/` and `dev`.
    pub base: String,
    /// The bucket's region; the standard AWS chain decides when absent.
    pub region: Option<String>,
    /// The account that must own the bucket (`expected_owner`); the
    /// credentials' account when absent.
    pub owner: Option<String>,
}

impl Location {
    pub fn new(bucket: &str, key_prefix: &str, stack: &str, region: Option<&str>) -> Self {
        Location {
            bucket: bucket.to_string(),
            base: format!("{key_prefix}{stack}"),
            region: region.map(str::to_string),
            owner: None,
        }
    }

    /// The same, in a bucket that account `owner` must own.
    pub fn owned_by(mut self, owner: Option<&str>) -> Self {
        self.owner = owner.map(str::to_string);
        self
    }

    pub fn state_key(&self) -> String {
        format!("{}.json", self.base)
    }

    pub fn lock_key(&self) -> String {
        format!("{}.lock", self.base)
    }

    fn journal_prefix(&self) -> String {
        format!("{}.journal/", self.base)
    }

    pub fn journal_key(&self, serial: u64) -> String {
        format!("{}{serial:020}", self.journal_prefix())
    }

    /// `s3://bucket/key`, as errors name it.
    pub fn url(&self, key: &str) -> PathBuf {
        PathBuf::from(format!("s3://{}/{key}", self.bucket))
    }
}

/// The runtime S3 calls run on; never dropped (a runtime may not be dropped
/// inside another's async context).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("infra-state-s3")
            .enable_all()
            .build()
            .expect("a tokio runtime for the S3 state backend")
    })
}

/// Runs `fut` on the backend's runtime, the calling thread waiting for it.
fn block<T: Send>(fut: impl Future<Output = T> + Send) -> T {
    std::thread::scope(|s| s.spawn(|| runtime().block_on(fut)).join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
}

/// A stack's objects in S3, and what this command knows of them.
#[derive(Debug)]
pub(super) struct Remote {
    pub(super) at: Location,
    client: OnceLock<Client>,
    /// STS, to learn the credentials' account; set with the client it was
    /// configured beside.
    sts: OnceLock<aws_sdk_sts::Client>,
    /// The account passed as `ExpectedBucketOwner`, once known.
    owner: tokio::sync::OnceCell<String>,
    /// The state object's ETag as this command last read or wrote it (`None`:
    /// there was none); unset until it is read.
    etag: Mutex<Option<Option<String>>>,
    /// Journal objects known to exist: listed by a load or written here. The
    /// next write of the state object removes them.
    journal: Mutex<BTreeSet<String>>,
    /// Whether the bucket was found to keep versions.
    versioned: OnceLock<()>,
    /// The lease this command asks for when it locks (tests set it; otherwise
    /// [`LEASE_VAR`] or [`DEFAULT_LEASE`]).
    lease: OnceLock<Duration>,
    /// The lock this command holds, while it holds it.
    held: Mutex<Option<Lease>>,
}

/// The lock this command holds.
#[derive(Debug)]
struct Lease {
    info: LockInfo,
    /// The lock object's ETag as we last wrote it.
    etag: String,
    /// When the write that last renewed it was sent (its lease runs from then).
    renewed: Instant,
    /// How long the lease lasts after each renewal.
    length: Duration,
    /// A renewal found the lock object replaced: another command took it.
    lost: bool,
}

/// The environment variable that sets the S3 lock's lease, in whole seconds.
pub const LEASE_VAR: &str = "INFRA_LOCK_LEASE_SECS";
/// The S3 lock's lease when [`LEASE_VAR`] is not set.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// The longest lease [`LEASE_VAR`] may ask for.
const MAX_LEASE_SECS: u64 = 3600;

/// How long after a lease's last renewal (as the waiter saw it) it may be
/// taken over: the lease and a tenth of it more, at least half a second, so
/// that a holder stops writing (after one lease by its own clock) before a
/// taker starts.
pub fn takeover_after(lease: Duration) -> Duration {
    lease + (lease / 10).max(Duration::from_millis(500))
}

/// How long a command waits for a lock held under a lease of `lease` before
/// it fails naming the holder: twice the lease, and the grace, which is
/// enough to outwait a lapsed lease however recently it was renewed; a holder
/// still renewing after that is alive.
pub fn max_wait(lease: Duration) -> Duration {
    lease + takeover_after(lease)
}

/// How often a waiting command reads the lock: a tenth of the lease, between
/// 100 ms and 2 s.
fn poll_every(lease: Duration) -> Duration {
    (lease / 10).clamp(Duration::from_millis(100), Duration::from_secs(2))
}

/// How often the holder renews its lease: three times a lease.
pub(super) fn renew_every(lease: Duration) -> Duration {
    lease / 3
}

/// A conditional write's outcome apart from success.
enum PutError {
    /// The precondition failed: somebody else's object is there.
    Precondition,
    Other(ProviderError),
    /// Failed before the write was sent (the bucket's owner unknown).
    State(StateError),
}

impl Remote {
    pub(super) fn new(at: Location) -> Self {
        Remote {
            at,
            client: OnceLock::new(),
            etag: Mutex::new(None),
            journal: Mutex::new(BTreeSet::new()),
            versioned: OnceLock::new(),
            sts: OnceLock::new(),
            owner: tokio::sync::OnceCell::new(),
            lease: OnceLock::new(),
            held: Mutex::new(None),
        }
    }

    /// Sets the lease this command's lock asks for (tests; see [`LEASE_VAR`]).
    pub(super) fn set_lease(&self, lease: Duration) {
        let _ = self.lease.set(lease);
    }

    /// The lease this command's lock asks for.
    fn lease(&self) -> Result<Duration, StateError> {
        if let Some(lease) = self.lease.get() {
            return Ok(*lease);
        }
        let Ok(value) = std::env::var(LEASE_VAR) else { return Ok(DEFAULT_LEASE) };
        match value.trim().parse::<u64>() {
            Ok(secs) if (1..=MAX_LEASE_SECS).contains(&secs) => Ok(Duration::from_secs(secs)),
            _ => Err(StateError::BadLease { var: LEASE_VAR, value, max: MAX_LEASE_SECS }),
        }
    }

    /// The same, reaching S3 through `client` (programs and tests).
    pub(super) fn with_client(at: Location, client: Client) -> Self {
        let remote = Remote::new(at);
        let _ = remote.client.set(client);
        remote
    }

    fn client(&self) -> Client {
        self.client
            .get_or_init(|| {
                let region = self.at.region.clone();
                let config = block(crate::provider::aws_config(region.as_deref()));
                let _ = self.sts.set(aws_sdk_sts::Client::new(&config));
                crate::provider::s3_client(&config)
            })
            .clone()
    }

    /// The account that must own the bucket: `expected_owner`, or the
    /// credentials' account, asked of STS once.
    async fn owner(&self) -> Result<&str, StateError> {
        let owner = self
            .owner
            .get_or_try_init(|| async {
                if let Some(owner) = &self.at.owner {
                    return Ok(owner.clone());
                }
                let unknown = |e: ProviderError| StateError::Remote { location: self.at.url(""), source: e };
                let sts = self.sts.get().ok_or_else(|| {
                    unknown(ProviderError::Invalid(
                        "no account is known to own the bucket: set `expected_owner` in [backend.s3]".into(),
                    ))
                })?;
                let out =
                    sts.get_caller_identity().send().await.map_err(|e| unknown(aws_error("GetCallerIdentity", e)))?;
                out.account.ok_or_else(|| {
                    unknown(ProviderError::Invalid("STS GetCallerIdentity answered without an account id".into()))
                })
            })
            .await?;
        Ok(owner)
    }

    fn remote_error(&self, key: &str, e: ProviderError) -> StateError {
        if e.code() == Some("NoSuchBucket") {
            return StateError::NoBucket { bucket: self.at.bucket.clone() };
        }
        if e.code() == Some("AccessDenied")
            && let Some(owner) = self.owner.get()
        {
            let from = if self.at.owner.is_some() {
                "`expected_owner` in [backend.s3]"
            } else {
                "the account of these credentials"
            };
            return StateError::NotOwner {
                bucket: self.at.bucket.clone(),
                owner: owner.clone(),
                from,
                source: Box::new(e),
            };
        }
        StateError::Remote { location: self.at.url(key), source: e }
    }

    /// A failed call on the bucket itself.
    fn bucket_error<E, R>(
        &self,
        op: &'static str,
        e: aws_smithy_runtime_api::client::result::SdkError<E, R>,
    ) -> StateError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        self.remote_error("", aws_error(op, e))
    }

    /// Fails unless the bucket keeps versions; checked once per command,
    /// beside the first call that needs the bucket.
    async fn check_versioning(&self, client: &Client) -> Result<(), StateError> {
        if self.versioned.get().is_some() {
            return Ok(());
        }
        let owner = self.owner().await?;
        let out = client
            .get_bucket_versioning()
            .bucket(&self.at.bucket)
            .expected_bucket_owner(owner)
            .send()
            .await
            .map_err(|e| self.bucket_error("GetBucketVersioning", e))?;
        if out.status() != Some(&BucketVersioningStatus::Enabled) {
            return Err(StateError::Unversioned { bucket: self.at.bucket.clone() });
        }
        let _ = self.versioned.set(());
        Ok(())
    }

    /// The state object's text (`None` when there is none) and the serials of
    /// the journal objects beside it.
    pub(super) fn load(&self) -> Result<(Option<String>, BTreeMap<u64, String>), StateError> {
        let client = self.client();
        let key = self.at.state_key();
        let (_, state, journal) = block(async {
            tokio::try_join!(self.check_versioning(&client), self.get(&client, &key), self.list_journal(&client))
        })?;
        let (text, etag) = match state {
            Some((bytes, etag)) => (Some(utf8(&self.at.url(&key), bytes)?), Some(etag)),
            None => (None, None),
        };
        *self.etag.lock().unwrap_or_else(|e| e.into_inner()) = Some(etag);
        self.journal.lock().unwrap_or_else(|e| e.into_inner()).extend(journal.values().cloned());
        Ok((text, journal))
    }

    /// The text of the journal objects `keys`, in order, each a line.
    pub(super) fn read_journal(&self, keys: &[String]) -> Result<String, StateError> {
        let client = self.client();
        let bodies = block(async {
            let mut bodies = Vec::with_capacity(keys.len());
            for chunk in keys.chunks(READ_CONCURRENCY) {
                bodies.extend(futures::future::join_all(chunk.iter().map(|key| self.get(&client, key))).await);
            }
            bodies
        });
        let mut text = String::new();
        for (key, body) in keys.iter().zip(bodies) {
            // A journal object removed since the listing was folded into a newer
            // state; the replay ignores what follows a gap in serials.
            let Some((bytes, _)) = body? else { break };
            text.push_str(&utf8(&self.at.url(key), bytes)?);
        }
        Ok(text)
    }

    /// Writes the state object, conditional on it being what this command
    /// last saw, then removes the journal objects it supersedes.
    pub(super) fn save(&self, text: &str) -> Result<(), StateError> {
        let client = self.client();
        let key = self.at.state_key();
        self.still_held(&key)?;
        let seen = self.etag.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let condition = match seen {
            Some(Some(etag)) => Condition::Match(etag),
            // Never read: only a first write can be safe.
            Some(None) | None => Condition::Absent,
        };
        let etag = block(self.put(&client, &key, text.as_bytes(), condition)).map_err(|e| match e {
            PutError::Precondition => StateError::Conflict { location: self.at.url(&key) },
            PutError::Other(e) => self.remote_error(&key, e),
            PutError::State(e) => e,
        })?;
        *self.etag.lock().unwrap_or_else(|e| e.into_inner()) = Some(Some(etag));
        let folded: Vec<String> =
            std::mem::take(&mut *self.journal.lock().unwrap_or_else(|e| e.into_inner())).into_iter().collect();
        if folded.is_empty() {
            return Ok(());
        }
        block(self.delete_all(&client, &folded))
    }

    /// Writes the journal line that brings state to `serial`; fails with
    /// [`StateError::Conflict`] when another command wrote that serial.
    pub(super) fn append(&self, serial: u64, line: &str) -> Result<(), StateError> {
        let client = self.client();
        let key = self.at.journal_key(serial);
        self.still_held(&key)?;
        block(self.put(&client, &key, line.as_bytes(), Condition::Absent)).map_err(|e| match e {
            PutError::Precondition => StateError::Conflict { location: self.at.url(&key) },
            PutError::Other(e) => self.remote_error(&key, e),
            PutError::State(e) => e,
        })?;
        self.journal.lock().unwrap_or_else(|e| e.into_inner()).insert(key);
        Ok(())
    }

    /// Fails when this command holds the lock and its lease has lapsed (not
    /// renewed for a whole lease, as when the process was paused) or was
    /// taken over: then another command may hold the stack, and writing `key`
    /// could undo what it does. No lock held: nothing to check.
    fn still_held(&self, key: &str) -> Result<(), StateError> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let Some(lease) = held.as_ref() else { return Ok(()) };
        if lease.lost || lease.renewed.elapsed() >= lease.length {
            return Err(StateError::LockLost {
                location: self.at.url(key),
                lock: self.at.url(&self.at.lock_key()),
                lease_secs: lease.length.as_secs(),
            });
        }
        Ok(())
    }

    /// Takes the lock for `info`. A lock another command holds is waited
    /// for, `notify` told who holds it and until when: until it is released,
    /// or until its lease has gone unrenewed for [`takeover_after`] its
    /// length, when it is taken over; after [`max_wait`] with its holder still
    /// renewing, this fails naming the holder. A lock without a lease (written
    /// by an older infra) fails at once. Returns the holder's details as
    /// written (with the lease).
    pub(super) fn lock(
        &self,
        stack: &str,
        info: &LockInfo,
        notify: &(dyn Fn(&str) + Sync),
    ) -> Result<LockInfo, StateError> {
        let length = self.lease()?;
        let mut info = info.clone();
        info.lease_secs = Some(length.as_secs());
        info.renewed = Some(now());
        let client = self.client();
        let key = self.at.lock_key();
        let body = serde_json::to_vec_pretty(&info).map_err(|e| corrupt_lock(&self.at.url(&key), e))?;
        block(async {
            self.check_versioning(&client).await?;
            let started = Instant::now();
            // The holder's lock object as first seen unchanged: its ETag, and when.
            let mut seen: Option<(String, Instant)> = None;
            loop {
                let sent = Instant::now();
                match self.put(&client, &key, &body, Condition::Absent).await {
                    Ok(etag) => return Ok(self.hold(info, etag, sent, length)),
                    Err(PutError::Other(e)) => return Err(self.remote_error(&key, e)),
                    Err(PutError::State(e)) => return Err(e),
                    Err(PutError::Precondition) => {}
                }
                // Released between our PUT and this read: try again.
                let Some((holder, etag)) = self.holder(&client).await? else { continue };
                let locked = || StateError::LockedRemote { stack: stack.to_string(), holder: Box::new(holder.clone()) };
                let Some(their) = holder.lease() else { return Err(locked()) };
                if seen.as_ref().is_none_or(|(known, _)| *known != etag) {
                    let lapses = std::time::SystemTime::now() + takeover_after(their);
                    notify(&format!(
                        "stack `{stack}` is locked by {holder}; waiting for it to finish, or for its lease to \
                         lapse unrenewed at {} (waiting {} s more at most)",
                        humantime::format_rfc3339_seconds(lapses),
                        max_wait(their).saturating_sub(started.elapsed()).as_secs()
                    ));
                    seen = Some((etag.clone(), Instant::now()));
                }
                let first = seen.as_ref().map_or_else(Instant::now, |(_, at)| *at);
                if first.elapsed() >= takeover_after(their) {
                    let sent = Instant::now();
                    match self.put(&client, &key, &body, Condition::Match(etag)).await {
                        Ok(etag) => {
                            notify(&format!(
                                "took over the lock of stack `{stack}` from {holder}, whose lease of {} s \
                                 went unrenewed",
                                their.as_secs()
                            ));
                            return Ok(self.hold(info, etag, sent, length));
                        }
                        // Another taker was first, or the holder renewed.
                        Err(PutError::Precondition) => continue,
                        Err(PutError::Other(e)) => return Err(self.remote_error(&key, e)),
                        Err(PutError::State(e)) => return Err(e),
                    }
                }
                if started.elapsed() >= max_wait(their) {
                    return Err(locked());
                }
                tokio::time::sleep(poll_every(their)).await;
            }
        })
    }

    /// Records that this command holds the lock `info` (object `etag`),
    /// written at `sent`.
    fn hold(&self, info: LockInfo, etag: String, sent: Instant, length: Duration) -> LockInfo {
        let lease = Lease { info: info.clone(), etag, renewed: sent, length, lost: false };
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = Some(lease);
        info
    }

    /// How often the lock this command holds is renewed; `None` when it holds none.
    pub(super) fn renewal_interval(&self) -> Option<Duration> {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|l| renew_every(l.length))
    }

    /// Renews the lease of our lock `id`: rewrites the lock object
    /// `If-Match` the ETag it last wrote. `Ok(false)`: the lock `id` is no
    /// longer held here (released). Fails with [`StateError::LockLost`] when
    /// the object is no longer ours (taken over, or removed by `infra
    /// unlock`: every later write of state fails too), or with the S3 error
    /// (the next renewal tries again; if none succeeds within the lease,
    /// writes stop).
    pub(super) fn renew(&self, id: &str) -> Result<bool, StateError> {
        let key = self.at.lock_key();
        let Some((mut info, etag, length)) = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|l| !l.lost && l.info.id == id)
            .map(|l| (l.info.clone(), l.etag.clone(), l.length))
        else {
            return Ok(false);
        };
        info.renewals += 1;
        info.renewed = Some(now());
        let body = serde_json::to_vec_pretty(&info).map_err(|e| corrupt_lock(&self.at.url(&key), e))?;
        let client = self.client();
        let sent = Instant::now();
        let result = block(self.put(&client, &key, &body, Condition::Match(etag)));
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let Some(lease) = held.as_mut().filter(|l| l.info.id == id) else { return Ok(false) };
        match result {
            Ok(etag) => {
                *lease = Lease { info, etag, renewed: sent, length, lost: false };
                Ok(true)
            }
            // `If-Match` on a key that is gone: 404 NoSuchKey (PutObject, "Conditional writes").
            Err(PutError::Other(e)) if e.code() == Some("NoSuchKey") => {
                lease.lost = true;
                Err(StateError::LockLost {
                    location: self.at.url(&key),
                    lock: self.at.url(&key),
                    lease_secs: length.as_secs(),
                })
            }
            Err(PutError::Precondition) => {
                lease.lost = true;
                Err(StateError::LockLost {
                    location: self.at.url(&key),
                    lock: self.at.url(&key),
                    lease_secs: length.as_secs(),
                })
            }
            Err(PutError::Other(e)) => Err(self.remote_error(&key, e)),
            Err(PutError::State(e)) => Err(e),
        }
    }

    /// The lock's holder and the lock object's ETag, if it is held.
    async fn holder(&self, client: &Client) -> Result<Option<(LockInfo, String)>, StateError> {
        let key = self.at.lock_key();
        let Some((bytes, etag)) = self.get(client, &key).await? else { return Ok(None) };
        let info = serde_json::from_slice(&bytes).map_err(|e| corrupt_lock(&self.at.url(&key), e))?;
        Ok(Some((info, etag)))
    }

    /// Removes the lock if `id` names it; returns who held it.
    pub(super) fn unlock(&self, stack: &str, id: &str) -> Result<LockInfo, StateError> {
        let client = self.client();
        let key = self.at.lock_key();
        block(async {
            let Some((holder, etag)) = self.holder(&client).await? else {
                return Err(StateError::NotLocked { stack: stack.to_string() });
            };
            if holder.id != id {
                return Err(StateError::WrongLockId {
                    stack: stack.to_string(),
                    given: id.to_string(),
                    actual: holder.id,
                });
            }
            let owner = self.owner().await?;
            let delete = client.delete_object().bucket(&self.at.bucket).key(&key).expected_bucket_owner(owner);
            match delete.if_match(etag).send().await {
                Ok(_) => Ok(holder),
                // Replaced since we read it: by a new holder, whom we leave alone.
                Err(e) if e.code() == Some("PreconditionFailed") => {
                    Err(StateError::NotLocked { stack: stack.to_string() })
                }
                Err(e) => Err(self.remote_error(&key, aws_error("DeleteObject", e))),
            }
        })
    }

    /// Releases our lock `id`, leaving a lock that is no longer ours alone.
    pub(super) fn release(&self, stack: &str, id: &str) {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).take();
        let _ = self.unlock(stack, id);
    }

    /// An object's bytes and ETag; `None` when there is no such object.
    async fn get(&self, client: &Client, key: &str) -> Result<Option<(Vec<u8>, String)>, StateError> {
        let owner = self.owner().await?;
        let out = match client.get_object().bucket(&self.at.bucket).key(key).expected_bucket_owner(owner).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(self.remote_error(key, aws_error("GetObject", e))),
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let bytes = out.body.collect().await.map_err(|e| StateError::Remote {
            location: self.at.url(key),
            source: ProviderError::Invalid(format!("reading the object failed: {e}")),
        })?;
        Ok(Some((bytes.to_vec(), etag)))
    }

    /// The journal objects by serial.
    async fn list_journal(&self, client: &Client) -> Result<BTreeMap<u64, String>, StateError> {
        let prefix = self.at.journal_prefix();
        let owner = self.owner().await?;
        let list = client.list_objects_v2().bucket(&self.at.bucket).prefix(&prefix).expected_bucket_owner(owner);
        let mut pages = list.into_paginator().send();
        let mut found = BTreeMap::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.remote_error(&prefix, aws_error("ListObjectsV2", e)))?;
            for key in page.contents().iter().filter_map(|o| o.key()) {
                // Anything else under the prefix is not ours to read.
                if let Ok(serial) = key[prefix.len()..].parse::<u64>() {
                    found.insert(serial, key.to_string());
                }
            }
        }
        Ok(found)
    }

    /// Writes `body` to `key` under `condition`; returns the new ETag.
    ///
    /// A 412 may answer a retry of our own write that succeeded (the SDK
    /// retries a request whose answer was lost): when the object then holds
    /// exactly our bytes, the write is ours.
    async fn put(&self, client: &Client, key: &str, body: &[u8], condition: Condition) -> Result<String, PutError> {
        let mut conflicts = 0;
        let owner = self.owner().await.map_err(PutError::State)?;
        loop {
            let request = client
                .put_object()
                .bucket(&self.at.bucket)
                .key(key)
                .expected_bucket_owner(owner)
                .body(ByteStream::from(body.to_vec()));
            let request = match &condition {
                Condition::Absent => request.if_none_match("*"),
                Condition::Match(etag) => request.if_match(etag),
            };
            match request.send().await {
                Ok(out) => return Ok(out.e_tag().unwrap_or_default().to_string()),
                Err(e) if e.code() == Some("PreconditionFailed") => {
                    return match self.get(client, key).await {
                        Ok(Some((bytes, etag))) if bytes == body => Ok(etag),
                        _ => Err(PutError::Precondition),
                    };
                }
                Err(e) if e.code() == Some("ConditionalRequestConflict") && conflicts < CONFLICT_RETRIES => {
                    conflicts += 1;
                }
                Err(e) => return Err(PutError::Other(aws_error("PutObject", e))),
            }
        }
    }

    /// Deletes `keys`, up to a thousand a request.
    async fn delete_all(&self, client: &Client, keys: &[String]) -> Result<(), StateError> {
        for chunk in keys.chunks(1000) {
            let objects: Vec<ObjectIdentifier> = chunk
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build().expect("an object identifier has its key"))
                .collect();
            let delete = Delete::builder().set_objects(Some(objects)).quiet(true).build().expect("a delete");
            let out = client
                .delete_objects()
                .bucket(&self.at.bucket)
                .expected_bucket_owner(self.owner().await?)
                .delete(delete)
                .send()
                .await
                .map_err(|e| self.remote_error(&self.at.journal_prefix(), aws_error("DeleteObjects", e)))?;
            if let Some(failed) = out.errors().first() {
                return Err(self.remote_error(
                    failed.key().unwrap_or_default(),
                    ProviderError::Aws {
                        op: "DeleteObjects",
                        code: failed.code().unwrap_or("Unknown").to_string(),
                        message: failed.message().unwrap_or_default().to_string(),
                    },
                ));
            }
        }
        Ok(())
    }
}

/// What a conditional write expects to find.
enum Condition {
    /// No object.
    Absent,
    /// The object with this ETag.
    Match(String),
}

/// Now, as lock objects record times: RFC 3339, UTC.
fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

fn corrupt_lock(path: &std::path::Path, e: serde_json::Error) -> StateError {
    StateError::Corrupt { path: path.to_path_buf(), message: format!("lock object: {e}") }
}

fn utf8(path: &std::path::Path, bytes: Vec<u8>) -> Result<String, StateError> {
    String::from_utf8(bytes).map_err(|e| StateError::Corrupt {
        path: path.to_path_buf(),
        message: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
    })
}

/// What [`bootstrap`] did, one line per setting.
#[derive(Debug, Default)]
pub struct Bootstrap {
    pub created: bool,
    /// The settings it found already in place.
    pub kept: Vec<String>,
    /// The settings it put in place.
    pub set: Vec<String>,
}

/// A setting a state bucket needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setting {
    Versioning,
    Encryption,
    PublicAccess,
    TlsOnly,
    OwnerEnforced,
}

const SETTINGS: [Setting; 5] =
    [Setting::Versioning, Setting::Encryption, Setting::PublicAccess, Setting::TlsOnly, Setting::OwnerEnforced];

impl Setting {
    fn describe(self, kms_key_id: Option<&str>) -> String {
        match (self, kms_key_id) {
            (Setting::Versioning, _) => "versioning enabled".into(),
            (Setting::Encryption, None) => "default encryption".into(),
            (Setting::Encryption, Some(key)) => format!("default encryption with KMS key `{key}` and a bucket key"),
            (Setting::PublicAccess, _) => "all public access blocked".into(),
            (Setting::TlsOnly, _) => "a bucket policy denying requests without TLS".into(),
            (Setting::OwnerEnforced, _) => "object ownership BucketOwnerEnforced (ACLs disabled)".into(),
        }
    }
}

/// Creates the state bucket at `at` (its bucket, region and expected owner)
/// when missing, with versioning, default encryption (SSE-KMS with
/// `kms_key_id` and a bucket key, or SSE-S3), all public access blocked, a
/// bucket policy denying requests without TLS and object ownership
/// `BucketOwnerEnforced`; idempotent. An existing bucket lacking any of these
/// is refused, naming them, unless `fix`, which puts them in place (adding its
/// statement to an existing bucket policy, whose other statements it keeps).
/// A bucket another account owns is refused before anything else is asked.
pub fn bootstrap(at: Location, kms_key_id: Option<&str>, fix: bool) -> Result<Bootstrap, StateError> {
    let remote = Remote::new(at);
    let client = remote.client();
    block(remote.bootstrap(&client, kms_key_id, fix))
}

impl Remote {
    async fn bootstrap(&self, client: &Client, kms: Option<&str>, fix: bool) -> Result<Bootstrap, StateError> {
        let bucket = self.at.bucket.as_str();
        let owner = self.owner().await?;
        let mut report = Bootstrap::default();
        match client.head_bucket().bucket(bucket).expected_bucket_owner(owner).send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {
                let mut create = client.create_bucket().bucket(bucket);
                let region = client.config().region().map(|r| r.as_ref().to_string());
                if let Some(region) = region.filter(|r| r != "us-east-1") {
                    let constraint = BucketLocationConstraint::from(region.as_str());
                    create = create.create_bucket_configuration(
                        CreateBucketConfiguration::builder().location_constraint(constraint).build(),
                    );
                }
                match create.send().await {
                    Ok(_) => report.created = true,
                    // Created meanwhile by another bootstrap of ours: go on checking it.
                    Err(e) if e.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => {}
                    Err(e) => return Err(self.bucket_error("CreateBucket", e)),
                }
            }
            // HeadBucket's error has no body: a 403 is its only sign.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
                return Err(self.remote_error(
                    "",
                    ProviderError::Aws {
                        op: "HeadBucket",
                        code: "AccessDenied".into(),
                        message: "403 Forbidden".into(),
                    },
                ));
            }
            Err(e) => return Err(self.bucket_error("HeadBucket", e)),
        }
        let mut missing = Vec::new();
        for setting in SETTINGS {
            if !self.has(client, setting, kms).await? {
                missing.push(setting);
            }
        }
        if !report.created && !missing.is_empty() && !fix {
            let names: Vec<String> = missing.iter().map(|s| s.describe(kms)).collect();
            return Err(StateError::WeakBucket { bucket: bucket.to_string(), missing: names.join(", ") });
        }
        for setting in SETTINGS {
            if missing.contains(&setting) {
                self.put_setting(client, setting, kms).await?;
                report.set.push(setting.describe(kms));
            } else {
                report.kept.push(setting.describe(kms));
            }
        }
        Ok(report)
    }

    /// Whether the bucket has `setting` (with the KMS key `kms`, for encryption).
    async fn has(&self, client: &Client, setting: Setting, kms: Option<&str>) -> Result<bool, StateError> {
        let (bucket, owner) = (self.at.bucket.as_str(), self.owner().await?);
        Ok(match setting {
            Setting::Versioning => {
                let out = client.get_bucket_versioning().bucket(bucket).expected_bucket_owner(owner).send().await;
                out.map_err(|e| self.bucket_error("GetBucketVersioning", e))?.status()
                    == Some(&BucketVersioningStatus::Enabled)
            }
            Setting::Encryption => {
                match client.get_bucket_encryption().bucket(bucket).expected_bucket_owner(owner).send().await {
                    Ok(out) => {
                        let rules = out.server_side_encryption_configuration().map(|c| c.rules()).unwrap_or_default();
                        match kms {
                            None => !rules.is_empty(),
                            Some(key) => rules.iter().any(|rule| {
                                let default = rule.apply_server_side_encryption_by_default();
                                default.is_some_and(|d| {
                                    d.sse_algorithm() == &ServerSideEncryption::AwsKms
                                        && d.kms_master_key_id().is_some_and(|k| same_key(k, key))
                                }) && rule.bucket_key_enabled() == Some(true)
                            }),
                        }
                    }
                    Err(e) if e.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => false,
                    Err(e) => return Err(self.bucket_error("GetBucketEncryption", e)),
                }
            }
            Setting::PublicAccess => {
                match client.get_public_access_block().bucket(bucket).expected_bucket_owner(owner).send().await {
                    Ok(out) => out.public_access_block_configuration().is_some_and(|c| {
                        [
                            c.block_public_acls(),
                            c.ignore_public_acls(),
                            c.block_public_policy(),
                            c.restrict_public_buckets(),
                        ]
                        .iter()
                        .all(|b| *b == Some(true))
                    }),
                    Err(e) if e.code() == Some("NoSuchPublicAccessBlockConfiguration") => false,
                    Err(e) => return Err(self.bucket_error("GetPublicAccessBlock", e)),
                }
            }
            Setting::TlsOnly => {
                let policy = self.policy(client).await?;
                policy.is_some_and(|p| denies_insecure_transport(&p, &self.bucket_arns()))
            }
            Setting::OwnerEnforced => {
                match client.get_bucket_ownership_controls().bucket(bucket).expected_bucket_owner(owner).send().await {
                    Ok(out) => out.ownership_controls().is_some_and(|c| {
                        c.rules().iter().any(|r| r.object_ownership() == &ObjectOwnership::BucketOwnerEnforced)
                    }),
                    Err(e) if e.code() == Some("OwnershipControlsNotFoundError") => false,
                    Err(e) => return Err(self.bucket_error("GetBucketOwnershipControls", e)),
                }
            }
        })
    }

    /// The bucket's policy document; `None` when it has none.
    async fn policy(&self, client: &Client) -> Result<Option<serde_json::Value>, StateError> {
        let owner = self.owner().await?;
        match client.get_bucket_policy().bucket(&self.at.bucket).expected_bucket_owner(owner).send().await {
            Ok(out) => {
                let text = out.policy().unwrap_or("{}");
                serde_json::from_str(text).map(Some).map_err(|e| StateError::Corrupt {
                    path: self.at.url(""),
                    message: format!("the bucket policy is not JSON: {e}"),
                })
            }
            Err(e) if e.code() == Some("NoSuchBucketPolicy") => Ok(None),
            Err(e) => Err(self.bucket_error("GetBucketPolicy", e)),
        }
    }

    /// The bucket's ARN and that of its objects.
    fn bucket_arns(&self) -> [String; 2] {
        let partition = match self.at.region.as_deref() {
            Some(r) if r.starts_with("cn-") => "aws-cn",
            Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
            _ => "aws",
        };
        let bucket = format!("arn:{partition}:s3:::{}", self.at.bucket);
        [bucket.clone(), format!("{bucket}/*")]
    }

    /// Puts `setting` in place.
    async fn put_setting(&self, client: &Client, setting: Setting, kms: Option<&str>) -> Result<(), StateError> {
        let (bucket, owner) = (self.at.bucket.as_str(), self.owner().await?);
        match setting {
            Setting::Versioning => client
                .put_bucket_versioning()
                .bucket(bucket)
                .expected_bucket_owner(owner)
                .versioning_configuration(
                    VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.bucket_error("PutBucketVersioning", e)),
            Setting::Encryption => {
                let default = match kms {
                    None => ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256),
                    Some(key) => ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::AwsKms)
                        .kms_master_key_id(key),
                };
                let default = default.build().map_err(|e| self.invalid("PutBucketEncryption", e))?;
                // A bucket key cuts the KMS requests SSE-KMS makes (and their cost):
                // https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html
                let rule = ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(default)
                    .bucket_key_enabled(kms.is_some())
                    .build();
                let config = ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| self.invalid("PutBucketEncryption", e))?;
                client
                    .put_bucket_encryption()
                    .bucket(bucket)
                    .expected_bucket_owner(owner)
                    .server_side_encryption_configuration(config)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| self.bucket_error("PutBucketEncryption", e))
            }
            Setting::PublicAccess => client
                .put_public_access_block()
                .bucket(bucket)
                .expected_bucket_owner(owner)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.bucket_error("PutPublicAccessBlock", e)),
            Setting::TlsOnly => {
                // The same statement a declared bucket's `tls_only` keeps, added
                // beside the policy's others (a statement of ours is replaced).
                let existing = self.policy(client).await?.map(|p| p.to_string());
                let [arn, _] = self.bucket_arns();
                let policy = s3_bucket::effective_policy(existing.as_deref(), true, &arn).unwrap_or_default();
                client
                    .put_bucket_policy()
                    .bucket(bucket)
                    .expected_bucket_owner(owner)
                    .policy(policy)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| self.bucket_error("PutBucketPolicy", e))
            }
            Setting::OwnerEnforced => {
                let rule = OwnershipControlsRule::builder()
                    .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                    .build()
                    .map_err(|e| self.invalid("PutBucketOwnershipControls", e))?;
                let controls = OwnershipControls::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| self.invalid("PutBucketOwnershipControls", e))?;
                client
                    .put_bucket_ownership_controls()
                    .bucket(bucket)
                    .expected_bucket_owner(owner)
                    .ownership_controls(controls)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| self.bucket_error("PutBucketOwnershipControls", e))
            }
        }
    }

    /// A request that could not be built.
    fn invalid(&self, op: &str, e: impl std::fmt::Display) -> StateError {
        self.remote_error("", ProviderError::Invalid(format!("{op}: {e}")))
    }
}

/// Whether `key` (as a bucket's encryption names it: an id or an ARN) is `wanted`.
fn same_key(key: &str, wanted: &str) -> bool {
    key == wanted || key.ends_with(&format!("/{wanted}")) || wanted.ends_with(&format!("/{key}"))
}

/// Whether `policy` has a statement denying all S3 actions on both `arns` to
/// everyone when `aws:SecureTransport` is false, as AWS's example has it
/// ("Enforce encryption of data in transit",
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html#transit>).
fn denies_insecure_transport(policy: &serde_json::Value, arns: &[String; 2]) -> bool {
    let as_list = |v: Option<&serde_json::Value>| -> Vec<String> {
        match v {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(items)) => {
                items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect()
            }
            _ => vec![],
        }
    };
    let statements = match policy.get("Statement") {
        Some(serde_json::Value::Array(items)) => items.clone(),
        Some(one @ serde_json::Value::Object(_)) => vec![one.clone()],
        _ => vec![],
    };
    statements.iter().any(|st| {
        let everyone = match st.get("Principal") {
            Some(serde_json::Value::String(p)) => p == "*",
            Some(p) => as_list(p.get("AWS")).iter().any(|a| a == "*"),
            None => false,
        };
        let resources = as_list(st.get("Resource"));
        let condition = st.pointer("/Condition/Bool/aws:SecureTransport");
        st.get("Effect").and_then(|e| e.as_str()) == Some("Deny")
            && everyone
            && as_list(st.get("Action")).iter().any(|a| a == "s3:*" || a == "*")
            && arns.iter().all(|arn| resources.contains(arn))
            && as_list(condition).iter().any(|v| v.eq_ignore_ascii_case("false"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arns() -> [String; 2] {
        ["arn:aws:s3:::b".to_string(), "arn:aws:s3:::b/*".to_string()]
    }

    fn with_tls_only(policy: Option<&serde_json::Value>) -> serde_json::Value {
        let text = policy.map(|p| p.to_string());
        serde_json::from_str(&s3_bucket::effective_policy(text.as_deref(), true, &arns()[0]).unwrap()).unwrap()
    }

    #[test]
    fn the_tls_only_statement_is_added_beside_a_policys_other_statements_and_recognised() {
        let other = serde_json::json!({"Sid": "ReadForCi", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"});
        let existing = serde_json::json!({"Version": "2012-10-17", "Statement": [other.clone()]});
        assert!(!denies_insecure_transport(&existing, &arns()));
        let fixed = with_tls_only(Some(&existing));
        assert!(denies_insecure_transport(&fixed, &arns()), "{fixed}");
        let statements = fixed["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0], other, "the other statement is kept as it was");
        // Fixing again replaces ours rather than adding another.
        assert_eq!(with_tls_only(Some(&fixed))["Statement"].as_array().unwrap().len(), 2);
        assert!(denies_insecure_transport(&with_tls_only(None), &arns()));
    }

    #[test]
    fn a_tls_statement_that_misses_the_objects_or_allows_does_not_count() {
        let tls = with_tls_only(None)["Statement"][0].clone();
        let mut st = tls.clone();
        st["Resource"] = serde_json::json!("arn:aws:s3:::b");
        assert!(!denies_insecure_transport(&serde_json::json!({"Statement": [st]}), &arns()));
        let mut st = tls;
        st["Effect"] = serde_json::json!("Allow");
        assert!(!denies_insecure_transport(&serde_json::json!({"Statement": st}), &arns()));
    }

    #[test]
    fn a_lease_is_taken_over_only_after_it_and_a_grace_and_waited_for_twice_over() {
        let lease = Duration::from_secs(60);
        assert_eq!(takeover_after(lease), Duration::from_secs(66));
        assert_eq!(max_wait(lease), Duration::from_secs(126));
        assert_eq!(renew_every(lease), Duration::from_secs(20));
        assert_eq!(takeover_after(Duration::from_secs(2)), Duration::from_millis(2500));
    }
}
