//! The data side of the dev host in `stacks/dev.toml`, declared in Rust instead
//! of TOML, and planned by the same engine: the Pulumi way.
//!
//! The host itself is the Elastic Beanstalk environment's instance; what this
//! program declares is what it runs with: the security group open to the VPC on
//! the seed's ports, the 30 GiB data volume, and the instances' role, whose
//! inline policy lets the host attach that volume (a reference to its id).
//!
//! Run it with `cargo run --example dev_host` (it reads AWS through the standard
//! chain, or the emulator through `AWS_ENDPOINT_URL`, and changes nothing).

use infra::model::{Kind, Resource, Stack, Value, map};

/// The dev host's data services, as `stacks/dev.toml` declares them: `data_sg`,
/// `data` and `app_instance_role`, and the outputs that name the group and the
/// volume.
pub fn dev_host() -> Stack {
    let vpc_cidr = "172.31.0.0/16";
    let zone = "us-east-1a";
    let rule = |ports: Value, description: &str| {
        map([
            ("protocol", "tcp".into()),
            ("ports", ports),
            ("cidrs", vec![vpc_cidr].into()),
            ("description", description.into()),
        ])
    };
    let ssh_cidrs: Vec<&str> = Vec::new();
    let ec2_trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Effect": "Allow", "Principal": { "Service": "ec2.amazonaws.com" }, "Action": "sts:AssumeRole" }
        ]
    });
    // The volume's id is known once it exists: a template with a reference.
    let data_volume = Value::parse_str(
        r#"{
  "Version": "2012-10-17",
  "Statement": [
    { "Effect": "Allow",
      "Action": "ec2:AttachVolume",
      "Resource": "arn:aws:ec2:*:*:volume/${data.id}" },
    { "Effect": "Allow",
      "Action": "ec2:AttachVolume",
      "Resource": "arn:aws:ec2:*:*:instance/*",
      "Condition": { "StringEquals": { "aws:ResourceTag/infra:stack": "dev" } } },
    { "Effect": "Allow",
      "Action": ["ec2:DescribeInstances", "ec2:DescribeVolumes"],
      "Resource": "*" }
  ]
}
"#,
    )
    .expect("a policy with a reference");
    let mut stack = Stack::new("dev")
        .resource(
            "data_sg",
            Resource::new(Kind::SecurityGroup)
                .prop("description", "dev data services: redis cluster, elasticsearch, kibana")
                .prop(
                    "ingress",
                    vec![
                        rule("6379-6381".into(), "redis clients"),
                        rule("16379-16381".into(), "redis cluster bus"),
                        rule(9200.into(), "elasticsearch"),
                        rule(5601.into(), "kibana"),
                        map([
                            ("protocol", "tcp".into()),
                            ("ports", 22.into()),
                            ("cidrs", ssh_cidrs.into()),
                            ("description", "ssh".into()),
                        ]),
                    ],
                ),
        )
        .resource(
            "data",
            Resource::new(Kind::Volume).prop("availability_zone", zone).prop("size", 30).prop("volume_type", "gp3"),
        )
        .resource(
            "app_instance_role",
            Resource::new(Kind::Role)
                .prop("description", "Elastic Beanstalk instances of the dev stack")
                .prop("assume_role_policy", Value::from_json(&ec2_trust))
                .prop(
                    "managed_policy_arns",
                    vec![
                        "arn:aws:iam::aws:policy/AWSElasticBeanstalkWebTier",
                        "arn:aws:iam::aws:policy/AWSElasticBeanstalkMulticontainerDocker",
                    ],
                )
                .prop("inline_policies", map([("data_volume", data_volume)])),
        )
        .output("security_group_id", Value::reference("data_sg", "id"))
        .output("volume_id", Value::reference("data", "id"));
    stack.region = Some("us-east-1".into());
    stack.tags = [("project", "seed"), ("env", "dev")].map(|(k, v)| (k.to_string(), v.to_string())).into();
    stack
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stack = dev_host();
    stack.validate()?;
    let config = infra::engine::aws_config(stack.region.as_deref()).await;
    let engine = infra::engine::Engine::new(&config, std::path::Path::new("state"), &stack.name);
    let planned = engine.plan(&stack, false).await?;
    print!("{}", infra::render::plan_text(&planned.plan));
    Ok(())
}
