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

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{LockInfo, StateError};
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
}

impl Location {
    pub fn new(bucket: &str, key_prefix: &str, stack: &str, region: Option<&str>) -> Self {
        Location {
            bucket: bucket.to_string(),
            base: format!("{key_prefix}{stack}"),
            region: region.map(str::to_string),
        }
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
    /// The state object's ETag as this command last read or wrote it (`None`:
    /// there was none); unset until it is read.
    etag: Mutex<Option<Option<String>>>,
    /// Journal objects known to exist: listed by a load or written here. The
    /// next write of the state object removes them.
    journal: Mutex<BTreeSet<String>>,
    /// Whether the bucket was found to keep versions.
    versioned: OnceLock<()>,
}

/// A conditional write's outcome apart from success.
enum PutError {
    /// The precondition failed: somebody else's object is there.
    Precondition,
    Other(ProviderError),
}

impl Remote {
    pub(super) fn new(at: Location) -> Self {
        Remote {
            at,
            client: OnceLock::new(),
            etag: Mutex::new(None),
            journal: Mutex::new(BTreeSet::new()),
            versioned: OnceLock::new(),
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
                crate::provider::s3_client(&config)
            })
            .clone()
    }

    fn remote_error(&self, key: &str, e: ProviderError) -> StateError {
        if e.code() == Some("NoSuchBucket") {
            return StateError::NoBucket { bucket: self.at.bucket.clone() };
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
        let out = client
            .get_bucket_versioning()
            .bucket(&self.at.bucket)
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
        let seen = self.etag.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let condition = match seen {
            Some(Some(etag)) => Condition::Match(etag),
            // Never read: only a first write can be safe.
            Some(None) | None => Condition::Absent,
        };
        let etag = block(self.put(&client, &key, text.as_bytes(), condition)).map_err(|e| match e {
            PutError::Precondition => StateError::Conflict { location: self.at.url(&key) },
            PutError::Other(e) => self.remote_error(&key, e),
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
        block(self.put(&client, &key, line.as_bytes(), Condition::Absent)).map_err(|e| match e {
            PutError::Precondition => StateError::Conflict { location: self.at.url(&key) },
            PutError::Other(e) => self.remote_error(&key, e),
        })?;
        self.journal.lock().unwrap_or_else(|e| e.into_inner()).insert(key);
        Ok(())
    }

    /// Takes the lock for `info`, or fails naming the holder.
    pub(super) fn lock(&self, stack: &str, info: &LockInfo) -> Result<(), StateError> {
        let client = self.client();
        let key = self.at.lock_key();
        let body = serde_json::to_vec_pretty(info).expect("lock info serialises");
        block(async {
            self.check_versioning(&client).await?;
            loop {
                match self.put(&client, &key, &body, Condition::Absent).await {
                    Ok(_) => return Ok(()),
                    Err(PutError::Other(e)) => return Err(self.remote_error(&key, e)),
                    Err(PutError::Precondition) => {}
                }
                // Released between our PUT and this read: try again.
                let Some(holder) = self.holder(&client).await? else { continue };
                return if holder.0.id == info.id {
                    Ok(())
                } else {
                    Err(StateError::LockedRemote { stack: stack.to_string(), holder: Box::new(holder.0) })
                };
            }
        })
    }

    /// The lock's holder and the lock object's ETag, if it is held.
    async fn holder(&self, client: &Client) -> Result<Option<(LockInfo, String)>, StateError> {
        let key = self.at.lock_key();
        let Some((bytes, etag)) = self.get(client, &key).await? else { return Ok(None) };
        let info = serde_json::from_slice(&bytes)
            .map_err(|e| StateError::Corrupt { path: self.at.url(&key), message: format!("lock object: {e}") })?;
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
            match client.delete_object().bucket(&self.at.bucket).key(&key).if_match(etag).send().await {
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
        let _ = self.unlock(stack, id);
    }

    /// An object's bytes and ETag; `None` when there is no such object.
    async fn get(&self, client: &Client, key: &str) -> Result<Option<(Vec<u8>, String)>, StateError> {
        let out = match client.get_object().bucket(&self.at.bucket).key(key).send().await {
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
        let mut pages = client.list_objects_v2().bucket(&self.at.bucket).prefix(&prefix).into_paginator().send();
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
        loop {
            let request = client.put_object().bucket(&self.at.bucket).key(key).body(ByteStream::from(body.to_vec()));
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
    pub kept: Vec<&'static str>,
    /// The settings it put in place.
    pub set: Vec<&'static str>,
}

const VERSIONING: &str = "versioning enabled";
const ENCRYPTION: &str = "default encryption";
const PUBLIC_ACCESS: &str = "all public access blocked";

/// Creates the state bucket `bucket` in `region` when missing, with versioning,
/// default encryption (SSE-S3) and all public access blocked; idempotent. An
/// existing bucket lacking any of these is refused unless `fix`, which puts
/// them in place.
pub fn bootstrap(bucket: &str, region: Option<&str>, fix: bool) -> Result<Bootstrap, StateError> {
    let at = Location::new(bucket, "", "", region);
    let remote = Remote::new(at);
    let client = remote.client();
    block(remote.bootstrap(&client, fix))
}

impl Remote {
    async fn bootstrap(&self, client: &Client, fix: bool) -> Result<Bootstrap, StateError> {
        let bucket = self.at.bucket.as_str();
        let mut report = Bootstrap::default();
        match client.head_bucket().bucket(bucket).send().await {
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
            Err(e) => return Err(self.bucket_error("HeadBucket", e)),
        }
        let (versioning, encryption, public) = tokio::join!(
            client.get_bucket_versioning().bucket(bucket).send(),
            client.get_bucket_encryption().bucket(bucket).send(),
            client.get_public_access_block().bucket(bucket).send(),
        );
        let versioned = versioning.map_err(|e| self.bucket_error("GetBucketVersioning", e))?.status()
            == Some(&BucketVersioningStatus::Enabled);
        let encrypted = match encryption {
            Ok(out) => out.server_side_encryption_configuration().is_some_and(|c| !c.rules().is_empty()),
            Err(e) if e.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => false,
            Err(e) => return Err(self.bucket_error("GetBucketEncryption", e)),
        };
        let blocked = match public {
            Ok(out) => out.public_access_block_configuration().is_some_and(|c| {
                [c.block_public_acls(), c.ignore_public_acls(), c.block_public_policy(), c.restrict_public_buckets()]
                    .iter()
                    .all(|b| *b == Some(true))
            }),
            Err(e) if e.code() == Some("NoSuchPublicAccessBlockConfiguration") => false,
            Err(e) => return Err(self.bucket_error("GetPublicAccessBlock", e)),
        };
        let settings = [(VERSIONING, versioned), (ENCRYPTION, encrypted), (PUBLIC_ACCESS, blocked)];
        let missing: Vec<&str> = settings.iter().filter(|(_, ok)| !ok).map(|(name, _)| *name).collect();
        if !report.created && !missing.is_empty() && !fix {
            return Err(StateError::WeakBucket { bucket: bucket.to_string(), missing: missing.join(", ") });
        }
        for (name, ok) in settings {
            if ok {
                report.kept.push(name);
                continue;
            }
            match name {
                VERSIONING => client
                    .put_bucket_versioning()
                    .bucket(bucket)
                    .versioning_configuration(
                        VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
                    )
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| self.bucket_error("PutBucketVersioning", e))?,
                ENCRYPTION => {
                    let default = ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::Aes256)
                        .build()
                        .expect("an encryption default has its algorithm");
                    let rule =
                        ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build();
                    let config = ServerSideEncryptionConfiguration::builder()
                        .rules(rule)
                        .build()
                        .expect("an encryption configuration has its rules");
                    client
                        .put_bucket_encryption()
                        .bucket(bucket)
                        .server_side_encryption_configuration(config)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| self.bucket_error("PutBucketEncryption", e))?
                }
                _ => client
                    .put_public_access_block()
                    .bucket(bucket)
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
                    .map_err(|e| self.bucket_error("PutPublicAccessBlock", e))?,
            }
            report.set.push(name);
        }
        Ok(report)
    }
}
