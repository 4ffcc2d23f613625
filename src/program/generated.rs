//! Typed resources for stack programs, one module per AWS service and one
//! struct per resource type, generated from the schemas by
//! `infra::program::codegen`. Do not edit: `UPDATE_GOLDEN=1 cargo test --test
//! program_typed` rewrites it.

#![allow(clippy::all)]

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Kind, Props};
use crate::program::{Declare, Handle, Input, IntoValue, Json, Output, Ports, enum_input, inputs, put};

/// Resource types of AWS codebuild.
pub mod codebuild {
    use super::*;

    /// The values of `compute_type`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub enum ComputeType {
        /// `BUILD_GENERAL1_SMALL`
        BuildGeneral1Small,
        /// `BUILD_GENERAL1_MEDIUM`
        BuildGeneral1Medium,
        /// `BUILD_GENERAL1_LARGE`
        BuildGeneral1Large,
        /// `BUILD_GENERAL1_XLARGE`
        BuildGeneral1Xlarge,
        /// `BUILD_GENERAL1_2XLARGE`
        BuildGeneral12xlarge,
    }

    impl ComputeType {
        /// The value as AWS and stack files spell it.
        pub fn as_str(self) -> &'static str {
            match self {
                ComputeType::BuildGeneral1Small => "BUILD_GENERAL1_SMALL",
                ComputeType::BuildGeneral1Medium => "BUILD_GENERAL1_MEDIUM",
                ComputeType::BuildGeneral1Large => "BUILD_GENERAL1_LARGE",
                ComputeType::BuildGeneral1Xlarge => "BUILD_GENERAL1_XLARGE",
                ComputeType::BuildGeneral12xlarge => "BUILD_GENERAL1_2XLARGE",
            }
        }
    }

    impl From<ComputeType> for Input<ComputeType> {
        fn from(v: ComputeType) -> Self {
            enum_input(v.as_str())
        }
    }

    /// A `codebuild.project` (docs/resources.md); it carries the `infra:stack` and `infra:name` tags.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Project {
        /// The project name; defaults to <stack>-<resource>. Changing it replaces the resource.
        pub name: Option<Input<String>>,
        /// What the project builds.
        pub description: Option<Input<String>>,
        /// The ARN of the IAM role the build runs as.
        pub service_role: Input<String>,
        /// An inline buildspec (YAML), or the path of one in the source; defaults to buildspec.yml at the source root.
        pub buildspec: Option<Input<String>>,
        /// The build image. Default: `aws/codebuild/amazonlinux-x86_64-standard:5.0`.
        pub image: Option<Input<String>>,
        /// The build machine's size. Default: `BUILD_GENERAL1_SMALL`.
        pub compute_type: Option<Input<ComputeType>>,
        /// Run the build container privileged; needed to build Docker images. Default: `false`.
        pub privileged_mode: Option<Input<bool>>,
        /// Plaintext environment variables of the build.
        pub environment_variables: Option<BTreeMap<String, Input<String>>>,
        /// Tags beside the stack's.
        pub tags: Option<BTreeMap<String, Input<String>>>,
    }

    impl Project {
        /// A `codebuild.project` with its required properties: `service_role`.
        pub fn new(service_role: impl Into<Input<String>>) -> Self {
            Project { name: None, description: None, service_role: service_role.into(), buildspec: None, image: None, compute_type: None, privileged_mode: None, environment_variables: None, tags: None }
        }

        /// The project name; defaults to <stack>-<resource>. Changing it replaces the resource.
        pub fn name(mut self, name: impl Into<Input<String>>) -> Self {
            self.name = Some(name.into());
            self
        }

        /// What the project builds.
        pub fn description(mut self, description: impl Into<Input<String>>) -> Self {
            self.description = Some(description.into());
            self
        }

        /// An inline buildspec (YAML), or the path of one in the source; defaults to buildspec.yml at the source root.
        pub fn buildspec(mut self, buildspec: impl Into<Input<String>>) -> Self {
            self.buildspec = Some(buildspec.into());
            self
        }

        /// The build image. Default: `aws/codebuild/amazonlinux-x86_64-standard:5.0`.
        pub fn image(mut self, image: impl Into<Input<String>>) -> Self {
            self.image = Some(image.into());
            self
        }

        /// The build machine's size. Default: `BUILD_GENERAL1_SMALL`.
        pub fn compute_type(mut self, compute_type: impl Into<Input<ComputeType>>) -> Self {
            self.compute_type = Some(compute_type.into());
            self
        }

        /// Run the build container privileged; needed to build Docker images. Default: `false`.
        pub fn privileged_mode(mut self, privileged_mode: impl Into<Input<bool>>) -> Self {
            self.privileged_mode = Some(privileged_mode.into());
            self
        }

        /// Plaintext environment variables of the build.
        pub fn environment_variables(mut self, environment_variables: impl IntoIterator<Item = (impl Into<String>, impl Into<Input<String>>)>) -> Self {
            self.environment_variables = Some(environment_variables.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
            self
        }

        /// Tags beside the stack's.
        pub fn tags(mut self, tags: impl IntoIterator<Item = (impl Into<String>, impl Into<Input<String>>)>) -> Self {
            self.tags = Some(tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            put(&mut props, "name", self.name);
            put(&mut props, "description", self.description);
            props.insert("service_role".to_string(), self.service_role.into_value());
            put(&mut props, "buildspec", self.buildspec);
            put(&mut props, "image", self.image);
            put(&mut props, "compute_type", self.compute_type);
            put(&mut props, "privileged_mode", self.privileged_mode);
            put(&mut props, "environment_variables", self.environment_variables);
            put(&mut props, "tags", self.tags);
            props
        }
    }

    impl Declare for Project {
        const KIND: Kind = Kind::BuildProject;

        fn into_props(self) -> Props {
            self.into_map()
        }
    }

    impl Handle<Project> {
        /// Its `id`, known once it exists.
        pub fn id(&self) -> Output<String> {
            self.attr("id")
        }

        /// Its `arn`, known once it exists.
        pub fn arn(&self) -> Output<String> {
            self.attr("arn")
        }

        /// Its `name`, known once it exists.
        pub fn name(&self) -> Output<String> {
            self.attr("name")
        }

        /// Its `description` property, as applied.
        pub fn description(&self) -> Output<String> {
            self.attr("description")
        }

        /// Its `service_role` property, as applied.
        pub fn service_role(&self) -> Output<String> {
            self.attr("service_role")
        }

        /// Its `buildspec` property, as applied.
        pub fn buildspec(&self) -> Output<String> {
            self.attr("buildspec")
        }

        /// Its `image` property, as applied.
        pub fn image(&self) -> Output<String> {
            self.attr("image")
        }

        /// Its `compute_type` property, as applied.
        pub fn compute_type(&self) -> Output<String> {
            self.attr("compute_type")
        }

        /// Its `privileged_mode` property, as applied.
        pub fn privileged_mode(&self) -> Output<bool> {
            self.attr("privileged_mode")
        }
    }
}

/// Resource types of AWS codepipeline.
pub mod codepipeline {
    use super::*;

    /// The values of `provider`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Provider {
        /// `github`
        Github,
        /// `s3`
        S3,
    }

    impl Provider {
        /// The value as AWS and stack files spell it.
        pub fn as_str(self) -> &'static str {
            match self {
                Provider::Github => "github",
                Provider::S3 => "s3",
            }
        }
    }

    impl From<Provider> for Input<Provider> {
        fn from(v: Provider) -> Self {
            enum_input(v.as_str())
        }
    }

    /// A `source` entry of a `codepipeline.pipeline`.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Source {
        /// Github (through a CodeStar connection) or s3.
        pub provider: Input<Provider>,
        /// Github: the ARN of the CodeStar connection to GitHub.
        pub connection_arn: Option<Input<String>>,
        /// Github: the repository, "owner/name".
        pub repository: Option<Input<String>>,
        /// Github: the branch to build; defaults to main.
        pub branch: Option<Input<String>>,
        /// S3: the bucket holding the source archive.
        pub bucket: Option<Input<String>>,
        /// S3: the key of the source archive (a zip file).
        pub key: Option<Input<String>>,
    }

    impl Source {
        /// A `Source` with its required properties: `provider`.
        pub fn new(provider: impl Into<Input<Provider>>) -> Self {
            Source { provider: provider.into(), connection_arn: None, repository: None, branch: None, bucket: None, key: None }
        }

        /// Github: the ARN of the CodeStar connection to GitHub.
        pub fn connection_arn(mut self, connection_arn: impl Into<Input<String>>) -> Self {
            self.connection_arn = Some(connection_arn.into());
            self
        }

        /// Github: the repository, "owner/name".
        pub fn repository(mut self, repository: impl Into<Input<String>>) -> Self {
            self.repository = Some(repository.into());
            self
        }

        /// Github: the branch to build; defaults to main.
        pub fn branch(mut self, branch: impl Into<Input<String>>) -> Self {
            self.branch = Some(branch.into());
            self
        }

        /// S3: the bucket holding the source archive.
        pub fn bucket(mut self, bucket: impl Into<Input<String>>) -> Self {
            self.bucket = Some(bucket.into());
            self
        }

        /// S3: the key of the source archive (a zip file).
        pub fn key(mut self, key: impl Into<Input<String>>) -> Self {
            self.key = Some(key.into());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            props.insert("provider".to_string(), self.provider.into_value());
            put(&mut props, "connection_arn", self.connection_arn);
            put(&mut props, "repository", self.repository);
            put(&mut props, "branch", self.branch);
            put(&mut props, "bucket", self.bucket);
            put(&mut props, "key", self.key);
            props
        }
    }

    impl IntoValue for Source {
        fn into_value(self) -> crate::model::Value {
            crate::model::Value::Map(self.into_map())
        }
    }

    /// A `codepipeline.pipeline` (docs/resources.md); it carries the `infra:stack` and `infra:name` tags.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Pipeline {
        /// The pipeline name; defaults to <stack>-<resource>. Changing it replaces the resource.
        pub name: Option<Input<String>>,
        /// The ARN of the IAM role CodePipeline acts as.
        pub role_arn: Input<String>,
        /// The S3 bucket where the pipeline keeps its artifacts.
        pub artifact_bucket: Input<String>,
        /// Where the code comes from.
        pub source: Source,
        /// The name of the CodeBuild project of the Build stage.
        pub build_project: Input<String>,
        /// The Elastic Beanstalk application of the Deploy stage.
        pub deploy_application: Input<String>,
        /// The Elastic Beanstalk environment of the Deploy stage.
        pub deploy_environment: Input<String>,
        /// Tags beside the stack's.
        pub tags: Option<BTreeMap<String, Input<String>>>,
    }

    impl Pipeline {
        /// A `codepipeline.pipeline` with its required properties: `role_arn`, `artifact_bucket`, `source`, `build_project`, `deploy_application`, `deploy_environment`.
        pub fn new(role_arn: impl Into<Input<String>>, artifact_bucket: impl Into<Input<String>>, source: Source, build_project: impl Into<Input<String>>, deploy_application: impl Into<Input<String>>, deploy_environment: impl Into<Input<String>>) -> Self {
            Pipeline { name: None, role_arn: role_arn.into(), artifact_bucket: artifact_bucket.into(), source: source, build_project: build_project.into(), deploy_application: deploy_application.into(), deploy_environment: deploy_environment.into(), tags: None }
        }

        /// The pipeline name; defaults to <stack>-<resource>. Changing it replaces the resource.
        pub fn name(mut self, name: impl Into<Input<String>>) -> Self {
            self.name = Some(name.into());
            self
        }

        /// Tags beside the stack's.
        pub fn tags(mut self, tags: impl IntoIterator<Item = (impl Into<String>, impl Into<Input<String>>)>) -> Self {
            self.tags = Some(tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            put(&mut props, "name", self.name);
            props.insert("role_arn".to_string(), self.role_arn.into_value());
            props.insert("artifact_bucket".to_string(), self.artifact_bucket.into_value());
            props.insert("source".to_string(), self.source.into_value());
            props.insert("build_project".to_string(), self.build_project.into_value());
            props.insert("deploy_application".to_string(), self.deploy_application.into_value());
            props.insert("deploy_environment".to_string(), self.deploy_environment.into_value());
            put(&mut props, "tags", self.tags);
            props
        }
    }

    impl Declare for Pipeline {
        const KIND: Kind = Kind::Pipeline;

        fn into_props(self) -> Props {
            self.into_map()
        }
    }

    impl Handle<Pipeline> {
        /// Its `id`, known once it exists.
        pub fn id(&self) -> Output<String> {
            self.attr("id")
        }

        /// Its `arn`, known once it exists.
        pub fn arn(&self) -> Output<String> {
            self.attr("arn")
        }

        /// Its `name`, known once it exists.
        pub fn name(&self) -> Output<String> {
            self.attr("name")
        }

        /// Its `role_arn` property, as applied.
        pub fn role_arn(&self) -> Output<String> {
            self.attr("role_arn")
        }

        /// Its `artifact_bucket` property, as applied.
        pub fn artifact_bucket(&self) -> Output<String> {
            self.attr("artifact_bucket")
        }

        /// Its `build_project` property, as applied.
        pub fn build_project(&self) -> Output<String> {
            self.attr("build_project")
        }

        /// Its `deploy_application` property, as applied.
        pub fn deploy_application(&self) -> Output<String> {
            self.attr("deploy_application")
        }

        /// Its `deploy_environment` property, as applied.
        pub fn deploy_environment(&self) -> Output<String> {
            self.attr("deploy_environment")
        }
    }
}

