//! The EventBridge rule provider, and the bucket's EventBridge notifications,
//! through the `Provider` trait against the emulator: create, batched read
//! (equal to the declared properties, normalised), in-place updates, adoption
//! by tags, delete.

mod common;

use std::collections::BTreeMap;

use common::{Emulator, STACK, ctx, props, tags};
use infra::model::{Kind, Observed, Props, Value, map};
use infra::provider::Providers;

struct Env {
    _emu: Emulator,
    providers: Providers,
    events: aws_sdk_eventbridge::Client,
    s3: aws_sdk_s3::Client,
}

async fn env() -> Env {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    Env {
        providers: Providers::new(&config),
        events: aws_sdk_eventbridge::Client::new(&config),
        s3: infra::provider::s3_client(&config),
        _emu: emu,
    }
}

fn output<'a>(o: &'a Observed, key: &str) -> &'a str {
    o.outputs.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("no output `{key}` in {:#?}", o.outputs))
}

fn assert_reads_as_declared(kind: Kind, declared: &Props, observed: &Observed) {
    let schema = kind.schema();
    assert_eq!(schema.normalized(&observed.props), schema.normalized(declared), "{kind} {}", observed.id);
}

/// A pattern for S3's "Object Created" events of `key` in `bucket`, as a table.
fn object_created(bucket: &str, key: &str) -> Value {
    let list = |s: &str| Value::List(vec![s.into()]);
    map([
        ("source", list("aws.s3")),
        ("detail-type", list("Object Created")),
        ("detail", map([("bucket", map([("name", list(bucket))])), ("object", map([("key", list(key))]))])),
    ])
}

fn target(id: &str, arn: &str, role_arn: Option<&str>) -> Value {
    let mut t = BTreeMap::from([("id".to_string(), Value::from(id)), ("arn".to_string(), Value::from(arn))]);
    if let Some(role) = role_arn {
        t.insert("role_arn".into(), role.into());
    }
    Value::Map(t)
}

const PIPELINE: &str = "arn:aws:codepipeline:us-east-1:123456789012:dev-pipeline";
const ROLE: &str = "arn:aws:iam::123456789012:role/dev-source_events_role";
const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:builds";

/// The targets EventBridge holds for `rule`: (id, arn, role), sorted.
async fn live_targets(events: &aws_sdk_eventbridge::Client, rule: &str) -> Vec<(String, String, Option<String>)> {
    let out = events.list_targets_by_rule().rule(rule).send().await.unwrap();
    let mut targets: Vec<_> = out
        .targets()
        .iter()
        .map(|t| (t.id().to_string(), t.arn().to_string(), t.role_arn().map(str::to_string)))
        .collect();
    targets.sort();
    targets
}

