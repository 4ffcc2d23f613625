//! Drift detection on the emulator: changes made behind infra's back through the
//! AWS SDK, caught by `infra drift` (exit 2 with a report), then put back by
//! `infra apply` or accepted by `infra refresh` (exit 0 after either). Saved
//! plans apply exactly, and only to the state they were made from. Drift in an
//! `ec2.instance` infra manages is tested on the fixture
//! tests/fixtures/stacks/host.toml: the dev stack's host is its Elastic
//! Beanstalk environment's instance, whose drift is the environment's.

mod common;

use std::path::Path;

use aws_sdk_ec2::types::{InstanceStateName, IpPermission, IpRange};
use common::{Emulator, HOST_STACK, dev_project, host_project, run_infra};

fn ok(out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "infra failed:\nstdout:\n{}\nstderr:\n{}", out.1, out.2);
    out.1
}

/// Runs `infra drift` and returns its exit code and report.
fn drift(emu: &Emulator, dir: &Path, format: &str) -> (i32, String) {
    let (code, out, err) = run_infra(emu, dir, &["drift", "--format", format]);
    assert!(code == 0 || code == 2, "drift failed:\n{out}\n{err}");
    (code, out)
}

fn recorded(dir: &Path, stack: &str, resource: &str) -> serde_json::Value {
    let path = dir.join(format!("state/{stack}.json"));
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    state["resources"][resource].clone()
}

fn recorded_id(dir: &Path, resource: &str) -> String {
    recorded(dir, "dev", resource)["id"].as_str().unwrap().to_string()
}

fn world_open_redis() -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(6379)
        .to_port(6379)
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build()
}

