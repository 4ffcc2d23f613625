//! `events.rule`: an EventBridge rule on the default event bus, its event
//! pattern, state and targets, and its tags.
//!
//! The rule's name is its id. EventBridge has no batched describe, but
//! ListRules reports every field of a rule the stack declares (name, ARN,
//! pattern, state, description), 100 rules a page: `read_many` lists the
//! default bus's rules once, then reads the targets (ListTargetsByRule) and
//! tags (ListTagsForResource, by ARN) of each rule asked for, a few rules at a
//! time: 1 call per page + 2 per rule. `find_tagged` lists the rules and the
//! tags of each, then the targets of those the stack owns.
//!
//! PutRule creates the rule with its tags, and updates it in place: it
//! replaces every field it takes, so an update sends them all ("If you omit
//! arguments in PutRule, the old values for those arguments are not kept",
//! https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html),
//! but it does not change an existing rule's tags: TagResource and
//! UntagResource do. Targets are diffed by id: PutTargets adds or replaces,
//! RemoveTargets removes; both report failures per target in a successful
//! answer, which are errors here. A rule with targets cannot be deleted, so a
//! delete removes every target AWS lists first.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_eventbridge::types::{Rule, RuleState, Tag, Target};
use aws_smithy_types::error::operation::BuildError;
use futures::future::OptionFuture;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::iam_role::{owned_by, owned_name};
use super::shared::{ok_if_gone, put, tag_changes};
use super::{Ctx, Observed, Provider, ProviderError, RecordedOutputs, Tagged, aws_error, recorded, tags_of};
use crate::model::kinds::events_rule::MAX_NAME;
pub use crate::model::kinds::events_rule::SCHEMA;
use crate::model::{Kind, Props, Value};

/// EventBridge's answer for a rule it does not have.
const NOT_FOUND: &str = "ResourceNotFoundException";

/// A rule's reads made from what state recorded: the ARN they used, its
/// targets, and its tags (when an ARN was recorded).
type Early = (Option<String>, Result<Vec<Target>, ProviderError>, Option<Result<Vec<Tag>, ProviderError>>);

/// How many rules' targets and tags are read at once.
const READ_CONCURRENCY: usize = 8;

fn invalid(e: BuildError) -> ProviderError {
    ProviderError::Invalid(e.to_string())
}

fn str_prop(props: &Props, key: &str) -> Option<String> {
    props.get(key).and_then(Value::as_str).map(str::to_string)
}

/// The rule's name: the declared one, or the generated one ([`Ctx::generated_name`]).
fn rule_name(ctx: &Ctx, props: &Props) -> String {
    str_prop(props, "name").unwrap_or_else(|| ctx.generated_name(MAX_NAME))
}

/// The declared pattern as JSON text (normalised, it is canonical JSON text).
fn pattern(props: &Props) -> Result<String, ProviderError> {
    match props.get("event_pattern") {
        Some(Value::Str(s)) => Ok(s.clone()),
        Some(v @ Value::Map(_)) if v.is_known() => Ok(v.to_json().to_string()),
        _ => Err(ProviderError::Invalid("`event_pattern` must be a JSON document".into())),
    }
}

/// The declared targets, by id; `None` when the stack declares none (AWS's
/// are then left alone).
fn targets(props: &Props) -> Option<BTreeMap<String, Value>> {
    let list = props.get("targets")?.as_list()?;
    Some(list.iter().filter_map(|t| Some((t.as_map()?.get("id")?.as_str()?.to_string(), t.clone()))).collect())
}

fn sdk_target(target: &Value) -> Result<Target, ProviderError> {
    let field = |key: &str| target.as_map().and_then(|t| t.get(key)).and_then(Value::as_str).map(str::to_string);
    Target::builder().set_id(field("id")).set_arn(field("arn")).set_role_arn(field("role_arn")).build().map_err(invalid)
}

