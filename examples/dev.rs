//! The dev stack of `stacks/dev.toml`, declared as a typed Rust program: the
//! same seventeen resources, the same outputs, and the same plan.
//!
//! ```sh
//! cargo run --example dev -- plan --stack dev     # and apply, destroy, drift, output, ...
//! ```
//!
//! The stack file `stacks/dev.toml` still gives what is per stack: `[config]`
//! (read here as [`DevConfig`]), `[secrets]`, `[backend]`, the region and tags.
//! A stack file can also name this program (`[stack] program = "cargo run -q
//! --example dev --"`), so that `infra plan --stack dev` runs it.

use infra::aws::{codebuild, codepipeline, ec2, elasticbeanstalk as eb, events, iam, s3, ssm};
use infra::program::{Ctx, Input, Json, Options, Ports, ProgramError};
use infra::template;
use serde_json::json;

/// The stack file's `[config]`.
#[derive(serde::Deserialize)]
struct DevConfig {
    /// The default VPC's CIDR block: what may reach the data services.
    vpc_cidr: String,
    /// The data volume's zone; the host is placed beside it.
    zone: String,
    /// CIDR blocks allowed to SSH to the host.
    ssh_cidrs: Vec<String>,
    /// The Redis release the nodes run (a supported one).
    redis_version: String,
}

