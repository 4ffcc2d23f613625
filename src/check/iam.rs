//! The IAM checks, on policy documents as JSON: identity policies (a role's
//! inline policies), trust policies and resource policies (a bucket's).
//! Only `Allow` statements are judged; a `Deny` narrows, it never grants.
//!
//! Each returns `(check, message)` pairs; `label` names where the document is
//! (`` `inline_policies.build` ``), so the message names the property.

use serde_json::Value as Json;

use crate::model::{Part, Value};

/// Service principals exempt from `iam_service_trust_without_source`: EC2
/// takes on an instance role through an instance profile this account
/// attaches, not as a deputy acting on another account's request, and sets
/// no `aws:SourceAccount`/`aws:SourceArn` for it; the confused-deputy guidance
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html)
/// is about services acting on your behalf for resources you own.
pub const SOURCE_EXEMPT_SERVICES: &[&str] = &["ec2.amazonaws.com"];

/// Verbs that only read (an action's part after `service:`, by prefix). AWS
/// documents an access level per action; this is the simple rule it mostly
/// follows. Anything else is a write.
const READ_VERBS: &[&str] = &["get", "list", "describe", "head", "batchget"];

/// The managed policies that grant administrator or full access by name
/// (checkov CKV_AWS_274 names AdministratorAccess).
fn is_admin_policy(arn: &str) -> bool {
    let name = arn.rsplit('/').next().unwrap_or(arn);
    name == "AdministratorAccess" || name == "AdministratorAccess-AWSElasticBeanstalk" || name.ends_with("FullAccess")
}

/// A policy document's JSON, from how a stack holds it: JSON text (with
/// `${...}` references left as text), a table, or a secret of either.
pub fn document(v: &Value) -> Option<Json> {
    match v {
        Value::Str(s) => serde_json::from_str(s).ok(),
        Value::Template(parts) => serde_json::from_str(&Part::text(parts)).ok(),
        Value::Map(_) => Some(v.to_json()),
        Value::Secret(s) => document(s.expose()),
        _ => None,
    }
}

