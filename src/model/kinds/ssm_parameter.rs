//! The schema of `ssm.parameter`: a Systems Manager Parameter Store parameter
//! of type `SecureString`, where a stack keeps a secret AWS never shows in
//! plain text: the value is encrypted with a KMS key, and read back only by
//! whoever may decrypt it (GetParameter with `WithDecryption`). Other services
//! name it by ARN (Elastic Beanstalk's
//! `aws:elasticbeanstalk:application:environmentsecrets`, CodeBuild's
//! `PARAMETER_STORE` variables). [`crate::provider::ssm_parameter`] talks to AWS.
//!
//! The type is always `SecureString`: a `String` parameter's value is shown to
//! anyone who may describe it, so it is no place for a secret, and `value` is a
//! `secret` field (never shown, sealed in state, read back as a secret).

use crate::model::schema::{BASE, Default, Field, Replacement, Schema, Ty};
use crate::model::{Path, Props, ValidationError, Value};

/// The longest parameter name `infra` declares. Parameter Store allows 1011
/// characters counting the ARN before the name
/// (`arn:aws:ssm:<region>:<account>:parameter/`, about 60 characters):
/// https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-parameter-name-constraints.html
pub const MAX_NAME: usize = 950;

/// The deepest hierarchy a name may have: "a maximum depth of fifteen levels".
pub const MAX_DEPTH: usize = 15;

/// The largest value of each tier, in bytes: "Standard parameters have a value
/// limit of 4 KB. Advanced parameters have a value limit of 8 KB"
/// (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html).
pub const MAX_VALUE: &[(&str, usize)] = &[("Standard", 4096), ("Advanced", 8192)];

/// The key Parameter Store encrypts a SecureString with unless told otherwise:
/// the account's AWS managed key for Systems Manager.
pub const DEFAULT_KEY: &str = "alias/aws/ssm";

/// The longest description PutParameter takes.
const MAX_DESCRIPTION: usize = 1024;

/// The tiers a parameter can be in.
pub const TIERS: &[&str] = &["Standard", "Advanced"];

/// The properties a PutParameter call sets (Overwrite writes them all, and a
/// new version of the parameter).
pub const PUT_FIELDS: &[&str] = &["value", "description", "key_id", "tier"];

pub static SCHEMA: Schema = Schema {
    type_name: "ssm.parameter",
    fields: &[
        Field::new(
            "name",
            Ty::Str,
            "the parameter name; defaults to /<stack>/<resource>. Letters, digits, `.`, `-`, `_` and `/` (a path \
             such as /dev/elastic_password begins with `/`); not beginning with aws or ssm",
        )
        .force_new(),
        Field::new("description", Ty::Str, "what the parameter holds (never the secret itself)"),
        Field::new(
            "value",
            Ty::Str,
            "the secret, normally `${secret.NAME}`: stored as a SecureString, encrypted with `key_id` (never a \
             String parameter, whose value anyone who may describe it can read); at most 4 KB (Standard) or 8 KB \
             (Advanced)",
        )
        .required()
        .secret(),
        Field::new(
            "key_id",
            Ty::Str,
            "the KMS key that encrypts the value: a key id, key ARN, alias name or alias ARN, compared as written",
        )
        .default(Default::Str(DEFAULT_KEY)),
        Field::new(
            "tier",
            Ty::Enum(TIERS),
            "Standard (free, values up to 4 KB) or Advanced (charged, up to 8 KB); Standard can become Advanced \
             in place, never back",
        )
        .default(Default::Str("Standard")),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "arn", "name", "version"],
    taggable: true,
    check,
    check_update: Some(refuse_downgrade),
    normalize,
    // PutParameter with Overwrite changes every property in place but the
    // name, which is the parameter's identity.
    replacement: Replacement::CreateFirst { unique_name: Some("name") },
    replacement_why: "parameter names are unique in an account's region: a generated name gets a suffix for the \
                      replacement",
    // Every PutParameter makes a new version of the parameter.
    volatile_outputs: &["version"],
    update_renews_outputs: puts_a_version,
    id_form: "the parameter name",
    ..BASE
};

