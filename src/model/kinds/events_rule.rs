//! The schema of `events.rule`: an EventBridge rule on the default event bus,
//! matching events by a pattern and sending them to its targets
//! ([`crate::provider::events_rule`] talks to AWS).
//!
//! The event pattern compares by meaning: declared as a table or as JSON text,
//! it is canonical JSON (keys sorted, no whitespace) on both sides. Targets are
//! a set keyed by their id: their order means nothing to EventBridge.

use crate::model::schema::{BASE, Default, Field, Replacement, Schema, Ty};
use crate::model::{Path, Props, ValidationError, Value};

/// EventBridge's longest rule name and target id.
pub const MAX_NAME: usize = 64;

/// The most targets one rule may have (EventBridge quotas: "Targets per rule: 5",
/// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html).
pub const MAX_TARGETS: usize = 5;

const TARGET_FIELDS: &[Field] = &[
    Field::new("id", Ty::Str, "the target's id within the rule: 1 to 64 letters, digits, `.`, `-` and `_`").required(),
    Field::new("arn", Ty::Str, "the ARN of what receives the events (a pipeline, a function, a queue)").required(),
    Field::new("role_arn", Ty::Str, "the ARN of the IAM role EventBridge acts as to reach the target"),
];

pub static SCHEMA: Schema = Schema {
    type_name: "events.rule",
    fields: &[
        Field::new("name", Ty::Str, "the rule name; defaults to <stack>-<resource> (at most 64 characters)")
            .force_new(),
        Field::new("description", Ty::Str, "what the rule is for"),
        Field::new("event_pattern", Ty::Json, "the events the rule matches: an EventBridge event pattern").required(),
        Field::new(
            "state",
            Ty::Enum(&["ENABLED", "DISABLED"]),
            "whether the rule sends what it matches to its targets",
        )
        .default(Default::Str("ENABLED")),
        Field::new("targets", Ty::Set(&Ty::Object(TARGET_FIELDS)), "where matching events go, at most 5"),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "arn", "name"],
    taggable: true,
    check,
    normalize,
    // PutRule on an existing name updates that rule: the name is the rule's
    // identity, and the only property that cannot change in place.
    replacement: Replacement::CreateFirst { unique_name: Some("name") },
    replacement_why: "rule names are unique on an event bus: a generated name gets a suffix for the replacement",
    id_form: "the rule name",
    ..BASE
};

/// Whether `s` is a rule name or target id as EventBridge allows them:
/// 1 to 64 of `[\.\-_A-Za-z0-9]` (PutRule's `Name`, PutTargets' `Target.Id`:
/// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html,
/// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Target.html).
pub fn valid_name(s: &str) -> bool {
    (1..=MAX_NAME).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

const NAME_HINT: &str = "use 1 to 64 letters, digits, `.`, `-` and `_`";

/// A declared name and the target ids follow EventBridge's rules; the ids are
/// unique, there are at most five targets, and the pattern is a JSON object.
fn check(props: &Props) -> Result<(), ValidationError> {
    if let Some(name) = props.get("name").and_then(Value::as_str)
        && !valid_name(name)
    {
        return Err(
            ValidationError::new(Path::root().key("name"), format!("invalid rule name {name:?}")).hint(NAME_HINT)
        );
    }
    if let Some(Value::Str(text)) = props.get("event_pattern")
        && serde_json::from_str::<serde_json::Value>(text).is_ok_and(|j| !j.is_object())
    {
        return Err(ValidationError::new(Path::root().key("event_pattern"), "an event pattern is a JSON object")
            .hint("write a table such as { source = [\"aws.s3\"] }"));
    }
    let Some(targets) = props.get("targets").and_then(Value::as_list) else { return Ok(()) };
    let at = Path::root().key("targets");
    if targets.len() > MAX_TARGETS {
        return Err(ValidationError::new(at, format!("{} targets: a rule takes at most {MAX_TARGETS}", targets.len())));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, target) in targets.iter().enumerate() {
        let Some(id) = target.as_map().and_then(|t| t.get("id")).and_then(Value::as_str) else { continue };
        let at = at.index(i).key("id");
        if !valid_name(id) {
            return Err(ValidationError::new(at, format!("invalid target id {id:?}")).hint(NAME_HINT));
        }
        if !seen.insert(id) {
            return Err(ValidationError::new(at, format!("target id {id:?} is used twice"))
                .hint("give each target of a rule its own id"));
        }
    }
    Ok(())
}

/// AWS keeps no empty description: an empty one means none.
pub fn normalize(props: &mut Props) {
    if props.get("description").and_then(Value::as_str) == Some("") {
        props.remove("description");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::map;

    fn props(pairs: Vec<(&str, Value)>) -> Props {
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn target(id: &str) -> Value {
        map([("id", id.into()), ("arn", "arn:aws:codepipeline:us-east-1:123456789012:p".into())])
    }

    #[test]
    fn a_pattern_declared_as_a_table_or_as_text_compares_equal() {
        let table = map([("source", Value::List(vec!["aws.s3".into()])), ("detail-type", Value::List(vec![]))]);
        let declared = SCHEMA.normalized(&props(vec![("event_pattern", table)]));
        let read = SCHEMA.canonical(&props(vec![
            ("event_pattern", "{ \"source\": [\"aws.s3\"],\n  \"detail-type\": [] }".into()),
            ("state", "ENABLED".into()),
        ]));
        assert_eq!(declared, read);
    }

    #[test]
    fn target_ids_must_be_valid_and_unique_and_at_most_five() {
        let check_targets = |targets: Vec<Value>| {
            SCHEMA.validate(
                &props(vec![("event_pattern", "{}".into()), ("targets", Value::List(targets))]),
                &Path::root(),
            )
        };
        assert!(check_targets(vec![target("a"), target("b")]).is_ok());
        let err = check_targets(vec![target("a"), target("a")]).unwrap_err();
        assert_eq!(err.path.to_string(), "targets[1].id");
        assert!(check_targets(vec![target("not valid")]).is_err());
        assert!(check_targets((0..6).map(|i| target(&format!("t{i}"))).collect()).is_err());
    }

    #[test]
    fn a_rule_name_follows_eventbridge_rules() {
        for bad in ["", "has space", "slash/", &"a".repeat(65)] {
            let p = props(vec![("name", bad.into()), ("event_pattern", "{}".into())]);
            assert!(SCHEMA.validate(&p, &Path::root()).is_err(), "{bad:?}");
        }
        let p = props(vec![("name", "dev-source_changed.1".into()), ("event_pattern", "{}".into())]);
        assert!(SCHEMA.validate(&p, &Path::root()).is_ok());
        let p = props(vec![("event_pattern", "[1]".into())]);
        assert!(SCHEMA.validate(&p, &Path::root()).is_err(), "a pattern is an object");
    }
}