/// A trust policy letting `service` assume a role, with `condition` (none: `null`).
fn trust(service: &str, condition: serde_json::Value) -> Input<Json> {
    let mut statement = json!({ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" });
    if !condition.is_null() {
        statement["Condition"] = condition;
    }
    json!({ "Version": "2012-10-17", "Statement": [statement] }).into()
}

/// An Elastic Beanstalk option setting.
fn setting(namespace: &str, name: &str, value: impl Into<Input<String>>) -> eb::OptionSetting {
    eb::OptionSetting::new(namespace, name, value)
}

const APP_ENV: &str = "aws:elasticbeanstalk:application:environment";
const APP_SECRETS: &str = "aws:elasticbeanstalk:application:environmentsecrets";

/// The key of the pipeline's source archive in the artifact bucket.
const SOURCE_KEY: &str = "source/dev.zip";

pub fn declare(ctx: &mut Ctx) -> Result<(), ProgramError> {
    let cfg: DevConfig = ctx.config()?;
    let rule = |ports: Ports, description: &str| {
        ec2::Rule::new()
            .protocol(ec2::Protocol::Tcp)
            .ports(ports)
            .cidrs([cfg.vpc_cidr.as_str()])
            .description(description)
    };
    let data_sg = ctx.add(
        "data_sg",
        ec2::SecurityGroup::new().description("dev data services: redis cluster, elasticsearch, kibana").ingress([
            rule(Ports::range(6379, 6381), "redis clients"),
            rule(Ports::range(16379, 16381), "redis cluster bus"),
            rule(Ports::One(9200), "elasticsearch"),
            rule(Ports::One(5601), "kibana"),
            ec2::Rule::new().protocol(ec2::Protocol::Tcp).ports(22).cidrs(cfg.ssh_cidrs.iter()).description("ssh"),
        ]),
    )?;
    // Protected: no plan deletes or replaces the data (docs/day2.md: Protection).
    let data = ctx.add_with(
        "data",
        ec2::Volume::new(cfg.zone.as_str(), 30).volume_type(ec2::VolumeType::Gp3),
        Options::new().protect(true),
    )?;

    // The passwords, in AWS only as SSM SecureString parameters: Elastic Beanstalk
    // fetches them on the instance; its configuration shows only their ARNs.
    let elastic_password = ctx.add(
        "elastic_password",
        ssm::Parameter::new(ctx.secret("elastic_password"))
            .description("dev: the password of Elasticsearch's elastic user"),
    )?;
    let redis_password = ctx.add(
        "redis_password",
        ssm::Parameter::new(ctx.secret("redis_password")).description("dev: the password of the Redis cluster's nodes"),
    )?;
    // Every bucket refuses requests without TLS (`tls_only`, on by default).
    let artifacts = ctx.add(
        "artifacts",
        s3::Bucket::new()
            .versioning(true)
            .encryption(s3::Encryption::Aes256)
            .block_public_access(true)
            .force_destroy(true)
            // Its events go to EventBridge, where `source_changed` picks out a new source archive.
            .eventbridge(true),
    )?;
    let (partition, region, account) = (ctx.partition(), ctx.aws_region(), ctx.account_id());
    let this_account = json!({ "StringEquals": { "aws:SourceAccount": &account } });
    let stack = ctx.stack_name().to_string();
    // Only CodeBuild, for this account's build project, may assume it; it reads the
    // source artifact and writes the build artifact (CodePipeline keeps each under
    // <pipeline name>/<artifact name>/), and logs to its own log group.
    let build_role = ctx.add(
        "build_role",
        iam::Role::new(trust(
            "codebuild.amazonaws.com",
            json!({
                "StringEquals": { "aws:SourceAccount": &account },
                "ArnLike": { "aws:SourceArn": template!("arn:{}:codebuild:{}:{}:project/{}-build*", &partition, &region, &account, stack.as_str()) }
            }),
        ))
        .description("CodeBuild for the dev stack")
        .inline_policies([(
            "build",
            json!({
                "Version": "2012-10-17",
                "Statement": [
                    { "Effect": "Allow",
                      "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                      "Resource": template!("arn:{}:logs:{}:{}:log-group:/aws/codebuild/{}-build*", &partition, &region, &account, stack.as_str()) },
                    { "Effect": "Allow",
                      "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                      "Resource": template!("{}/*/source/*", artifacts.arn()) },
                    { "Effect": "Allow",
                      "Action": "s3:PutObject",
                      "Resource": template!("{}/*/build/*", artifacts.arn()) }
                ]
            }),
        )]),
    )?;
    let parameters = json!([elastic_password.arn(), redis_password.arn()]);
    let app_instance_role = ctx.add(
        "app_instance_role",
        iam::Role::new(trust("ec2.amazonaws.com", serde_json::Value::Null))
            .description("Elastic Beanstalk instances of the dev stack")
            .managed_policy_arns([
                // What Elastic Beanstalk's agents need; no ECS policy: the Amazon Linux
                // 2023 Docker platform runs docker compose, not the ECS agent.
                "arn:aws:iam::aws:policy/AWSElasticBeanstalkWebTier",
                // Operators reach the host through Session Manager.
                "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
            ])
            .inline_policies([
                (
                    // The platform hook attaches the data volume: that one volume, to an
                    // instance launched with this stack's instance profile only.
                    "data_volume",
                    json!({
                        "Version": "2012-10-17",
                        "Statement": [
                            { "Effect": "Allow",
                              "Action": "ec2:AttachVolume",
                              "Resource": template!("arn:{}:ec2:{}:{}:volume/{}", &partition, &region, &account, data.id()) },
                            { "Effect": "Allow",
                              "Action": "ec2:AttachVolume",
                              "Resource": template!("arn:{}:ec2:{}:{}:instance/*", &partition, &region, &account),
                              "Condition": { "ArnLike": { "ec2:InstanceProfile": template!("arn:{}:iam::{}:instance-profile/{}-app_instance_profile*", &partition, &account, stack.as_str()) } } },
                            { "Effect": "Allow",
                              "Action": ["ec2:DescribeInstances", "ec2:DescribeVolumes"],
                              "Resource": "*" }
                        ]
                    }),
                ),
                (
                    // The two passwords, and no other parameter: the Deny takes back what
                    // AmazonSSMManagedInstanceCore allows on every parameter.
                    "secrets",
                    json!({
                        "Version": "2012-10-17",
                        "Statement": [
                            { "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": &parameters },
                            { "Effect": "Deny",
                              "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory"],
                              "NotResource": &parameters }
                        ]
                    }),
                ),
            ]),
    )?;
    let app_instance_profile = ctx.add("app_instance_profile", iam::InstanceProfile::new(app_instance_role.name()))?;
    let build = ctx.add(
        "build",
        codebuild::Project::new(build_role.arn())
            .description("packages deploy/dev for Elastic Beanstalk")
            .compute_type(codebuild::ComputeType::BuildGeneral1Small)
            .privileged_mode(false)
            .environment_variables([("STACK", "dev")])
            .buildspec("deploy/dev/buildspec.yml"),
    )?;
    // Elastic Beanstalk's service role: enhanced health (read-only), and the
    // trust policy Elastic Beanstalk documents.
    let eb_service_role = ctx.add_with(
        "eb_service_role",
        iam::Role::new(trust(
            "elasticbeanstalk.amazonaws.com",
            json!({ "StringEquals": { "sts:ExternalId": "elasticbeanstalk" } }),
        ))
        .description("Elastic Beanstalk's service role for the dev environment")
        .managed_policy_arns(["arn:aws:iam::aws:policy/service-role/AWSElasticBeanstalkEnhancedHealth"]),
        Options::new().allow(
            "iam_service_trust_without_source",
            "Elastic Beanstalk documents sts:ExternalId = elasticbeanstalk for its service role, not aws:SourceAccount; a source condition it does not send would stop every environment operation",
        ),
    )?;
    let app =
        ctx.add("app", eb::Application::new().description("dev data services: redis cluster, elasticsearch, kibana"))?;
    // The version the environment is created with; CodePipeline delivers every later
    // one, so infra neither makes a new version nor deploys one over the pipeline's.
    let app_version = ctx.add_with(
        "app_version",
        eb::ApplicationVersion::new(app.name(), "deploy/dev", artifacts.bucket()),
        Options::new().ignore_changes("label"),
    )?;
    let app_env = ctx.add_with(
        "app_env",
        eb::Environment::new(app.name())
            .platform("Docker")
            .solution_stack_prefix("64bit Amazon Linux 2023")
            .version_label(app_version.label())
            .instance_type("t3.medium")
            .single_instance(true)
            .instance_profile(app_instance_profile.name())
            .security_groups([data_sg.id()])
            .availability_zone(data.availability_zone())
            .option_settings([
                setting("aws:autoscaling:launchconfiguration", "DisableDefaultEC2SecurityGroup", "true"),
                // IMDSv2 only: no container reaches the role's credentials with a plain GET.
                setting("aws:autoscaling:launchconfiguration", "DisableIMDSv1", "true"),
                setting("aws:elasticbeanstalk:command", "DeploymentPolicy", "AllAtOnce"),
                setting("aws:autoscaling:updatepolicy:rollingupdate", "RollingUpdateEnabled", "false"),
                setting("aws:elasticbeanstalk:managedactions", "ManagedActionsEnabled", "false"),
                setting("aws:elasticbeanstalk:command", "Timeout", "1800"),
                setting("aws:elasticbeanstalk:healthreporting:system", "SystemType", "enhanced"),
                setting("aws:elasticbeanstalk:environment", "ServiceRole", eb_service_role.arn()),
                setting(APP_ENV, "DATA_VOLUME_ID", data.id()),
                setting(APP_ENV, "REDIS_VERSION", cfg.redis_version.as_str()),
                // The passwords by their parameters' ARNs (environmentsecrets).
                setting(APP_SECRETS, "ELASTIC_PASSWORD", elastic_password.arn()),
                setting(APP_SECRETS, "REDIS_PASSWORD", redis_password.arn()),
            ]),
        // The first version only: the pipeline deploys the later ones (see app_version).
        Options::new().ignore_changes("version_label"),
    )?;
    let eb_bucket = template!("arn:{}:s3:::elasticbeanstalk-{}-{}", &partition, &region, &account);
    // No managed policy: what the Elastic Beanstalk deploy action needs, on this
    // pipeline's artifacts, build, application and environment (stacks/dev.toml
    // says what each statement is for, with the documentation).
    let pipeline_role = ctx.add(
        "pipeline_role",
        iam::Role::new(trust("codepipeline.amazonaws.com", this_account.clone()))
            .description("CodePipeline for the dev stack")
            .inline_policies([(
                "pipeline",
                json!({
                    "Version": "2012-10-17",
                    "Statement": [
                        { "Effect": "Allow",
                          "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketVersioning", "s3:GetBucketLocation"],
                          "Resource": [artifacts.arn(), template!("{}/*", artifacts.arn())] },
                        { "Effect": "Allow",
                          "Action": "s3:PutObject",
                          "Resource": [template!("{}/*/source/*", artifacts.arn()), template!("{}/*/build/*", artifacts.arn())] },
                        { "Effect": "Allow",
                          "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                          "Resource": build.arn() },
                        { "Effect": "Allow",
                          "Action": "elasticbeanstalk:CreateApplicationVersion",
                          "Resource": template!("arn:{}:elasticbeanstalk:{}:{}:applicationversion/{}/*", &partition, &region, &account, app.name()) },
                        { "Effect": "Allow",
                          "Action": "elasticbeanstalk:UpdateEnvironment",
                          "Resource": template!("arn:{}:elasticbeanstalk:{}:{}:environment/{}/{}", &partition, &region, &account, app.name(), app_env.name()) },
                        { "Effect": "Allow",
                          "Action": ["elasticbeanstalk:Describe*", "ec2:Describe*", "autoscaling:Describe*", "cloudformation:DescribeStacks"],
                          "Resource": "*" },
                        { "Effect": "Allow",
                          "Action": [
                              "cloudformation:GetTemplate", "cloudformation:DescribeStackResource", "cloudformation:DescribeStackResources",
                              "cloudformation:DescribeStackEvents", "cloudformation:UpdateStack", "cloudformation:CancelUpdateStack"
                          ],
                          "Resource": template!("arn:{}:cloudformation:{}:{}:stack/awseb-{}-stack/*", &partition, &region, &account, app_env.id()) },
                        { "Effect": "Allow",
                          "Action": [
                              "autoscaling:SuspendProcesses", "autoscaling:ResumeProcesses", "autoscaling:UpdateAutoScalingGroup",
                              "autoscaling:PutNotificationConfiguration"
                          ],
                          "Resource": "*",
                          "Condition": { "StringEquals": { "aws:ResourceTag/elasticbeanstalk:environment-id": app_env.id() } } },
                        { "Effect": "Allow",
                          "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketPolicy"],
                          "Resource": [&eb_bucket, template!("{}/*", &eb_bucket)] },
                        { "Effect": "Allow",
                          "Action": "iam:PassRole",
                          "Resource": app_instance_role.arn(),
                          "Condition": { "StringEquals": { "iam:PassedToService": "ec2.amazonaws.com" } } },
                        { "Effect": "Allow",
                          "Action": "iam:PassRole",
                          "Resource": eb_service_role.arn(),
                          "Condition": { "StringEquals": { "iam:PassedToService": "elasticbeanstalk.amazonaws.com" } } }
                    ]
                }),
            )]),
    )?;
    let pipeline = ctx.add(
        "pipeline",
        codepipeline::Pipeline::new(
            pipeline_role.arn(),
            artifacts.bucket(),
            codepipeline::Source::new(codepipeline::Provider::S3).bucket(artifacts.bucket()).key(SOURCE_KEY),
            build.name(),
            app.name(),
            app_env.name(),
        ),
    )?;
    // The pipeline starts when its source archive changes: a rule matches S3's
    // "Object Created" event for it and starts the pipeline as a role whose one
    // permission is that; only EventBridge acting for this account may assume it.
    let source_events_role = ctx.add(
        "source_events_role",
        iam::Role::new(trust("events.amazonaws.com", this_account))
            .description("EventBridge starting the dev pipeline")
            .inline_policies([(
                "start_pipeline",
                json!({
                    "Version": "2012-10-17",
                    "Statement": [
                        { "Effect": "Allow",
                          "Action": "codepipeline:StartPipelineExecution",
                          "Resource": pipeline.arn() }
                    ]
                }),
            )]),
    )?;
    ctx.add(
        "source_changed",
        events::Rule::new(json!({
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": { "bucket": { "name": [artifacts.bucket()] }, "object": { "key": [SOURCE_KEY] } }
        }))
        .description("starts the dev pipeline when its source archive changes")
        .targets([events::Target::new("pipeline", pipeline.arn()).role_arn(source_events_role.arn())]),
    )?;

    let ip = app_env.private_ip();
    ctx.output("private_ip", &ip);
    ctx.output("redis_cluster_nodes", template!("{}:6379,{}:6380,{}:6381", &ip, &ip, &ip));
    ctx.output("elasticsearch_url", template!("http://{}:9200", &ip));
    ctx.output("kibana_url", template!("http://{}:5601", &ip));
    ctx.output("instance_id", app_env.instance_id());
    ctx.output("security_group_id", data_sg.id());
    ctx.output("volume_id", data.id());
    ctx.output("artifact_bucket", artifacts.bucket());
    ctx.output("environment_url", app_env.endpoint_url());
    ctx.output("pipeline", pipeline.name());
    ctx.output("redis_password_parameter", redis_password.arn());
    ctx.output("elastic_password_parameter", elastic_password.arn());
    Ok(())
}

#[allow(dead_code)]
fn main() -> std::process::ExitCode {
    infra::run(declare)
}
