//! The resource kinds `infra` manages, and the way from a kind to its schema.

use std::fmt;

use super::kinds;
use super::schema::Schema;

/// A kind of AWS resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Kind {
    SecurityGroup,
    Instance,
    Volume,
    VolumeAttachment,
    Role,
    InstanceProfile,
    Bucket,
    BuildProject,
    EbApplication,
    EbVersion,
    EbEnvironment,
    Pipeline,
    EventRule,
    SsmParameter,
}

impl Kind {
    /// Every kind, in the order refresh and rendering list them.
    pub const ALL: &'static [Kind] = &[
        Kind::SecurityGroup,
        Kind::Instance,
        Kind::Volume,
        Kind::VolumeAttachment,
        Kind::Role,
        Kind::InstanceProfile,
        Kind::Bucket,
        Kind::BuildProject,
        Kind::EbApplication,
        Kind::EbVersion,
        Kind::EbEnvironment,
        Kind::Pipeline,
        Kind::EventRule,
        Kind::SsmParameter,
    ];

    /// The kind's static schema.
    pub fn schema(self) -> &'static Schema {
        match self {
            Kind::SecurityGroup => &kinds::security_group::SCHEMA,
            Kind::Instance => &kinds::instance::SCHEMA,
            Kind::Volume => &kinds::volume::SCHEMA,
            Kind::VolumeAttachment => &kinds::volume_attachment::SCHEMA,
            Kind::Role => &kinds::iam_role::SCHEMA,
            Kind::InstanceProfile => &kinds::iam_instance_profile::SCHEMA,
            Kind::Bucket => &kinds::s3_bucket::SCHEMA,
            Kind::BuildProject => &kinds::codebuild_project::SCHEMA,
            Kind::EbApplication => &kinds::eb_application::SCHEMA,
            Kind::EbVersion => &kinds::eb_application_version::SCHEMA,
            Kind::EbEnvironment => &kinds::eb_environment::SCHEMA,
            Kind::Pipeline => &kinds::codepipeline::SCHEMA,
            Kind::EventRule => &kinds::events_rule::SCHEMA,
            Kind::SsmParameter => &kinds::ssm_parameter::SCHEMA,
        }
    }

    /// The AWS service behind the kind (its type name's first part).
    pub fn service(self) -> &'static str {
        let name = self.type_name();
        name.split_once('.').map_or(name, |(service, _)| service)
    }

    /// The name used in stack files (`type = "ec2.instance"`).
    pub fn type_name(self) -> &'static str {
        self.schema().type_name
    }

    pub fn from_type_name(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.type_name() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}

impl From<Kind> for &'static str {
    fn from(k: Kind) -> Self {
        k.type_name()
    }
}

impl TryFrom<String> for Kind {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        Kind::from_type_name(&name).ok_or_else(|| format!("unknown resource type `{name}`"))
    }
}