/// Whether `s` is a parameter name as Parameter Store allows it: letters,
/// digits, `.`, `-`, `_`, and `/` between the levels of a hierarchy, which
/// then begins with `/` (no empty level, at most fifteen); not beginning with
/// `aws` or `ssm` in any case, with or without the `/`
/// (https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-parameter-name-constraints.html).
pub fn valid_name(s: &str) -> bool {
    let charset = s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'));
    let levels: Vec<&str> = s.strip_prefix('/').unwrap_or(s).split('/').collect();
    let hierarchy = !s.contains('/') || (s.starts_with('/') && levels.iter().all(|l| !l.is_empty()));
    let first = levels.first().map(|l| l.to_ascii_lowercase()).unwrap_or_default();
    (1..=MAX_NAME).contains(&s.len())
        && charset
        && hierarchy
        && levels.len() <= MAX_DEPTH
        && !first.starts_with("aws")
        && !first.starts_with("ssm")
}

/// Whether `s` is a key id as PutParameter takes it: 1 to 256 of `[a-zA-Z0-9:/_-]`.
fn valid_key_id(s: &str) -> bool {
    (1..=256).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '_' | '-'))
}

/// A declared name, key id and description follow Parameter Store's rules, and
/// the value is neither empty nor larger than its tier holds. Errors about the
/// value give its length, never its content.
fn check(props: &Props) -> Result<(), ValidationError> {
    if let Some(name) = props.get("name").and_then(Value::as_str)
        && !valid_name(name)
    {
        return Err(ValidationError::new(Path::root().key("name"), format!("invalid parameter name {name:?}")).hint(
            "use letters, digits, `.`, `-`, `_`, and `/` between the levels of a path that begins with `/`; \
             a name cannot begin with aws or ssm",
        ));
    }
    if let Some(key) = props.get("key_id").and_then(Value::as_str)
        && !valid_key_id(key)
    {
        return Err(ValidationError::new(Path::root().key("key_id"), format!("invalid KMS key id {key:?}"))
            .hint("give a key id, a key ARN, an alias name (alias/...) or an alias ARN"));
    }
    if let Some(description) = props.get("description").and_then(Value::as_str)
        && description.len() > MAX_DESCRIPTION
    {
        return Err(ValidationError::new(
            Path::root().key("description"),
            format!(
                "the description has {} characters: Parameter Store takes at most {MAX_DESCRIPTION}",
                description.len()
            ),
        ));
    }
    let value = match props.get("value") {
        Some(Value::Secret(s)) => s.expose().as_str(),
        Some(v) => v.as_str(),
        None => None,
    };
    let Some(value) = value else { return Ok(()) };
    let at = Path::root().key("value");
    if value.is_empty() {
        return Err(ValidationError::new(at, "a parameter's value cannot be empty"));
    }
    let tier = props.get("tier").and_then(Value::as_str).unwrap_or("Standard");
    if let Some((_, max)) = MAX_VALUE.iter().find(|(t, _)| *t == tier)
        && value.len() > *max
    {
        return Err(ValidationError::new(
            at,
            format!("the value is {} bytes: a {tier} parameter holds at most {max}", value.len()),
        )
        .hint("an Advanced parameter holds up to 8192 bytes: set tier = \"Advanced\""));
    }
    Ok(())
}

/// "You can change a standard parameter to an advanced parameter at any time,
/// but you can't revert an advanced parameter to a standard parameter"
/// (https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html).
fn refuse_downgrade(before: &Props, after: &Props) -> Result<(), String> {
    let tier = |p: &Props| p.get("tier").and_then(Value::as_str).map(str::to_string);
    match (tier(before).as_deref(), tier(after).as_deref()) {
        (Some("Advanced"), Some("Standard")) => Err("tier cannot go from Advanced back to Standard: Parameter Store \
                                                     only deletes and recreates an Advanced parameter as a Standard \
                                                     one; replace it (`--replace`) to do that"
            .into()),
        _ => Ok(()),
    }
}

/// Whether an in-place update from `before` to `after` calls PutParameter,
/// which makes a new version: a property it sets that `after` declares and
/// that changes.
fn puts_a_version(before: &Props, after: &Props) -> bool {
    PUT_FIELDS.iter().any(|k| after.get(*k).is_some_and(|a| before.get(*k) != Some(a)))
}

