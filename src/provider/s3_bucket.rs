//! `s3.bucket`: an S3 bucket with versioning, default encryption, public access
//! blocked, and tags.
//!
//! S3 has no batched read of bucket settings. `read_many` lists the buckets once
//! (`ListBuckets`, one call per page) to learn which exist, then reads each
//! existing one with six calls run concurrently (`GetBucketVersioning`,
//! `GetBucketEncryption`, `GetPublicAccessBlock`, `GetBucketTagging`,
//! `GetBucketNotificationConfiguration`, `GetBucketPolicy`): a read costs
//! 1 + 6 × buckets calls.
//!
//! `policy` is the bucket policy: PutBucketPolicy after the public access
//! block (so a policy the block refuses fails the create, not later),
//! DeleteBucketPolicy when the stack drops it; read back as S3 stores it and
//! compared in canonical form (`canonical_policy`), so a plan after an apply
//! is empty. A bucket without one reads as no `policy`. `tls_only` puts its
//! statement in the same policy ([`effective_policy`]), and a read takes it
//! out again ([`split_policy`]).
//! `find_tagged` reads the tags of every bucket of the account (one call
//! each), then the settings of those the stack owns; it only runs when a
//! declared bucket is missing from state.
//!
//! `eventbridge` is the one part of the bucket's notification configuration the
//! stack manages: whether S3 sends the bucket's events to EventBridge
//! (`EventBridgeConfiguration`, https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html).
//! PutBucketNotificationConfiguration replaces the whole configuration, so a
//! change reads it first and puts back the topic, queue and function
//! configurations it found beside the flag.
//!
//! `force_destroy` is local: it is never sent to or read from AWS, and only
//! decides whether `delete` may empty a bucket that still holds objects.
//!
//! The bucket name is its id. Without a declared `bucket` it is
//! `<stack>-<resource>-<8 hex digits>`, lowercased, with `_` as `-`, at most 63
//! characters. The digits are the first of the create's idempotency token, which
//! is random and which the executor journals in state before the call:
//! CreateBucket takes no tags, so a create interrupted before `PutBucketTagging`
//! leaves a bucket the ownership tags cannot find, and `find_created` finds it by
//! that name instead. A retried create has a new token, hence a new name.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete, EventBridgeConfiguration,
    NotificationConfiguration, ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
    VersioningConfiguration,
};
use aws_smithy_types::error::operation::BuildError;
use futures::{StreamExt, TryStreamExt};

use super::iam_role::{owned_by, owned_name};
use super::shared::{ok_if_gone, put};
use super::wait::{self, Backoff};
use super::{Ctx, Observed, Provider, ProviderError, Tagged, aws_error, name_suffix, tags_of, token_suffix};
pub use crate::model::kinds::s3_bucket::SCHEMA;
use crate::model::kinds::s3_bucket::{MAX_NAME, effective_policy, split_policy};
use crate::model::{Kind, Props, Value};

/// How many buckets are read at once.
const CONCURRENT_READS: usize = 8;

/// The most keys one DeleteObjects call takes.
const DELETE_BATCH: usize = 1000;

const NO_SUCH_BUCKET: &str = "NoSuchBucket";

/// `<stack>-<resource>-<8 hex digits>`, as S3 allows it: the digits from the
/// create's token, or random without one ([`name_suffix`]). Every bucket's
/// name differs, so a replacement can always be created first.
fn default_name(ctx: &Ctx) -> String {
    name_with_suffix(&ctx.stack, &ctx.name, &name_suffix(&ctx.client_token))
}

fn name_with_suffix(stack: &str, resource: &str, suffix: &str) -> String {
    let prefix: String = format!("{stack}-{resource}")
        .to_lowercase()
        .replace('_', "-")
        .chars()
        .take(MAX_NAME - suffix.len() - 1)
        .collect();
    format!("{prefix}-{suffix}")
}

