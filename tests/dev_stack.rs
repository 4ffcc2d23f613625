//! The dev stack end to end on the emulator, through the `infra` binary, checked
//! through the AWS SDK: apply, a plan with no changes, in-place updates, one new
//! rule, destroy. The dev stack's host is its Elastic Beanstalk environment's
//! one instance, which the environment owns (infra records no `ec2.instance`);
//! an `ec2.instance` infra manages itself, and the volume attachment, are
//! tested on the fixture tests/fixtures/stacks/host.toml (`host_project`).

mod common;

use std::path::Path;

use aws_sdk_ec2::types::Filter;
use common::{Emulator, HOST_STACK, dev_project, host_project, run_infra};

fn edit(dir: &Path, stack: &str, from: &str, to: &str) {
    let path = dir.join(format!("stacks/{stack}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "stacks/{stack}.toml has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn ok(out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "infra failed:\nstdout:\n{}\nstderr:\n{}", out.1, out.2);
    out.1
}

fn stack_filter(stack: &str) -> Filter {
    Filter::builder().name("tag:infra:stack").values(stack).build()
}

fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

fn recorded(dir: &Path, stack: &str) -> serde_json::Value {
    let state = std::fs::read_to_string(dir.join(format!("state/{stack}.json"))).unwrap();
    serde_json::from_str(&state).unwrap()
}

struct Live {
    group_id: String,
    rule_ids: Vec<String>,
    ingress_ports: Vec<(i32, i32)>,
    instance_id: String,
    instance_type: String,
    instance_state: String,
    /// The instance's groups and zone.
    instance_groups: Vec<String>,
    instance_zone: String,
    /// The `elasticbeanstalk:environment-id` tag of the instance: the environment that owns it.
    instance_environment: Option<String>,
    volume_id: String,
    volume_size: i32,
    volume_zone: String,
    attachment: Option<(String, String)>,
}

/// Everything tagged as `stack`'s, as AWS reports it: one group, one running
/// instance, one data volume.
async fn live(ec2: &aws_sdk_ec2::Client, stack: &str) -> Live {
    let groups = ec2.describe_security_groups().filters(stack_filter(stack)).send().await.unwrap();
    let [group] = groups.security_groups() else { panic!("expected one tagged group: {groups:?}") };
    let mut ingress_ports: Vec<(i32, i32)> = group
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            assert!(p.ip_ranges().iter().all(|r| r.cidr_ip() == Some("172.31.0.0/16")), "{p:?}");
            p.ip_ranges().iter().map(|_| (p.from_port().unwrap(), p.to_port().unwrap()))
        })
        .collect();
    ingress_ports.sort();
    let rules = ec2
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(group.group_id().unwrap()).build())
        .send()
        .await
        .unwrap();
    let mut rule_ids: Vec<String> = rules
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false))
        .map(|r| r.security_group_rule_id().unwrap().to_string())
        .collect();
    rule_ids.sort();

    let reservations = ec2
        .describe_instances()
        .filters(stack_filter(stack))
        .filters(
            Filter::builder().name("instance-state-name").values("pending").values("running").values("stopped").build(),
        )
        .send()
        .await
        .unwrap();
    let instances: Vec<_> = reservations.reservations().iter().flat_map(|r| r.instances()).collect();
    let [instance] = instances.as_slice() else { panic!("expected one tagged instance: {instances:?}") };

    let volumes = ec2.describe_volumes().filters(stack_filter(stack)).send().await.unwrap();
    let data: Vec<_> = volumes.volumes().iter().filter(|v| tag(v.tags(), "infra:name") == Some("data")).collect();
    let [volume] = data.as_slice() else { panic!("expected one data volume: {volumes:?}") };
    let attachment = volume
        .attachments()
        .first()
        .map(|a| (a.instance_id().unwrap_or_default().to_string(), a.device().unwrap_or_default().to_string()));
    Live {
        group_id: group.group_id().unwrap().to_string(),
        rule_ids,
        ingress_ports,
        instance_id: instance.instance_id().unwrap().to_string(),
        instance_type: instance.instance_type().unwrap().as_str().to_string(),
        instance_state: instance.state().and_then(|s| s.name()).unwrap().as_str().to_string(),
        instance_groups: instance.security_groups().iter().filter_map(|g| g.group_id()).map(str::to_string).collect(),
        instance_zone: instance.placement().and_then(|p| p.availability_zone()).unwrap_or_default().to_string(),
        instance_environment: tag(instance.tags(), "elasticbeanstalk:environment-id").map(str::to_string),
        volume_id: volume.volume_id().unwrap().to_string(),
        volume_size: volume.size().unwrap(),
        volume_zone: volume.availability_zone().unwrap_or_default().to_string(),
        attachment,
    }
}