/// Parameter Store keeps no empty description: an empty one means none.
pub fn normalize(props: &mut Props) {
    if props.get("description").and_then(Value::as_str) == Some("") {
        props.remove("description");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: Vec<(&str, Value)>) -> Props {
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn with_value(mut pairs: Vec<(&str, Value)>) -> Props {
        pairs.push(("value", Value::secret("hunter2-but-longer")));
        props(pairs)
    }

    #[test]
    fn a_parameter_name_follows_parameter_store_rules() {
        for good in ["elastic_password", "/dev/elastic_password", "/a/b.c-d_e", "dev-x"] {
            assert!(valid_name(good), "{good:?}");
        }
        let deep = format!("/{}", vec!["l"; 16].join("/"));
        for bad in [
            "",
            "has space",
            "a/b",
            "/a//b",
            "/a/",
            "/",
            "aws-thing",
            "/AWS/thing",
            "SSM-x",
            "/ssm/x",
            "x:1",
            deep.as_str(),
            &"a".repeat(MAX_NAME + 1),
        ] {
            assert!(!valid_name(bad), "{bad:?}");
            let p = with_value(vec![("name", bad.into())]);
            assert!(SCHEMA.validate(&p, &Path::root()).is_err(), "{bad:?}");
        }
        assert!(SCHEMA.validate(&with_value(vec![("name", "/dev/pw".into())]), &Path::root()).is_ok());
    }

    #[test]
    fn a_value_too_large_for_its_tier_or_empty_is_refused_without_showing_it() {
        let secret = "s".repeat(5000);
        let p = props(vec![("value", Value::secret(secret.as_str()))]);
        let err = SCHEMA.validate(&p, &Path::root()).unwrap_err();
        assert_eq!(err.path.to_string(), "value");
        assert!(err.to_string().contains("5000 bytes"), "{err}");
        assert!(!err.to_string().contains(&secret[..50]), "the error shows the secret: {err}");
        let advanced = props(vec![("value", Value::secret(secret.as_str())), ("tier", "Advanced".into())]);
        assert!(SCHEMA.validate(&advanced, &Path::root()).is_ok());
        assert!(SCHEMA.validate(&props(vec![("value", Value::secret(""))]), &Path::root()).is_err());
    }

    #[test]
    fn a_value_is_a_secret_whether_declared_or_read_back() {
        let declared = SCHEMA.normalized(&props(vec![("value", "plain".into())]));
        assert_eq!(declared["value"], Value::secret("plain"));
        assert_eq!(declared["key_id"], Value::from(DEFAULT_KEY));
        assert_eq!(declared["tier"], Value::from("Standard"));
        let read = SCHEMA.canonical(&props(vec![("value", "plain".into()), ("description", "".into())]));
        assert_eq!(read, props(vec![("value", Value::secret("plain"))]));
        assert_eq!(format!("{:?}", read["value"]), "Secret([secret])");
    }

    #[test]
    fn a_stack_with_a_parameter_value_written_out_needs_a_key_like_one_with_a_secret() {
        use crate::model::{Kind, Resource, Stack};
        let stack =
            |value: Value| Stack::new("dev").resource("pw", Resource::new(Kind::SsmParameter).prop("value", value));
        assert!(stack("written-out".into()).has_secrets());
        assert!(stack(Value::secret("sealed")).has_secrets());
        assert!(!Stack::new("dev").resource("pw", Resource::new(Kind::SsmParameter)).has_secrets());
    }

    #[test]
    fn an_advanced_parameter_cannot_become_standard_in_place() {
        let standard = with_value(vec![("tier", "Standard".into())]);
        let advanced = with_value(vec![("tier", "Advanced".into())]);
        assert!(refuse_downgrade(&standard, &advanced).is_ok());
        let err = refuse_downgrade(&advanced, &standard).unwrap_err();
        assert!(err.contains("--replace"), "{err}");
    }

    #[test]
    fn only_a_change_that_puts_the_parameter_renews_its_version() {
        let before = with_value(vec![("tier", "Standard".into()), ("tags", Value::Map(Props::new()))]);
        let mut tags_only = before.clone();
        tags_only.insert("tags".into(), crate::model::map([("team", "data".into())]));
        assert!(!puts_a_version(&before, &tags_only));
        let mut new_value = before.clone();
        new_value.insert("value".into(), Value::secret("another"));
        assert!(puts_a_version(&before, &new_value));
        let mut undeclared = before.clone();
        undeclared.remove("tier");
        assert!(!puts_a_version(&before, &undeclared), "what the stack does not declare stays");
    }
}
