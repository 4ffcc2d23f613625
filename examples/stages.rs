//! One program, two stages: dev and prod declared by the same code, their
//! differences in per-stack configuration (`examples/stages/stacks/*.toml`).
//!
//! ```sh
//! cargo run --example stages -- -C examples/stages plan --stack dev
//! REDIS_PASSWORD=... cargo run --example stages -- -C examples/stages plan --stack prod
//! ```
//!
//! Both run the data services of the seed on one Elastic Beanstalk instance
//! beside an EBS volume. Prod, as the seed advises, runs a larger instance,
//! opens the data ports only to the clients' security group, and gives the
//! environment a Redis password as a secret (`REDIS_PASSWORD`, for a bundle
//! whose Redis sets `requirepass` from it).

use infra::aws::{ec2, elasticbeanstalk as eb, iam, s3};
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
    let artifacts = ctx.add_with(
        "artifacts",
        s3::Bucket::new().force_destroy(true),
        Options::new().allow(
            "s3_no_tls_only_policy",
            "its name is generated and a bucket policy cannot name its own bucket yet (issue 23)",
        ),
    )?;
    let role = ctx.add(
        "instance_role",
        iam::Role::new(json!({
            "Version": "2012-10-17",
            "Statement": [{ "Effect": "Allow", "Principal": { "Service": "ec2.amazonaws.com" }, "Action": "sts:AssumeRole" }]
        }))
        .managed_policy_arns(["arn:aws:iam::aws:policy/AWSElasticBeanstalkMulticontainerDocker"]),
    )?;
    let profile = ctx.add("instance_profile", iam::InstanceProfile::new(role.name()))?;
    let app = ctx.add("app", eb::Application::new().description(format!("{stage} data services")))?;
    let version =
        ctx.add("app_version", eb::ApplicationVersion::new(app.name(), cfg.bundle.as_str(), artifacts.bucket()))?;

    let env_var = |name: &str, value: infra::program::Output<String>| {
        eb::OptionSetting::new("aws:elasticbeanstalk:application:environment", name, value)
    };
    let mut settings = vec![
        eb::OptionSetting::new("aws:autoscaling:launchconfiguration", "DisableDefaultEC2SecurityGroup", "true"),
        // IMDSv2 only.
        eb::OptionSetting::new("aws:autoscaling:launchconfiguration", "DisableIMDSv1", "true"),
        env_var("DATA_VOLUME_ID", data.id()),
    ];
    let mut options = Options::new();
    if prod {
        settings.push(env_var("REDIS_PASSWORD", ctx.secret("redis_password")));
        options = options
            .allow("closed_service_port", "the cluster bus serves nodes on the host only")
            .allow("secret_in_plaintext_sink", "until the stack keeps REDIS_PASSWORD in Secrets Manager (issue 23)");
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
