//! The schema of `codepipeline.pipeline`: a CodePipeline pipeline of three stages ([`crate::provider::codepipeline`] talks to AWS).

use crate::model::schema::{BASE, Field, Replacement, Schema, Ty};
use crate::model::{Path, Props, ValidationError, Value};

/// Where a pipeline's source comes from.
pub const SOURCE_PROVIDERS: &[&str] = &["github", "s3"];

/// The branch a GitHub source builds unless the stack names another.
pub const DEFAULT_BRANCH: &str = "main";

const SOURCE_FIELDS: &[Field] = &[
    Field::new("provider", Ty::Enum(SOURCE_PROVIDERS), "github (through a CodeStar connection) or s3").required(),
    Field::new("connection_arn", Ty::Str, "github: the ARN of the CodeStar connection to GitHub"),
    Field::new("repository", Ty::Str, "github: the repository, \"owner/name\""),
    Field::new("branch", Ty::Str, "github: the branch to build; defaults to main"),
    Field::new("bucket", Ty::Str, "s3: the bucket holding the source archive"),
    Field::new("key", Ty::Str, "s3: the key of the source archive (a zip file)"),
];

pub static SCHEMA: Schema = Schema {
    type_name: "codepipeline.pipeline",
    fields: &[
        Field::new("name", Ty::Str, "the pipeline name; defaults to <stack>-<resource>").force_new(),
        Field::new("role_arn", Ty::Str, "the ARN of the IAM role CodePipeline acts as").required(),
        Field::new("artifact_bucket", Ty::Str, "the S3 bucket where the pipeline keeps its artifacts").required(),
        Field::new("source", Ty::Object(SOURCE_FIELDS), "where the code comes from").required(),
        Field::new("build_project", Ty::Str, "the name of the CodeBuild project of the Build stage").required(),
        Field::new("deploy_application", Ty::Str, "the Elastic Beanstalk application of the Deploy stage").required(),
        Field::new("deploy_environment", Ty::Str, "the Elastic Beanstalk environment of the Deploy stage").required(),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "arn", "name"],
    taggable: true,
    check: check_source,
    normalize,
    replacement: Replacement::CreateFirst { unique_name: Some("name") },
    replacement_why: "pipeline names are unique in an account's region: a generated name gets a suffix for the replacement",
    id_form: "the pipeline name",
    ..BASE
};

/// The fields each source provider needs, and those it does not take.
fn source_fields(provider: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    match provider {
        "github" => Some((&["connection_arn", "repository"], &["bucket", "key"])),
        "s3" => Some((&["bucket", "key"], &["connection_arn", "repository", "branch"])),
        _ => None,
    }
}

/// A github source needs a connection and a repository, an s3 one a bucket and a
/// key; neither takes the other's fields.
fn check_source(props: &Props) -> Result<(), ValidationError> {
    let Some(source) = props.get("source").and_then(Value::as_map) else { return Ok(()) };
    let at = Path::root().key("source");
    let Some(provider) = source.get("provider").and_then(Value::as_str) else { return Ok(()) };
    let Some((needs, refuses)) = source_fields(provider) else { return Ok(()) };
    for field in needs {
        if !source.contains_key(*field) {
            return Err(ValidationError::new(at.key(field), format!("a {provider} source needs `{field}`"))
                .hint(format!("set `source.{field}`")));
        }
    }
    for field in refuses {
        if source.contains_key(*field) {
            let other = if provider == "github" { "s3" } else { "github" };
            return Err(ValidationError::new(at.key(field), format!("a {provider} source takes no `{field}`"))
                .hint(format!("`{field}` belongs to a {other} source")));
        }
    }
    if let Some(Value::Str(repo)) = source.get("repository") {
        let parts: Vec<&str> = repo.split('/').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(ValidationError::new(at.key("repository"), format!("invalid repository {repo:?}"))
                .hint("write the owner and the repository's name: \"owner/name\""));
        }
    }
    Ok(())
}

/// A github source builds `main` unless it names a branch.
pub fn normalize(props: &mut Props) {
    if let Some(Value::Map(source)) = props.get_mut("source")
        && source.get("provider").and_then(Value::as_str) == Some("github")
        && !source.contains_key("branch")
    {
        source.insert("branch".into(), Value::from(DEFAULT_BRANCH));
    }
}