async fn wait_for_state(ec2: &aws_sdk_ec2::Client, id: &str, want: InstanceStateName) {
    for _ in 0..100 {
        let out = ec2.describe_instances().instance_ids(id).send().await.unwrap();
        let state = out.reservations()[0].instances()[0].state().unwrap().name().unwrap().clone();
        if state == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{id} never reached {want:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_in_the_hosts_group_is_reported_then_put_back_or_accepted() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    assert_eq!(drift(&emu, dir, "text"), (0, "No drift. Stack `dev` matches its recorded state.\n".into()));
    let group = recorded_id(dir, "data_sg");

    // Someone opens Redis to the world: reported as one added member, put back by apply.
    ec2.authorize_security_group_ingress().group_id(&group).ip_permissions(world_open_redis()).send().await.unwrap();
    let (code, report) = drift(&emu, dir, "text");
    assert_eq!(code, 2);
    assert!(
        report.contains("+ { cidrs = [\"0.0.0.0/0\"], ports = 6379, protocol = \"tcp\" }  (added outside infra)"),
        "{report}"
    );
    let plan = ok(run_infra(&emu, dir, &["plan"]));
    assert!(plan.contains("# reverts drift"), "{plan}");
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    assert_eq!(drift(&emu, dir, "json").0, 0);

    // Someone removes the Kibana rule: reported as removed, accepted by refresh.
    let kibana = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(5601)
        .to_port(5601)
        .ip_ranges(IpRange::builder().cidr_ip("172.31.0.0/16").build())
        .build();
    ec2.revoke_security_group_ingress().group_id(&group).ip_permissions(kibana).send().await.unwrap();
    let (code, report) = drift(&emu, dir, "json");
    assert_eq!(code, 2);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let change = &report["drift"][0]["changes"][0];
    assert_eq!(report["drift"][0]["resource"], "data_sg");
    assert_eq!(change["property"], "ingress");
    assert_eq!(change["removed"][0]["ports"], 5601);
    assert_eq!(change["added"], serde_json::json!([]));
    ok(run_infra(&emu, dir, &["refresh", "--yes"]));
    assert_eq!(drift(&emu, dir, "text").0, 0, "accepted drift is no longer drift");
    // The stack file still declares the rule: the next plan puts it back.
    let plan = ok(run_infra(&emu, dir, &["plan"]));
    assert!(plan.contains("+ { cidrs = [\"172.31.0.0/16\"], description = \"kibana\""), "{plan}");
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    assert_eq!(drift(&emu, dir, "text").0, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_in_an_instance_infra_manages_is_reported_then_put_back() {
    let emu = Emulator::start();
    let project = host_project();
    let dir = project.path();
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    assert_eq!(drift(&emu, dir, "text"), (0, "No drift. Stack `host` matches its recorded state.\n".into()));
    let host = recorded(dir, HOST_STACK, "host")["id"].as_str().unwrap().to_string();

    // Someone resizes the host and retags it: both reported, put back by apply.
    ec2.stop_instances().instance_ids(&host).send().await.unwrap();
    wait_for_state(&ec2, &host, InstanceStateName::Stopped).await;
    ec2.modify_instance_attribute()
        .instance_id(&host)
        .instance_type(aws_sdk_ec2::types::AttributeValue::builder().value("t3.xlarge").build())
        .send()
        .await
        .unwrap();
    ec2.start_instances().instance_ids(&host).send().await.unwrap();
    ec2.create_tags()
        .resources(&host)
        .tags(aws_sdk_ec2::types::Tag::builder().key("env").value("prod").build())
        .send()
        .await
        .unwrap();
    let (code, report) = drift(&emu, dir, "markdown");
    assert_eq!(code, 2);
    assert!(
        report.contains("| `host` | ec2.instance | `instance_type` | `\"t3.medium\"` | `\"t3.xlarge\"` |"),
        "{report}"
    );
    assert!(report.contains("`tags`"), "{report}");
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    assert_eq!(drift(&emu, dir, "text").0, 0);
    let out = ec2.describe_instances().instance_ids(&host).send().await.unwrap();
    assert_eq!(out.reservations()[0].instances()[0].instance_type().unwrap().as_str(), "t3.medium");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_volume_and_an_unmanaged_group_are_reported_and_the_volume_comes_back() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    let volume = recorded_id(dir, "data");

    // (Nothing attached it: the emulator runs no platform hook.)
    ec2.delete_volume().volume_id(&volume).send().await.unwrap();
    // A group carrying this state's ownership tags, copied by hand, and one
    // another project's stack of the same name made (another lineage).
    let lineage = common::store(dir, "dev").load().unwrap().lineage.unwrap();
    for (group, name, lineage) in [("copied-by-hand", "old_sg", lineage.as_str()), ("theirs", "their_sg", "another")] {
        ec2.create_security_group()
            .group_name(group)
            .description("a copy")
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
                    .tags(aws_sdk_ec2::types::Tag::builder().key("infra:stack").value("dev").build())
                    .tags(aws_sdk_ec2::types::Tag::builder().key("infra:name").value(name).build())
                    .tags(aws_sdk_ec2::types::Tag::builder().key("infra:lineage").value(lineage).build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let (code, report) = drift(&emu, dir, "text");
    assert_eq!(code, 2);
    assert!(report.contains("! data  ec2.volume  deleted outside infra"), "{report}");
    assert!(report.contains("old_sg  ec2.security_group"), "unmanaged: {report}");
    assert!(
        report.contains("is tagged for this stack as `their_sg` by another state, lineage another"),
        "another project's group is listed apart: {report}"
    );
    let (_, json) = drift(&emu, dir, "json");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let unmanaged: Vec<&str> =
        json["unmanaged"].as_array().unwrap().iter().map(|u| u["resource"].as_str().unwrap()).collect();
    assert_eq!(unmanaged, ["old_sg"], "only this state's lineage is unmanaged: {json}");

    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    let new_volume = recorded_id(dir, "data");
    assert_ne!(new_volume, volume, "a new volume");
    // The environment's hook is pointed at the new volume.
    let eb = aws_sdk_elasticbeanstalk::Client::new(&emu.sdk_config().await);
    let settings = eb
        .describe_configuration_settings()
        .application_name(recorded_id(dir, "app"))
        .environment_name(recorded(dir, "dev", "app_env")["outputs"]["name"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let data_volume_id = settings.configuration_settings()[0]
        .option_settings()
        .iter()
        .find(|o| o.option_name() == Some("DATA_VOLUME_ID"))
        .and_then(|o| o.value());
    assert_eq!(data_volume_id, Some(new_volume.as_str()));
    let (_, report) = drift(&emu, dir, "text");
    assert!(!report.contains("deleted outside infra"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_applies_exactly_and_a_stale_one_is_refused() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    let plan_file = dir.join("plan.json");
    let old_plan = dir.join("old-plan.json");
    ok(run_infra(&emu, dir, &["plan", "--out", plan_file.to_str().unwrap()]));
    std::fs::copy(&plan_file, &old_plan).unwrap();

    // The stack file changes after the plan was saved: the saved plan still
    // applies exactly what it showed (t3.medium), not the new file.
    let stack = dir.join("stacks/dev.toml");
    let text = std::fs::read_to_string(&stack).unwrap();
    std::fs::write(&stack, text.replace("instance_type = \"t3.medium\"", "instance_type = \"t3.large\"")).unwrap();
    ok(run_infra(&emu, dir, &["apply", "--yes", plan_file.to_str().unwrap()]));
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
    // The host: the environment's instance.
    let host = recorded(dir, "dev", "app_env")["outputs"]["instance_id"].as_str().unwrap().to_string();
    let out = ec2.describe_instances().instance_ids(&host).send().await.unwrap();
    assert_eq!(out.reservations()[0].instances()[0].instance_type().unwrap().as_str(), "t3.medium");

    // Applying it again, or any plan made before that apply, is refused as stale.
    let state_before = std::fs::read_to_string(dir.join("state/dev.json")).unwrap();
    let (code, _, err) = run_infra(&emu, dir, &["apply", "--yes", old_plan.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("the saved plan is stale"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("state/dev.json")).unwrap(), state_before, "state unchanged");
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_in_the_environment_and_the_build_project_is_reported_then_put_back_or_accepted() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    let config = emu.sdk_config().await;
    let eb = aws_sdk_elasticbeanstalk::Client::new(&config);
    let codebuild = aws_sdk_codebuild::Client::new(&config);
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    assert_eq!(drift(&emu, dir, "text").0, 0, "no false drift right after apply");
    let env_id = recorded_id(dir, "app_env");

    // Someone changes the deployment policy in the console: put back by apply.
    eb.update_environment()
        .environment_id(&env_id)
        .option_settings(
            aws_sdk_elasticbeanstalk::types::ConfigurationOptionSetting::builder()
                .namespace("aws:elasticbeanstalk:command")
                .option_name("DeploymentPolicy")
                .value("Immutable")
                .build(),
        )
        .send()
        .await
        .unwrap();
    common::wait_environment_ready(&eb, &env_id).await;
    let (code, report) = drift(&emu, dir, "text");
    assert_eq!(code, 2);
    assert!(report.contains("app_env"), "{report}");
    assert!(report.contains("value = \"Immutable\" }  (added outside infra)"), "{report}");
    assert!(report.contains("value = \"AllAtOnce\" }  (removed outside infra)"), "{report}");
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    assert_eq!(drift(&emu, dir, "text").0, 0);

    // Someone swaps the build image: accepted by refresh.
    let build = recorded_id(dir, "build");
    let projects = codebuild.batch_get_projects().names(&build).send().await.unwrap();
    let environment = projects.projects()[0].environment().unwrap().clone();
    let swapped = aws_sdk_codebuild::types::ProjectEnvironment::builder()
        .r#type(environment.r#type().clone())
        .compute_type(environment.compute_type().clone())
        .image("aws/codebuild/standard:7.0")
        .set_environment_variables(Some(environment.environment_variables().to_vec()))
        .set_privileged_mode(environment.privileged_mode())
        .build()
        .unwrap();
    codebuild.update_project().name(&build).environment(swapped).send().await.unwrap();
    let (code, report) = drift(&emu, dir, "json");
    assert_eq!(code, 2);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["drift"][0]["resource"], "build");
    assert_eq!(report["drift"][0]["changes"][0]["property"], "image");
    assert_eq!(report["drift"][0]["changes"][0]["live"], "aws/codebuild/standard:7.0");
    ok(run_infra(&emu, dir, &["refresh", "--yes"]));
    assert_eq!(drift(&emu, dir, "text").0, 0, "accepted");
}