fn built<T>(r: Result<T, BuildError>) -> Result<T, ProviderError> {
    r.map_err(|e| ProviderError::Invalid(e.to_string()))
}

/// The result of a read that S3 answers with `absent_code` when the setting was
/// never made: `Ok(None)` then.
fn unless_absent<T>(r: Result<T, ProviderError>, absent_code: &str) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code() == Some(absent_code) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One bucket's settings and tags, or `None` when the bucket is gone. (Owned
/// arguments, so that concurrent reads borrow nothing.)
async fn read_bucket(s3: aws_sdk_s3::Client, name: String) -> Result<Option<Observed>, ProviderError> {
    let (versioning, encryption, public_access, tags, notifications, policy) = tokio::join!(
        s3.get_bucket_versioning().bucket(&name).send(),
        s3.get_bucket_encryption().bucket(&name).send(),
        s3.get_public_access_block().bucket(&name).send(),
        s3.get_bucket_tagging().bucket(&name).send(),
        s3.get_bucket_notification_configuration().bucket(&name).send(),
        s3.get_bucket_policy().bucket(&name).send(),
    );
    let versioning = versioning.map_err(|e| aws_error("GetBucketVersioning", e));
    let encryption = encryption.map_err(|e| aws_error("GetBucketEncryption", e));
    let public_access = public_access.map_err(|e| aws_error("GetPublicAccessBlock", e));
    let tags = tags.map_err(|e| aws_error("GetBucketTagging", e));
    let notifications = notifications.map_err(|e| aws_error("GetBucketNotificationConfiguration", e));
    let policy = policy.map_err(|e| aws_error("GetBucketPolicy", e));
    // Deleted since it was listed.
    let codes = [
        versioning.as_ref().err(),
        encryption.as_ref().err(),
        public_access.as_ref().err(),
        tags.as_ref().err(),
        notifications.as_ref().err(),
        policy.as_ref().err(),
    ];
    if codes.iter().flatten().any(|e| e.code() == Some(NO_SUCH_BUCKET)) {
        return Ok(None);
    }
    let versioning = versioning?;
    let encryption = unless_absent(encryption, "ServerSideEncryptionConfigurationNotFoundError")?;
    let public_access = unless_absent(public_access, "NoSuchPublicAccessBlockConfiguration")?;
    let tags = unless_absent(tags, "NoSuchTagSet")?;
    let eventbridge = notifications?.event_bridge_configuration().is_some();
    let policy = unless_absent(policy, "NoSuchBucketPolicy")?;

    let mut props = Props::new();
    props.insert("bucket".into(), Value::from(name.as_str()));
    props.insert("versioning".into(), Value::Bool(versioning.status() == Some(&BucketVersioningStatus::Enabled)));
    let algorithm = encryption.as_ref().and_then(|e| {
        let rule = e.server_side_encryption_configuration()?.rules().first()?;
        Some(rule.apply_server_side_encryption_by_default()?.sse_algorithm().as_str())
    });
    put(&mut props, "encryption", algorithm);
    // Fully blocked only when all four settings are on; anything less reads as false.
    let blocked = public_access.as_ref().and_then(|p| p.public_access_block_configuration()).is_some_and(|c| {
        [c.block_public_acls(), c.ignore_public_acls(), c.block_public_policy(), c.restrict_public_buckets()]
            .iter()
            .all(|s| *s == Some(true))
    });
    props.insert("block_public_access".into(), Value::Bool(blocked));
    props.insert("eventbridge".into(), Value::Bool(eventbridge));
    let (tls_only, policy) = policy.as_ref().and_then(|p| p.policy()).map_or((false, None), split_policy);
    props.insert("tls_only".into(), Value::Bool(tls_only));
    put(&mut props, "policy", policy.as_deref());
    let tag_set = tags.as_ref().map(|t| t.tag_set()).unwrap_or_default();
    props.insert("tags".into(), tags_value(tag_set));

    let outputs = outputs_of(&name);
    Ok(Some(Observed { id: name, props, outputs }))
}

