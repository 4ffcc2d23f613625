//! Each kind's schema, as data below the providers (as Terraform keeps
//! `configschema` below its providers): fields, force-new, defaults, docs,
//! replacement rules, and the pure checks and normalisers a schema names.
//! Nothing here touches an AWS SDK type; `crate::provider::<kind>` talks to
//! AWS with the schema of the same name.

pub mod codebuild_project;
pub mod codepipeline;
pub mod eb_application;
pub mod eb_application_version;
pub mod eb_environment;
pub mod events_rule;
pub mod iam_instance_profile;
pub mod iam_role;
pub mod instance;
pub mod s3_bucket;
pub mod security_group;
pub mod ssm_parameter;
pub mod volume;
pub mod volume_attachment;