fn target_value(target: &Target) -> Value {
    let mut t = Props::new();
    t.insert("id".into(), Value::from(target.id()));
    t.insert("arn".into(), Value::from(target.arn()));
    put(&mut t, "role_arn", target.role_arn());
    Value::Map(t)
}

fn sdk_tags(tags: Vec<(String, String)>) -> Result<Vec<Tag>, ProviderError> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(invalid)).collect()
}

fn tags_value(tags: &[Tag]) -> Value {
    Value::Map(tags.iter().map(|t| (t.key().to_string(), Value::from(t.value()))).collect())
}

/// A rule, its targets and its tags in the shape of the schema.
fn observe(rule: &Rule, targets: &[Target], tags: &[Tag]) -> Observed {
    let name = rule.name().unwrap_or_default().to_string();
    let mut props = Props::new();
    props.insert("name".into(), Value::from(name.as_str()));
    put(&mut props, "description", rule.description().filter(|d| !d.is_empty()));
    put(&mut props, "event_pattern", rule.event_pattern());
    put(&mut props, "state", rule.state().map(RuleState::as_str));
    props.insert("targets".into(), Value::List(targets.iter().map(target_value).collect()));
    props.insert("tags".into(), tags_value(tags));
    let mut outputs = Props::new();
    outputs.insert("id".into(), Value::from(name.as_str()));
    put(&mut outputs, "arn", rule.arn());
    outputs.insert("name".into(), Value::from(name.as_str()));
    Observed { id: name, props: SCHEMA.canonical(&props), outputs }
}

/// An error unless a call that reports failures per entry had none.
fn no_failed_entries(
    op: &'static str,
    failed: &[(Option<&str>, Option<&str>, Option<&str>)],
) -> Result<(), ProviderError> {
    let Some((id, code, message)) = failed.first() else { return Ok(()) };
    Err(ProviderError::Aws {
        op,
        code: code.unwrap_or("Unknown").to_string(),
        message: format!("target {}: {}", id.unwrap_or_default(), message.unwrap_or_default()),
    })
}

/// EventBridge rules on the default event bus.
pub struct Rules {
    client: aws_sdk_eventbridge::Client,
}

impl Rules {
    pub fn new(client: aws_sdk_eventbridge::Client) -> Self {
        Rules { client }
    }

    /// Every rule of the default bus, all pages (ListRules has no paginator).
    async fn list(&self) -> Result<Vec<Rule>, ProviderError> {
        let mut rules = Vec::new();
        let mut token = None;
        loop {
            let out =
                self.client.list_rules().set_next_token(token).send().await.map_err(|e| aws_error("ListRules", e))?;
            rules.extend(out.rules.unwrap_or_default());
            token = out.next_token;
            if token.is_none() {
                return Ok(rules);
            }
        }
    }

