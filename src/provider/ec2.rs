//! What the EC2 providers share: their reads, made of one describe through
//! filters ([`Filtered`]), tag conversions and tag updates, and ARNs.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use super::shared::tag_changes;
use super::{Observed, ProviderError, Tagged, aws_error};
use crate::model::{Props, TAG_NAME, TAG_STACK, Value};

/// The most values one EC2 filter takes.
pub const FILTER_CHUNK: usize = 200;

/// A filter matching any of `values`.
pub fn filter(name: &str, values: &[String]) -> Filter {
    Filter::builder().name(name).set_values(Some(values.to_vec())).build()
}

/// An EC2 kind whose resources are read through filters (instances, security
/// groups, volumes): the three reads of [`Provider`] are made of its one
/// describe ([`read_by_ids`], [`read_tagged`], [`read_by_stack_tag`]).
#[async_trait]
pub trait Filtered: Send + Sync {
    /// The filter that matches the kind's ids: `group-id`.
    const ID_FILTER: &'static str;

    /// What `filters` match, leaving out what is gone (or going): each
    /// resource's `infra:name` tag, if it has one, and what it reports.
    async fn describe_live(&self, filters: Vec<Filter>) -> Result<Vec<(Option<String>, Observed)>, ProviderError>;
}

/// [`Provider::read_many`] for a filtered kind: by id, [`FILTER_CHUNK`] ids a call.
pub async fn read_by_ids<F: Filtered>(kind: &F, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
    let mut found = BTreeMap::new();
    for chunk in ids.chunks(FILTER_CHUNK) {
        for (_, o) in kind.describe_live(vec![filter(F::ID_FILTER, chunk)]).await? {
            found.insert(o.id.clone(), o);
        }
    }
    Ok(found)
}

/// [`Provider::find_tagged`] for a filtered kind: what carries the stack's tag
/// and a name.
pub async fn read_tagged<F: Filtered>(kind: &F, stack: &str) -> Result<Tagged, ProviderError> {
    let found = kind.describe_live(vec![stack_filter(stack)]).await?;
    Ok(found.into_iter().filter_map(|(name, o)| Some((name?, o))).collect())
}

/// [`Provider::read_recorded`] for a filtered kind: the stack's resources
/// found by its tag that `ids` names, then by id those the search did not
/// return (their tags were changed out of band).
pub async fn read_by_stack_tag<F: Filtered>(
    kind: &F,
    stack: &str,
    ids: &[String],
) -> Result<BTreeMap<String, Observed>, ProviderError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let mut found: BTreeMap<String, Observed> = kind
        .describe_live(vec![stack_filter(stack)])
        .await?
        .into_iter()
        .map(|(_, o)| o)
        .filter(|o| wanted.contains(o.id.as_str()))
        .map(|o| (o.id.clone(), o))
        .collect();
    let rest: Vec<String> = ids.iter().filter(|id| !found.contains_key(*id)).cloned().collect();
    if !rest.is_empty() {
        found.extend(read_by_ids(kind, &rest).await?);
    }
    Ok(found)
}

/// The filter for what a stack owns.
pub fn stack_filter(stack: &str) -> Filter {
    filter(&format!("tag:{TAG_STACK}"), &[stack.to_string()])
}

/// Tags as a `Value::Map`, the shape of the `tags` property.
pub fn tags_value(tags: &[Tag]) -> Value {
    Value::Map(
        tags.iter().filter_map(|t| Some((t.key()?.to_string(), Value::from(t.value().unwrap_or_default())))).collect(),
    )
}

/// The value of one tag.
pub fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

/// The logical name an owned resource carries, when it carries one. A
/// resource an Elastic Beanstalk environment (through its CloudFormation
/// stack) made carries that environment's tags, ownership tags included
/// (the environment's instance, its security group): it is the environment's,
/// not one of the stack's own, so it has none here.
pub fn name_tag(tags: &[Tag]) -> Option<String> {
    let made_by_environment = tags.iter().filter_map(Tag::key).any(|k| {
        k == "elasticbeanstalk:environment-id" || k == "aws:cloudformation:stack-id" || k == "aws:autoscaling:groupName"
    });
    if made_by_environment {
        return None;
    }
    tag(tags, TAG_NAME).map(str::to_string)
}

/// Tags for a resource of `resource_type` at creation; none when there are no
/// tags (AWS refuses an empty specification).
pub fn tag_specification(resource_type: ResourceType, tags: &[(String, String)]) -> Option<TagSpecification> {
    if tags.is_empty() {
        return None;
    }
    let tags = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    Some(TagSpecification::builder().resource_type(resource_type).set_tags(Some(tags)).build())
}

/// Applies the tag changes from `before` to `after` to one resource with
/// CreateTags and DeleteTags; no call when nothing changed.
pub async fn update_tags(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    before: &Props,
    after: &Props,
) -> Result<(), ProviderError> {
    let Some((set, removed)) = tag_changes(before, after) else { return Ok(()) };
    if !set.is_empty() {
        ec2.create_tags()
            .resources(id)
            .set_tags(Some(set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
            .send()
            .await
            .map_err(|e| aws_error("CreateTags", e))?;
    }
    if !removed.is_empty() {
        ec2.delete_tags()
            .resources(id)
            .set_tags(Some(removed.iter().map(|k| Tag::builder().key(k).build()).collect()))
            .send()
            .await
            .map_err(|e| aws_error("DeleteTags", e))?;
    }
    Ok(())
}

/// The client's region, for ARNs.
pub fn region(ec2: &aws_sdk_ec2::Client) -> String {
    ec2.config().region().map(|r| r.to_string()).unwrap_or_default()
}

/// `arn:<partition>:ec2:<region>:<account>:<resource>`.
pub fn arn(region: &str, account: &str, resource: &str) -> String {
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!("arn:{partition}:ec2:{region}:{account}:{resource}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Props {
        let m = pairs.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect();
        Props::from([("tags".to_string(), Value::Map(m))])
    }

    #[test]
    fn what_an_environment_made_is_not_the_stacks_own() {
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        let own = [tag("infra:stack", "dev"), tag("infra:name", "data")];
        assert_eq!(name_tag(&own).as_deref(), Some("data"));
        let environments = [
            tag("infra:stack", "dev"),
            tag("infra:name", "app_env"),
            tag("elasticbeanstalk:environment-id", "e-abc123"),
        ];
        assert_eq!(name_tag(&environments), None);
    }

    #[test]
    fn tag_changes_set_what_is_new_or_changed_and_remove_what_is_gone() {
        let (set, removed) =
            tag_changes(&tags(&[("a", "1"), ("b", "2")]), &tags(&[("a", "1"), ("b", "3"), ("c", "4")])).unwrap();
        assert_eq!(set, vec![("b".to_string(), "3".to_string()), ("c".to_string(), "4".to_string())]);
        assert!(removed.is_empty());
        let (set, removed) = tag_changes(&tags(&[("a", "1"), ("b", "2")]), &tags(&[("a", "1")])).unwrap();
        assert!(set.is_empty());
        assert_eq!(removed, vec!["b".to_string()]);
    }

    #[test]
    fn undeclared_tags_are_left_alone() {
        assert_eq!(tag_changes(&tags(&[("a", "1")]), &Props::new()), None);
    }

    #[test]
    fn arns_name_the_partition_of_the_region() {
        assert_eq!(arn("us-east-1", "123", "volume/vol-1"), "arn:aws:ec2:us-east-1:123:volume/vol-1");
        assert_eq!(arn("cn-north-1", "123", "volume/vol-1"), "arn:aws-cn:ec2:cn-north-1:123:volume/vol-1");
    }
}