/// Resource types of AWS ec2.
pub mod ec2 {
    use super::*;

    /// The values of `protocol`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Protocol {
        /// `tcp`
        Tcp,
        /// `udp`
        Udp,
        /// `icmp`
        Icmp,
        /// `all`
        All,
    }

    impl Protocol {
        /// The value as AWS and stack files spell it.
        pub fn as_str(self) -> &'static str {
            match self {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
                Protocol::Icmp => "icmp",
                Protocol::All => "all",
            }
        }
    }

    impl From<Protocol> for Input<Protocol> {
        fn from(v: Protocol) -> Self {
            enum_input(v.as_str())
        }
    }

    /// A `ingress` entry of a `ec2.security_group`.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
    pub struct Rule {
        /// Tcp, udp, icmp or all. Default: `tcp`.
        pub protocol: Option<Input<Protocol>>,
        /// A port (9200) or an inclusive range ("6379-6381"); omitted for protocol all.
        pub ports: Option<Input<Ports>>,
        /// Source (ingress) or destination (egress) CIDR blocks.
        pub cidrs: Option<BTreeSet<Input<String>>>,
        /// A security group id, instead of CIDRs.
        pub source_security_group: Option<Input<String>>,
        /// What the rule is for.
        pub description: Option<Input<String>>,
    }

    impl Rule {
        /// A `Rule` with its required properties (it has none).
        pub fn new() -> Self {
            Rule { protocol: None, ports: None, cidrs: None, source_security_group: None, description: None }
        }

        /// Tcp, udp, icmp or all. Default: `tcp`.
        pub fn protocol(mut self, protocol: impl Into<Input<Protocol>>) -> Self {
            self.protocol = Some(protocol.into());
            self
        }

        /// A port (9200) or an inclusive range ("6379-6381"); omitted for protocol all.
        pub fn ports(mut self, ports: impl Into<Input<Ports>>) -> Self {
            self.ports = Some(ports.into());
            self
        }

        /// Source (ingress) or destination (egress) CIDR blocks.
        pub fn cidrs(mut self, cidrs: impl IntoIterator<Item = impl Into<Input<String>>>) -> Self {
            self.cidrs = Some(inputs(cidrs).into_iter().collect());
            self
        }

        /// A security group id, instead of CIDRs.
        pub fn source_security_group(mut self, source_security_group: impl Into<Input<String>>) -> Self {
            self.source_security_group = Some(source_security_group.into());
            self
        }

        /// What the rule is for.
        pub fn description(mut self, description: impl Into<Input<String>>) -> Self {
            self.description = Some(description.into());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            put(&mut props, "protocol", self.protocol);
            put(&mut props, "ports", self.ports);
            put(&mut props, "cidrs", self.cidrs);
            put(&mut props, "source_security_group", self.source_security_group);
            put(&mut props, "description", self.description);
            props
        }
    }

    impl IntoValue for Rule {
        fn into_value(self) -> crate::model::Value {
            crate::model::Value::Map(self.into_map())
        }
    }

    /// A `ec2.security_group` (docs/resources.md); it carries the `infra:stack` and `infra:name` tags.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
    pub struct SecurityGroup {
        /// The group name; defaults to <stack>-<resource>. Changing it replaces the resource.
        pub name: Option<Input<String>>,
        /// The group description. Default: `managed by infra`. Changing it replaces the resource.
        pub description: Option<Input<String>>,
        /// The VPC; defaults to the region's default VPC. Changing it replaces the resource.
        pub vpc_id: Option<Input<String>>,
        /// Inbound rules.
        pub ingress: Option<BTreeSet<Rule>>,
        /// Outbound rules; when omitted, AWS's allow-all rule is left alone.
        pub egress: Option<BTreeSet<Rule>>,
        /// Tags beside the stack's.
        pub tags: Option<BTreeMap<String, Input<String>>>,
    }

    impl SecurityGroup {
        /// A `ec2.security_group` with its required properties (it has none).
        pub fn new() -> Self {
            SecurityGroup { name: None, description: None, vpc_id: None, ingress: None, egress: None, tags: None }
        }

        /// The group name; defaults to <stack>-<resource>. Changing it replaces the resource.
        pub fn name(mut self, name: impl Into<Input<String>>) -> Self {
            self.name = Some(name.into());
            self
        }

        /// The group description. Default: `managed by infra`. Changing it replaces the resource.
        pub fn description(mut self, description: impl Into<Input<String>>) -> Self {
            self.description = Some(description.into());
            self
        }

        /// The VPC; defaults to the region's default VPC. Changing it replaces the resource.
        pub fn vpc_id(mut self, vpc_id: impl Into<Input<String>>) -> Self {
            self.vpc_id = Some(vpc_id.into());
            self
        }

        /// Inbound rules.
        pub fn ingress(mut self, ingress: impl IntoIterator<Item = Rule>) -> Self {
            self.ingress = Some(ingress.into_iter().collect());
            self
        }

        /// Outbound rules; when omitted, AWS's allow-all rule is left alone.
        pub fn egress(mut self, egress: impl IntoIterator<Item = Rule>) -> Self {
            self.egress = Some(egress.into_iter().collect());
            self
        }

        /// Tags beside the stack's.
        pub fn tags(mut self, tags: impl IntoIterator<Item = (impl Into<String>, impl Into<Input<String>>)>) -> Self {
            self.tags = Some(tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            put(&mut props, "name", self.name);
            put(&mut props, "description", self.description);
            put(&mut props, "vpc_id", self.vpc_id);
            put(&mut props, "ingress", self.ingress);
            put(&mut props, "egress", self.egress);
            put(&mut props, "tags", self.tags);
            props
        }
    }

    impl Declare for SecurityGroup {
        const KIND: Kind = Kind::SecurityGroup;

        fn into_props(self) -> Props {
            self.into_map()
        }
    }

    impl Handle<SecurityGroup> {
        /// Its `id`, known once it exists.
        pub fn id(&self) -> Output<String> {
            self.attr("id")
        }

        /// Its `arn`, known once it exists.
        pub fn arn(&self) -> Output<String> {
            self.attr("arn")
        }

        /// Its `vpc_id`, known once it exists.
        pub fn vpc_id(&self) -> Output<String> {
            self.attr("vpc_id")
        }

        /// Its `name`, known once it exists.
        pub fn name(&self) -> Output<String> {
            self.attr("name")
        }

        /// Its `description` property, as applied.
        pub fn description(&self) -> Output<String> {
            self.attr("description")
        }
    }

    /// The values of `http_tokens`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub enum HttpTokens {
        /// `required`
        Required,
        /// `optional`
        Optional,
    }

    impl HttpTokens {
        /// The value as AWS and stack files spell it.
        pub fn as_str(self) -> &'static str {
            match self {
                HttpTokens::Required => "required",
                HttpTokens::Optional => "optional",
            }
        }
    }

    impl From<HttpTokens> for Input<HttpTokens> {
        fn from(v: HttpTokens) -> Self {
            enum_input(v.as_str())
        }
    }

    /// A `ec2.instance` (docs/resources.md); it carries the `infra:stack` and `infra:name` tags.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Instance {
        /// An AMI id; when omitted, resolved from `ami_parameter`. Changing it replaces the resource.
        pub ami: Option<Input<String>>,
        /// The SSM parameter naming the AMI. Default: `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64`. Changing it replaces the resource.
        pub ami_parameter: Option<Input<String>>,
        /// Such as t3.medium.
        pub instance_type: Input<String>,
        /// The subnet; defaults to one of the default VPC's. Changing it replaces the resource.
        pub subnet_id: Option<Input<String>>,
        /// The availability zone, when no subnet is given. Changing it replaces the resource.
        pub availability_zone: Option<Input<String>>,
        /// Security groups.
        pub security_group_ids: Option<BTreeSet<Input<String>>>,
        /// An EC2 key pair for SSH. Changing it replaces the resource.
        pub key_name: Option<Input<String>>,
        /// A script run at first boot. Changing it replaces the resource.
        pub user_data: Option<Input<String>>,
        /// Instance metadata: `required` answers IMDSv2 (session tokens) only; `optional` also IMDSv1. Default: `required`.
        pub http_tokens: Option<Input<HttpTokens>>,
        /// How many network hops an IMDSv2 token travels: 2 lets containers on the host (one hop more) reach it. Default: `2`.
        pub http_put_response_hop_limit: Option<Input<i64>>,
        /// The root volume's size in GiB. Changing it replaces the resource.
        pub root_volume_size: Option<Input<i64>>,
        /// Tags beside the stack's.
        pub tags: Option<BTreeMap<String, Input<String>>>,
    }

    impl Instance {
        /// A `ec2.instance` with its required properties: `instance_type`.
        pub fn new(instance_type: impl Into<Input<String>>) -> Self {
            Instance { ami: None, ami_parameter: None, instance_type: instance_type.into(), subnet_id: None, availability_zone: None, security_group_ids: None, key_name: None, user_data: None, http_tokens: None, http_put_response_hop_limit: None, root_volume_size: None, tags: None }
        }

        /// An AMI id; when omitted, resolved from `ami_parameter`. Changing it replaces the resource.
        pub fn ami(mut self, ami: impl Into<Input<String>>) -> Self {
            self.ami = Some(ami.into());
            self
        }

        /// The SSM parameter naming the AMI. Default: `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64`. Changing it replaces the resource.
        pub fn ami_parameter(mut self, ami_parameter: impl Into<Input<String>>) -> Self {
            self.ami_parameter = Some(ami_parameter.into());
            self
        }

        /// The subnet; defaults to one of the default VPC's. Changing it replaces the resource.
        pub fn subnet_id(mut self, subnet_id: impl Into<Input<String>>) -> Self {
            self.subnet_id = Some(subnet_id.into());
            self
        }

        /// The availability zone, when no subnet is given. Changing it replaces the resource.
        pub fn availability_zone(mut self, availability_zone: impl Into<Input<String>>) -> Self {
            self.availability_zone = Some(availability_zone.into());
            self
        }

        /// Security groups.
        pub fn security_group_ids(mut self, security_group_ids: impl IntoIterator<Item = impl Into<Input<String>>>) -> Self {
            self.security_group_ids = Some(inputs(security_group_ids).into_iter().collect());
            self
        }

        /// An EC2 key pair for SSH. Changing it replaces the resource.
        pub fn key_name(mut self, key_name: impl Into<Input<String>>) -> Self {
            self.key_name = Some(key_name.into());
            self
        }

        /// A script run at first boot. Changing it replaces the resource.
        pub fn user_data(mut self, user_data: impl Into<Input<String>>) -> Self {
            self.user_data = Some(user_data.into());
            self
        }

        /// Instance metadata: `required` answers IMDSv2 (session tokens) only; `optional` also IMDSv1. Default: `required`.
        pub fn http_tokens(mut self, http_tokens: impl Into<Input<HttpTokens>>) -> Self {
            self.http_tokens = Some(http_tokens.into());
            self
        }

        /// How many network hops an IMDSv2 token travels: 2 lets containers on the host (one hop more) reach it. Default: `2`.
        pub fn http_put_response_hop_limit(mut self, http_put_response_hop_limit: impl Into<Input<i64>>) -> Self {
            self.http_put_response_hop_limit = Some(http_put_response_hop_limit.into());
            self
        }

        /// The root volume's size in GiB. Changing it replaces the resource.
        pub fn root_volume_size(mut self, root_volume_size: impl Into<Input<i64>>) -> Self {
            self.root_volume_size = Some(root_volume_size.into());
            self
        }

        /// Tags beside the stack's.
        pub fn tags(mut self, tags: impl IntoIterator<Item = (impl Into<String>, impl Into<Input<String>>)>) -> Self {
            self.tags = Some(tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            put(&mut props, "ami", self.ami);
            put(&mut props, "ami_parameter", self.ami_parameter);
            props.insert("instance_type".to_string(), self.instance_type.into_value());
            put(&mut props, "subnet_id", self.subnet_id);
            put(&mut props, "availability_zone", self.availability_zone);
            put(&mut props, "security_group_ids", self.security_group_ids);
            put(&mut props, "key_name", self.key_name);
            put(&mut props, "user_data", self.user_data);
            put(&mut props, "http_tokens", self.http_tokens);
            put(&mut props, "http_put_response_hop_limit", self.http_put_response_hop_limit);
            put(&mut props, "root_volume_size", self.root_volume_size);
            put(&mut props, "tags", self.tags);
            props
        }
    }

    impl Declare for Instance {
        const KIND: Kind = Kind::Instance;

        fn into_props(self) -> Props {
            self.into_map()
        }
    }

    impl Handle<Instance> {
        /// Its `id`, known once it exists.
        pub fn id(&self) -> Output<String> {
            self.attr("id")
        }

        /// Its `arn`, known once it exists.
        pub fn arn(&self) -> Output<String> {
            self.attr("arn")
        }

        /// Its `private_ip`, known once it exists.
        pub fn private_ip(&self) -> Output<String> {
            self.attr("private_ip")
        }

        /// Its `public_ip`, known once it exists.
        pub fn public_ip(&self) -> Output<String> {
            self.attr("public_ip")
        }

        /// Its `private_dns`, known once it exists.
        pub fn private_dns(&self) -> Output<String> {
            self.attr("private_dns")
        }

        /// Its `availability_zone`, known once it exists.
        pub fn availability_zone(&self) -> Output<String> {
            self.attr("availability_zone")
        }

        /// Its `subnet_id`, known once it exists.
        pub fn subnet_id(&self) -> Output<String> {
            self.attr("subnet_id")
        }

        /// Its `vpc_id`, known once it exists.
        pub fn vpc_id(&self) -> Output<String> {
            self.attr("vpc_id")
        }

        /// Its `ami` property, as applied.
        pub fn ami(&self) -> Output<String> {
            self.attr("ami")
        }

        /// Its `ami_parameter` property, as applied.
        pub fn ami_parameter(&self) -> Output<String> {
            self.attr("ami_parameter")
        }

        /// Its `instance_type` property, as applied.
        pub fn instance_type(&self) -> Output<String> {
            self.attr("instance_type")
        }

        /// Its `key_name` property, as applied.
        pub fn key_name(&self) -> Output<String> {
            self.attr("key_name")
        }

        /// Its `user_data` property, as applied.
        pub fn user_data(&self) -> Output<String> {
            self.attr("user_data")
        }

        /// Its `http_tokens` property, as applied.
        pub fn http_tokens(&self) -> Output<String> {
            self.attr("http_tokens")
        }

        /// Its `http_put_response_hop_limit` property, as applied.
        pub fn http_put_response_hop_limit(&self) -> Output<i64> {
            self.attr("http_put_response_hop_limit")
        }

        /// Its `root_volume_size` property, as applied.
        pub fn root_volume_size(&self) -> Output<i64> {
            self.attr("root_volume_size")
        }
    }

    /// The values of `volume_type`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub enum VolumeType {
        /// `gp3`
        Gp3,
        /// `gp2`
        Gp2,
        /// `io1`
        Io1,
        /// `io2`
        Io2,
        /// `st1`
        St1,
        /// `sc1`
        Sc1,
        /// `standard`
        Standard,
    }

    impl VolumeType {
        /// The value as AWS and stack files spell it.
        pub fn as_str(self) -> &'static str {
            match self {
                VolumeType::Gp3 => "gp3",
                VolumeType::Gp2 => "gp2",
                VolumeType::Io1 => "io1",
                VolumeType::Io2 => "io2",
                VolumeType::St1 => "st1",
                VolumeType::Sc1 => "sc1",
                VolumeType::Standard => "standard",
            }
        }
    }

    impl From<VolumeType> for Input<VolumeType> {
        fn from(v: VolumeType) -> Self {
            enum_input(v.as_str())
        }
    }

    /// A `ec2.volume` (docs/resources.md); it carries the `infra:stack` and `infra:name` tags.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Volume {
        /// The availability zone; the instance's, to attach it. Changing it replaces the resource.
        pub availability_zone: Input<String>,
        /// Size in GiB; can grow in place, never shrink.
        pub size: Input<i64>,
        /// The volume type. Default: `gp3`.
        pub volume_type: Option<Input<VolumeType>>,
        /// Provisioned IOPS (gp3, io1, io2).
        pub iops: Option<Input<i64>>,
        /// Throughput in MiB/s (gp3).
        pub throughput: Option<Input<i64>>,
        /// Encrypt at rest. Default: `true`. Changing it replaces the resource.
        pub encrypted: Option<Input<bool>>,
        /// Tags beside the stack's.
        pub tags: Option<BTreeMap<String, Input<String>>>,
    }

    impl Volume {
        /// A `ec2.volume` with its required properties: `availability_zone`, `size`.
        pub fn new(availability_zone: impl Into<Input<String>>, size: impl Into<Input<i64>>) -> Self {
            Volume { availability_zone: availability_zone.into(), size: size.into(), volume_type: None, iops: None, throughput: None, encrypted: None, tags: None }
        }

        /// The volume type. Default: `gp3`.
        pub fn volume_type(mut self, volume_type: impl Into<Input<VolumeType>>) -> Self {
            self.volume_type = Some(volume_type.into());
            self
        }

        /// Provisioned IOPS (gp3, io1, io2).
        pub fn iops(mut self, iops: impl Into<Input<i64>>) -> Self {
            self.iops = Some(iops.into());
            self
        }

        /// Throughput in MiB/s (gp3).
        pub fn throughput(mut self, throughput: impl Into<Input<i64>>) -> Self {
            self.throughput = Some(throughput.into());
            self
        }

        /// Encrypt at rest. Default: `true`. Changing it replaces the resource.
        pub fn encrypted(mut self, encrypted: impl Into<Input<bool>>) -> Self {
            self.encrypted = Some(encrypted.into());
            self
        }

        /// Tags beside the stack's.
        pub fn tags(mut self, tags: impl IntoIterator<Item = (impl Into<String>, impl Into<Input<String>>)>) -> Self {
            self.tags = Some(tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            props.insert("availability_zone".to_string(), self.availability_zone.into_value());
            props.insert("size".to_string(), self.size.into_value());
            put(&mut props, "volume_type", self.volume_type);
            put(&mut props, "iops", self.iops);
            put(&mut props, "throughput", self.throughput);
            put(&mut props, "encrypted", self.encrypted);
            put(&mut props, "tags", self.tags);
            props
        }
    }

    impl Declare for Volume {
        const KIND: Kind = Kind::Volume;

        fn into_props(self) -> Props {
            self.into_map()
        }
    }

    impl Handle<Volume> {
        /// Its `id`, known once it exists.
        pub fn id(&self) -> Output<String> {
            self.attr("id")
        }

        /// Its `arn`, known once it exists.
        pub fn arn(&self) -> Output<String> {
            self.attr("arn")
        }

        /// Its `availability_zone`, known once it exists.
        pub fn availability_zone(&self) -> Output<String> {
            self.attr("availability_zone")
        }

        /// Its `size` property, as applied.
        pub fn size(&self) -> Output<i64> {
            self.attr("size")
        }

        /// Its `volume_type` property, as applied.
        pub fn volume_type(&self) -> Output<String> {
            self.attr("volume_type")
        }

        /// Its `iops` property, as applied.
        pub fn iops(&self) -> Output<i64> {
            self.attr("iops")
        }

        /// Its `throughput` property, as applied.
        pub fn throughput(&self) -> Output<i64> {
            self.attr("throughput")
        }

        /// Its `encrypted` property, as applied.
        pub fn encrypted(&self) -> Output<bool> {
            self.attr("encrypted")
        }
    }

    /// A `ec2.volume_attachment` (docs/resources.md).
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct VolumeAttachment {
        /// The instance. Changing it replaces the resource.
        pub instance_id: Input<String>,
        /// The volume. Changing it replaces the resource.
        pub volume_id: Input<String>,
        /// The device name, such as /dev/sdf. Changing it replaces the resource.
        pub device_name: Input<String>,
    }

    impl VolumeAttachment {
        /// A `ec2.volume_attachment` with its required properties: `instance_id`, `volume_id`, `device_name`.
        pub fn new(instance_id: impl Into<Input<String>>, volume_id: impl Into<Input<String>>, device_name: impl Into<Input<String>>) -> Self {
            VolumeAttachment { instance_id: instance_id.into(), volume_id: volume_id.into(), device_name: device_name.into() }
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            props.insert("instance_id".to_string(), self.instance_id.into_value());
            props.insert("volume_id".to_string(), self.volume_id.into_value());
            props.insert("device_name".to_string(), self.device_name.into_value());
            props
        }
    }

    impl Declare for VolumeAttachment {
        const KIND: Kind = Kind::VolumeAttachment;

        fn into_props(self) -> Props {
            self.into_map()
        }
    }

    impl Handle<VolumeAttachment> {
        /// Its `id`, known once it exists.
        pub fn id(&self) -> Output<String> {
            self.attr("id")
        }

        /// Its `instance_id` property, as applied.
        pub fn instance_id(&self) -> Output<String> {
            self.attr("instance_id")
        }

        /// Its `volume_id` property, as applied.
        pub fn volume_id(&self) -> Output<String> {
            self.attr("volume_id")
        }

        /// Its `device_name` property, as applied.
        pub fn device_name(&self) -> Output<String> {
            self.attr("device_name")
        }
    }
}

