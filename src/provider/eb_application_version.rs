//! `elasticbeanstalk.application_version`: an Elastic Beanstalk application
//! version: a directory of the project zipped reproducibly, uploaded to S3 and
//! labelled by its content hash.
//!
//! `label` is never written in a stack: [`crate::bundle::prepare`] sets it from
//! the hash of `source_dir` before the plan is made, so an unchanged directory
//! keeps its version and a changed one gives a new label, which replaces the
//! version. The replacement is created before the old version is deleted: the
//! environment keeps running the old version until it is updated to the new one.
//! A replacement of the same content (`--replace`, or a new bucket) cannot
//! take the label the old version holds: its version label is the content's
//! label and `-` and 8 hex digits ([`version_label`]), and `label` still
//! reads as the content's.
//!
//! The id is `<application>/<label>`; the bundle is stored in `bucket` at
//! `<application>/<label>.zip` and deleted with the version. A batched read is
//! one DescribeApplicationVersions call per application. `source_dir` is not
//! something AWS knows, so a read never reports it.
//!
//! A relative `source_dir` is read from the project directory when planning and
//! from the working directory when creating: the CLI runs in the project
//! directory, where the two are the same.

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use aws_sdk_elasticbeanstalk::Client;
use aws_sdk_elasticbeanstalk::types::{ApplicationVersionDescription, S3Location};
use aws_sdk_s3::primitives::ByteStream;

use super::shared::put;
use super::{Ctx, Observed, Provider, ProviderError, Tagged, aws_error, name_suffix};
use crate::bundle;
pub use crate::model::kinds::eb_application_version::SCHEMA;
use crate::model::{Kind, Props, Value};

/// Elastic Beanstalk application versions, with their bundles in S3.
pub struct EbVersions {
    client: Client,
    s3: aws_sdk_s3::Client,
}

impl EbVersions {
    pub fn new(client: Client, s3: aws_sdk_s3::Client) -> Self {
        EbVersions { client, s3 }
    }

    /// The versions of one application with these labels, all pages.
    async fn describe(
        &self,
        application: &str,
        labels: &[String],
    ) -> Result<Vec<ApplicationVersionDescription>, ProviderError> {
        let mut versions = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .describe_application_versions()
                .application_name(application)
                .set_version_labels(Some(labels.to_vec()))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error("DescribeApplicationVersions", e))?;
            versions.extend(out.application_versions.unwrap_or_default());
            token = out.next_token;
            if token.is_none() {
                return Ok(versions);
            }
        }
    }

    async fn read_one(&self, id: &str) -> Result<Option<Observed>, ProviderError> {
        Ok(self.read_many(&[id.to_string()]).await?.remove(id))
    }
}

/// `<application>/<label>` split in two. Labels made by `bundle` never hold a `/`.
fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.rsplit_once('/').ok_or_else(|| {
        ProviderError::Invalid(format!("{id:?} is not an application version id (<application>/<label>)"))
    })
}

/// The label of a version of the content labelled `label`: that label, or,
/// for a replacement created while the old version still holds it, that
/// label with `-` and 8 hex digits of the create's token.
fn version_label(ctx: &Ctx, label: &str) -> String {
    if ctx.replacing { format!("{label}-{}", name_suffix(&ctx.client_token)) } else { label.to_string() }
}

/// The content's label ([`bundle::Bundle::label`]) of a version label made by
/// [`version_label`].
fn content_label(version_label: &str) -> &str {
    match version_label.rsplit_once('-') {
        Some((content, suffix))
            if content.starts_with("v-") && suffix.len() == 8 && suffix.chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            content
        }
        _ => version_label,
    }
}

fn observe(v: &ApplicationVersionDescription) -> Observed {
    let application = v.application_name().unwrap_or_default();
    let label = v.version_label().unwrap_or_default();
    let id = format!("{application}/{label}");
    let mut props = Props::new();
    props.insert("application".into(), Value::from(application));
    props.insert("label".into(), Value::from(content_label(label)));
    put(&mut props, "bucket", v.source_bundle().and_then(|s| s.s3_bucket()));
    let mut outputs = Props::new();
    outputs.insert("id".into(), Value::from(id.as_str()));
    outputs.insert("label".into(), Value::from(label));
    put(&mut outputs, "key", v.source_bundle().and_then(|s| s.s3_key()));
    Observed { id, props, outputs }
}

fn str_prop<'a>(props: &'a Props, name: &str) -> Result<&'a str, ProviderError> {
    props
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::Invalid(format!("application version: `{name}` is missing")))
}

#[async_trait]
impl Provider for EbVersions {
    fn kind(&self) -> Kind {
        Kind::EbVersion
    }

    async fn read_many(&self, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let mut by_app: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for id in ids {
            let (app, label) = split_id(id)?;
            by_app.entry(app).or_default().push(label.to_string());
        }
        let mut found = BTreeMap::new();
        for (app, labels) in by_app {
            for v in self.describe(app, &labels).await? {
                let o = observe(&v);
                found.insert(o.id.clone(), o);
            }
        }
        Ok(found)
    }