/// A bucket's ARN.
fn bucket_arn(name: &str) -> String {
    format!("arn:aws:s3:::{name}")
}

/// A bucket's outputs: its name and ARN.
fn outputs_of(name: &str) -> Props {
    Props::from([
        ("id".to_string(), Value::from(name)),
        ("bucket".to_string(), Value::from(name)),
        ("arn".to_string(), Value::from(bucket_arn(name))),
    ])
}

/// A bucket's tags, or `None` when the bucket is gone.
async fn read_tags(s3: aws_sdk_s3::Client, name: String) -> Result<Option<(String, Value)>, ProviderError> {
    match s3.get_bucket_tagging().bucket(&name).send().await.map_err(|e| aws_error("GetBucketTagging", e)) {
        Ok(out) => Ok(Some((name, tags_value(out.tag_set())))),
        Err(e) if e.code() == Some("NoSuchTagSet") => Ok(Some((name, Value::Map(BTreeMap::new())))),
        Err(e) if e.code() == Some(NO_SUCH_BUCKET) => Ok(None),
        Err(e) => Err(e),
    }
}

fn tags_value(tags: &[Tag]) -> Value {
    Value::Map(tags.iter().map(|t| (t.key().to_string(), Value::from(t.value()))).collect())
}

/// Runs `reads` at most [`CONCURRENT_READS`] at a time; keeps what they found.
async fn concurrently<T>(
    reads: Vec<impl Future<Output = Result<Option<T>, ProviderError>>>,
) -> Result<Vec<T>, ProviderError> {
    let found: Vec<Option<T>> = futures::stream::iter(reads).buffer_unordered(CONCURRENT_READS).try_collect().await?;
    Ok(found.into_iter().flatten().collect())
}

/// S3 buckets.
pub struct Buckets {
    client: aws_sdk_s3::Client,
}