/// Resource types of AWS elasticbeanstalk.
pub mod elasticbeanstalk {
    use super::*;

    /// A `elasticbeanstalk.application` (docs/resources.md); it carries the `infra:stack` and `infra:name` tags.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
    pub struct Application {
        /// The application name; defaults to <stack>-<resource>. Changing it replaces the resource.
        pub name: Option<Input<String>>,
        /// What the application is for.
        pub description: Option<Input<String>>,
        /// Tags beside the stack's.
        pub tags: Option<BTreeMap<String, Input<String>>>,
    }

    impl Application {
        /// A `elasticbeanstalk.application` with its required properties (it has none).
        pub fn new() -> Self {
            Application { name: None, description: None, tags: None }
        }

        /// The application name; defaults to <stack>-<resource>. Changing it replaces the resource.
        pub fn name(mut self, name: impl Into<Input<String>>) -> Self {
            self.name = Some(name.into());
            self
        }

        /// What the application is for.
        pub fn description(mut self, description: impl Into<Input<String>>) -> Self {
            self.description = Some(description.into());
            self
        }

        /// Tags beside the stack's.
        pub fn tags(mut self, tags: impl IntoIterator<Item = (impl Into<String>, impl Into<Input<String>>)>) -> Self {
            self.tags = Some(tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            put(&mut props, "name", self.name);
            put(&mut props, "description", self.description);
            put(&mut props, "tags", self.tags);
            props
        }
    }

