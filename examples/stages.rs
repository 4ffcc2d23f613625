//! One program, two stages: dev and prod declared by the same code, their
//! differences in per-stack configuration (`examples/stages/stacks/*.toml`).
//!
//! ```sh
//! cargo run --example stages -- -C examples/stages plan --stack dev
//! REDIS_PASSWORD=... cargo run --example stages -- -C examples/stages plan --stack prod
//! ```
//!
//! Both run the data services of the seed (the deploy/dev bundle) on one
//! Elastic Beanstalk instance beside an EBS volume, with the passwords the
//! bundle needs (`ELASTIC_PASSWORD`, `REDIS_PASSWORD`) as SSM SecureString
//! parameters the environment names by ARN. Prod, as the seed advises, runs a
//! larger instance and opens the data ports only to the clients' security
//! group.

use infra::aws::{ec2, elasticbeanstalk as eb, iam, s3, ssm};
use infra::program::{Ctx, Options, Ports, ProgramError};
use serde_json::json;

/// A stage's `[config]`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StageConfig {
    instance_type: String,
    /// The data volume's zone; the instance runs beside it.
    zone: String,
    /// Who may reach the data services: CIDR blocks ...
    #[serde(default)]
    client_cidrs: Vec<String>,
    /// ... or a security group (prod).
    client_security_group: Option<String>,
    /// The deployed bundle's directory, relative to the project.
    bundle: String,
    /// The Redis release the bundle runs.
    redis_version: String,
}

/// The data services' ports, as the bundle serves them.
const PORTS: &[(u16, u16, &str)] = &[
    (6379, 6381, "redis clients"),
    (16379, 16381, "redis cluster bus"),
    (9200, 9200, "elasticsearch"),
    (5601, 5601, "kibana"),
];

fn declare(ctx: &mut Ctx) -> Result<(), ProgramError> {
    let cfg: StageConfig = ctx.config()?;
    let stage = ctx.stack_name().to_string();
    // Prod opens no cluster bus port: the nodes share one host, no client needs it.
    let prod = cfg.client_security_group.is_some();
    let rules = PORTS.iter().filter(|(from, _, _)| !(prod && *from == 16379)).map(|&(from, to, description)| {
        let rule = ec2::Rule::new().protocol(ec2::Protocol::Tcp).ports(Ports::range(from, to)).description(description);
        match &cfg.client_security_group {
            Some(group) => rule.source_security_group(group.as_str()),
            None => rule.cidrs(cfg.client_cidrs.iter()),
        }
    });
    let data_sg =
        ctx.add("data_sg", ec2::SecurityGroup::new().description(format!("{stage} data services")).ingress(rules))?;
    let data = ctx.add("data", ec2::Volume::new(cfg.zone.as_str(), 30).volume_type(ec2::VolumeType::Gp3))?;
    let artifacts = ctx.add("artifacts", s3::Bucket::new().force_destroy(true))?;
    let elastic_password = ctx.add("elastic_password", ssm::Parameter::new(ctx.secret("elastic_password")))?;
    let redis_password = ctx.add("redis_password", ssm::Parameter::new(ctx.secret("redis_password")))?;
    let parameters = json!([elastic_password.arn(), redis_password.arn()]);
    let role = ctx.add(
        "instance_role",
        iam::Role::new(json!({
            "Version": "2012-10-17",
            "Statement": [{ "Effect": "Allow", "Principal": { "Service": "ec2.amazonaws.com" }, "Action": "sts:AssumeRole" }]
        }))
        .managed_policy_arns(["arn:aws:iam::aws:policy/AWSElasticBeanstalkWebTier"])
        // Elastic Beanstalk fetches the two passwords with the instance role.
        .inline_policies([(
            "secrets",
            json!({
                "Version": "2012-10-17",
                "Statement": [{ "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": parameters }]
            }),
        )]),
    )?;
    let profile = ctx.add("instance_profile", iam::InstanceProfile::new(role.name()))?;
    let app = ctx.add("app", eb::Application::new().description(format!("{stage} data services")))?;
    let version =
        ctx.add("app_version", eb::ApplicationVersion::new(app.name(), cfg.bundle.as_str(), artifacts.bucket()))?;

    const PROPERTIES: &str = "aws:elasticbeanstalk:application:environment";
    const SECRETS: &str = "aws:elasticbeanstalk:application:environmentsecrets";
    let settings = vec![
        eb::OptionSetting::new("aws:autoscaling:launchconfiguration", "DisableDefaultEC2SecurityGroup", "true"),
        // IMDSv2 only.
        eb::OptionSetting::new("aws:autoscaling:launchconfiguration", "DisableIMDSv1", "true"),
        eb::OptionSetting::new(PROPERTIES, "DATA_VOLUME_ID", data.id()),
        eb::OptionSetting::new(PROPERTIES, "REDIS_VERSION", cfg.redis_version.as_str()),
        // The passwords by their parameters' ARNs: the configuration shows no password.
        eb::OptionSetting::new(SECRETS, "ELASTIC_PASSWORD", elastic_password.arn()),
        eb::OptionSetting::new(SECRETS, "REDIS_PASSWORD", redis_password.arn()),
    ];
    let mut options = Options::new();
    if prod {
        options = options.allow("closed_service_port", "the cluster bus serves nodes on the host only");
    }
    let env = ctx.add_with(
        "app_env",
        eb::Environment::new(app.name())
            .version_label(version.label())
            .instance_type(cfg.instance_type.as_str())
            .single_instance(true)
            .instance_profile(profile.name())
            .security_groups([data_sg.id()])
            .availability_zone(data.availability_zone())
            .option_settings(settings),
        options,
    )?;
    ctx.output("private_ip", env.private_ip());
    ctx.output("volume_id", data.id());
    Ok(())
}

fn main() -> std::process::ExitCode {
    infra::run(declare)
}
