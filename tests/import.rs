//! `infra import`: resources made outside infra (in the console, as in the
//! seed) adopted into state by id, on the emulator. The next plan shows only
//! how they differ from the declaration.

mod common;

use common::{Emulator, run_infra};

const STACK: &str = r#"
[stack]
region = "us-east-1"

[resources.sg]
type = "ec2.security_group"
name = "console-sg"
description = "made in the console"
ingress = [{ protocol = "tcp", ports = 9200, cidrs = ["172.31.0.0/16"] }]

[resources.data]
type = "ec2.volume"
availability_zone = "us-east-1a"
size = 10

[resources.role]
type = "iam.role"
name = "console-role"
assume_role_policy = { Version = "2012-10-17", Statement = [
  { Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" },
] }
"#;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn project() -> tempfile::TempDir {
    common::project_of("console", STACK)
}

fn ok(out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "infra failed:\nstdout:\n{}\nstderr:\n{}", out.1, out.2);
    out.1
}

#[tokio::test(flavor = "multi_thread")]
async fn resources_made_in_the_console_are_imported_and_then_differ_only_by_their_ownership_tags() {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let project = project();
    let dir = project.path();

    // What the console made: a group with one rule, an encrypted volume, a role.
    let sg =
        ec2.create_security_group().group_name("console-sg").description("made in the console").send().await.unwrap();
    let sg = sg.group_id().unwrap().to_string();
    let rule = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(9200)
        .to_port(9200)
        .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("172.31.0.0/16").build())
        .build();
    ec2.authorize_security_group_ingress().group_id(&sg).ip_permissions(rule).send().await.unwrap();
    let volume = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(10)
        .volume_type(aws_sdk_ec2::types::VolumeType::Gp3)
        .encrypted(true)
        .send()
        .await
        .unwrap();
    let volume = volume.volume_id().unwrap().to_string();
    iam.create_role().role_name("console-role").assume_role_policy_document(TRUST).send().await.unwrap();

    // Refused: an undeclared name, an id that does not exist, an id of another type.
    let (code, _, stderr) = run_infra(&emu, dir, &["import", "nope", &sg]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot import `nope`: stack `console` declares no resource by that name"), "{stderr}");
    let (code, _, stderr) = run_infra(&emu, dir, &["import", "data", "vol-00000000000000000"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("AWS has no ec2.volume with the id `vol-00000000000000000`"), "{stderr}");
    let (code, _, stderr) = run_infra(&emu, dir, &["import", "data", &sg]);
    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("AWS has no ec2.volume with the id `{sg}`")), "{stderr}");
    assert!(!dir.join("state/console.json").exists(), "a refused import writes nothing");

    for (name, id) in [("sg", sg.as_str()), ("data", volume.as_str()), ("role", "console-role")] {
        let out = ok(run_infra(&emu, dir, &["import", name, id]));
        assert!(out.contains(&format!("Imported {name} (")), "{out}");
    }
    let (code, _, stderr) = run_infra(&emu, dir, &["import", "sg", &sg]);
    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("state already records it, as ec2.security_group {sg}")), "{stderr}");

    // The plan: no create, no replace; each resource only gains the ownership tags.
    let plan = ok(run_infra(&emu, dir, &["plan", "--json"]));
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    for step in plan["steps"].as_array().unwrap() {
        assert_eq!(step["action"], "update", "{step:#}");
        let props: Vec<&str> =
            step["changes"].as_array().unwrap().iter().map(|c| c["property"].as_str().unwrap()).collect();
        assert_eq!(props, ["tags"], "{step:#}");
    }
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    assert_eq!(run_infra(&emu, dir, &["plan", "--detailed-exitcode"]).0, 0, "converged");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state/console.json")).unwrap()).unwrap();
    assert_eq!(state["resources"]["sg"]["id"], sg.as_str(), "the same group, not a new one");
    assert_eq!(state["resources"]["data"]["id"], volume.as_str());
}
