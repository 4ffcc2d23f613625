//! The dev host of `stacks/dev.toml`, declared in Rust instead of TOML, and
//! planned by the same engine: the Pulumi way.
//!
//! Run it with `cargo run --example dev_host` (it reads AWS through the standard
//! chain, or the emulator through `AWS_ENDPOINT_URL`, and changes nothing).

use infra::model::{Kind, Resource, Stack, Value, map};

/// The dev stack: a security group open to the VPC on the seed's ports, a
/// t3.medium host, and a 30 GiB data volume attached at /dev/sdf.
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
            "host",
            Resource::new(Kind::Instance)
                .prop("instance_type", "t3.medium")
                .prop("availability_zone", Value::reference("data", "availability_zone"))
                .prop("security_group_ids", vec![Value::reference("data_sg", "id")])
                .prop("root_volume_size", 16),
        )
        .resource(
            "data",
            Resource::new(Kind::Volume).prop("availability_zone", zone).prop("size", 30).prop("volume_type", "gp3"),
        )
        .resource(
            "data_attachment",
            Resource::new(Kind::VolumeAttachment)
                .prop("instance_id", Value::reference("host", "id"))
                .prop("volume_id", Value::reference("data", "id"))
                .prop("device_name", "/dev/sdf"),
        )
        .output("instance_id", Value::reference("host", "id"))
        .output("private_ip", Value::reference("host", "private_ip"))
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