    impl Declare for Application {
        const KIND: Kind = Kind::EbApplication;

        fn into_props(self) -> Props {
            self.into_map()
        }
    }

    impl Handle<Application> {
        /// Its `id`, known once it exists.
        pub fn id(&self) -> Output<String> {
            self.attr("id")
        }

        /// Its `name`, known once it exists.
        pub fn name(&self) -> Output<String> {
            self.attr("name")
        }

        /// Its `arn`, known once it exists.
        pub fn arn(&self) -> Output<String> {
            self.attr("arn")
        }

        /// Its `description` property, as applied.
        pub fn description(&self) -> Output<String> {
            self.attr("description")
        }
    }

    /// A `elasticbeanstalk.application_version` (docs/resources.md).
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct ApplicationVersion {
        /// The application's name. Changing it replaces the resource.
        pub application: Input<String>,
        /// The directory to deploy, relative to the project directory.
        pub source_dir: Input<String>,
        /// The S3 bucket the bundle is uploaded to. Changing it replaces the resource.
        pub bucket: Input<String>,
        /// Set from the content hash of `source_dir`; not written in a stack. Changing it replaces the resource.
        pub label: Option<Input<String>>,
    }

    impl ApplicationVersion {
        /// A `elasticbeanstalk.application_version` with its required properties: `application`, `source_dir`, `bucket`.
        pub fn new(application: impl Into<Input<String>>, source_dir: impl Into<Input<String>>, bucket: impl Into<Input<String>>) -> Self {
            ApplicationVersion { application: application.into(), source_dir: source_dir.into(), bucket: bucket.into(), label: None }
        }

