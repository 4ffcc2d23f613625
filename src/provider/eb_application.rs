//! `elasticbeanstalk.application`: an Elastic Beanstalk application, the
//! container of application versions and environments.
//!
//! The id is the application name. A batched read is one DescribeApplications
//! call naming every application, plus one ListTagsForResource per application
//! found (Elastic Beanstalk reports tags per resource only). The tag helpers here
//! are shared with `elasticbeanstalk.environment`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticbeanstalk::Client;
use aws_sdk_elasticbeanstalk::types::{ApplicationDescription, Tag};
use futures::future::{join_all, try_join_all};

use super::shared::{put, tag_changes};
use super::wait::{self, Backoff};
use super::{Ctx, Observed, Provider, ProviderError, RecordedOutputs, Tagged, aws_error, recorded, tags_of};
pub use crate::model::kinds::eb_application::SCHEMA;
use crate::model::{Kind, Props, TAG_NAME, TAG_STACK, Value};

/// Elastic Beanstalk applications.
pub struct EbApplications {
    client: Client,
}

impl EbApplications {
    pub fn new(client: Client) -> Self {
        EbApplications { client }
    }

    /// The applications with these names; every application when `names` is `None`.
    async fn describe(&self, names: Option<&[String]>) -> Result<Vec<ApplicationDescription>, ProviderError> {
        let out = self
            .client
            .describe_applications()
            .set_application_names(names.map(<[String]>::to_vec))
            .send()
            .await
            .map_err(|e| aws_error("DescribeApplications", e))?;
        Ok(out.applications.unwrap_or_default())
    }

    /// Each application with its tags.
    async fn observe_all(&self, apps: &[ApplicationDescription]) -> Result<Vec<Observed>, ProviderError> {
        try_join_all(apps.iter().map(|app| async move {
            let tags = list_tags(&self.client, app.application_arn().unwrap_or_default()).await?;
            Ok::<_, ProviderError>(observe(app, tags))
        }))
        .await
    }

    async fn read_one(&self, name: &str) -> Result<Option<Observed>, ProviderError> {
        Ok(self.read_many(&[name.to_string()]).await?.remove(name))
    }
}

fn observe(app: &ApplicationDescription, tags: Value) -> Observed {
    let name = app.application_name().unwrap_or_default().to_string();
    let mut props = Props::new();
    props.insert("name".into(), Value::from(name.as_str()));
    put(&mut props, "description", app.description().filter(|d| !d.is_empty()));
    props.insert("tags".into(), tags);
    let mut outputs = Props::new();
    outputs.insert("id".into(), Value::from(name.as_str()));
    outputs.insert("name".into(), Value::from(name.as_str()));
    put(&mut outputs, "arn", app.application_arn());
    Observed { id: name, props, outputs }
}

/// The tags of an Elastic Beanstalk resource, as the `tags` property.
pub(super) async fn list_tags(client: &Client, arn: &str) -> Result<Value, ProviderError> {
    let out = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| aws_error("ListTagsForResource", e))?;
    Ok(Value::Map(
        out.resource_tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), Value::from(t.value().unwrap_or_default()))))
            .collect(),
    ))
}

