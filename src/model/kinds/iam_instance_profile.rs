//! The schema of `iam.instance_profile`: an IAM instance profile ([`crate::provider::iam_instance_profile`] talks to AWS).

use crate::model::schema::{BASE, Field, Replacement, Schema, Ty};

pub static SCHEMA: Schema = Schema {
    type_name: "iam.instance_profile",
    fields: &[
        Field::new("name", Ty::Str, "the profile name; defaults to <stack>-<resource>").force_new(),
        Field::new("role", Ty::Str, "the name of the role the profile holds").required().keeps_in_use(),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "arn", "name"],
    taggable: true,
    replacement: Replacement::CreateFirst { unique_name: Some("name") },
    replacement_why: "instance profile names are unique in an account: a generated name gets a suffix for the replacement",
    id_form: "the instance profile name",
    ..BASE
};
