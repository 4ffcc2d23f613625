//! The schema of `elasticbeanstalk.application_version`: an Elastic Beanstalk application version ([`crate::provider::eb_application_version`] talks to AWS).

use crate::model::schema::{BASE, Field, Replacement, Schema, Ty};

pub static SCHEMA: Schema = Schema {
    type_name: "elasticbeanstalk.application_version",
    fields: &[
        Field::new("application", Ty::Str, "the application's name").required().force_new(),
        Field::new("source_dir", Ty::Str, "the directory to deploy, relative to the project directory").required(),
        Field::new("bucket", Ty::Str, "the S3 bucket the bundle is uploaded to").required().force_new(),
        Field::new("label", Ty::Str, "set from the content hash of `source_dir`; not written in a stack").force_new(),
    ],
    outputs: &["id", "label", "key"],
    replacement: Replacement::CreateFirst { unique_name: None },
    replacement_why: "labels are unique in an application: a replacement's label gets a suffix",
    id_form: "`<application name>/<version label>`",
    ..BASE
};