        /// Set from the content hash of `source_dir`; not written in a stack. Changing it replaces the resource.
        pub fn label(mut self, label: impl Into<Input<String>>) -> Self {
            self.label = Some(label.into());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            props.insert("application".to_string(), self.application.into_value());
            props.insert("source_dir".to_string(), self.source_dir.into_value());
            props.insert("bucket".to_string(), self.bucket.into_value());
            put(&mut props, "label", self.label);
            props
        }
    }

    impl Declare for ApplicationVersion {
        const KIND: Kind = Kind::EbVersion;

        fn into_props(self) -> Props {
            self.into_map()
        }
    }

    impl Handle<ApplicationVersion> {
        /// Its `id`, known once it exists.
        pub fn id(&self) -> Output<String> {
            self.attr("id")
        }

        /// Its `label`, known once it exists.
        pub fn label(&self) -> Output<String> {
            self.attr("label")
        }

        /// Its `key`, known once it exists.
        pub fn key(&self) -> Output<String> {
            self.attr("key")
        }

        /// Its `application` property, as applied.
        pub fn application(&self) -> Output<String> {
            self.attr("application")
        }

        /// Its `source_dir` property, as applied.
        pub fn source_dir(&self) -> Output<String> {
            self.attr("source_dir")
        }

        /// Its `bucket` property, as applied.
        pub fn bucket(&self) -> Output<String> {
            self.attr("bucket")
        }
    }

    /// A `option_settings` entry of a `elasticbeanstalk.environment`.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct OptionSetting {
        /// The option's namespace: aws:elasticbeanstalk:application:environment, ...
        pub namespace: Input<String>,
        /// The option's name.
        pub name: Input<String>,
        /// The option's value.
        pub value: Input<String>,
    }

    impl OptionSetting {
        /// A `OptionSetting` with its required properties: `namespace`, `name`, `value`.
        pub fn new(namespace: impl Into<Input<String>>, name: impl Into<Input<String>>, value: impl Into<Input<String>>) -> Self {
            OptionSetting { namespace: namespace.into(), name: name.into(), value: value.into() }
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            props.insert("namespace".to_string(), self.namespace.into_value());
            props.insert("name".to_string(), self.name.into_value());
            props.insert("value".to_string(), self.value.into_value());
            props
        }
    }

    impl IntoValue for OptionSetting {
        fn into_value(self) -> crate::model::Value {
            crate::model::Value::Map(self.into_map())
        }
    }