    /// The rule's targets, all pages.
    async fn targets(&self, name: &str) -> Result<Vec<Target>, ProviderError> {
        let mut targets = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_targets_by_rule()
                .rule(name)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error("ListTargetsByRule", e))?;
            targets.extend(out.targets.unwrap_or_default());
            token = out.next_token;
            if token.is_none() {
                return Ok(targets);
            }
        }
    }

    async fn tags(&self, arn: &str) -> Result<Vec<Tag>, ProviderError> {
        let out = self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error("ListTagsForResource", e))?;
        Ok(out.tags.unwrap_or_default())
    }

    /// The rule's targets and tags, read at once; `None` when it is gone.
    async fn complete(&self, rule: Rule) -> Result<Option<Observed>, ProviderError> {
        let name = rule.name().unwrap_or_default();
        let (targets, tags) = tokio::join!(self.targets(name), self.tags(rule.arn().unwrap_or_default()));
        match (targets, tags) {
            (Ok(targets), Ok(tags)) => Ok(Some(observe(&rule, &targets, &tags))),
            (Err(e), _) | (_, Err(e)) if e.code() == Some(NOT_FOUND) => Ok(None),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }

    /// [`Rules::complete`] for each rule, a few at a time.
    async fn complete_all(&self, rules: Vec<Rule>) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let found: Vec<Option<Observed>> = stream::iter(rules.into_iter().map(|r| self.complete(r)))
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().map(|o| (o.id.clone(), o)).collect())
    }

    /// A recorded rule's targets (by its name) and tags (by its recorded ARN),
    /// read before the list that confirms them arrives.
    async fn early(&self, name: String, arn: Option<&str>) -> (String, Early) {
        let tags = OptionFuture::from(arn.map(|arn| self.tags(arn)));
        let (targets, tags) = tokio::join!(self.targets(&name), tags);
        (name, (arn.map(str::to_string), targets, tags))
    }

    /// One rule, described by name.
    async fn read_one(&self, name: &str) -> Result<Observed, ProviderError> {
        let out = self.client.describe_rule().name(name).send().await.map_err(|e| aws_error("DescribeRule", e))?;
        let rule = Rule::builder()
            .set_name(out.name)
            .set_arn(out.arn)
            .set_event_pattern(out.event_pattern)
            .set_state(out.state)
            .set_description(out.description)
            .build();
        self.complete(rule).await?.ok_or_else(|| ProviderError::Invalid(format!("rule {name} does not exist")))
    }

    /// Creates or updates the rule; its ARN.
    async fn put_rule(
        &self,
        name: &str,
        props: &Props,
        tags: Option<Vec<Tag>>,
    ) -> Result<Option<String>, ProviderError> {
        let out = self
            .client
            .put_rule()
            .name(name)
            .event_pattern(pattern(props)?)
            .state(RuleState::from(props.get("state").and_then(Value::as_str).unwrap_or("ENABLED")))
            .set_description(str_prop(props, "description"))
            .set_tags(tags)
            .send()
            .await
            .map_err(|e| aws_error("PutRule", e))?;
        Ok(out.rule_arn().map(str::to_string))
    }

    /// Adds or replaces the given targets (PutTargets takes at most 10, a
    /// rule holds at most 5).
    async fn put_targets(&self, name: &str, targets: &[&Value]) -> Result<(), ProviderError> {
        if targets.is_empty() {
            return Ok(());
        }
        let targets = targets.iter().map(|t| sdk_target(t)).collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .put_targets()
            .rule(name)
            .set_targets(Some(targets))
            .send()
            .await
            .map_err(|e| aws_error("PutTargets", e))?;
        let failed: Vec<_> =
            out.failed_entries().iter().map(|f| (f.target_id(), f.error_code(), f.error_message())).collect();
        no_failed_entries("PutTargets", &failed)
    }

    async fn remove_targets(&self, name: &str, ids: Vec<String>) -> Result<(), ProviderError> {
        if ids.is_empty() {
            return Ok(());
        }
        let out = self
            .client
            .remove_targets()
            .rule(name)
            .set_ids(Some(ids))
            .send()
            .await
            .map_err(|e| aws_error("RemoveTargets", e))?;
        let failed: Vec<_> =
            out.failed_entries().iter().map(|f| (f.target_id(), f.error_code(), f.error_message())).collect();
        no_failed_entries("RemoveTargets", &failed)
    }

    /// Applies the tag changes from `before` to `after` to the rule `arn`.
    async fn update_tags(&self, arn: &str, before: &Props, after: &Props) -> Result<(), ProviderError> {
        let Some((set, removed)) = tag_changes(before, after) else { return Ok(()) };
        if !set.is_empty() {
            let call = self.client.tag_resource().resource_arn(arn).set_tags(Some(sdk_tags(set)?));
            call.send().await.map_err(|e| aws_error("TagResource", e))?;
        }
        if !removed.is_empty() {
            let call = self.client.untag_resource().resource_arn(arn).set_tag_keys(Some(removed));
            call.send().await.map_err(|e| aws_error("UntagResource", e))?;
        }
        Ok(())
    }

    async fn try_delete(&self, name: &str) -> Result<(), ProviderError> {
        let ids = self.targets(name).await?.iter().map(|t| t.id().to_string()).collect();
        self.remove_targets(name, ids).await?;
        self.client.delete_rule().name(name).send().await.map_err(|e| aws_error("DeleteRule", e))?;
        Ok(())
    }
}