/// A string or a list of strings, as a list.
fn strings(v: Option<&Json>) -> Vec<&str> {
    match v {
        Some(Json::String(s)) => vec![s.as_str()],
        Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The `Allow` statements of a document.
fn allows(doc: &Json) -> Vec<&serde_json::Map<String, Json>> {
    let statements = match doc.get("Statement") {
        Some(Json::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    statements
        .into_iter()
        .filter_map(Json::as_object)
        .filter(|s| s.get("Effect").and_then(Json::as_str) == Some("Allow"))
        .collect()
}

/// Whether a statement's conditions test `key` (condition keys are case-insensitive).
fn has_condition(statement: &serde_json::Map<String, Json>, key: &str) -> bool {
    let Some(Json::Object(operators)) = statement.get("Condition") else { return false };
    operators.values().filter_map(Json::as_object).any(|conds| conds.keys().any(|k| k.eq_ignore_ascii_case(key)))
}

/// Whether a statement's conditions test a key starting with `prefix` (such as
/// `aws:ResourceTag/`), ignoring case.
fn has_condition_prefix(statement: &serde_json::Map<String, Json>, prefix: &str) -> bool {
    let Some(Json::Object(operators)) = statement.get("Condition") else { return false };
    let prefix = prefix.to_ascii_lowercase();
    operators
        .values()
        .filter_map(Json::as_object)
        .any(|conds| conds.keys().any(|k| k.to_ascii_lowercase().starts_with(&prefix)))
}

/// Whether an action pattern (with `*` and `?`) matches `action`, ignoring case.
fn matches(pattern: &str, action: &str) -> bool {
    fn go(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], a) || (!a.is_empty() && go(p, &a[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => go(&p[1..], &a[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), action.as_bytes())
}

/// Whether an action (pattern) may write: its verb is not a read verb.
fn is_write(action: &str) -> bool {
    let verb = action.split_once(':').map_or(action, |(_, v)| v).to_ascii_lowercase();
    !READ_VERBS.iter().any(|r| verb.starts_with(r))
}

fn quoted(items: &[&str]) -> String {
    items.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ")
}

/// `iam_wildcard_action`, `iam_wildcard_resource_write`, `iam_passrole_wildcard`
/// on an identity policy.
pub fn identity_policy(label: &str, doc: &Json) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for statement in allows(doc) {
        let actions = strings(statement.get("Action"));
        let resources = strings(statement.get("Resource"));
        let wildcards: Vec<&str> = actions.iter().copied().filter(|a| *a == "*" || a.ends_with(":*")).collect();
        if !wildcards.is_empty() {
            out.push((
                "iam_wildcard_action",
                format!("{label} allows Action {}; list the actions the role calls instead", quoted(&wildcards)),
            ));
        }
        let everywhere = resources.contains(&"*");
        let writes: Vec<&str> = actions.iter().copied().filter(|a| is_write(a)).collect();
        // A condition on the resource's tags names the resources as well as an ARN would.
        if everywhere && !writes.is_empty() && !has_condition_prefix(statement, "aws:ResourceTag/") {
            out.push((
                "iam_wildcard_resource_write",
                format!(
                    "{label} allows {} on Resource \"*\"; name the ARNs they act on (the stack's, as `${{name.arn}}`)",
                    quoted(&writes)
                ),
            ));
        }
        if actions.iter().any(|a| matches(a, "iam:PassRole")) {
            if everywhere {
                out.push((
                    "iam_passrole_wildcard",
                    format!("{label} allows iam:PassRole on Resource \"*\"; name the role ARNs it passes"),
                ));
            } else if !has_condition(statement, "iam:PassedToService") {
                out.push((
                    "iam_passrole_wildcard",
                    format!(
                        "{label} allows iam:PassRole without an iam:PassedToService condition; \
                         add one naming the service the role is passed to"
                    ),
                ));
            }
        }
    }
    out
}

/// Whether a statement's `Principal` is anyone: `"*"` or `{ "AWS": "*" }`.
fn anyone(statement: &serde_json::Map<String, Json>) -> bool {
    match statement.get("Principal") {
        Some(Json::String(s)) => s == "*",
        Some(Json::Object(p)) => strings(p.get("AWS")).contains(&"*"),
        _ => false,
    }
}

/// `iam_wildcard_principal` on a trust or resource policy: an `Allow` to
/// anyone with no condition narrowing it.
pub fn any_principal(label: &str, doc: &Json) -> Vec<(&'static str, String)> {
    allows(doc)
        .into_iter()
        .filter(|s| anyone(s) && s.get("Condition").is_none())
        .map(|_| {
            (
                "iam_wildcard_principal",
                format!("{label} allows Principal \"*\" (anyone); name the accounts, roles or services instead"),
            )
        })
        .collect()
}

/// `iam_service_trust_without_source` on a trust policy (see
/// [`SOURCE_EXEMPT_SERVICES`]).
pub fn service_trust(label: &str, doc: &Json) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for statement in allows(doc) {
        let Some(Json::Object(principal)) = statement.get("Principal") else { continue };
        let services: Vec<&str> =
            strings(principal.get("Service")).into_iter().filter(|s| !SOURCE_EXEMPT_SERVICES.contains(s)).collect();
        let bounded = ["aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID", "aws:SourceOrgPaths"]
            .iter()
            .any(|k| has_condition(statement, k));
        if !services.is_empty() && !bounded {
            out.push((
                "iam_service_trust_without_source",
                format!(
                    "{label} lets {} assume the role with no aws:SourceAccount or aws:SourceArn condition; \
                     add one naming this account or the resource acting",
                    quoted(&services)
                ),
            ));
        }
    }
    out
}

/// `iam_admin_managed_policy` on a role's managed policy ARNs.
pub fn managed_policies(arns: &[Value]) -> Vec<(&'static str, String)> {
    arns.iter()
        .filter_map(Value::as_str)
        .filter(|arn| is_admin_policy(arn))
        .map(|arn| {
            (
                "iam_admin_managed_policy",
                format!(
                    "`managed_policy_arns` attaches {arn}, which grants administrator or full access; \
                     write an inline policy with the actions and resources the role needs instead"
                ),
            )
        })
        .collect()
}

/// Whether a bucket policy denies every request made without TLS: a `Deny`
/// statement with `Bool { "aws:SecureTransport": "false" }` (S3 User Guide,
/// "Enforce encryption of data in transit"; Security Hub S3.5).
pub fn denies_plain_http(doc: &Json) -> bool {
    let statements = match doc.get("Statement") {
        Some(Json::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    statements.into_iter().filter_map(Json::as_object).any(|s| {
        let denies = s.get("Effect").and_then(Json::as_str) == Some("Deny");
        let plain = s
            .get("Condition")
            .and_then(|c| c.get("Bool"))
            .and_then(Json::as_object)
            .and_then(|b| b.iter().find(|(k, _)| k.eq_ignore_ascii_case("aws:SecureTransport")))
            .is_some_and(|(_, v)| matches!(v, Json::String(s) if s == "false") || v == &Json::Bool(false));
        denies && plain
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Json {
        serde_json::from_str(text).unwrap()
    }

    fn checks(found: Vec<(&'static str, String)>) -> Vec<&'static str> {
        found.into_iter().map(|f| f.0).collect()
    }

    #[test]
    fn a_wildcard_action_on_every_resource_is_three_findings() {
        let d = doc(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#);
        assert_eq!(
            checks(identity_policy("p", &d)),
            ["iam_wildcard_action", "iam_wildcard_resource_write", "iam_passrole_wildcard"]
        );
    }

    #[test]
    fn reads_on_every_resource_and_writes_on_named_ones_pass() {
        let d = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":["ec2:DescribeVolumes","s3:GetObject","codebuild:BatchGetBuilds"],"Resource":"*"},
                {"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}]}"#,
        );
        assert!(identity_policy("p", &d).is_empty());
    }

    #[test]
    fn a_write_on_every_resource_narrowed_by_the_resources_tags_passes() {
        let d = doc(r#"{"Statement":[{"Effect":"Allow","Action":"autoscaling:SuspendProcesses","Resource":"*",
                "Condition":{"StringEquals":{"aws:ResourceTag/elasticbeanstalk:environment-id":"e-1"}}}]}"#);
        assert!(checks(identity_policy("p", &d)).is_empty());
        let d = doc(r#"{"Statement":[{"Effect":"Allow","Action":"autoscaling:SuspendProcesses","Resource":"*",
                "Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}]}"#);
        assert_eq!(checks(identity_policy("p", &d)), ["iam_wildcard_resource_write"]);
    }

    #[test]
    fn a_write_on_every_resource_is_named() {
        let d = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":["codebuild:StartBuild","codebuild:BatchGetBuilds"],"Resource":"*"}]}"#,
        );
        let found = identity_policy("`inline_policies.pipeline`", &d);
        assert_eq!(found.len(), 1);
        assert!(found[0].1.starts_with("`inline_policies.pipeline` allows \"codebuild:StartBuild\" on Resource \"*\""));
    }

    #[test]
    fn pass_role_needs_named_roles_and_the_passed_to_service_condition() {
        let named =
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::1:role/r"COND}]}"#;
        assert_eq!(checks(identity_policy("p", &doc(&named.replace("COND", "")))), ["iam_passrole_wildcard"]);
        let conditioned =
            named.replace("COND", r#","Condition":{"StringEquals":{"iam:PassedToService":"codebuild.amazonaws.com"}}"#);
        assert!(identity_policy("p", &doc(&conditioned)).is_empty());
    }

    #[test]
    fn a_deny_statement_grants_nothing() {
        let d = doc(r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Principal":"*"}]}"#);
        assert!(identity_policy("p", &d).is_empty());
        assert!(any_principal("p", &d).is_empty());
    }

    #[test]
    fn anyone_as_principal_is_a_finding_unless_a_condition_narrows_it() {
        let star = doc(r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#);
        assert_eq!(checks(any_principal("p", &star)), ["iam_wildcard_principal"]);
        let narrowed = doc(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}}]}"#,
        );
        assert!(any_principal("p", &narrowed).is_empty());
    }

    #[test]
    fn a_service_trust_needs_a_source_condition_but_ec2_is_exempt() {
        let trust = |service: &str, cond: &str| {
            doc(&format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"{cond}}}]}}"#
            ))
        };
        assert_eq!(
            checks(service_trust("p", &trust("codebuild.amazonaws.com", ""))),
            ["iam_service_trust_without_source"]
        );
        assert!(service_trust("p", &trust("ec2.amazonaws.com", "")).is_empty());
        let cond = r#","Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"}}"#;
        assert!(service_trust("p", &trust("codebuild.amazonaws.com", cond)).is_empty());
    }

    #[test]
    fn administrator_and_full_access_policies_are_findings() {
        let arns: Vec<Value> = [
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::aws:policy/AdministratorAccess-AWSElasticBeanstalk",
            "arn:aws:iam::aws:policy/AmazonS3FullAccess",
            "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        ]
        .into_iter()
        .map(Value::from)
        .collect();
        assert_eq!(managed_policies(&arns).len(), 3);
    }

    #[test]
    fn a_tls_only_statement_is_recognised() {
        let d = doc(
            r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
        );
        assert!(denies_plain_http(&d));
        assert!(!denies_plain_http(&doc(r#"{"Statement":[]}"#)));
    }

    #[test]
    fn action_patterns_match_like_iam() {
        assert!(matches("iam:Pass*", "iam:PassRole"));
        assert!(matches("IAM:passrole", "iam:PassRole"));
        assert!(!matches("iam:Get*", "iam:PassRole"));
    }
}
