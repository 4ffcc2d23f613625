//! The schema of `s3.bucket`: an S3 bucket and its settings ([`crate::provider::s3_bucket`] talks to AWS).

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
            "the bucket policy (JSON text or a table), such as a Deny of requests without TLS; none when omitted",
        ),
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