    /// Versions carry no tags in our model: there is nothing to adopt.
    async fn find_tagged(&self, _stack: &str) -> Result<Tagged, ProviderError> {
        Ok(Tagged::new())
    }

    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError> {
        let (application, bucket) = (str_prop(props, "application")?, str_prop(props, "bucket")?);
        let (source_dir, label) = (str_prop(props, "source_dir")?, str_prop(props, "label")?);
        ctx.status(&format!("zipping {source_dir}"));
        let built = bundle::zip_dir(Path::new(source_dir)).map_err(|e| ProviderError::Invalid(e.to_string()))?;
        if built.label() != label {
            return Err(ProviderError::Invalid(format!(
                "source_dir changed since the plan was made ({source_dir} is now {}, the plan has {label}); plan again",
                built.label()
            )));
        }
        let label = version_label(ctx, label);
        let key = format!("{application}/{label}.zip");
        ctx.status(&format!("uploading s3://{bucket}/{key}"));
        self.s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/zip")
            .body(ByteStream::from(built.bytes))
            .send()
            .await
            .map_err(|e| aws_error("PutObject", e))?;
        let created = self
            .client
            .create_application_version()
            .application_name(application)
            .version_label(&label)
            .source_bundle(S3Location::builder().s3_bucket(bucket).s3_key(&key).build())
            .process(false)
            .send()
            .await
            .map_err(|e| aws_error("CreateApplicationVersion", e));
        let id = format!("{application}/{label}");
        let created = match created {
            Ok(created) => created,
            Err(e) => {
                // The label is a content hash: a version that already has it (an
                // interrupted apply created it) is this one, if its bundle is ours.
                let existing = self.read_one(&id).await?;
                return match existing {
                    Some(o)
                        if o.outputs.get("key") == Some(&Value::from(key.as_str()))
                            && o.props.get("bucket") == Some(&Value::from(bucket)) =>
                    {
                        Ok(o)
                    }
                    _ => Err(e),
                };
            }
        };
        // CreateApplicationVersion answers with the version's description.
        match created.application_version() {
            Some(made) => Ok(observe(made)),
            None => self.read_one(&id).await?.ok_or_else(|| {
                ProviderError::Invalid(format!("application version {id} vanished after it was created"))
            }),
        }
    }

    /// Only `source_dir` changes in place, and with the same label it is the
    /// same content: nothing to do in AWS.
    async fn update(&self, _ctx: &Ctx, id: &str, _before: &Props, _after: &Props) -> Result<Observed, ProviderError> {
        self.read_one(id)
            .await?
            .ok_or_else(|| ProviderError::Invalid(format!("application version {id} no longer exists")))
    }

    async fn delete(&self, ctx: &Ctx, id: &str, _props: &Props) -> Result<(), ProviderError> {
        let (application, label) = split_id(id)?;
        if self.read_one(id).await?.is_none() {
            return Ok(());
        }
        // Elastic Beanstalk refuses to delete a version an environment uses, and an
        // environment in the middle of an update or a termination (one an
        // interrupted run started) still uses it until that ends: wait that out.
        let what = format!("the environments of {application} to finish updating from {label}");
        super::wait::retrying(ctx, &what, super::wait::Backoff::default(), || async {
            let deleted = self
                .client
                .delete_application_version()
                .application_name(application)
                .version_label(label)
                .delete_source_bundle(true)
                .send()
                .await;
            match deleted {
                Ok(_) => Ok(Some(())),
                Err(e) => {
                    let e = aws_error("DeleteApplicationVersion", e);
                    if e.says("InvalidParameterValue", "being used by environment")
                        && self.updating(application).await?
                    {
                        Ok(None)
                    } else {
                        Err(e)
                    }
                }
            }
        })
        .await
    }
}

impl EbVersions {
    /// Whether an environment of the application is launching, updating or
    /// terminating, or has terminated in the last minute (it may have let go of
    /// the version between Elastic Beanstalk's refusal and this describe).
    async fn updating(&self, application: &str) -> Result<bool, ProviderError> {
        use aws_sdk_elasticbeanstalk::types::EnvironmentStatus;
        let minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        let out = self
            .client
            .describe_environments()
            .application_name(application)
            .include_deleted(true)
            .included_deleted_back_to(aws_smithy_types::DateTime::from(minute_ago))
            .send()
            .await
            .map_err(|e| aws_error("DescribeEnvironments", e))?;
        Ok(out.environments().iter().any(|env| {
            matches!(
                env.status(),
                Some(
                    EnvironmentStatus::Launching
                        | EnvironmentStatus::Updating
                        | EnvironmentStatus::Terminating
                        | EnvironmentStatus::Terminated
                )
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_the_application_and_the_label() {
        assert_eq!(split_id("my/app/v-0123").unwrap(), ("my/app", "v-0123"));
        assert!(split_id("nolabel").is_err());
    }

    #[test]
    fn a_replacement_of_the_same_content_gets_its_own_label_and_reads_as_that_content() {
        let token = "6F9619FF-8B86-4d01-b42d-00c04fc964ff".to_string();
        let ctx = Ctx { client_token: token, ..Ctx::default() };
        assert_eq!(version_label(&ctx, "v-0123456789abcdef"), "v-0123456789abcdef");
        let replacing = Ctx { replacing: true, ..ctx };
        let label = version_label(&replacing, "v-0123456789abcdef");
        assert_eq!(label, "v-0123456789abcdef-6f9619ff");
        assert_eq!(content_label(&label), "v-0123456789abcdef");
        assert_eq!(content_label("v-0123456789abcdef"), "v-0123456789abcdef");
        assert_eq!(content_label("release-2024"), "release-2024", "a label not made by infra reads as it is");
    }

    #[test]
    fn a_version_reports_its_bucket_and_key() {
        let v = ApplicationVersionDescription::builder()
            .application_name("dev-app")
            .version_label("v-1")
            .source_bundle(S3Location::builder().s3_bucket("artifacts").s3_key("dev-app/v-1.zip").build())
            .build();
        let o = observe(&v);
        assert_eq!(o.id, "dev-app/v-1");
        assert_eq!(o.props["bucket"], Value::from("artifacts"));
        assert_eq!(o.outputs["key"], Value::from("dev-app/v-1.zip"));
    }
}