impl Buckets {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Buckets { client }
    }

    /// The names of every bucket of the account, all pages.
    async fn list_names(&self) -> Result<Vec<String>, ProviderError> {
        let mut pages = self.client.list_buckets().into_paginator().send();
        let mut names = Vec::new();
        while let Some(page) = pages.try_next().await.map_err(|e| aws_error("ListBuckets", e))? {
            names.extend(page.buckets().iter().filter_map(|b| b.name()).map(str::to_string));
        }
        Ok(names)
    }

    async fn read_one(&self, name: &str) -> Result<Option<Observed>, ProviderError> {
        read_bucket(self.client.clone(), name.to_string()).await
    }

    fn region(&self) -> Option<String> {
        self.client.config().region().map(|r| r.to_string())
    }

    async fn create_bucket(&self, name: &str) -> Result<(), ProviderError> {
        // us-east-1 is the default location and refuses to be named as a constraint.
        let location = self.region().filter(|r| r != "us-east-1").map(|r| {
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(r.as_str())).build()
        });
        let call = self.client.create_bucket().bucket(name).set_create_bucket_configuration(location);
        call.send().await.map_err(|e| aws_error("CreateBucket", e))?;
        Ok(())
    }

    /// Whether the bucket can be seen yet (S3 may take a moment after a create).
    async fn exists(&self, name: &str) -> Result<Option<()>, ProviderError> {
        match self.client.head_bucket().bucket(name).send().await.map_err(|e| aws_error("HeadBucket", e)) {
            Ok(_) => Ok(Some(())),
            Err(e) if matches!(e.code(), Some("NotFound" | NO_SUCH_BUCKET)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn put_versioning(&self, name: &str, enabled: bool) -> Result<(), ProviderError> {
        let status = if enabled { BucketVersioningStatus::Enabled } else { BucketVersioningStatus::Suspended };
        let config = VersioningConfiguration::builder().status(status).build();
        let call = self.client.put_bucket_versioning().bucket(name).versioning_configuration(config);
        call.send().await.map_err(|e| aws_error("PutBucketVersioning", e))?;
        Ok(())
    }

    async fn put_encryption(&self, name: &str, algorithm: &str) -> Result<(), ProviderError> {
        let default = built(
            ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::from(algorithm)).build(),
        )?;
        let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build();
        let config = built(ServerSideEncryptionConfiguration::builder().rules(rule).build())?;
        let call = self.client.put_bucket_encryption().bucket(name).server_side_encryption_configuration(config);
        call.send().await.map_err(|e| aws_error("PutBucketEncryption", e))?;
        Ok(())
    }

    async fn put_public_access_block(&self, name: &str, blocked: bool) -> Result<(), ProviderError> {
        let config = PublicAccessBlockConfiguration::builder()
            .block_public_acls(blocked)
            .ignore_public_acls(blocked)
            .block_public_policy(blocked)
            .restrict_public_buckets(blocked)
            .build();
        let call = self.client.put_public_access_block().bucket(name).public_access_block_configuration(config);
        call.send().await.map_err(|e| aws_error("PutPublicAccessBlock", e))?;
        Ok(())
    }

    /// Turns the bucket's events to EventBridge on or off, keeping the rest of
    /// its notification configuration as S3 reports it.
    async fn put_eventbridge(&self, name: &str, enabled: bool) -> Result<(), ProviderError> {
        let current = self
            .client
            .get_bucket_notification_configuration()
            .bucket(name)
            .send()
            .await
            .map_err(|e| aws_error("GetBucketNotificationConfiguration", e))?;
        let config = NotificationConfiguration::builder()
            .set_topic_configurations(current.topic_configurations)
            .set_queue_configurations(current.queue_configurations)
            .set_lambda_function_configurations(current.lambda_function_configurations)
            .set_event_bridge_configuration(enabled.then(|| EventBridgeConfiguration::builder().build()))
            .build();
        self.put_notifications(name, config).await
    }

    async fn put_notifications(&self, name: &str, config: NotificationConfiguration) -> Result<(), ProviderError> {
        let call = self.client.put_bucket_notification_configuration().bucket(name).notification_configuration(config);
        call.send().await.map_err(|e| aws_error("PutBucketNotificationConfiguration", e))?;
        Ok(())
    }

    /// Replaces the bucket's tag set (S3 has no per-tag calls); removes it when empty.
    /// Puts the bucket policy, or deletes it when there is none.
    async fn put_policy(&self, name: &str, policy: Option<&str>) -> Result<(), ProviderError> {
        match policy {
            Some(policy) => self
                .client
                .put_bucket_policy()
                .bucket(name)
                .policy(policy)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error("PutBucketPolicy", e)),
            None => self
                .client
                .delete_bucket_policy()
                .bucket(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error("DeleteBucketPolicy", e)),
        }
    }

    async fn put_tags(&self, name: &str, tags: &[(String, String)]) -> Result<(), ProviderError> {
        if tags.is_empty() {
            let call = self.client.delete_bucket_tagging().bucket(name);
            call.send().await.map_err(|e| aws_error("DeleteBucketTagging", e))?;
            return Ok(());
        }
        let tag_set =
            tags.iter().map(|(k, v)| built(Tag::builder().key(k).value(v).build())).collect::<Result<_, _>>()?;
        let tagging = built(Tagging::builder().set_tag_set(Some(tag_set)).build())?;
        let call = self.client.put_bucket_tagging().bucket(name).tagging(tagging);
        call.send().await.map_err(|e| aws_error("PutBucketTagging", e))?;
        Ok(())
    }

    /// The first page (up to 1000) of the bucket's object versions and delete markers.
    async fn some_versions(&self, name: &str) -> Result<Vec<ObjectIdentifier>, ProviderError> {
        let out = self
            .client
            .list_object_versions()
            .bucket(name)
            .send()
            .await
            .map_err(|e| aws_error("ListObjectVersions", e))?;
        let versions = out.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = out.delete_markers().iter().map(|m| (m.key(), m.version_id()));
        versions
            .chain(markers)
            .filter_map(|(key, version)| Some((key?, version)))
            .map(|(key, version)| {
                built(ObjectIdentifier::builder().key(key).set_version_id(version.map(str::to_string)).build())
            })
            .collect()
    }

    /// Deletes the given object versions, [`DELETE_BATCH`] per call.
    async fn delete_versions(&self, name: &str, versions: Vec<ObjectIdentifier>) -> Result<(), ProviderError> {
        for batch in versions.chunks(DELETE_BATCH) {
            let delete = built(Delete::builder().set_objects(Some(batch.to_vec())).quiet(true).build())?;
            let out = self
                .client
                .delete_objects()
                .bucket(name)
                .delete(delete)
                .send()
                .await
                .map_err(|e| aws_error("DeleteObjects", e))?;
            if let Some(err) = out.errors().first() {
                return Err(ProviderError::Aws {
                    op: "DeleteObjects",
                    code: err.code().unwrap_or("Unknown").to_string(),
                    message: format!("{}: {}", err.key().unwrap_or_default(), err.message().unwrap_or_default()),
                });
            }
        }
        Ok(())
    }

    /// Empties the bucket when `force_destroy` allows it (refuses otherwise), then deletes it.
    async fn try_delete(&self, ctx: &Ctx, name: &str, force_destroy: bool) -> Result<(), ProviderError> {
        let mut versions = self.some_versions(name).await?;
        if !versions.is_empty() && !force_destroy {
            return Err(ProviderError::Invalid(format!(
                "bucket {name} is not empty; set force_destroy = true to delete it with its objects"
            )));
        }
        // Each pass deletes what the first page lists, until nothing is left.
        while !versions.is_empty() {
            ctx.status(&format!("deleting {} object versions", versions.len()));
            self.delete_versions(name, versions).await?;
            versions = self.some_versions(name).await?;
        }
        self.client.delete_bucket().bucket(name).send().await.map_err(|e| aws_error("DeleteBucket", e))?;
        Ok(())
    }
}