#[async_trait]
impl Provider for Rules {
    fn kind(&self) -> Kind {
        Kind::EventRule
    }

    async fn read_many(&self, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let wanted: Vec<Rule> =
            self.list().await?.into_iter().filter(|r| r.name().is_some_and(|n| ids.iter().any(|id| id == n))).collect();
        self.complete_all(wanted).await
    }

    /// The list of rules and, at once, each recorded rule's targets (by its
    /// name) and tags (by its recorded ARN); a rule the list reports with
    /// another ARN has its tags read again.
    async fn read_recorded(
        &self,
        _stack: &str,
        ids: &[String],
        outputs: &RecordedOutputs,
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let early =
            futures::future::join_all(ids.iter().map(|id| self.early(id.clone(), recorded(outputs, id, "arn"))));
        let (rules, early) = tokio::join!(self.list(), early);
        let mut early: BTreeMap<String, Early> = early.into_iter().collect();
        let mut found = BTreeMap::new();
        for rule in rules? {
            let Some((arn, targets, tags)) = rule.name().and_then(|n| early.remove(n)) else { continue };
            let tags = match tags {
                Some(tags) if arn.as_deref() == rule.arn() => tags,
                _ => self.tags(rule.arn().unwrap_or_default()).await,
            };
            let observed = match (targets, tags) {
                (Ok(targets), Ok(tags)) => observe(&rule, &targets, &tags),
                (Err(e), _) | (_, Err(e)) if e.code() == Some(NOT_FOUND) => continue,
                (Err(e), _) | (_, Err(e)) => return Err(e),
            };
            found.insert(observed.id.clone(), observed);
        }
        Ok(found)
    }

    async fn find_tagged(&self, stack: &str) -> Result<Tagged, ProviderError> {
        let tagged = stream::iter(self.list().await?.into_iter().map(|rule| async move {
            match self.tags(rule.arn().unwrap_or_default()).await {
                Ok(tags) => Ok(Some((rule, tags_value(&tags)))),
                Err(e) if e.code() == Some(NOT_FOUND) => Ok(None),
                Err(e) => Err(e),
            }
        }));
        let found: Vec<Option<(Rule, Value)>> = tagged.buffer_unordered(READ_CONCURRENCY).try_collect().await?;
        let owned = found.into_iter().flatten().filter(|(_, tags)| owned_name(tags, stack).is_some());
        let observed = self.complete_all(owned.map(|(rule, _)| rule).collect()).await?;
        Ok(owned_by(stack, observed.into_values()))
    }

    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError> {
        let props = SCHEMA.normalized(props);
        let name = rule_name(ctx, &props);
        let tags = tags_of(&props);
        let arn = self.put_rule(&name, &props, if tags.is_empty() { None } else { Some(sdk_tags(tags)?) }).await?;
        let targets = targets(&props).unwrap_or_default();
        self.put_targets(&name, &targets.values().collect::<Vec<_>>()).await?;
        let Some(arn) = arn else { return self.read_one(&name).await };
        // What was sent and the ARN PutRule answered with are the rule: a read
        // back would tell nothing new.
        let mut made = props.clone();
        made.insert("name".into(), Value::from(name.as_str()));
        made.entry("state".into()).or_insert_with(|| Value::from("ENABLED"));
        made.entry("targets".into()).or_insert_with(|| Value::List(Vec::new()));
        let outputs = Props::from([
            ("id".to_string(), Value::from(name.as_str())),
            ("arn".to_string(), Value::from(arn)),
            ("name".to_string(), Value::from(name.as_str())),
        ]);
        Ok(Observed { id: name, props: SCHEMA.canonical(&made), outputs })
    }