    /// A `elasticbeanstalk.environment` (docs/resources.md); it carries the `infra:stack` and `infra:name` tags.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Environment {
        /// The environment name (4-40 letters, digits, hyphens); defaults to <stack>-<resource>. Changing it replaces the resource.
        pub name: Option<Input<String>>,
        /// The application's name. Changing it replaces the resource.
        pub application: Input<String>,
        /// What the solution stack runs: its name ends with `running <platform>`. Default: `Docker`. Changing it replaces the resource.
        pub platform: Option<Input<String>>,
        /// The start of the solution stack's name. Default: `64bit Amazon Linux 2023`. Changing it replaces the resource.
        pub solution_stack_prefix: Option<Input<String>>,
        /// The application version to run, usually `${version.label}`.
        pub version_label: Option<Input<String>>,
        /// The EC2 instance type. Default: `t3.medium`.
        pub instance_type: Option<Input<String>>,
        /// One instance without a load balancer. Default: `true`.
        pub single_instance: Option<Input<bool>>,
        /// The instance profile's name, for the instances' permissions.
        pub instance_profile: Option<Input<String>>,
        /// The instances' security group ids, beside Elastic Beanstalk's own group unless the stack disables it.
        pub security_groups: Option<BTreeSet<Input<String>>>,
        /// The zone the instances run in (the default VPC's subnet there), such as their data volume's.
        pub availability_zone: Option<Input<String>>,
        /// The VPC of `subnets`, for an environment outside the default VPC.
        pub vpc_id: Option<Input<String>>,
        /// The subnets the instances run in (with `vpc_id`).
        pub subnets: Option<BTreeSet<Input<String>>>,
        /// Any other option settings.
        pub option_settings: Option<BTreeSet<OptionSetting>>,
        /// Tags beside the stack's.
        pub tags: Option<BTreeMap<String, Input<String>>>,
    }

    impl Environment {
        /// A `elasticbeanstalk.environment` with its required properties: `application`.
        pub fn new(application: impl Into<Input<String>>) -> Self {
            Environment { name: None, application: application.into(), platform: None, solution_stack_prefix: None, version_label: None, instance_type: None, single_instance: None, instance_profile: None, security_groups: None, availability_zone: None, vpc_id: None, subnets: None, option_settings: None, tags: None }
        }

        /// The environment name (4-40 letters, digits, hyphens); defaults to <stack>-<resource>. Changing it replaces the resource.
        pub fn name(mut self, name: impl Into<Input<String>>) -> Self {
            self.name = Some(name.into());
            self
        }

        /// What the solution stack runs: its name ends with `running <platform>`. Default: `Docker`. Changing it replaces the resource.
        pub fn platform(mut self, platform: impl Into<Input<String>>) -> Self {
            self.platform = Some(platform.into());
            self
        }

        /// The start of the solution stack's name. Default: `64bit Amazon Linux 2023`. Changing it replaces the resource.
        pub fn solution_stack_prefix(mut self, solution_stack_prefix: impl Into<Input<String>>) -> Self {
            self.solution_stack_prefix = Some(solution_stack_prefix.into());
            self
        }

        /// The application version to run, usually `${version.label}`.
        pub fn version_label(mut self, version_label: impl Into<Input<String>>) -> Self {
            self.version_label = Some(version_label.into());
            self
        }

        /// The EC2 instance type. Default: `t3.medium`.
        pub fn instance_type(mut self, instance_type: impl Into<Input<String>>) -> Self {
            self.instance_type = Some(instance_type.into());
            self
        }

        /// One instance without a load balancer. Default: `true`.
        pub fn single_instance(mut self, single_instance: impl Into<Input<bool>>) -> Self {
            self.single_instance = Some(single_instance.into());
            self
        }

        /// The instance profile's name, for the instances' permissions.
        pub fn instance_profile(mut self, instance_profile: impl Into<Input<String>>) -> Self {
            self.instance_profile = Some(instance_profile.into());
            self
        }

        /// The instances' security group ids, beside Elastic Beanstalk's own group unless the stack disables it.
        pub fn security_groups(mut self, security_groups: impl IntoIterator<Item = impl Into<Input<String>>>) -> Self {
            self.security_groups = Some(inputs(security_groups).into_iter().collect());
            self
        }

        /// The zone the instances run in (the default VPC's subnet there), such as their data volume's.
        pub fn availability_zone(mut self, availability_zone: impl Into<Input<String>>) -> Self {
            self.availability_zone = Some(availability_zone.into());
            self
        }

        /// The VPC of `subnets`, for an environment outside the default VPC.
        pub fn vpc_id(mut self, vpc_id: impl Into<Input<String>>) -> Self {
            self.vpc_id = Some(vpc_id.into());
            self
        }

        /// The subnets the instances run in (with `vpc_id`).
        pub fn subnets(mut self, subnets: impl IntoIterator<Item = impl Into<Input<String>>>) -> Self {
            self.subnets = Some(inputs(subnets).into_iter().collect());
            self
        }

        /// Any other option settings.
        pub fn option_settings(mut self, option_settings: impl IntoIterator<Item = OptionSetting>) -> Self {
            self.option_settings = Some(option_settings.into_iter().collect());
            self
        }

        /// Tags beside the stack's.
        pub fn tags(mut self, tags: impl IntoIterator<Item = (impl Into<String>, impl Into<Input<String>>)>) -> Self {
            self.tags = Some(tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            put(&mut props, "name", self.name);
            props.insert("application".to_string(), self.application.into_value());
            put(&mut props, "platform", self.platform);
            put(&mut props, "solution_stack_prefix", self.solution_stack_prefix);
            put(&mut props, "version_label", self.version_label);
            put(&mut props, "instance_type", self.instance_type);
            put(&mut props, "single_instance", self.single_instance);
            put(&mut props, "instance_profile", self.instance_profile);
            put(&mut props, "security_groups", self.security_groups);
            put(&mut props, "availability_zone", self.availability_zone);
            put(&mut props, "vpc_id", self.vpc_id);
            put(&mut props, "subnets", self.subnets);
            put(&mut props, "option_settings", self.option_settings);
            put(&mut props, "tags", self.tags);
            props
        }
    }

    impl Declare for Environment {
        const KIND: Kind = Kind::EbEnvironment;

        fn into_props(self) -> Props {
            self.into_map()
        }
    }

    impl Handle<Environment> {
        /// Its `id`, known once it exists.
        pub fn id(&self) -> Output<String> {
            self.attr("id")
        }

        /// Its `name`, known once it exists.
        pub fn name(&self) -> Output<String> {
            self.attr("name")
        }

        /// Its `arn`, known once it exists.
        pub fn arn(&self) -> Output<String> {
            self.attr("arn")
        }

        /// Its `cname`, known once it exists.
        pub fn cname(&self) -> Output<String> {
            self.attr("cname")
        }

        /// Its `endpoint_url`, known once it exists.
        pub fn endpoint_url(&self) -> Output<String> {
            self.attr("endpoint_url")
        }

        /// Its `solution_stack`, known once it exists.
        pub fn solution_stack(&self) -> Output<String> {
            self.attr("solution_stack")
        }

        /// Its `instance_id`, known once it exists.
        pub fn instance_id(&self) -> Output<String> {
            self.attr("instance_id")
        }

        /// Its `private_ip`, known once it exists.
        pub fn private_ip(&self) -> Output<String> {
            self.attr("private_ip")
        }

        /// Its `application` property, as applied.
        pub fn application(&self) -> Output<String> {
            self.attr("application")
        }

        /// Its `platform` property, as applied.
        pub fn platform(&self) -> Output<String> {
            self.attr("platform")
        }

        /// Its `solution_stack_prefix` property, as applied.
        pub fn solution_stack_prefix(&self) -> Output<String> {
            self.attr("solution_stack_prefix")
        }

        /// Its `version_label` property, as applied.
        pub fn version_label(&self) -> Output<String> {
            self.attr("version_label")
        }

        /// Its `instance_type` property, as applied.
        pub fn instance_type(&self) -> Output<String> {
            self.attr("instance_type")
        }

        /// Its `single_instance` property, as applied.
        pub fn single_instance(&self) -> Output<bool> {
            self.attr("single_instance")
        }

        /// Its `instance_profile` property, as applied.
        pub fn instance_profile(&self) -> Output<String> {
            self.attr("instance_profile")
        }

        /// Its `availability_zone` property, as applied.
        pub fn availability_zone(&self) -> Output<String> {
            self.attr("availability_zone")
        }

        /// Its `vpc_id` property, as applied.
        pub fn vpc_id(&self) -> Output<String> {
            self.attr("vpc_id")
        }
    }
}

/// Resource types of AWS events.
pub mod events {
    use super::*;

    /// The values of `state`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub enum State {
        /// `ENABLED`
        Enabled,
        /// `DISABLED`
        Disabled,
    }

    impl State {
        /// The value as AWS and stack files spell it.
        pub fn as_str(self) -> &'static str {
            match self {
                State::Enabled => "ENABLED",
                State::Disabled => "DISABLED",
            }
        }
    }

    impl From<State> for Input<State> {
        fn from(v: State) -> Self {
            enum_input(v.as_str())
        }
    }

    /// A `targets` entry of a `events.rule`.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Target {
        /// The target's id within the rule: 1 to 64 letters, digits, `.`, `-` and `_`.
        pub id: Input<String>,
        /// The ARN of what receives the events (a pipeline, a function, a queue).
        pub arn: Input<String>,
        /// The ARN of the IAM role EventBridge acts as to reach the target.
        pub role_arn: Option<Input<String>>,
    }

    impl Target {
        /// A `Target` with its required properties: `id`, `arn`.
        pub fn new(id: impl Into<Input<String>>, arn: impl Into<Input<String>>) -> Self {
            Target { id: id.into(), arn: arn.into(), role_arn: None }
        }

        /// The ARN of the IAM role EventBridge acts as to reach the target.
        pub fn role_arn(mut self, role_arn: impl Into<Input<String>>) -> Self {
            self.role_arn = Some(role_arn.into());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            props.insert("id".to_string(), self.id.into_value());
            props.insert("arn".to_string(), self.arn.into_value());
            put(&mut props, "role_arn", self.role_arn);
            props
        }
    }

    impl IntoValue for Target {
        fn into_value(self) -> crate::model::Value {
            crate::model::Value::Map(self.into_map())
        }
    }

    /// A `events.rule` (docs/resources.md); it carries the `infra:stack` and `infra:name` tags.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Rule {
        /// The rule name; defaults to <stack>-<resource> (at most 64 characters). Changing it replaces the resource.
        pub name: Option<Input<String>>,
        /// What the rule is for.
        pub description: Option<Input<String>>,
        /// The events the rule matches: an EventBridge event pattern.
        pub event_pattern: Input<Json>,
        /// Whether the rule sends what it matches to its targets. Default: `ENABLED`.
        pub state: Option<Input<State>>,
        /// Where matching events go, at most 5.
        pub targets: Option<BTreeSet<Target>>,
        /// Tags beside the stack's.
        pub tags: Option<BTreeMap<String, Input<String>>>,
    }

    impl Rule {
        /// A `events.rule` with its required properties: `event_pattern`.
        pub fn new(event_pattern: impl Into<Input<Json>>) -> Self {
            Rule { name: None, description: None, event_pattern: event_pattern.into(), state: None, targets: None, tags: None }
        }

        /// The rule name; defaults to <stack>-<resource> (at most 64 characters). Changing it replaces the resource.
        pub fn name(mut self, name: impl Into<Input<String>>) -> Self {
            self.name = Some(name.into());
            self
        }

        /// What the rule is for.
        pub fn description(mut self, description: impl Into<Input<String>>) -> Self {
            self.description = Some(description.into());
            self
        }

        /// Whether the rule sends what it matches to its targets. Default: `ENABLED`.
        pub fn state(mut self, state: impl Into<Input<State>>) -> Self {
            self.state = Some(state.into());
            self
        }

        /// Where matching events go, at most 5.
        pub fn targets(mut self, targets: impl IntoIterator<Item = Target>) -> Self {
            self.targets = Some(targets.into_iter().collect());
            self
        }

        /// Tags beside the stack's.
        pub fn tags(mut self, tags: impl IntoIterator<Item = (impl Into<String>, impl Into<Input<String>>)>) -> Self {
            self.tags = Some(tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            put(&mut props, "name", self.name);
            put(&mut props, "description", self.description);
            props.insert("event_pattern".to_string(), self.event_pattern.into_value());
            put(&mut props, "state", self.state);
            put(&mut props, "targets", self.targets);
            put(&mut props, "tags", self.tags);
            props
        }
    }

    impl Declare for Rule {
        const KIND: Kind = Kind::EventRule;

        fn into_props(self) -> Props {
            self.into_map()
        }
    }

    impl Handle<Rule> {
        /// Its `id`, known once it exists.
        pub fn id(&self) -> Output<String> {
            self.attr("id")
        }

        /// Its `arn`, known once it exists.
        pub fn arn(&self) -> Output<String> {
            self.attr("arn")
        }

        /// Its `name`, known once it exists.
        pub fn name(&self) -> Output<String> {
            self.attr("name")
        }

        /// Its `description` property, as applied.
        pub fn description(&self) -> Output<String> {
            self.attr("description")
        }

        /// Its `state` property, as applied.
        pub fn state(&self) -> Output<String> {
            self.attr("state")
        }
    }
}