fn bool_prop(props: &Props, key: &str) -> Option<bool> {
    props.get(key).and_then(Value::as_bool)
}

/// The value of `key` in `after` when it differs from `before`.
fn changed<'a>(before: &Props, after: &'a Props, key: &str) -> Option<&'a Value> {
    after.get(key).filter(|v| before.get(key) != Some(*v))
}

#[async_trait]
impl Provider for Buckets {
    fn kind(&self) -> Kind {
        Kind::Bucket
    }

    /// Reads each bucket by name while ListBuckets runs beside the reads: a
    /// bucket the account no longer lists is gone, even when its name now
    /// answers for another account (AccessDenied).
    async fn read_many(&self, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let reads = ids.iter().map(|n| async move { (n, read_bucket(self.client.clone(), n.clone()).await) });
        let (listed, reads) = tokio::join!(self.list_names(), futures::future::join_all(reads));
        let listed = listed?;
        let mut found = BTreeMap::new();
        for (name, read) in reads {
            if !listed.contains(name) {
                continue;
            }
            if let Some(o) = read? {
                found.insert(o.id.clone(), o);
            }
        }
        Ok(found)
    }

    async fn find_tagged(&self, stack: &str) -> Result<Tagged, ProviderError> {
        let reads: Vec<_> = self.list_names().await?.into_iter().map(|n| read_tags(self.client.clone(), n)).collect();
        let owned: Vec<_> = concurrently(reads)
            .await?
            .into_iter()
            .filter(|(_, tags)| owned_name(tags, stack).is_some())
            .map(|(name, _)| read_bucket(self.client.clone(), name))
            .collect();
        Ok(owned_by(stack, concurrently(owned).await?))
    }

