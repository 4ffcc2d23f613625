//! What the EC2 providers share: id filters for batched reads, reads by the
//! stack tag, tag conversions and tag updates, ARNs, and "already gone" error codes.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use super::{Observed, Provider, ProviderError, aws_error};
use crate::model::{Props, TAG_NAME, TAG_STACK, Value};

/// The most values one EC2 filter takes.
pub const FILTER_CHUNK: usize = 200;

/// A filter matching any of `values`.
pub fn filter(name: &str, values: &[String]) -> Filter {
    Filter::builder().name(name).set_values(Some(values.to_vec())).build()
}

/// [`Provider::read_recorded`] for an EC2 kind: the stack's resources found by
/// its tag that `ids` names, then by id those the search did not return.
pub async fn read_by_stack_tag<P: Provider + ?Sized>(
    provider: &P,
    stack: &str,
    ids: &[String],
) -> Result<BTreeMap<String, Observed>, ProviderError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let mut found: BTreeMap<String, Observed> = provider
        .find_tagged(stack)
        .await?
        .into_iter()
        .map(|(_, o)| o)
        .filter(|o| wanted.contains(o.id.as_str()))
        .map(|o| (o.id.clone(), o))
        .collect();
    let rest: Vec<String> = ids.iter().filter(|id| !found.contains_key(*id)).cloned().collect();
    if !rest.is_empty() {
        found.extend(provider.read_many(&rest).await?);
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

fn tag_map(props: &Props) -> Option<BTreeMap<String, String>> {
    let m = props.get("tags")?.as_map()?;
    Some(m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
}

/// Tags to set (new or changed values) and tag keys to remove.
pub type TagChanges = (Vec<(String, String)>, Vec<String>);

/// The tag changes from `before` to `after`; `None` when `after` declares no
/// tags (they are then left alone).
pub fn tag_changes(before: &Props, after: &Props) -> Option<TagChanges> {
    let after = tag_map(after)?;
    let before = tag_map(before).unwrap_or_default();
    let set = after.iter().filter(|(k, v)| before.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let removed = before.keys().filter(|k| !after.contains_key(*k)).cloned().collect();
    Some((set, removed))
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

/// Treats an error whose code is one of `gone` as success: deleting what is
/// already gone.
pub fn ok_if_gone(result: Result<(), ProviderError>, gone: &[&str]) -> Result<(), ProviderError> {
    match result {
        Err(e) if e.code().is_some_and(|c| gone.contains(&c)) => Ok(()),
        other => other,
    }
}

/// Inserts `value` under `key` when there is one.
pub fn put(props: &mut Props, key: &str, value: Option<impl Into<Value>>) {
    if let Some(v) = value {
        props.insert(key.to_string(), v.into());
    }
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