/// Resource types of AWS iam.
pub mod iam {
    use super::*;

    /// A `iam.role` (docs/resources.md); it carries the `infra:stack` and `infra:name` tags.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Role {
        /// The role name; defaults to <stack>-<resource> (at most 64 characters). Changing it replaces the resource.
        pub name: Option<Input<String>>,
        /// What the role is for.
        pub description: Option<Input<String>>,
        /// The trust policy: who may assume the role.
        pub assume_role_policy: Input<Json>,
        /// ARNs of the managed policies attached to the role.
        pub managed_policy_arns: Option<BTreeSet<Input<String>>>,
        /// Inline policies: policy name -> policy document.
        pub inline_policies: Option<BTreeMap<String, Input<Json>>>,
        /// Tags beside the stack's.
        pub tags: Option<BTreeMap<String, Input<String>>>,
    }

    impl Role {
        /// A `iam.role` with its required properties: `assume_role_policy`.
        pub fn new(assume_role_policy: impl Into<Input<Json>>) -> Self {
            Role { name: None, description: None, assume_role_policy: assume_role_policy.into(), managed_policy_arns: None, inline_policies: None, tags: None }
        }

        /// The role name; defaults to <stack>-<resource> (at most 64 characters). Changing it replaces the resource.
        pub fn name(mut self, name: impl Into<Input<String>>) -> Self {
            self.name = Some(name.into());
            self
        }

        /// What the role is for.
        pub fn description(mut self, description: impl Into<Input<String>>) -> Self {
            self.description = Some(description.into());
            self
        }

        /// ARNs of the managed policies attached to the role.
        pub fn managed_policy_arns(mut self, managed_policy_arns: impl IntoIterator<Item = impl Into<Input<String>>>) -> Self {
            self.managed_policy_arns = Some(inputs(managed_policy_arns).into_iter().collect());
            self
        }

        /// Inline policies: policy name -> policy document.
        pub fn inline_policies(mut self, inline_policies: impl IntoIterator<Item = (impl Into<String>, impl Into<Input<Json>>)>) -> Self {
            self.inline_policies = Some(inline_policies.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
            self
        }

        /// Tags beside the stack's.
        pub fn tags(mut self, tags: impl IntoIterator<Item = (impl Into<String>, impl Into<Input<String>>)>) -> Self {
            self.tags = Some(tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            put(&mut props, "name", self.name);
            put(&mut props, "description", self.description);
            props.insert("assume_role_policy".to_string(), self.assume_role_policy.into_value());
            put(&mut props, "managed_policy_arns", self.managed_policy_arns);
            put(&mut props, "inline_policies", self.inline_policies);
            put(&mut props, "tags", self.tags);
            props
        }
    }

    impl Declare for Role {
        const KIND: Kind = Kind::Role;

        fn into_props(self) -> Props {
            self.into_map()
        }
    }

    impl Handle<Role> {
        /// Its `id`, known once it exists.
        pub fn id(&self) -> Output<String> {
            self.attr("id")
        }

        /// Its `arn`, known once it exists.
        pub fn arn(&self) -> Output<String> {
            self.attr("arn")
        }

        /// Its `name`, known once it exists.
        pub fn name(&self) -> Output<String> {
            self.attr("name")
        }

        /// Its `description` property, as applied.
        pub fn description(&self) -> Output<String> {
            self.attr("description")
        }
    }

    /// A `iam.instance_profile` (docs/resources.md); it carries the `infra:stack` and `infra:name` tags.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct InstanceProfile {
        /// The profile name; defaults to <stack>-<resource>. Changing it replaces the resource.
        pub name: Option<Input<String>>,
        /// The name of the role the profile holds.
        pub role: Input<String>,
        /// Tags beside the stack's.
        pub tags: Option<BTreeMap<String, Input<String>>>,
    }

    impl InstanceProfile {
        /// A `iam.instance_profile` with its required properties: `role`.
        pub fn new(role: impl Into<Input<String>>) -> Self {
            InstanceProfile { name: None, role: role.into(), tags: None }
        }

        /// The profile name; defaults to <stack>-<resource>. Changing it replaces the resource.
        pub fn name(mut self, name: impl Into<Input<String>>) -> Self {
            self.name = Some(name.into());
            self
        }

        /// Tags beside the stack's.
        pub fn tags(mut self, tags: impl IntoIterator<Item = (impl Into<String>, impl Into<Input<String>>)>) -> Self {
            self.tags = Some(tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            put(&mut props, "name", self.name);
            props.insert("role".to_string(), self.role.into_value());
            put(&mut props, "tags", self.tags);
            props
        }
    }

    impl Declare for InstanceProfile {
        const KIND: Kind = Kind::InstanceProfile;

        fn into_props(self) -> Props {
            self.into_map()
        }
    }

    impl Handle<InstanceProfile> {
        /// Its `id`, known once it exists.
        pub fn id(&self) -> Output<String> {
            self.attr("id")
        }

        /// Its `arn`, known once it exists.
        pub fn arn(&self) -> Output<String> {
            self.attr("arn")
        }

        /// Its `name`, known once it exists.
        pub fn name(&self) -> Output<String> {
            self.attr("name")
        }

        /// Its `role` property, as applied.
        pub fn role(&self) -> Output<String> {
            self.attr("role")
        }
    }
}

/// Resource types of AWS s3.
pub mod s3 {
    use super::*;

    /// The values of `encryption`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Encryption {
        /// `AES256`
        Aes256,
        /// `aws:kms`
        AwsKms,
    }

    impl Encryption {
        /// The value as AWS and stack files spell it.
        pub fn as_str(self) -> &'static str {
            match self {
                Encryption::Aes256 => "AES256",
                Encryption::AwsKms => "aws:kms",
            }
        }
    }

    impl From<Encryption> for Input<Encryption> {
        fn from(v: Encryption) -> Self {
            enum_input(v.as_str())
        }
    }

    /// A `s3.bucket` (docs/resources.md); it carries the `infra:stack` and `infra:name` tags.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
    pub struct Bucket {
        /// The bucket name; defaults to <stack>-<resource>-<random>. Changing it replaces the resource.
        pub bucket: Option<Input<String>>,
        /// Keep every version of every object. Default: `true`.
        pub versioning: Option<Input<bool>>,
        /// Default encryption: S3-managed keys or KMS. Default: `AES256`.
        pub encryption: Option<Input<Encryption>>,
        /// Turn on all four public access block settings. Default: `true`.
        pub block_public_access: Option<Input<bool>>,
        /// Send the bucket's events (an object created, deleted, ...) to EventBridge, where rules match them. Default: `false`.
        pub eventbridge: Option<Input<bool>>,
        /// Let delete remove every object version first; otherwise a bucket with objects is not deleted. Default: `false`.
        pub force_destroy: Option<Input<bool>>,
        /// The bucket policy (JSON text or a table); none when omitted (beside `tls_only`'s statement).
        pub policy: Option<Input<Json>>,
        /// Deny every request that does not use TLS: a statement `InfraTlsOnly` infra keeps in the bucket policy. Default: `true`.
        pub tls_only: Option<Input<bool>>,
        /// Tags beside the stack's.
        pub tags: Option<BTreeMap<String, Input<String>>>,
    }

    impl Bucket {
        /// A `s3.bucket` with its required properties (it has none).
        pub fn new() -> Self {
            Bucket { bucket: None, versioning: None, encryption: None, block_public_access: None, eventbridge: None, force_destroy: None, policy: None, tls_only: None, tags: None }
        }

        /// The bucket name; defaults to <stack>-<resource>-<random>. Changing it replaces the resource.
        pub fn bucket(mut self, bucket: impl Into<Input<String>>) -> Self {
            self.bucket = Some(bucket.into());
            self
        }

        /// Keep every version of every object. Default: `true`.
        pub fn versioning(mut self, versioning: impl Into<Input<bool>>) -> Self {
            self.versioning = Some(versioning.into());
            self
        }

        /// Default encryption: S3-managed keys or KMS. Default: `AES256`.
        pub fn encryption(mut self, encryption: impl Into<Input<Encryption>>) -> Self {
            self.encryption = Some(encryption.into());
            self
        }

        /// Turn on all four public access block settings. Default: `true`.
        pub fn block_public_access(mut self, block_public_access: impl Into<Input<bool>>) -> Self {
            self.block_public_access = Some(block_public_access.into());
            self
        }

        /// Send the bucket's events (an object created, deleted, ...) to EventBridge, where rules match them. Default: `false`.
        pub fn eventbridge(mut self, eventbridge: impl Into<Input<bool>>) -> Self {
            self.eventbridge = Some(eventbridge.into());
            self
        }

        /// Let delete remove every object version first; otherwise a bucket with objects is not deleted. Default: `false`.
        pub fn force_destroy(mut self, force_destroy: impl Into<Input<bool>>) -> Self {
            self.force_destroy = Some(force_destroy.into());
            self
        }

        /// The bucket policy (JSON text or a table); none when omitted (beside `tls_only`'s statement).
        pub fn policy(mut self, policy: impl Into<Input<Json>>) -> Self {
            self.policy = Some(policy.into());
            self
        }

        /// Deny every request that does not use TLS: a statement `InfraTlsOnly` infra keeps in the bucket policy. Default: `true`.
        pub fn tls_only(mut self, tls_only: impl Into<Input<bool>>) -> Self {
            self.tls_only = Some(tls_only.into());
            self
        }

        /// Tags beside the stack's.
        pub fn tags(mut self, tags: impl IntoIterator<Item = (impl Into<String>, impl Into<Input<String>>)>) -> Self {
            self.tags = Some(tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            put(&mut props, "bucket", self.bucket);
            put(&mut props, "versioning", self.versioning);
            put(&mut props, "encryption", self.encryption);
            put(&mut props, "block_public_access", self.block_public_access);
            put(&mut props, "eventbridge", self.eventbridge);
            put(&mut props, "force_destroy", self.force_destroy);
            put(&mut props, "policy", self.policy);
            put(&mut props, "tls_only", self.tls_only);
            put(&mut props, "tags", self.tags);
            props
        }
    }

    impl Declare for Bucket {
        const KIND: Kind = Kind::Bucket;

        fn into_props(self) -> Props {
            self.into_map()
        }
    }

    impl Handle<Bucket> {
        /// Its `id`, known once it exists.
        pub fn id(&self) -> Output<String> {
            self.attr("id")
        }

        /// Its `arn`, known once it exists.
        pub fn arn(&self) -> Output<String> {
            self.attr("arn")
        }

        /// Its `bucket`, known once it exists.
        pub fn bucket(&self) -> Output<String> {
            self.attr("bucket")
        }

        /// Its `versioning` property, as applied.
        pub fn versioning(&self) -> Output<bool> {
            self.attr("versioning")
        }

        /// Its `encryption` property, as applied.
        pub fn encryption(&self) -> Output<String> {
            self.attr("encryption")
        }

        /// Its `block_public_access` property, as applied.
        pub fn block_public_access(&self) -> Output<bool> {
            self.attr("block_public_access")
        }

        /// Its `eventbridge` property, as applied.
        pub fn eventbridge(&self) -> Output<bool> {
            self.attr("eventbridge")
        }

        /// Its `force_destroy` property, as applied.
        pub fn force_destroy(&self) -> Output<bool> {
            self.attr("force_destroy")
        }

        /// Its `tls_only` property, as applied.
        pub fn tls_only(&self) -> Output<bool> {
            self.attr("tls_only")
        }
    }
}