    /// The bucket with the default name the create with this token gave it
    /// (only that create could have made a bucket of that name).
    async fn find_created(
        &self,
        stack: &str,
        name: &str,
        client_token: &str,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(suffix) = token_suffix(client_token) else { return Ok(None) };
        self.read_one(&name_with_suffix(stack, name, &suffix)).await
    }

    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError> {
        let props = SCHEMA.normalized(props);
        let name = match props.get("bucket").and_then(Value::as_str) {
            Some(n) => n.to_string(),
            None => default_name(ctx),
        };
        self.create_bucket(&name).await?;
        // Tagged first, so that a later run can find it by its tags from then
        // on. S3 may not know the new bucket for a moment: the tagging is
        // retried, not preceded by a read.
        let tags = tags_of(&props);
        wait::retrying(ctx, &format!("bucket {name} to appear"), Backoff::default(), || async {
            let tagged = if tags.is_empty() {
                self.exists(&name).await.map(|e| e.is_some())
            } else {
                match self.put_tags(&name, &tags).await {
                    Ok(()) => Ok(true),
                    Err(e) if e.code() == Some(NO_SUCH_BUCKET) => Ok(false),
                    Err(e) => Err(e),
                }
            };
            tagged.map(|done| done.then_some(()))
        })
        .await?;
        ctx.status("configuring the bucket");
        let algorithm = props.get("encryption").and_then(Value::as_str).unwrap_or("AES256");
        let blocked = bool_prop(&props, "block_public_access").unwrap_or(true);
        let versioned = bool_prop(&props, "versioning").unwrap_or(true);
        let eventbridge = bool_prop(&props, "eventbridge").unwrap_or(false);
        // A bucket is created unversioned; versioning once on can only be suspended.
        let versioning = async { if versioned { self.put_versioning(&name, true).await } else { Ok(()) } };
        // A bucket is created without notifications: there is nothing to keep.
        let events = async {
            if eventbridge {
                let config = NotificationConfiguration::builder()
                    .event_bridge_configuration(EventBridgeConfiguration::builder().build())
                    .build();
                self.put_notifications(&name, config).await
            } else {
                Ok(())
            }
        };
        let policy = props.get("policy").and_then(Value::as_str);
        let tls_only = bool_prop(&props, "tls_only").unwrap_or(true);
        let effective = effective_policy(policy, tls_only, &bucket_arn(&name));
        let put_policy = || async {
            match &effective {
                Some(effective) => self.put_policy(&name, Some(effective)).await,
                None => Ok(()),
            }
        };
        // A new bucket blocks public policies ("all Block Public Access settings
        // are enabled by default" for new buckets, S3 User Guide, "Blocking
        // public access to your Amazon S3 storage"): with access kept blocked,
        // the policy goes beside the other settings; a bucket opened to public
        // policies takes its policy once it is opened.
        let beside = async { if blocked { put_policy().await } else { Ok(()) } };
        tokio::try_join!(
            self.put_public_access_block(&name, blocked),
            self.put_encryption(&name, algorithm),
            versioning,
            events,
            beside
        )?;
        if !blocked {
            put_policy().await?;
        }
        // What a read would report follows from what was just set.
        let mut observed = Props::from([
            ("bucket".to_string(), Value::from(name.as_str())),
            ("versioning".to_string(), Value::Bool(versioned)),
            ("encryption".to_string(), Value::from(algorithm)),
            ("block_public_access".to_string(), Value::Bool(blocked)),
            ("eventbridge".to_string(), Value::Bool(eventbridge)),
            ("tls_only".to_string(), Value::Bool(tls_only)),
        ]);
        put(&mut observed, "policy", policy);
        observed.insert("tags".to_string(), Value::Map(tags.into_iter().map(|(k, v)| (k, Value::from(v))).collect()));
        Ok(Observed { id: name.clone(), props: observed, outputs: outputs_of(&name) })
    }