#[tokio::test]
async fn a_rule_is_created_read_updated_in_place_found_by_its_tags_and_deleted_with_its_targets() {
    let env = env().await;
    let rules = env.providers.get(Kind::EventRule);
    let declared = props(vec![
        ("name", "dev-source_changed".into()),
        ("description", "starts the pipeline".into()),
        ("event_pattern", object_created("dev-artifacts", "source/dev.zip")),
        ("targets", Value::List(vec![target("pipeline", PIPELINE, Some(ROLE))])),
        ("tags", tags("source_changed")),
    ]);

    let created = rules.create(&ctx("source_changed"), &declared).await.unwrap();
    assert_reads_as_declared(Kind::EventRule, &declared, &created);
    assert_eq!(created.id, "dev-source_changed");
    assert_eq!(output(&created, "name"), "dev-source_changed");
    let arn = output(&created, "arn").to_string();
    assert_eq!(arn, "arn:aws:events:us-east-1:123456789012:rule/dev-source_changed");
    assert_eq!(created.props["state"], Value::from("ENABLED"), "enabled unless declared otherwise");
    assert_eq!(
        live_targets(&env.events, "dev-source_changed").await,
        [("pipeline".to_string(), PIPELINE.to_string(), Some(ROLE.to_string()))]
    );

    let read = rules.read_many(&["dev-source_changed".to_string(), "no-such-rule".to_string()]).await.unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), ["dev-source_changed"], "a rule AWS does not have is absent");
    // The create's answer is built from what it sent and the ARN PutRule
    // gave, not read back: it reads the same.
    let schema = Kind::EventRule.schema();
    let again = &read["dev-source_changed"];
    assert_eq!((&again.id, &again.outputs), (&created.id, &created.outputs));
    assert_eq!(schema.canonical(&again.props), schema.canonical(&created.props));

    // Another key, disabled, a second target beside a changed first one, and a
    // tag changed, one added, one removed: all in place, the same rule.
    let before = schema.normalized(&read["dev-source_changed"].props);
    let mut after = before.clone();
    after.insert("event_pattern".into(), object_created("dev-artifacts", "source/prod.zip"));
    after.insert("state".into(), "DISABLED".into());
    after.insert("targets".into(), Value::List(vec![target("pipeline", PIPELINE, None), target("queue", QUEUE, None)]));
    let mut new_tags = tags("source_changed").as_map().unwrap().clone();
    new_tags.remove("project");
    new_tags.insert("owner".into(), "ci".into());
    after.insert("tags".into(), Value::Map(new_tags));
    let after = schema.normalized(&after);
    let updated = rules.update(&ctx("source_changed"), "dev-source_changed", &before, &after).await.unwrap();
    assert_eq!(schema.normalized(&updated.props), after);
    assert_eq!(output(&updated, "arn"), arn, "updated in place");
    let reread = rules.read_many(&["dev-source_changed".to_string()]).await.unwrap();
    assert_eq!(schema.normalized(&reread["dev-source_changed"].props), after);

    // One target removed: only that one goes.
    let before = after.clone();
    let mut after = before.clone();
    after.insert("targets".into(), Value::List(vec![target("queue", QUEUE, None)]));
    let after = schema.normalized(&after);
    rules.update(&ctx("source_changed"), "dev-source_changed", &before, &after).await.unwrap();
    assert_eq!(live_targets(&env.events, "dev-source_changed").await, [("queue".to_string(), QUEUE.to_string(), None)]);

    let found: BTreeMap<_, _> = rules.find_tagged(STACK).await.unwrap().into_iter().collect();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["source_changed"], "keyed by infra:name");
    assert_eq!(found["source_changed"].id, "dev-source_changed");
    assert_eq!(schema.normalized(&found["source_changed"].props), after);
    assert!(rules.find_tagged("another-stack").await.unwrap().is_empty());

    // EventBridge refuses to delete a rule that has targets: delete removes them first.
    rules.delete(&ctx("source_changed"), "dev-source_changed", &after).await.unwrap();
    assert!(rules.read_many(&["dev-source_changed".to_string()]).await.unwrap().is_empty());
    assert!(env.events.list_rules().send().await.unwrap().rules().is_empty());
    rules.delete(&ctx("source_changed"), "dev-source_changed", &after).await.expect("deleting twice succeeds");
}

#[tokio::test]
async fn a_rule_without_a_name_is_named_after_its_stack_and_resource_and_its_pattern_text_compares_by_meaning() {
    let env = env().await;
    let rules = env.providers.get(Kind::EventRule);
    let declared = props(vec![
        ("event_pattern", "{ \"source\": [\"aws.s3\"],\n  \"detail-type\": [\"Object Created\"] }".into()),
        ("tags", tags("changes")),
    ]);
    let created = rules.create(&ctx("changes"), &declared).await.unwrap();
    assert_eq!(created.id, "test-changes");
    let mut want = declared.clone();
    want.insert("name".into(), "test-changes".into());
    want.insert("targets".into(), Value::List(vec![]));
    assert_reads_as_declared(Kind::EventRule, &want, &created);
    assert!(live_targets(&env.events, "test-changes").await.is_empty());
    // The same pattern declared as a table: nothing to change.
    let as_table = map([
        ("source", Value::List(vec!["aws.s3".into()])),
        ("detail-type", Value::List(vec!["Object Created".into()])),
    ]);
    let schema = Kind::EventRule.schema();
    assert_eq!(
        schema.normalized(&props(vec![("event_pattern", as_table)]))["event_pattern"],
        created.props["event_pattern"]
    );
}