/// Resource types of AWS ssm.
pub mod ssm {
    use super::*;

    /// The values of `tier`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Tier {
        /// `Standard`
        Standard,
        /// `Advanced`
        Advanced,
    }

    impl Tier {
        /// The value as AWS and stack files spell it.
        pub fn as_str(self) -> &'static str {
            match self {
                Tier::Standard => "Standard",
                Tier::Advanced => "Advanced",
            }
        }
    }

    impl From<Tier> for Input<Tier> {
        fn from(v: Tier) -> Self {
            enum_input(v.as_str())
        }
    }

    /// A `ssm.parameter` (docs/resources.md); it carries the `infra:stack` and `infra:name` tags.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Parameter {
        /// The parameter name; defaults to /<stack>/<resource>. Letters, digits, `.`, `-`, `_` and `/` (a path such as /dev/elastic_password begins with `/`); not beginning with aws or ssm. Changing it replaces the resource.
        pub name: Option<Input<String>>,
        /// What the parameter holds (never the secret itself).
        pub description: Option<Input<String>>,
        /// The secret, normally `${secret.NAME}`: stored as a SecureString, encrypted with `key_id` (never a String parameter, whose value anyone who may describe it can read); at most 4 KB (Standard) or 8 KB (Advanced). A secret: never shown.
        pub value: Input<String>,
        /// The KMS key that encrypts the value: a key id, key ARN, alias name or alias ARN, compared as written. Default: `alias/aws/ssm`.
        pub key_id: Option<Input<String>>,
        /// Standard (free, values up to 4 KB) or Advanced (charged, up to 8 KB); Standard can become Advanced in place, never back. Default: `Standard`.
        pub tier: Option<Input<Tier>>,
        /// Tags beside the stack's.
        pub tags: Option<BTreeMap<String, Input<String>>>,
    }

    impl Parameter {
        /// A `ssm.parameter` with its required properties: `value`.
        pub fn new(value: impl Into<Input<String>>) -> Self {
            Parameter { name: None, description: None, value: value.into(), key_id: None, tier: None, tags: None }
        }

        /// The parameter name; defaults to /<stack>/<resource>. Letters, digits, `.`, `-`, `_` and `/` (a path such as /dev/elastic_password begins with `/`); not beginning with aws or ssm. Changing it replaces the resource.
        pub fn name(mut self, name: impl Into<Input<String>>) -> Self {
            self.name = Some(name.into());
            self
        }

        /// What the parameter holds (never the secret itself).
        pub fn description(mut self, description: impl Into<Input<String>>) -> Self {
            self.description = Some(description.into());
            self
        }

        /// The KMS key that encrypts the value: a key id, key ARN, alias name or alias ARN, compared as written. Default: `alias/aws/ssm`.
        pub fn key_id(mut self, key_id: impl Into<Input<String>>) -> Self {
            self.key_id = Some(key_id.into());
            self
        }

        /// Standard (free, values up to 4 KB) or Advanced (charged, up to 8 KB); Standard can become Advanced in place, never back. Default: `Standard`.
        pub fn tier(mut self, tier: impl Into<Input<Tier>>) -> Self {
            self.tier = Some(tier.into());
            self
        }

        /// Tags beside the stack's.
        pub fn tags(mut self, tags: impl IntoIterator<Item = (impl Into<String>, impl Into<Input<String>>)>) -> Self {
            self.tags = Some(tags.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
            self
        }

        fn into_map(self) -> Props {
            let mut props = Props::new();
            put(&mut props, "name", self.name);
            put(&mut props, "description", self.description);
            props.insert("value".to_string(), self.value.into_value());
            put(&mut props, "key_id", self.key_id);
            put(&mut props, "tier", self.tier);
            put(&mut props, "tags", self.tags);
            props
        }
    }

    impl Declare for Parameter {
        const KIND: Kind = Kind::SsmParameter;

        fn into_props(self) -> Props {
            self.into_map()
        }
    }

    impl Handle<Parameter> {
        /// Its `id`, known once it exists.
        pub fn id(&self) -> Output<String> {
            self.attr("id")
        }

        /// Its `arn`, known once it exists.
        pub fn arn(&self) -> Output<String> {
            self.attr("arn")
        }

        /// Its `name`, known once it exists.
        pub fn name(&self) -> Output<String> {
            self.attr("name")
        }

        /// Its `version`, known once it exists.
        pub fn version(&self) -> Output<String> {
            self.attr("version")
        }

        /// Its `description` property, as applied.
        pub fn description(&self) -> Output<String> {
            self.attr("description")
        }

        /// Its `value` property, as applied.
        pub fn value(&self) -> Output<String> {
            self.attr("value")
        }

        /// Its `key_id` property, as applied.
        pub fn key_id(&self) -> Output<String> {
            self.attr("key_id")
        }

        /// Its `tier` property, as applied.
        pub fn tier(&self) -> Output<String> {
            self.attr("tier")
        }
    }
}