/// How many groups, instances (not terminated) and data volumes still carry
/// `stack`'s tag.
async fn tagged_left(ec2: &aws_sdk_ec2::Client, stack: &str) -> (usize, usize, usize) {
    let groups = ec2.describe_security_groups().filters(stack_filter(stack)).send().await.unwrap();
    let reservations = ec2
        .describe_instances()
        .filters(stack_filter(stack))
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("running")
                .values("stopping")
                .values("stopped")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let instances = reservations.reservations().iter().map(|r| r.instances().len()).sum();
    let volumes = ec2.describe_volumes().filters(stack_filter(stack)).send().await.unwrap();
    // Root volumes of terminated instances carry the tags too, until AWS deletes them.
    let data_volumes = volumes.volumes().iter().filter(|v| tag(v.tags(), "infra:name") == Some("data")).count();
    (groups.security_groups().len(), instances, data_volumes)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dev_stack_applies_updates_in_place_and_destroys_cleanly() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
    let edit = |from: &str, to: &str| edit(dir, "dev", from, to);

    let plan = ok(run_infra(&emu, dir, &["plan", "--stack", "dev"]));
    assert!(plan.contains("Plan: 17 to add, 0 to change, 0 to replace, 0 to destroy"), "{plan}");
    assert!(!plan.contains("ec2.instance") && !plan.contains("ec2.volume_attachment"), "{plan}");
    assert_eq!(run_infra(&emu, dir, &["plan", "--detailed-exitcode"]).0, 2, "changes exit 2");

    ok(run_infra(&emu, dir, &["apply", "--stack", "dev", "--yes"]));
    let first = live(&ec2, "dev").await;
    assert_eq!(first.ingress_ports, vec![(5601, 5601), (6379, 6381), (9200, 9200), (16379, 16381)]);
    // The one instance is the environment's, the data host: t3.medium, the
    // data ports' group only, beside the data volume.
    let state = recorded(dir, "dev");
    let env_id = state["resources"]["app_env"]["id"].as_str().unwrap().to_string();
    assert_eq!(first.instance_environment.as_deref(), Some(env_id.as_str()), "owned by the environment");
    assert_eq!(first.instance_type, "t3.medium");
    assert_eq!(first.instance_state, "running");
    assert_eq!(first.instance_groups, [first.group_id.as_str()]);
    assert_eq!(first.instance_zone, first.volume_zone);
    // infra records no instance and no attachment: the instance's hook attaches
    // the volume (the emulator runs no hooks).
    let kinds: Vec<&str> =
        state["resources"].as_object().unwrap().values().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 17, "{kinds:?}");
    assert!(!kinds.contains(&"ec2.instance") && !kinds.contains(&"ec2.volume_attachment"), "{kinds:?}");
    assert_eq!(first.attachment, None);

    let again = run_infra(&emu, dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.0, 0, "a plan right after apply has no changes:\n{}\n{}", again.1, again.2);
    assert!(again.1.contains("No changes."), "{}", again.1);

    let outputs = ok(run_infra(&emu, dir, &["output", "--json"]));
    let outputs: serde_json::Value = serde_json::from_str(&outputs).unwrap();
    assert_eq!(outputs["instance_id"], first.instance_id.as_str());
    assert_eq!(outputs["volume_id"], first.volume_id.as_str());
    assert_eq!(outputs["security_group_id"], first.group_id.as_str());

    // A bigger host and a bigger volume: both in place. The environment stays;
    // Elastic Beanstalk runs the new type on a new instance, which the outputs follow.
    edit("instance_type = \"t3.medium\"", "instance_type = \"t3.large\"");
    edit("size = 30", "size = 50");
    let mut changed = common::changed_steps(&ok(run_infra(&emu, dir, &["plan", "--json"])));
    changed.sort();
    assert_eq!(changed, [("app_env", "update"), ("data", "update")].map(|(r, a)| (r.to_string(), a.to_string())));
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    let bigger = live(&ec2, "dev").await;
    assert_eq!(recorded(dir, "dev")["resources"]["app_env"]["id"], env_id.as_str(), "the same environment");
    assert_eq!(bigger.instance_environment.as_deref(), Some(env_id.as_str()));
    assert_eq!((bigger.instance_type.as_str(), bigger.instance_state.as_str()), ("t3.large", "running"));
    assert_eq!(bigger.instance_groups, [first.group_id.as_str()]);
    assert_eq!(bigger.instance_zone, first.volume_zone);
    assert_eq!((bigger.volume_id.as_str(), bigger.volume_size), (first.volume_id.as_str(), 50));
    let outputs: serde_json::Value = serde_json::from_str(&ok(run_infra(&emu, dir, &["output", "--json"]))).unwrap();
    assert_eq!(outputs["instance_id"], bigger.instance_id.as_str(), "the outputs follow the environment's instance");
    assert_eq!(run_infra(&emu, dir, &["plan", "--detailed-exitcode"]).0, 0);

    // One more rule (SSH from the VPC): exactly one rule authorised, the others untouched.
    edit("ssh_cidrs = []", "ssh_cidrs = [\"172.31.0.0/16\"]");
    let plan = ok(run_infra(&emu, dir, &["plan", "--json"]));
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let sg_step = plan["steps"].as_array().unwrap().iter().find(|s| s["resource"] == "data_sg").unwrap();
    assert_eq!(sg_step["action"], "update");
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    let more = live(&ec2, "dev").await;
    assert_eq!(more.group_id, first.group_id);
    assert_eq!(more.rule_ids.len(), first.rule_ids.len() + 1);
    assert!(first.rule_ids.iter().all(|id| more.rule_ids.contains(id)), "no existing rule was touched");
    assert!(more.ingress_ports.contains(&(22, 22)));
    assert_eq!(run_infra(&emu, dir, &["plan", "--detailed-exitcode"]).0, 0);

    // The documented teardown: lift the data volume's protection, apply, destroy.
    common::unprotect_data(dir);
    let lifted = ok(run_infra(&emu, dir, &["apply", "--yes"]));
    assert!(lifted.contains("data  ec2.volume") && lifted.contains("[protection lifted]"), "{lifted}");
    assert_eq!(recorded(dir, "dev")["resources"]["data"].get("protect"), None, "state records it lifted");
    ok(run_infra(&emu, dir, &["destroy", "--yes"]));
    assert_eq!(tagged_left(&ec2, "dev").await, (0, 0, 0), "the environment's instance went with it");
    assert_eq!(recorded(dir, "dev")["resources"], serde_json::json!({}));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_infra_manages_resizes_in_place_keeps_its_attachment_and_destroys_cleanly() {
    let emu = Emulator::start();
    let project = host_project();
    let dir = project.path();
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);

    let plan = ok(run_infra(&emu, dir, &["plan"]));
    assert!(plan.contains("Plan: 4 to add, 0 to change, 0 to replace, 0 to destroy"), "{plan}");
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    let first = live(&ec2, HOST_STACK).await;
    assert_eq!(first.ingress_ports, vec![(5601, 5601), (6379, 6381), (9200, 9200), (16379, 16381)]);
    assert_eq!(first.instance_type, "t3.medium");
    assert_eq!(first.instance_state, "running");
    assert_eq!(first.instance_environment, None, "infra's own instance");
    assert_eq!(first.instance_groups, [first.group_id.as_str()]);
    assert_eq!(first.instance_zone, first.volume_zone, "placed beside its volume");
    assert_eq!(first.attachment, Some((first.instance_id.clone(), "/dev/sdf".to_string())));
    let again = run_infra(&emu, dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.0, 0, "a plan right after apply has no changes:\n{}\n{}", again.1, again.2);
    let outputs: serde_json::Value = serde_json::from_str(&ok(run_infra(&emu, dir, &["output", "--json"]))).unwrap();
    assert_eq!(outputs["instance_id"], first.instance_id.as_str());
    assert_eq!(outputs["volume_id"], first.volume_id.as_str());

    // A bigger host (stopped, modified, started) and a bigger volume: both in
    // place, and the volume stays attached to the same instance.
    edit(dir, HOST_STACK, "instance_type = \"t3.medium\"", "instance_type = \"t3.large\"");
    edit(dir, HOST_STACK, "size = 30", "size = 50");
    let plan = ok(run_infra(&emu, dir, &["plan"]));
    assert!(plan.contains("0 to add, 2 to change, 0 to replace, 0 to destroy"), "{plan}");
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    let bigger = live(&ec2, HOST_STACK).await;
    assert_eq!((bigger.instance_id.as_str(), bigger.instance_type.as_str()), (first.instance_id.as_str(), "t3.large"));
    assert_eq!(bigger.instance_state, "running");
    assert_eq!((bigger.volume_id.as_str(), bigger.volume_size), (first.volume_id.as_str(), 50));
    assert_eq!(bigger.attachment, first.attachment);
    assert_eq!(run_infra(&emu, dir, &["plan", "--detailed-exitcode"]).0, 0);

    ok(run_infra(&emu, dir, &["destroy", "--yes"]));
    assert_eq!(tagged_left(&ec2, HOST_STACK).await, (0, 0, 0));
    assert_eq!(recorded(dir, HOST_STACK)["resources"], serde_json::json!({}));
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_without_a_terminal_or_yes_refuses_and_changes_nothing() {
    let emu = Emulator::start();
    let project = dev_project();
    let (code, _, stderr) = run_infra(&emu, project.path(), &["apply"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("pass --yes"), "{stderr}");
    assert!(!project.path().join("state/dev.json").exists());
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
    assert_eq!(tagged_left(&ec2, "dev").await, (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_apply_while_one_holds_the_lock_fails_naming_the_holder() {
    let emu = Emulator::start();
    let project = dev_project();
    let store = infra::state::Store::new(project.path().join("state"), "dev");
    let held = store.lock("apply").unwrap();
    let (code, _, stderr) = run_infra(&emu, project.path(), &["apply", "--yes"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("stack `dev` is locked by `infra apply`"), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", std::process::id())), "{stderr}");
    drop(held);
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_applies_started_together_exactly_one_proceeds() {
    let emu = Emulator::start();
    let project = dev_project();
    let spawn = |cmd: &str| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_infra"));
        c.args([cmd, "--yes"]).current_dir(project.path()).env("NO_COLOR", "1");
        for (k, v) in emu.env() {
            c.env(k, v);
        }
        c.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let (a, b) = (spawn("apply"), spawn("apply"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let mut codes = [a.status.code(), b.status.code()];
    codes.sort();
    assert_eq!(codes, [Some(0), Some(1)], "{a:?}\n{b:?}");
    let loser = if a.status.success() { &b } else { &a };
    let err = String::from_utf8_lossy(&loser.stderr);
    assert!(err.contains("stack `dev` is locked by `infra apply` (pid"), "{err}");
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
    // One group, one data volume, and one environment, so one instance.
    assert_eq!(tagged_left(&ec2, "dev").await, (1, 1, 1), "one of each, not two");
    let eb = aws_sdk_elasticbeanstalk::Client::new(&emu.sdk_config().await);
    let envs = eb.describe_environments().send().await.unwrap();
    assert_eq!(envs.environments().len(), 1, "{envs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_step_fails_only_its_dependents_and_state_records_what_succeeded() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    // A security group that does not exist: the environment (the host) fails;
    // the pipeline that deploys to it is not run; what does not need it finishes.
    edit(dir, "dev", "security_groups = [\"${data_sg.id}\"]", "security_groups = [\"sg-00000000000000000\"]");
    let (code, _, stderr) = run_infra(&emu, dir, &["apply", "--yes"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "app_env: create failed: CreateEnvironment failed: ConfigurationValidationException: \
             Configuration validation exception: Invalid option value: 'sg-00000000000000000'"
        ),
        "names the resource, the operation, AWS's code and message: {stderr}"
    );
    assert!(stderr.contains("pipeline: not run because app_env failed"), "{stderr}");
    let state = common::store(dir, "dev").load().unwrap();
    for independent in ["data", "data_sg", "artifacts", "build", "app_version", "app_instance_profile"] {
        assert!(state.resources.contains_key(independent), "{independent} finished and is recorded");
    }
    assert!(!state.resources.contains_key("app_env") && !state.resources.contains_key("pipeline"));
    assert!(state.pending.is_empty(), "nothing left pending: {:?}", state.pending);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_ctrl_c_lets_what_is_in_flight_finish_and_the_next_apply_converges() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    let mut apply = std::process::Command::new(env!("CARGO_BIN_EXE_infra"));
    apply.args(["apply", "--yes"]).current_dir(dir).env("NO_COLOR", "1");
    for (k, v) in emu.env() {
        apply.env(k, v);
    }
    let child = apply
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The journal is started after the Ctrl-C handler is in place.
    let journal = dir.join("state/dev.journal");
    while !journal.exists() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let interrupted = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted: finishing the operations in flight"), "{stderr}");
    assert!(stderr.contains("operations finished and are recorded in state"), "{stderr}");
    let state = common::store(dir, "dev").load().unwrap();
    assert!(state.pending.is_empty(), "what was in flight finished and was recorded: {:?}", state.pending);
    assert!(state.resources.len() < 17, "the apply stopped early");

    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    assert_eq!(run_infra(&emu, dir, &["plan", "--detailed-exitcode"]).0, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forgotten_resource_is_adopted_again_and_a_renamed_one_is_not_replaced() {
    let emu = Emulator::start();
    let project = host_project();
    let dir = project.path();
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    let state = common::store(dir, HOST_STACK).load().unwrap();
    let (group, volume) = (state.resources["data_sg"].id.clone(), state.resources["data"].id.clone());

    // Forgotten, the group stays in AWS and the next apply finds it by its tags.
    ok(run_infra(&emu, dir, &["state", "rm", "--stack", HOST_STACK, "data_sg"]));
    let plan = ok(run_infra(&emu, dir, &["plan", "--stack", HOST_STACK]));
    let line = plan.lines().find(|l| l.contains("[adopt: found in AWS by its tags")).unwrap_or_default();
    assert_eq!(
        line.split_whitespace().take(4).collect::<Vec<_>>(),
        ["~", "data_sg", "ec2.security_group", &format!("({group})")],
        "{plan}"
    );
    ok(run_infra(&emu, dir, &["apply", "--stack", HOST_STACK, "--yes"]));
    assert_eq!(common::store(dir, HOST_STACK).load().unwrap().resources["data_sg"].id, group, "the same group");

    // Renamed in the stack file and in state: no replacement, only its name tag.
    let path = dir.join(format!("stacks/{HOST_STACK}.toml"));
    let renamed = std::fs::read_to_string(&path)
        .unwrap()
        .replace("[resources.data]", "[resources.volume]")
        .replace("${data.", "${volume.");
    std::fs::write(&path, renamed).unwrap();
    ok(run_infra(&emu, dir, &["state", "mv", "--stack", HOST_STACK, "data", "volume"]));
    let plan = ok(run_infra(&emu, dir, &["plan", "--stack", HOST_STACK, "--json"]));
    let actions = common::changed_steps(&plan);
    assert_eq!(actions, [("volume".to_string(), "update".to_string())], "only the infra:name tag changes: {plan}");
    ok(run_infra(&emu, dir, &["apply", "--stack", HOST_STACK, "--yes"]));
    assert_eq!(common::store(dir, HOST_STACK).load().unwrap().resources["volume"].id, volume, "the same volume");
    assert_eq!(run_infra(&emu, dir, &["plan", "--stack", HOST_STACK, "--detailed-exitcode"]).0, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_the_pipeline_deployed_is_neither_drift_nor_rolled_back_and_a_changed_bundle_deploys_nothing() {
    // One delivery path: infra creates the environment with the first version, and
    // CodePipeline delivers every later one. Its deploy action makes an application
    // version of the build's output and deploys it with UpdateEnvironment, as here.
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    let state = common::store(dir, "dev").load().unwrap();
    let application = state.resources["app"].id.clone();
    let env_id = state.resources["app_env"].id.clone();
    let bucket = state.resources["artifacts"].id.clone();
    let first = state.resources["app_version"].outputs["label"].as_str().unwrap().to_string();

    let config = emu.sdk_config().await;
    let s3 = common::s3_client(&emu).await;
    let eb = aws_sdk_elasticbeanstalk::Client::new(&config);
    let key = "dev-pipeline/BuildArtif/build-output.zip";
    let built = infra::bundle::zip_dir(&dir.join("deploy/dev")).unwrap();
    s3.put_object().bucket(&bucket).key(key).body(built.bytes.into()).send().await.unwrap();
    let delivered = "code-pipeline-1765000000000-build-output";
    let bundle = aws_sdk_elasticbeanstalk::types::S3Location::builder().s3_bucket(&bucket).s3_key(key).build();
    eb.create_application_version()
        .application_name(&application)
        .version_label(delivered)
        .source_bundle(bundle)
        .send()
        .await
        .unwrap();
    eb.update_environment().environment_id(&env_id).version_label(delivered).send().await.unwrap();
    common::wait_environment_ready(&eb, &env_id).await;
    let running = || async {
        let envs = eb.describe_environments().environment_ids(&env_id).send().await.unwrap();
        envs.environments()[0].version_label().unwrap_or_default().to_string()
    };
    assert_eq!(running().await, delivered);

    // Neither the plan nor the drift check sees anything to change or report.
    let (code, out, err) = run_infra(&emu, dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "the plan would undo the pipeline's deployment:\n{out}\n{err}");
    let (code, out, err) = run_infra(&emu, dir, &["drift"]);
    assert_eq!(code, 0, "the drift check reports the pipeline's deployment:\n{out}\n{err}");

    // A change to the bundle is the pipeline's to deliver: infra makes no new version of
    // it and deploys nothing, and the pipeline's version keeps running.
    let compose = dir.join("deploy/dev/docker-compose.yml");
    let text = std::fs::read_to_string(&compose).unwrap();
    std::fs::write(&compose, format!("{text}# a change the pipeline delivers\n")).unwrap();
    let (code, out, err) = run_infra(&emu, dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "a changed bundle plans a new version or a deployment:\n{out}\n{err}");
    let applied = ok(run_infra(&emu, dir, &["apply", "--yes"]));
    assert!(applied.contains("No changes."), "{applied}");
    assert_eq!(running().await, delivered, "the pipeline's version still runs");
    let versions = eb.describe_application_versions().application_name(&application).send().await.unwrap();
    let mut labels: Vec<&str> = versions.application_versions().iter().filter_map(|v| v.version_label()).collect();
    labels.sort();
    assert_eq!(labels, [delivered, first.as_str()], "infra made no version of the changed bundle");
}