/// Tags for a create call.
pub(super) fn tag_list(props: &Props) -> Vec<Tag> {
    tags_of(props).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// The resource's logical name, when its tags say it belongs to `stack`.
pub(super) fn owned_by(tags: &Value, stack: &str) -> Option<String> {
    let tags = tags.as_map()?;
    (tags.get(TAG_STACK)?.as_str()? == stack).then(|| tags.get(TAG_NAME)?.as_str().map(str::to_string))?
}

/// Applies the tag changes from `before` to `after` with one UpdateTagsForResource
/// call; no call when nothing changed. Returns whether it made the call.
pub(super) async fn update_tags(
    client: &Client,
    arn: &str,
    before: &Props,
    after: &Props,
) -> Result<bool, ProviderError> {
    let Some((set, removed)) = tag_changes(before, after) else { return Ok(false) };
    if set.is_empty() && removed.is_empty() {
        return Ok(false);
    }
    client
        .update_tags_for_resource()
        .resource_arn(arn)
        .set_tags_to_add(
            (!set.is_empty()).then(|| set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()),
        )
        .set_tags_to_remove((!removed.is_empty()).then_some(removed))
        .send()
        .await
        .map_err(|e| aws_error("UpdateTagsForResource", e))?;
    Ok(true)
}

fn gone(name: &str) -> ProviderError {
    ProviderError::Invalid(format!("elastic beanstalk application {name} no longer exists"))
}

#[async_trait]
impl Provider for EbApplications {
    fn kind(&self) -> Kind {
        Kind::EbApplication
    }

    async fn read_many(&self, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        // With no recorded ARNs, each application's tags follow the describe.
        self.read_recorded("", ids, &RecordedOutputs::new()).await
    }

    /// The describe, and each application's tags by the ARN state recorded,
    /// at once; tags again only for an application whose ARN is another.
    async fn read_recorded(
        &self,
        _stack: &str,
        ids: &[String],
        outputs: &RecordedOutputs,
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let early = ids
            .iter()
            .filter_map(|id| recorded(outputs, id, "arn"))
            .map(|arn| async move { (arn, list_tags(&self.client, arn).await) });
        let (apps, early) = tokio::join!(self.describe(Some(ids)), join_all(early));
        let mut early: BTreeMap<&str, _> = early.into_iter().collect();
        let wanted = apps?.into_iter().filter(|a| a.application_name().is_some_and(|n| ids.iter().any(|id| id == n)));
        let reads = wanted.map(|app| {
            let known = app.application_arn().and_then(|arn| early.remove(arn));
            async move {
                let tags = match known {
                    Some(tags) => tags?,
                    None => list_tags(&self.client, app.application_arn().unwrap_or_default()).await?,
                };
                Ok::<_, ProviderError>(observe(&app, tags))
            }
        });
        Ok(try_join_all(reads).await?.into_iter().map(|o| (o.id.clone(), o)).collect())
    }

    async fn find_tagged(&self, stack: &str) -> Result<Tagged, ProviderError> {
        let apps = self.describe(None).await?;
        let observed = self.observe_all(&apps).await?;
        Ok(observed.into_iter().filter_map(|o| Some((owned_by(o.props.get("tags")?, stack)?, o))).collect())
    }

    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError> {
        let props = SCHEMA.normalized(props);
        let name = match props.get("name").and_then(Value::as_str) {
            Some(n) => n.to_string(),
            // At most 100 characters, Elastic Beanstalk's limit.
            None => ctx.generated_name(100),
        };
        let out = self
            .client
            .create_application()
            .application_name(&name)
            .set_description(props.get("description").and_then(Value::as_str).map(str::to_string))
            .set_tags(Some(tag_list(&props)).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(|e| aws_error("CreateApplication", e))?;
        // The answer describes the application; its tags are the ones just given.
        if let Some(app) = out.application() {
            let tags = Value::Map(tags_of(&props).into_iter().map(|(k, v)| (k, Value::from(v))).collect());
            return Ok(observe(app, tags));
        }
        wait::until(ctx, &format!("application {name} to appear"), Backoff::default(), || self.read_one(&name)).await
    }

    async fn update(&self, _ctx: &Ctx, id: &str, before: &Props, after: &Props) -> Result<Observed, ProviderError> {
        let (before, after) = (SCHEMA.normalized(before), SCHEMA.normalized(after));
        let current = self.read_one(id).await?.ok_or_else(|| gone(id))?;
        let description = after.get("description").and_then(Value::as_str);
        if description.is_some() && description != before.get("description").and_then(Value::as_str) {
            self.client
                .update_application()
                .application_name(id)
                .set_description(description.map(str::to_string))
                .send()
                .await
                .map_err(|e| aws_error("UpdateApplication", e))?;
        }
        let arn = current.outputs.get("arn").and_then(Value::as_str).unwrap_or_default();
        update_tags(&self.client, arn, &before, &after).await?;
        self.read_one(id).await?.ok_or_else(|| gone(id))
    }

    async fn delete(&self, ctx: &Ctx, id: &str, _props: &Props) -> Result<(), ProviderError> {
        if self.describe(Some(&[id.to_string()])).await?.iter().all(|a| a.application_name() != Some(id)) {
            return Ok(());
        }
        self.client
            .delete_application()
            .application_name(id)
            .terminate_env_by_force(false)
            .send()
            .await
            .map_err(|e| aws_error("DeleteApplication", e))?;
        wait::until(ctx, &format!("application {id} to be deleted"), Backoff::default(), || async {
            let apps = self.describe(Some(&[id.to_string()])).await?;
            Ok(apps.iter().all(|a| a.application_name() != Some(id)).then_some(()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_comes_from_the_stack_and_name_tags() {
        let tags = Value::Map(
            [(TAG_STACK.to_string(), Value::from("dev")), (TAG_NAME.to_string(), Value::from("app"))].into(),
        );
        assert_eq!(owned_by(&tags, "dev"), Some("app".to_string()));
        assert_eq!(owned_by(&tags, "prod"), None);
        assert_eq!(owned_by(&Value::Map(Default::default()), "dev"), None);
    }
}
