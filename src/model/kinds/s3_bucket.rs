//! The schema of `s3.bucket`: an S3 bucket and its settings ([`crate::provider::s3_bucket`] talks to AWS).
//!
//! `tls_only` (on unless turned off) is a statement infra keeps in the bucket
//! policy, beside the declared `policy`: a Deny of every S3 action on the
//! bucket and its objects for a request without TLS, as S3's security best
//! practices give it ("Enforce encryption of data in transit",
//! https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html).
//! A bucket policy cannot name its own bucket when the name is generated;
//! this statement is written with the name the bucket got. Read back, the
//! statement (by its `Sid`) is taken out of the policy again.

use serde_json::{Value as Json, json};

use crate::model::kinds::iam_role::canonical_policy;
use crate::model::schema::{BASE, Default, Field, Replacement, Schema, Ty};
use crate::model::{Path, Props, ValidationError, Value};

pub static SCHEMA: Schema = Schema {
    type_name: "s3.bucket",
    fields: &[
        Field::new("bucket", Ty::Str, "the bucket name; defaults to <stack>-<resource>-<random>").force_new(),
        Field::new("versioning", Ty::Bool, "keep every version of every object").default(Default::Bool(true)),
        Field::new("encryption", Ty::Enum(&["AES256", "aws:kms"]), "default encryption: S3-managed keys or KMS")
            .default(Default::Str("AES256")),
        Field::new("block_public_access", Ty::Bool, "turn on all four public access block settings")
            .default(Default::Bool(true)),
        Field::new(
            "eventbridge",
            Ty::Bool,
            "send the bucket's events (an object created, deleted, ...) to EventBridge, where rules match them",
        )
        .default(Default::Bool(false)),
        Field::new(
            "force_destroy",
            Ty::Bool,
            "let delete remove every object version first; otherwise a bucket with objects is not deleted",
        )
        .default(Default::Bool(false)),
        Field::new(
            "policy",
            Ty::Json,
            "the bucket policy (JSON text or a table); none when omitted (beside `tls_only`'s statement)",
        ),
        Field::new(
            "tls_only",
            Ty::Bool,
            "deny every request that does not use TLS: a statement `InfraTlsOnly` infra keeps in the bucket policy",
        )
        .default(Default::Bool(true)),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "arn", "bucket"],
    taggable: true,
    check: check_name,
    normalize,
    replacement: Replacement::CreateFirst { unique_name: Some("bucket") },
    replacement_why: "bucket names are unique across AWS: a generated name has a random suffix",
    id_form: "the bucket name",
    ..BASE
};

/// A bucket policy compares by meaning, as IAM documents do (S3 returns the
/// policy it was given with its own whitespace and list forms).
pub fn normalize(props: &mut Props) {
    if let Some(Value::Str(doc)) = props.get_mut("policy")
        && let Some(canonical) = canonical_policy(doc)
    {
        *doc = canonical;
    }
}

/// S3's longest bucket name.
pub const MAX_NAME: usize = 63;

/// A declared bucket name follows S3's rules for general purpose buckets.
pub fn check_name(props: &Props) -> Result<(), ValidationError> {
    let Some(name) = props.get("bucket").and_then(Value::as_str) else { return Ok(()) };
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=MAX_NAME).contains(&name.len())
        || !name.chars().all(allowed)
        || !edge(name.chars().next())
        || !edge(name.chars().last())
    {
        return Err(ValidationError::new(Path::root().key("bucket"), format!("invalid bucket name {name:?}"))
            .hint("use 3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit"));
    }
    Ok(())
}

/// The `Sid` of the statement `tls_only` keeps in the bucket policy.
pub const TLS_ONLY_SID: &str = "InfraTlsOnly";

/// The statement `tls_only` keeps: Deny every S3 action on the bucket and its
/// objects to a request without TLS (`aws:SecureTransport` false).
fn tls_only_statement(bucket_arn: &str) -> Json {
    json!({
        "Sid": TLS_ONLY_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, format!("{bucket_arn}/*")],
        "Condition": { "Bool": { "aws:SecureTransport": "false" } }
    })
}

/// The bucket policy to put: the declared `policy` (JSON text), with the
/// TLS-only statement added when `tls_only`; `None` when there is neither.
/// A declared policy that is not JSON is put as it is (S3 judges it).
pub fn effective_policy(policy: Option<&str>, tls_only: bool, bucket_arn: &str) -> Option<String> {
    if !tls_only {
        return policy.map(str::to_string);
    }
    let mut doc: Json = match policy {
        None => json!({ "Version": "2012-10-17", "Statement": [] }),
        Some(text) => match serde_json::from_str(text) {
            Ok(doc) => doc,
            Err(_) => return Some(text.to_string()),
        },
    };
    let Some(map) = doc.as_object_mut() else { return policy.map(str::to_string) };
    let statements = match map.remove("Statement") {
        Some(Json::Array(list)) => list,
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let mut statements: Vec<Json> =
        statements.into_iter().filter(|s| s.get("Sid").and_then(Json::as_str) != Some(TLS_ONLY_SID)).collect();
    statements.push(tls_only_statement(bucket_arn));
    map.insert("Statement".into(), Json::Array(statements));
    map.entry("Version").or_insert_with(|| json!("2012-10-17"));
    Some(doc.to_string())
}

/// A bucket policy as S3 reports it, split into whether it holds the
/// TLS-only statement and the rest: the declared `policy`, `None` when
/// nothing else is left.
pub fn split_policy(policy: &str) -> (bool, Option<String>) {
    let Ok(mut doc) = serde_json::from_str::<Json>(policy) else { return (false, Some(policy.to_string())) };
    let Some(map) = doc.as_object_mut() else { return (false, Some(policy.to_string())) };
    let statements = match map.remove("Statement") {
        Some(Json::Array(list)) => list,
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let (ours, rest): (Vec<Json>, Vec<Json>) =
        statements.into_iter().partition(|s| s.get("Sid").and_then(Json::as_str) == Some(TLS_ONLY_SID));
    if rest.is_empty() {
        return (!ours.is_empty(), None);
    }
    map.insert("Statement".into(), Json::Array(rest));
    (!ours.is_empty(), Some(doc.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:s3:::dev-artifacts-0a1b2c3d";

    #[test]
    fn the_tls_statement_alone_reads_back_as_tls_only_and_no_policy() {
        let put = effective_policy(None, true, ARN).unwrap();
        assert_eq!(split_policy(&put), (true, None));
        let doc: Json = serde_json::from_str(&put).unwrap();
        let statement = &doc["Statement"][0];
        assert_eq!(statement["Effect"], "Deny");
        assert_eq!(statement["Condition"]["Bool"]["aws:SecureTransport"], "false");
        assert_eq!(statement["Resource"], json!([ARN, format!("{ARN}/*")]));
    }

    #[test]
    fn a_declared_policy_keeps_its_statements_beside_the_tls_one_and_reads_back_the_same() {
        let declared = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
        let put = effective_policy(Some(declared), true, ARN).unwrap();
        let (tls, rest) = split_policy(&put);
        assert!(tls);
        assert_eq!(canonical_policy(&rest.unwrap()), canonical_policy(declared));
    }

    #[test]
    fn without_tls_only_the_declared_policy_is_put_as_declared() {
        assert_eq!(effective_policy(None, false, ARN), None);
        assert_eq!(effective_policy(Some("{}"), false, ARN).as_deref(), Some("{}"));
        assert!(!split_policy(r#"{"Statement":[{"Effect":"Allow"}]}"#).0);
    }
}
