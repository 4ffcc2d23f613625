//! The whole dev stack on the emulator: the data volume and its security
//! group, IAM roles, the artifact bucket, CodeBuild, Elastic Beanstalk (whose
//! one instance is the data host) and CodePipeline, applied, checked through
//! the AWS SDK, updated in place, drifted and put back, and destroyed without a
//! trace; and the EventBridge rule that starts the pipeline when its source
//! archive is written.

mod common;

use std::path::Path;

use common::{Emulator, dev_project, run_infra};
use serde_json::Value as J;

fn ok(out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "infra failed:\nstdout:\n{}\nstderr:\n{}", out.1, out.2);
    out.1
}

fn edit(dir: &Path, from: &str, to: &str) {
    let path = dir.join("stacks/dev.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "stacks/dev.toml has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn state(dir: &Path) -> J {
    serde_json::from_str(&std::fs::read_to_string(dir.join("state/dev.json")).unwrap()).unwrap()
}

fn id(dir: &Path, resource: &str) -> String {
    state(dir)["resources"][resource]["id"].as_str().unwrap().to_string()
}

fn output(dir: &Path, resource: &str, attr: &str) -> String {
    state(dir)["resources"][resource]["outputs"][attr].as_str().unwrap().to_string()
}

fn trust_service(doc: &str) -> String {
    // IAM returns policy documents URL-encoded.
    let doc = infra::model::kinds::iam_role::canonical_policy(doc).unwrap_or_else(|| panic!("not a policy: {doc}"));
    let j: J = serde_json::from_str(&doc).unwrap();
    let principal = &j["Statement"][0]["Principal"]["Service"];
    principal.as_str().map(str::to_string).unwrap_or_else(|| principal[0].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_dev_stack_applies_updates_in_place_and_leaves_nothing_behind() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    let config = emu.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&config);
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    let codebuild = aws_sdk_codebuild::Client::new(&config);
    let pipelines = aws_sdk_codepipeline::Client::new(&config);
    let eb = aws_sdk_elasticbeanstalk::Client::new(&config);

    let ec2 = aws_sdk_ec2::Client::new(&config);

    let applied = ok(run_infra(&emu, dir, &["apply", "--yes"]));
    assert!(applied.contains("17 added"), "{applied}");

    // The pipeline: Source -> Build -> Deploy, wired to the project and environment.
    let pipeline_name = id(dir, "pipeline");
    let project_name = id(dir, "build");
    let app_name = id(dir, "app");
    let env_name = output(dir, "app_env", "name");
    let bucket = id(dir, "artifacts");
    let got = pipelines.get_pipeline().name(&pipeline_name).send().await.unwrap();
    let declared = got.pipeline().unwrap();
    let stages: Vec<&str> = declared.stages().iter().map(|s| s.name()).collect();
    assert_eq!(stages, ["Source", "Build", "Deploy"]);
    let action = |stage: usize| &declared.stages()[stage].actions()[0];
    let build_config = action(1).configuration().unwrap();
    assert_eq!(build_config.get("ProjectName"), Some(&project_name));
    let deploy_config = action(2).configuration().unwrap();
    assert_eq!(deploy_config.get("ApplicationName"), Some(&app_name));
    assert_eq!(deploy_config.get("EnvironmentName"), Some(&env_name));
    assert_eq!(action(0).configuration().unwrap().get("S3Bucket"), Some(&bucket));
    assert_eq!(declared.artifact_store().unwrap().location(), bucket);

    // The build project: its role, image and compute type.
    let projects = codebuild.batch_get_projects().names(&project_name).send().await.unwrap();
    let p = &projects.projects()[0];
    assert_eq!(p.service_role(), Some(output(dir, "build_role", "arn").as_str()));
    let env = p.environment().unwrap();
    assert_eq!(env.image(), "aws/codebuild/amazonlinux-x86_64-standard:5.0");
    assert_eq!(env.compute_type().as_str(), "BUILD_GENERAL1_SMALL");

    // The environment: Docker on Amazon Linux 2023, t3.medium, single instance, Ready.
    let envs = eb.describe_environments().environment_names(&env_name).send().await.unwrap();
    let e = &envs.environments()[0];
    let stack = e.solution_stack_name().unwrap();
    assert!(stack.starts_with("64bit Amazon Linux 2023") && stack.ends_with("running Docker"), "{stack}");
    assert_eq!(e.status().unwrap().as_str(), "Ready");
    let settings = eb
        .describe_configuration_settings()
        .application_name(&app_name)
        .environment_name(&env_name)
        .send()
        .await
        .unwrap();
    let option = |ns: &str, name: &str| {
        settings.configuration_settings()[0]
            .option_settings()
            .iter()
            .find(|o| o.namespace() == Some(ns) && o.option_name() == Some(name))
            .and_then(|o| o.value().map(str::to_string))
    };
    assert_eq!(option("aws:autoscaling:launchconfiguration", "InstanceType").as_deref(), Some("t3.medium"));
    assert_eq!(option("aws:elasticbeanstalk:environment", "EnvironmentType").as_deref(), Some("SingleInstance"));

    // The environment's one instance is the data host: the data ports' group
    // only, the data volume's zone, the volume's id for its hook.
    let data_sg = id(dir, "data_sg");
    let volume = id(dir, "data");
    let zone = output(dir, "data", "availability_zone");
    let launch = "aws:autoscaling:launchconfiguration";
    assert_eq!(option(launch, "SecurityGroups").as_deref(), Some(data_sg.as_str()));
    assert_eq!(option(launch, "DisableDefaultEC2SecurityGroup").as_deref(), Some("true"));
    assert_eq!(option("aws:autoscaling:asg", "Custom Availability Zones").as_deref(), Some(zone.as_str()));
    let env_vars = "aws:elasticbeanstalk:application:environment";
    assert_eq!(option(env_vars, "DATA_VOLUME_ID").as_deref(), Some(volume.as_str()));
    let host = the_one_instance(&ec2).await;
    let resources = eb.describe_environment_resources().environment_name(&env_name).send().await.unwrap();
    let env_instances: Vec<&str> =
        resources.environment_resources().unwrap().instances().iter().filter_map(|i| i.id()).collect();
    assert_eq!(env_instances, [host.instance_id().unwrap()], "no instance runs outside the environment");
    let groups: Vec<&str> = host.security_groups().iter().filter_map(|g| g.group_id()).collect();
    assert_eq!(groups, [data_sg.as_str()]);
    assert_eq!(host.placement().and_then(|p| p.availability_zone()), Some(zone.as_str()));
    assert_eq!(host.instance_type().map(|t| t.as_str()), Some("t3.medium"));

    // What a client needs, from that instance.
    let ip = host.private_ip_address().unwrap().to_string();
    let outputs: J = serde_json::from_str(&ok(run_infra(&emu, dir, &["output", "--json"]))).unwrap();
    assert_eq!(outputs["private_ip"], ip.as_str());
    assert_eq!(outputs["redis_cluster_nodes"], format!("{ip}:6379,{ip}:6380,{ip}:6381").as_str());
    assert_eq!(outputs["elasticsearch_url"], format!("http://{ip}:9200").as_str());
    assert_eq!(outputs["kibana_url"], format!("http://{ip}:5601").as_str());
    assert_eq!(outputs["instance_id"], host.instance_id().unwrap());

    // The instances may attach the data volume, and no other, in this account and region
    // (`${aws.account_id}` bound to moto's account).
    let role = id(dir, "app_instance_role");
    let policy = iam.get_role_policy().role_name(&role).policy_name("data_volume").send().await.unwrap();
    let policy = infra::model::kinds::iam_role::canonical_policy(policy.policy_document()).unwrap();
    let policy: J = serde_json::from_str(&policy).unwrap();
    let strings = |v: &J| -> Vec<String> {
        match v {
            J::Array(list) => list.iter().map(|r| r.as_str().unwrap().to_string()).collect(),
            one => vec![one.as_str().unwrap().to_string()],
        }
    };
    // (action, resource, conditioned), for every statement.
    let mut grants = Vec::new();
    for statement in policy["Statement"].as_array().unwrap() {
        for action in strings(&statement["Action"]) {
            for resource in strings(&statement["Resource"]) {
                grants.push((action.clone(), resource, statement.get("Condition").is_some()));
            }
        }
    }
    grants.sort();
    let grant = |a: &str, r: &str, c: bool| (a.to_string(), r.to_string(), c);
    assert_eq!(
        grants,
        [
            grant("ec2:AttachVolume", "arn:aws:ec2:us-east-1:123456789012:instance/*", true),
            grant("ec2:AttachVolume", &format!("arn:aws:ec2:us-east-1:123456789012:volume/{volume}"), false),
            grant("ec2:DescribeInstances", "*", false),
            grant("ec2:DescribeVolumes", "*", false),
        ],
        "{policy}"
    );

    // The bucket: encrypted, public access fully blocked.
    common::assert_bucket_encrypted_and_private(&s3, &bucket).await;

    // The roles' trust policies.
    for (role, service) in [
        ("build_role", "codebuild.amazonaws.com"),
        ("pipeline_role", "codepipeline.amazonaws.com"),
        ("app_instance_role", "ec2.amazonaws.com"),
        ("source_events_role", "events.amazonaws.com"),
    ] {
        let got = iam.get_role().role_name(id(dir, role)).send().await.unwrap();
        let doc = got.role().unwrap().assume_role_policy_document().unwrap();
        assert_eq!(trust_service(doc), service, "{role}");
    }

    // Nothing to do right after apply.
    let again = run_infra(&emu, dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.0, 0, "a plan right after apply has no changes:\n{}\n{}", again.1, again.2);

    // A build variable, an environment option and a pipeline stage: each in place.
    let env_id = id(dir, "app_env");
    let project_arn = output(dir, "build", "arn");
    edit(
        dir,
        "environment_variables = { STACK = \"dev\" }",
        "environment_variables = { STACK = \"dev\", LOG_LEVEL = \"debug\" }",
    );
    edit(dir, "value = \"AllAtOnce\"", "value = \"Rolling\"");
    edit(dir, "key = \"source/dev.zip\"", "key = \"source/dev-main.zip\"");
    let plan = ok(run_infra(&emu, dir, &["plan", "--json"]));
    let mut acts = common::changed_steps(&plan);
    acts.sort();
    assert_eq!(
        acts,
        [("app_env", "update"), ("build", "update"), ("pipeline", "update")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    assert_eq!((id(dir, "app_env"), output(dir, "build", "arn")), (env_id.clone(), project_arn), "the same resources");
    let projects = codebuild.batch_get_projects().names(&project_name).send().await.unwrap();
    let vars: Vec<(&str, &str)> = projects.projects()[0]
        .environment()
        .unwrap()
        .environment_variables()
        .iter()
        .map(|v| (v.name(), v.value()))
        .collect();
    assert!(vars.contains(&("LOG_LEVEL", "debug")), "{vars:?}");
    let got = pipelines.get_pipeline().name(&pipeline_name).send().await.unwrap();
    let source = got.pipeline().unwrap().stages()[0].actions()[0].configuration().unwrap();
    assert_eq!(source.get("S3ObjectKey").map(String::as_str), Some("source/dev-main.zip"));
    assert_eq!(run_infra(&emu, dir, &["plan", "--detailed-exitcode"]).0, 0, "converged");

    // The environment's groups changed behind infra's back: drift, put back by
    // apply on a new instance (Elastic Beanstalk replaces it), whose address
    // the outputs follow.
    let default_sg = ec2
        .describe_security_groups()
        .filters(aws_sdk_ec2::types::Filter::builder().name("group-name").values("default").build())
        .send()
        .await
        .unwrap();
    let default_sg = default_sg.security_groups()[0].group_id().unwrap().to_string();
    set_launch_option(&eb, &env_id, "SecurityGroups", &default_sg).await;
    let (code, report, _) = run_infra(&emu, dir, &["drift"]);
    assert_eq!(code, 2, "{report}");
    assert!(report.contains("security_groups") && report.contains(&default_sg), "{report}");
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    let host = the_one_instance(&ec2).await;
    let groups: Vec<&str> = host.security_groups().iter().filter_map(|g| g.group_id()).collect();
    assert_eq!(groups, [data_sg.as_str()]);
    assert_eq!(output(dir, "app_env", "instance_id"), host.instance_id().unwrap());
    assert_eq!(output(dir, "app_env", "private_ip"), host.private_ip_address().unwrap());
    assert_eq!(run_infra(&emu, dir, &["plan", "--detailed-exitcode"]).0, 0, "converged");

    // Elastic Beanstalk replaces the instance for a setting the stack leaves
    // alone (another AMI): no drift, but the outputs follow the new instance
    // once refreshed.
    let images = ec2.describe_images().owners("amazon").send().await.unwrap();
    let current = host.image_id().unwrap();
    let other = images.images().iter().filter_map(|i| i.image_id()).find(|i| *i != current).unwrap().to_string();
    set_launch_option(&eb, &env_id, "ImageId", &other).await;
    let replaced = the_one_instance(&ec2).await;
    assert_ne!(replaced.instance_id(), host.instance_id(), "the emulator replaced the instance");
    assert_eq!(run_infra(&emu, dir, &["drift"]).0, 0, "a setting the stack does not declare is no drift");
    let refreshed = ok(run_infra(&emu, dir, &["refresh", "--yes"]));
    assert!(refreshed.contains("Outputs read anew from AWS: app_env"), "{refreshed}");
    let outputs: J = serde_json::from_str(&ok(run_infra(&emu, dir, &["output", "--json"]))).unwrap();
    assert_eq!(outputs["instance_id"], replaced.instance_id().unwrap());
    let ip = replaced.private_ip_address().unwrap();
    assert_eq!(outputs["redis_cluster_nodes"], format!("{ip}:6379,{ip}:6380,{ip}:6381").as_str());

    // Once the data volume's protection is lifted (and applied), destroy
    // leaves nothing of the stack.
    common::unprotect_data(dir);
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    ok(run_infra(&emu, dir, &["destroy", "--yes"]));
    let roles = iam.list_roles().send().await.unwrap();
    let ours: Vec<&str> = roles.roles().iter().map(|r| r.role_name()).filter(|n| n.starts_with("dev-")).collect();
    assert!(ours.is_empty(), "roles left: {ours:?}");
    let buckets = s3.list_buckets().send().await.unwrap();
    assert!(buckets.buckets().iter().all(|b| b.name() != Some(bucket.as_str())), "the bucket is gone");
    let apps = eb.describe_applications().send().await.unwrap();
    assert!(apps.applications().is_empty(), "applications left: {apps:?}");
    assert!(codebuild.batch_get_projects().names(&project_name).send().await.unwrap().projects().is_empty());
    assert!(pipelines.get_pipeline().name(&pipeline_name).send().await.is_err(), "the pipeline is gone");
    let events = aws_sdk_eventbridge::Client::new(&config);
    assert!(events.list_rules().send().await.unwrap().rules().is_empty(), "the rule is gone");
    let profiles = iam.list_instance_profiles().send().await.unwrap();
    assert!(profiles.instance_profiles().is_empty(), "{profiles:?}");
    let running = running_instances(&ec2).await;
    assert!(running.is_empty(), "instances left: {running:?}");
    let state = state(dir);
    assert_eq!(state["resources"], serde_json::json!({}));
}

/// Sets one `aws:autoscaling:launchconfiguration` option behind infra's back,
/// and waits until the environment has applied it.
async fn set_launch_option(eb: &aws_sdk_elasticbeanstalk::Client, env_id: &str, name: &str, value: &str) {
    let setting = aws_sdk_elasticbeanstalk::types::ConfigurationOptionSetting::builder()
        .namespace("aws:autoscaling:launchconfiguration")
        .option_name(name)
        .value(value)
        .build();
    eb.update_environment().environment_id(env_id).option_settings(setting).send().await.unwrap();
    common::wait_environment_ready(eb, env_id).await;
}

/// Every instance not terminated (or terminating).
async fn running_instances(ec2: &aws_sdk_ec2::Client) -> Vec<aws_sdk_ec2::types::Instance> {
    let out = ec2.describe_instances().send().await.unwrap();
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter(|i| {
            let state = i.state().and_then(|s| s.name()).map(|n| n.as_str()).unwrap_or_default();
            !matches!(state, "terminated" | "shutting-down")
        })
        .cloned()
        .collect()
}

/// The one instance running: the environment's.
async fn the_one_instance(ec2: &aws_sdk_ec2::Client) -> aws_sdk_ec2::types::Instance {
    let mut running = running_instances(ec2).await;
    assert_eq!(running.len(), 1, "{running:?}");
    running.remove(0)
}

/// S3's "Object Created" event as the S3 User Guide shows it ("EventBridge
/// event message structure", https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html),
/// for `key` in `bucket`.
fn object_created(bucket: &str, key: &str) -> String {
    serde_json::json!({
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "111122223333",
        "time": "2021-11-12T00:00:00Z",
        "region": "ca-central-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {
            "version": "0",
            "bucket": { "name": bucket },
            "object": {
                "key": key,
                "size": 5,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                "sequencer": "617f08299329d189"
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject"
        }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dev_stack_starts_its_pipeline_when_its_source_archive_is_written_and_on_nothing_else() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    let config = emu.sdk_config().await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    ok(run_infra(&emu, dir, &["apply", "--yes"]));
    let bucket = id(dir, "artifacts");
    let pipeline_arn = output(dir, "pipeline", "arn");
    let role_arn = output(dir, "source_events_role", "arn");

    // The bucket sends its events to EventBridge.
    let notifications = s3.get_bucket_notification_configuration().bucket(&bucket).send().await.unwrap();
    assert!(notifications.event_bridge_configuration().is_some(), "{notifications:?}");

    // The rule, as EventBridge holds it, matches the archive's Object Created
    // event, and not another key's or another bucket's.
    let rule = events.describe_rule().name(id(dir, "source_changed")).send().await.unwrap();
    assert_eq!(rule.state().map(|s| s.as_str()), Some("ENABLED"));
    let pattern = rule.event_pattern().unwrap();
    let matches = |event: String| {
        let events = events.clone();
        let pattern = pattern.to_string();
        async move { events.test_event_pattern().event_pattern(pattern).event(event).send().await.unwrap().result }
    };
    assert!(matches(object_created(&bucket, "source/dev.zip")).await, "the source archive: {pattern}");
    assert!(!matches(object_created(&bucket, "source/other.zip")).await, "another key: {pattern}");
    assert!(!matches(object_created("another-bucket", "source/dev.zip")).await, "another bucket: {pattern}");

    // Its one target is the pipeline, started as the rule's role.
    let targets = events.list_targets_by_rule().rule(id(dir, "source_changed")).send().await.unwrap();
    let targets: Vec<(&str, Option<&str>)> = targets.targets().iter().map(|t| (t.arn(), t.role_arn())).collect();
    assert_eq!(targets, [(pipeline_arn.as_str(), Some(role_arn.as_str()))]);

    // The role may start that pipeline and do nothing else.
    let role = id(dir, "source_events_role");
    let policies = iam.list_role_policies().role_name(&role).send().await.unwrap();
    assert_eq!(policies.policy_names(), ["start_pipeline"]);
    let attached = iam.list_attached_role_policies().role_name(&role).send().await.unwrap();
    assert!(attached.attached_policies().is_empty(), "{attached:?}");
    let policy = iam.get_role_policy().role_name(&role).policy_name("start_pipeline").send().await.unwrap();
    let policy = infra::model::kinds::iam_role::canonical_policy(policy.policy_document()).unwrap();
    let policy: J = serde_json::from_str(&policy).unwrap();
    assert_eq!(
        policy["Statement"],
        serde_json::json!([{
            "Action": "codepipeline:StartPipelineExecution",
            "Effect": "Allow",
            "Resource": pipeline_arn,
        }])
    );
}
