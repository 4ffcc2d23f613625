//! The schema of `elasticbeanstalk.application`: an Elastic Beanstalk application ([`crate::provider::eb_application`] talks to AWS).

use crate::model::schema::{BASE, Field, Replacement, Schema, Ty};

pub static SCHEMA: Schema = Schema {
    type_name: "elasticbeanstalk.application",
    fields: &[
        Field::new("name", Ty::Str, "the application name; defaults to <stack>-<resource>").force_new(),
        Field::new("description", Ty::Str, "what the application is for"),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "name", "arn"],
    taggable: true,
    replacement: Replacement::CreateFirst { unique_name: Some("name") },
    replacement_why: "application names are unique in an account's region: a generated name gets a suffix for the replacement",
    id_form: "the application name",
    ..BASE
};
