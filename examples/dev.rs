//! The dev stack of `stacks/dev.toml`, declared as a typed Rust program: the
//! same fourteen resources, the same outputs, and the same plan.
//!
//! ```sh
//! cargo run --example dev -- plan --stack dev     # and apply, destroy, drift, output, ...
//! ```
//!
//! The stack file `stacks/dev.toml` still gives what is per stack: `[config]`
//! (read here as [`DevConfig`]), `[secrets]`, `[backend]`, the region and tags.
//! A stack file can also name this program (`[stack] program = "cargo run -q
//! --example dev --"`), so that `infra plan --stack dev` runs it.

use infra::aws::{codebuild, codepipeline, ec2, elasticbeanstalk as eb, events, iam, s3};
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
}

/// A trust policy letting `service` assume a role.
fn trust(service: &str) -> Input<Json> {
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" }]
    })
    .into()
}

/// An Elastic Beanstalk option setting.
fn setting(namespace: &str, name: &str, value: impl Into<Input<String>>) -> eb::OptionSetting {
    eb::OptionSetting::new(namespace, name, value)
}

const APP_ENV: &str = "aws:elasticbeanstalk:application:environment";

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
    // Protected: no plan deletes or replaces the data (README: Day-2 operations).
    let data = ctx.add_with(
        "data",
        ec2::Volume::new(cfg.zone.as_str(), 30).volume_type(ec2::VolumeType::Gp3),
        Options::new().protect(true),
    )?;

    let artifacts = ctx.add_with(
        "artifacts",
        s3::Bucket::new()
            .versioning(true)
            .encryption(s3::Encryption::Aes256)
            .block_public_access(true)
            .force_destroy(true)
            // Its events go to EventBridge, where `source_changed` picks out a new source archive.
            .eventbridge(true),
        Options::new().allow(
            "s3_no_tls_only_policy",
            "its name is generated and a bucket policy cannot name its own bucket yet (issue 23)",
        ),
    )?;
    let objects = template!("{}/*", artifacts.arn());
    let build_role = ctx.add_with(
        "build_role",
        iam::Role::new(trust("codebuild.amazonaws.com")).description("CodeBuild for the dev stack").inline_policies([
            (
                "build",
                json!({
                    "Version": "2012-10-17",
                    "Statement": [
                        // Its own log group: CodeBuild logs to /aws/codebuild/<project name>.
                        { "Effect": "Allow",
                          "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                          "Resource": format!("arn:aws:logs:*:*:log-group:/aws/codebuild/{}-build*", ctx.stack_name()) },
                        { "Effect": "Allow",
                          "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                          "Resource": objects }
                    ]
                }),
            ),
        ]),
        Options::new()
            .allow("iam_service_trust_without_source", "a stack cannot name its account id yet, which aws:SourceAccount needs (issue 23)"),
    )?;
    // The platform hook attaches the data volume to the instance it runs on:
    // that one volume, to the stack's instances, and no other.
    let app_instance_role = ctx.add(
        "app_instance_role",
        iam::Role::new(trust("ec2.amazonaws.com"))
            .description("Elastic Beanstalk instances of the dev stack")
            .managed_policy_arns([
                // What Elastic Beanstalk's agents need; no ECS policy: the Amazon Linux
                // 2023 Docker platform runs docker compose, not the ECS agent.
                "arn:aws:iam::aws:policy/AWSElasticBeanstalkWebTier",
                // Operators reach the host through Session Manager.
                "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
            ])
            .inline_policies([(
                "data_volume",
                json!({
                    "Version": "2012-10-17",
                    "Statement": [
                        { "Effect": "Allow",
                          "Action": "ec2:AttachVolume",
                          "Resource": template!("arn:aws:ec2:*:*:volume/{}", data.id()) },
                        { "Effect": "Allow",
                          "Action": "ec2:AttachVolume",
                          "Resource": "arn:aws:ec2:*:*:instance/*",
                          "Condition": { "StringEquals": { "aws:ResourceTag/infra:stack": ctx.stack_name() } } },
                        { "Effect": "Allow",
                          "Action": ["ec2:DescribeInstances", "ec2:DescribeVolumes"],
                          "Resource": "*" }
                    ]
                }),
            )]),
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
    let pipeline_role = ctx.add_with(
        "pipeline_role",
        iam::Role::new(trust("codepipeline.amazonaws.com"))
            .description("CodePipeline for the dev stack")
            // The Elastic Beanstalk deploy action's documented minimum is service-wide
            // (Elastic Beanstalk updates the environment's CloudFormation stack with
            // the caller's permissions): this managed policy is that set.
            .managed_policy_arns(["arn:aws:iam::aws:policy/AdministratorAccess-AWSElasticBeanstalk"])
            // Its own: the artifact bucket, and builds of this project only.
            .inline_policies([(
                "pipeline",
                json!({
                    "Version": "2012-10-17",
                    "Statement": [
                        { "Effect": "Allow",
                          "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketVersioning", "s3:PutObject"],
                          "Resource": [artifacts.arn(), template!("{}/*", artifacts.arn())] },
                        { "Effect": "Allow",
                          "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                          "Resource": build.arn() }
                    ]
                }),
            )]),
        Options::new()
            .allow(
                "iam_service_trust_without_source",
                "a stack cannot name its account id yet, which aws:SourceAccount needs (issue 23)",
            )
            .allow(
                "iam_admin_managed_policy",
                "the Elastic Beanstalk deploy action's documented minimum is service-wide (see below)",
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
                setting(APP_ENV, "DATA_VOLUME_ID", data.id()),
                setting(APP_ENV, "ELASTIC_PASSWORD", ctx.secret("elastic_password")),
            ]),
        // The first version only: the pipeline deploys the later ones (see app_version).
        Options::new().ignore_changes("version_label").allow(
            "secret_in_plaintext_sink",
            "until the stack keeps ELASTIC_PASSWORD in Secrets Manager and names it in environmentsecrets (issue 23)",
        ),
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
    // permission is that (stacks/dev.toml says why its trust has no condition).
    let source_events_role = ctx.add_with(
        "source_events_role",
        iam::Role::new(trust("events.amazonaws.com"))
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
        Options::new()
            .allow("iam_service_trust_without_source", "a stack cannot name its account id yet, which aws:SourceAccount needs (issue 23); the rule names this role, so aws:SourceArn cannot name the rule"),
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
    Ok(())
}

#[allow(dead_code)]
fn main() -> std::process::ExitCode {
    infra::run(declare)
}