    async fn update(&self, _ctx: &Ctx, id: &str, before: &Props, after: &Props) -> Result<Observed, ProviderError> {
        let (before, after) = (SCHEMA.normalized(before), SCHEMA.normalized(after));
        if let Some(blocked) = changed(&before, &after, "block_public_access").and_then(Value::as_bool) {
            self.put_public_access_block(id, blocked).await?;
        }
        if let Some(algorithm) = changed(&before, &after, "encryption").and_then(Value::as_str) {
            self.put_encryption(id, algorithm).await?;
        }
        if let Some(enabled) = changed(&before, &after, "versioning").and_then(Value::as_bool) {
            self.put_versioning(id, enabled).await?;
        }
        if let Some(enabled) = changed(&before, &after, "eventbridge").and_then(Value::as_bool) {
            self.put_eventbridge(id, enabled).await?;
        }
        if before.get("policy") != after.get("policy") || before.get("tls_only") != after.get("tls_only") {
            let tls_only = bool_prop(&after, "tls_only").unwrap_or(true);
            let policy = effective_policy(after.get("policy").and_then(Value::as_str), tls_only, &bucket_arn(id));
            self.put_policy(id, policy.as_deref()).await?;
        }
        if changed(&before, &after, "tags").is_some() {
            self.put_tags(id, &tags_of(&after)).await?;
        }
        self.read_one(id).await?.ok_or_else(|| ProviderError::Invalid(format!("bucket {id} no longer exists")))
    }

    async fn delete(&self, ctx: &Ctx, id: &str, props: &Props) -> Result<(), ProviderError> {
        let force_destroy = bool_prop(props, "force_destroy").unwrap_or(false);
        ok_if_gone(self.try_delete(ctx, id, force_destroy).await, &[NO_SUCH_BUCKET])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kinds::s3_bucket::*;

    fn ctx(stack: &str, name: &str) -> Ctx {
        Ctx { stack: stack.into(), name: name.into(), ..Ctx::default() }
    }

    #[test]
    fn the_default_name_is_lowercase_with_dashes_and_a_random_suffix() {
        let name = default_name(&ctx("Dev", "build_artifacts"));
        assert!(name.starts_with("dev-build-artifacts-"), "{name}");
        assert_eq!(name.len(), "dev-build-artifacts-".len() + 8);
        assert!(check_name(&Props::from([("bucket".to_string(), Value::from(name))])).is_ok());
    }

    #[test]
    fn the_default_name_ends_with_the_start_of_the_create_token() {
        let mut c = ctx("dev", "artifacts");
        c.client_token = "6F9619FF-8B86-4d01-b42d-00c04fc964ff".into();
        assert_eq!(default_name(&c), "dev-artifacts-6f9619ff");
        assert_eq!(default_name(&c), name_with_suffix("dev", "artifacts", &token_suffix(&c.client_token).unwrap()));
        assert_eq!(token_suffix("abc"), None);
    }

    #[test]
    fn a_long_default_name_is_cut_to_63_characters_keeping_the_suffix() {
        let name = default_name(&ctx(&"s".repeat(40), &"r".repeat(40)));
        assert_eq!(name.len(), 63);
        assert!(name.chars().rev().take(8).all(|c| c.is_ascii_hexdigit()), "{name}");
    }

    #[test]
    fn a_declared_name_must_follow_s3_rules() {
        for bad in ["ab", "Upper", "under_score", "-leading", "trailing-", &"a".repeat(64)] {
            let props = Props::from([("bucket".to_string(), Value::from(bad))]);
            assert!(check_name(&props).is_err(), "{bad}");
        }
        let good = Props::from([("bucket".to_string(), Value::from("my.bucket-1"))]);
        assert!(check_name(&good).is_ok());
    }
}