    async fn update(&self, _ctx: &Ctx, id: &str, before: &Props, after: &Props) -> Result<Observed, ProviderError> {
        let (before, after) = (SCHEMA.normalized(before), SCHEMA.normalized(after));
        // What the stack does not declare stays as it is.
        let mut desired = before.clone();
        desired.extend(after.clone());
        if ["event_pattern", "state", "description"].iter().any(|k| before.get(*k) != desired.get(*k)) {
            self.put_rule(id, &desired, None).await?;
        }
        if let Some(wanted) = targets(&after) {
            let had = targets(&before).unwrap_or_default();
            let gone = had.keys().filter(|id| !wanted.contains_key(*id)).cloned().collect();
            self.remove_targets(id, gone).await?;
            let changed: Vec<&Value> =
                wanted.iter().filter(|(id, t)| had.get(*id) != Some(*t)).map(|(_, t)| t).collect();
            self.put_targets(id, &changed).await?;
        }
        if tag_changes(&before, &after).is_some_and(|(set, removed)| !set.is_empty() || !removed.is_empty()) {
            let arn = self.read_one(id).await?.outputs.get("arn").and_then(Value::as_str).map(str::to_string);
            let arn = arn.ok_or_else(|| ProviderError::Invalid(format!("rule {id} has no ARN")))?;
            self.update_tags(&arn, &before, &after).await?;
        }
        self.read_one(id).await
    }

    /// Removes the rule's targets, then the rule; a rule already gone is deleted.
    /// Removes the targets state records and deletes the rule, listing its
    /// targets only when that fails: EventBridge refuses the delete of a rule
    /// that still has targets ("Rule can't be deleted since it has targets"),
    /// such as one added behind infra's back.
    async fn delete(&self, _ctx: &Ctx, id: &str, props: &Props) -> Result<(), ProviderError> {
        let recorded: Vec<String> = match props.get("targets") {
            Some(Value::List(targets)) => {
                targets.iter().filter_map(|t| t.as_map()?.get("id")?.as_str().map(str::to_string)).collect()
            }
            _ => Vec::new(),
        };
        let first = async {
            self.remove_targets(id, recorded).await?;
            self.client.delete_rule().name(id).send().await.map_err(|e| aws_error("DeleteRule", e))?;
            Ok::<(), ProviderError>(())
        };
        match first.await {
            Err(e) if e.code() == Some(NOT_FOUND) => Ok(()),
            // Targets other than the recorded ones (or a recorded one already
            // gone): the targets as EventBridge lists them, then the delete.
            Err(_) => ok_if_gone(self.try_delete(id).await, &[NOT_FOUND]),
            Ok(()) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::map;

    #[test]
    fn a_rule_aws_reports_reads_back_in_the_declared_shape() {
        let target = map([
            ("id", "pipeline".into()),
            ("arn", "arn:aws:codepipeline:us-east-1:123456789012:dev-pipeline".into()),
            ("role_arn", "arn:aws:iam::123456789012:role/dev-source_events_role".into()),
        ]);
        let declared = SCHEMA.normalized(&Props::from([
            ("name".to_string(), Value::from("dev-source_changed")),
            ("event_pattern".to_string(), map([("source", Value::List(vec!["aws.s3".into()]))])),
            ("targets".to_string(), Value::List(vec![target.clone()])),
            ("tags".to_string(), map([("infra:stack", "dev".into())])),
        ]));
        let rule = Rule::builder()
            .name("dev-source_changed")
            .arn("arn:aws:events:us-east-1:123456789012:rule/dev-source_changed")
            .event_pattern("{\n  \"source\": [\"aws.s3\"]\n}")
            .state(RuleState::Enabled)
            .description("")
            .build();
        let tags = sdk_tags(vec![("infra:stack".into(), "dev".into())]).unwrap();
        let observed = observe(&rule, &[sdk_target(&target).unwrap()], &tags);
        assert_eq!(SCHEMA.normalized(&observed.props), declared);
        assert_eq!(observed.id, "dev-source_changed");
        assert_eq!(
            observed.outputs["arn"],
            Value::from("arn:aws:events:us-east-1:123456789012:rule/dev-source_changed")
        );
    }
}
