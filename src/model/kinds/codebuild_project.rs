//! The schema of `codebuild.project`: a CodeBuild project ([`crate::provider::codebuild_project`] talks to AWS).

use crate::model::schema::{BASE, Default, Field, Replacement, Schema, Ty};
use crate::model::{Props, Value};

/// The image a project builds in unless the stack names another.
pub const DEFAULT_IMAGE: &str = "aws/codebuild/amazonlinux-x86_64-standard:5.0";

/// The general-purpose (EC2) machine sizes, smallest first.
pub const COMPUTE_TYPES: &[&str] = &[
    "BUILD_GENERAL1_SMALL",
    "BUILD_GENERAL1_MEDIUM",
    "BUILD_GENERAL1_LARGE",
    "BUILD_GENERAL1_XLARGE",
    "BUILD_GENERAL1_2XLARGE",
];

pub static SCHEMA: Schema = Schema {
    type_name: "codebuild.project",
    fields: &[
        Field::new("name", Ty::Str, "the project name; defaults to <stack>-<resource>").force_new(),
        Field::new("description", Ty::Str, "what the project builds"),
        Field::new("service_role", Ty::Str, "the ARN of the IAM role the build runs as").required(),
        Field::new(
            "buildspec",
            Ty::Str,
            "an inline buildspec (YAML), or the path of one in the source; defaults to buildspec.yml at the source root",
        ),
        Field::new("image", Ty::Str, "the build image").default(Default::Str(DEFAULT_IMAGE)),
        Field::new("compute_type", Ty::Enum(COMPUTE_TYPES), "the build machine's size")
            .default(Default::Str("BUILD_GENERAL1_SMALL")),
        Field::new("privileged_mode", Ty::Bool, "run the build container privileged; needed to build Docker images")
            .default(Default::Bool(false)),
        Field::new("environment_variables", Ty::Map(&Ty::Str), "plaintext environment variables of the build"),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "arn", "name"],
    taggable: true,
    normalize,
    replacement: Replacement::CreateFirst { unique_name: Some("name") },
    replacement_why: "project names are unique in an account's region: a generated name gets a suffix for the replacement",
    id_form: "the project name",
    ..BASE
};

/// AWS keeps no empty description or buildspec: an empty one means none.
pub fn normalize(props: &mut Props) {
    for key in ["description", "buildspec"] {
        if props.get(key).and_then(Value::as_str) == Some("") {
            props.remove(key);
        }
    }
}