#[tokio::test]
async fn a_bucket_sends_its_events_to_eventbridge_on_request_keeping_its_other_notifications() {
    let env = env().await;
    let buckets = env.providers.get(Kind::Bucket);
    let schema = Kind::Bucket.schema();
    let declared = props(vec![("eventbridge", true.into()), ("tags", tags("artifacts"))]);
    let created = buckets.create(&ctx("artifacts"), &declared).await.unwrap();
    let id = created.id.clone();
    let mut want = declared.clone();
    want.insert("bucket".into(), id.as_str().into());
    assert_reads_as_declared(Kind::Bucket, &want, &created);
    let got = env.s3.get_bucket_notification_configuration().bucket(&id).send().await.unwrap();
    assert!(got.event_bridge_configuration().is_some(), "{got:?}");
    let read = buckets.read_many(std::slice::from_ref(&id)).await.unwrap();
    assert_eq!(read[&id].props["eventbridge"], Value::Bool(true));

    // A queue notification set outside infra stays when the flag goes off and on.
    let queue = aws_sdk_s3::types::QueueConfiguration::builder()
        .queue_arn(QUEUE)
        .events(aws_sdk_s3::types::Event::S3ObjectCreated)
        .build()
        .unwrap();
    let config = aws_sdk_s3::types::NotificationConfiguration::builder()
        .queue_configurations(queue)
        .event_bridge_configuration(aws_sdk_s3::types::EventBridgeConfiguration::builder().build())
        .build();
    env.s3.put_bucket_notification_configuration().bucket(&id).notification_configuration(config).send().await.unwrap();
    let queues = |got: &aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput| -> Vec<String> {
        got.queue_configurations().iter().map(|q| q.queue_arn().to_string()).collect()
    };

    let before = schema.normalized(&read[&id].props);
    let mut after = before.clone();
    after.insert("eventbridge".into(), false.into());
    let updated = buckets.update(&ctx("artifacts"), &id, &before, &after).await.unwrap();
    assert_eq!(schema.normalized(&updated.props), after);
    let got = env.s3.get_bucket_notification_configuration().bucket(&id).send().await.unwrap();
    assert!(got.event_bridge_configuration().is_none(), "{got:?}");
    assert_eq!(queues(&got), [QUEUE]);

    let updated = buckets.update(&ctx("artifacts"), &id, &after, &before).await.unwrap();
    assert_eq!(schema.normalized(&updated.props), before);
    let got = env.s3.get_bucket_notification_configuration().bucket(&id).send().await.unwrap();
    assert!(got.event_bridge_configuration().is_some(), "{got:?}");
    assert_eq!(queues(&got), [QUEUE]);

    buckets.delete(&ctx("artifacts"), &id, &before).await.unwrap();
}

#[tokio::test]
async fn a_bucket_that_declares_nothing_sends_no_events_to_eventbridge() {
    let env = env().await;
    let buckets = env.providers.get(Kind::Bucket);
    let created = buckets.create(&ctx("logs"), &props(vec![("tags", tags("logs"))])).await.unwrap();
    assert_eq!(created.props["eventbridge"], Value::Bool(false));
    let got = env.s3.get_bucket_notification_configuration().bucket(&created.id).send().await.unwrap();
    assert!(got.event_bridge_configuration().is_none(), "{got:?}");
    let read = buckets.read_many(std::slice::from_ref(&created.id)).await.unwrap();
    assert_eq!(read[&created.id].props["eventbridge"], Value::Bool(false));
}
