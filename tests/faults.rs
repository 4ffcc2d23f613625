//! Never lose a resource: with a fifth of AWS's answers failing (throttling, 500/503,
//! dropped connections; tests/emulator/faultproxy.py), the whole dev stack still
//! applies and destroys, and state matches what the cloud holds: every recorded
//! resource exists, and nothing was created twice.
//!
//! `infra` talks to the emulator through the fault proxy; the checks talk to the
//! emulator directly. `INFRA_FAULT_SEED=<n>` picks another sequence of faults.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_ec2::types::Filter;
use common::{Emulator, FaultProxy, dev_project, run_infra_via};
use serde_json::Value as J;

const FAULT_RATE: f64 = 0.2;
const DEFAULT_SEED: u64 = 20;

fn seed() -> u64 {
    match std::env::var("INFRA_FAULT_SEED") {
        Ok(seed) => seed.parse().unwrap_or_else(|_| panic!("INFRA_FAULT_SEED={seed} is not a number")),
        Err(_) => DEFAULT_SEED,
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn state(dir: &Path) -> J {
    serde_json::from_str(&std::fs::read_to_string(dir.join("state/dev.json")).unwrap()).unwrap()
}

/// (logical name, type, id) of every resource recorded in state.
fn recorded(dir: &Path) -> Vec<(String, String, String)> {
    let state = state(dir);
    state["resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, r)| (name.clone(), r["type"].as_str().unwrap().to_string(), r["id"].as_str().unwrap().to_string()))
        .collect()
}

fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

/// What the emulator holds of the dev stack, read directly (not through the proxy).
struct Cloud {
    ec2: aws_sdk_ec2::Client,
    iam: aws_sdk_iam::Client,
    s3: aws_sdk_s3::Client,
    codebuild: aws_sdk_codebuild::Client,
    pipelines: aws_sdk_codepipeline::Client,
    eb: aws_sdk_elasticbeanstalk::Client,
    events: aws_sdk_eventbridge::Client,
    ssm: aws_sdk_ssm::Client,
}

/// Every kind of resource the dev stack has, by cloud id: instances, volumes and
/// groups by their `infra:name` tag (those tagged `infra:stack=dev`), the rest by name.
#[derive(Debug, Default, PartialEq)]
struct Inventory {
    /// infra:name -> ids, for live instances tagged infra:stack=dev. The dev stack
    /// declares none: its host is the Elastic Beanstalk environment's instance,
    /// which carries the environment's tags (so infra:name=app_env).
    instances: BTreeMap<String, Vec<String>>,
    /// The environment that owns each of those instances (its
    /// `elasticbeanstalk:environment-id` tag; "" for none), sorted.
    instance_owners: Vec<String>,
    /// infra:name -> ids, for volumes tagged infra:stack=dev (a root volume with the
    /// stack's tags but no infra:name would be listed under "").
    volumes: BTreeMap<String, Vec<String>>,
    /// infra:name -> ids, for security groups tagged infra:stack=dev.
    groups: BTreeMap<String, Vec<String>>,
    /// IAM roles named dev-*.
    roles: Vec<String>,
    instance_profiles: Vec<String>,
    /// Buckets named dev-*.
    buckets: Vec<String>,
    projects: Vec<String>,
    pipelines: Vec<String>,
    applications: Vec<String>,
    /// Environment ids, terminated ones excepted.
    environments: Vec<String>,
    /// EventBridge rules on the default bus.
    rules: Vec<String>,
    /// Parameter Store parameters, AWS's public ones (`/aws/...`) excepted.
    parameters: Vec<String>,
}

impl Cloud {
    async fn new(emu: &Emulator) -> Cloud {
        let config = emu.sdk_config().await;
        Cloud {
            ec2: aws_sdk_ec2::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build(),
            ),
            codebuild: aws_sdk_codebuild::Client::new(&config),
            pipelines: aws_sdk_codepipeline::Client::new(&config),
            eb: aws_sdk_elasticbeanstalk::Client::new(&config),
            events: aws_sdk_eventbridge::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
        }
    }

    async fn inventory(&self) -> Inventory {
        let ours = || Filter::builder().name("tag:infra:stack").values("dev").build();
        let mut inv = Inventory::default();
        let instances = self.ec2.describe_instances().filters(ours()).send().await.unwrap();
        for i in instances.reservations().iter().flat_map(|r| r.instances()) {
            let state = i.state().and_then(|s| s.name()).map(|s| s.as_str().to_string()).unwrap_or_default();
            if state == "terminated" || state == "shutting-down" {
                continue;
            }
            let name = tag(i.tags(), "infra:name").unwrap_or_default().to_string();
            inv.instances.entry(name).or_default().push(i.instance_id().unwrap().to_string());
            let owner = tag(i.tags(), "elasticbeanstalk:environment-id").unwrap_or_default().to_string();
            inv.instance_owners.push(owner);
        }
        let volumes = self.ec2.describe_volumes().filters(ours()).send().await.unwrap();
        for v in volumes.volumes() {
            let name = tag(v.tags(), "infra:name").unwrap_or_default().to_string();
            inv.volumes.entry(name).or_default().push(v.volume_id().unwrap().to_string());
        }
        let groups = self.ec2.describe_security_groups().filters(ours()).send().await.unwrap();
        for g in groups.security_groups() {
            let name = tag(g.tags(), "infra:name").unwrap_or_default().to_string();
            inv.groups.entry(name).or_default().push(g.group_id().unwrap().to_string());
        }
        let roles = self.iam.list_roles().send().await.unwrap();
        inv.roles = roles.roles().iter().map(|r| r.role_name().to_string()).filter(|n| n.starts_with("dev-")).collect();
        let profiles = self.iam.list_instance_profiles().send().await.unwrap();
        inv.instance_profiles =
            profiles.instance_profiles().iter().map(|p| p.instance_profile_name().to_string()).collect();
        let buckets = self.s3.list_buckets().send().await.unwrap();
        inv.buckets = buckets
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .filter(|n| n.starts_with("dev-"))
            .map(str::to_string)
            .collect();
        let projects = self.codebuild.list_projects().send().await.unwrap();
        inv.projects = projects.projects().to_vec();
        let pipelines = self.pipelines.list_pipelines().send().await.unwrap();
        inv.pipelines = pipelines.pipelines().iter().filter_map(|p| p.name()).map(str::to_string).collect();
        let apps = self.eb.describe_applications().send().await.unwrap();
        inv.applications =
            apps.applications().iter().filter_map(|a| a.application_name()).map(str::to_string).collect();
        let envs = self.eb.describe_environments().send().await.unwrap();
        inv.environments = envs
            .environments()
            .iter()
            .filter(|e| e.status().map(|s| s.as_str()) != Some("Terminated"))
            .filter_map(|e| e.environment_id())
            .map(str::to_string)
            .collect();
        let rules = self.events.list_rules().send().await.unwrap();
        inv.rules = rules.rules().iter().filter_map(|r| r.name()).map(str::to_string).collect();
        let mut token = None;
        loop {
            let out = self.ssm.describe_parameters().set_next_token(token).send().await.unwrap();
            let names = out.parameters().iter().filter_map(|p| p.name()).filter(|n| !n.starts_with("/aws/"));
            inv.parameters.extend(names.map(str::to_string));
            token = out.next_token;
            if token.is_none() {
                break;
            }
        }
        for list in [
            &mut inv.rules,
            &mut inv.parameters,
            &mut inv.instance_owners,
            &mut inv.roles,
            &mut inv.instance_profiles,
            &mut inv.buckets,
            &mut inv.projects,
            &mut inv.pipelines,
            &mut inv.applications,
            &mut inv.environments,
        ] {
            list.sort();
        }
        inv
    }

    /// Checks that the resource recorded as (`name`, `kind`, `id`) exists.
    async fn assert_exists(&self, name: &str, kind: &str, id: &str) {
        let what = format!("{name} ({kind} {id})");
        match kind {
            "ec2.volume" => {
                let got = self.ec2.describe_volumes().volume_ids(id).send().await.unwrap();
                assert_eq!(got.volumes().len(), 1, "{what}");
            }
            "ec2.security_group" => {
                let got = self.ec2.describe_security_groups().group_ids(id).send().await.unwrap();
                assert_eq!(got.security_groups().len(), 1, "{what}");
            }
            "iam.role" => {
                let got = self.iam.get_role().role_name(id).send().await;
                assert!(got.is_ok(), "{what}: {got:?}");
            }
            "iam.instance_profile" => {
                let got = self.iam.get_instance_profile().instance_profile_name(id).send().await.unwrap();
                assert_eq!(got.instance_profile().unwrap().roles().len(), 1, "{what}: {got:?}");
            }
            "s3.bucket" => {
                let got = self.s3.head_bucket().bucket(id).send().await;
                assert!(got.is_ok(), "{what}: {got:?}");
            }
            "codebuild.project" => {
                let got = self.codebuild.batch_get_projects().names(id).send().await.unwrap();
                assert_eq!(got.projects().len(), 1, "{what}");
            }
            "codepipeline.pipeline" => {
                let got = self.pipelines.get_pipeline().name(id).send().await;
                assert!(got.is_ok(), "{what}: {got:?}");
            }
            "elasticbeanstalk.application" => {
                let got = self.eb.describe_applications().application_names(id).send().await.unwrap();
                assert_eq!(got.applications().len(), 1, "{what}");
            }
            "elasticbeanstalk.application_version" => {
                let (app, label) = id.split_once('/').unwrap_or_else(|| panic!("{what}: not app/label"));
                let got = self
                    .eb
                    .describe_application_versions()
                    .application_name(app)
                    .version_labels(label)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(got.application_versions().len(), 1, "{what}");
            }
            "elasticbeanstalk.environment" => {
                let got = self.eb.describe_environments().environment_ids(id).send().await.unwrap();
                let status: Vec<_> = got.environments().iter().filter_map(|e| e.status()).map(|s| s.as_str()).collect();
                assert_eq!(status, ["Ready"], "{what}");
            }
            "events.rule" => {
                let got = self.events.describe_rule().name(id).send().await;
                assert!(got.is_ok(), "{what}: {got:?}");
            }
            "ssm.parameter" => {
                let got = self.ssm.get_parameter().name(id).send().await;
                assert!(got.is_ok(), "{what}: {got:?}");
            }
            other => panic!("{what}: this test does not know how to look up a {other}; teach it"),
        }
    }
}

fn ids(map: &BTreeMap<String, Vec<String>>) -> BTreeMap<&str, usize> {
    map.iter().map(|(k, v)| (k.as_str(), v.len())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_fifth_of_requests_failing_apply_and_destroy_of_the_dev_stack_complete() {
    let seed = seed();
    let emu = Emulator::start();
    let proxy = FaultProxy::start(&emu, FAULT_RATE, seed);
    let project = dev_project();
    let dir = project.path();
    // About faults, not protection: the destroy below deletes everything.
    common::unprotect_data(dir);
    let cloud = Cloud::new(&emu).await;
    let run = |args: &[&str]| {
        let out = run_infra_via(&proxy.endpoint, dir, args);
        assert_eq!(
            out.0,
            0,
            "infra {args:?} failed with faults (seed {seed}):\nstdout:\n{}\nstderr:\n{}\n\
             --- fault proxy (tail) ---\n{}",
            out.1,
            out.2,
            tail(&proxy.stderr(), 40)
        );
        out.1
    };

    // Apply through the faults.
    let applied = run(&["apply", "--yes"]);
    assert!(applied.contains("17 added"), "{applied}");

    // Every recorded resource exists. None is an instance or an attachment: the
    // host is the environment's instance, and its hook attaches the volume.
    let resources = recorded(dir);
    assert_eq!(resources.len(), 17, "{resources:?}");
    assert!(resources.iter().all(|r| r.1 != "ec2.instance" && r.1 != "ec2.volume_attachment"), "{resources:?}");
    for (name, kind, id) in &resources {
        cloud.assert_exists(name, kind, id).await;
    }
    let id_of = |name: &str| resources.iter().find(|r| r.0 == name).map(|r| r.2.clone()).unwrap();
    let ids_of = |kind: &str| {
        let mut ids: Vec<String> = resources.iter().filter(|r| r.1 == kind).map(|r| r.2.clone()).collect();
        ids.sort();
        ids
    };

    // Nothing was created twice: exactly one of each, and it is the recorded one.
    let inv = cloud.inventory().await;
    // One instance, the environment's (it carries the environment's tags), and
    // the environment is the recorded one.
    assert_eq!(ids(&inv.instances), BTreeMap::from([("app_env", 1)]), "{inv:#?}");
    assert_eq!(inv.instance_owners, [id_of("app_env")], "{inv:#?}");
    // State's outputs were read from that instance.
    assert_eq!(state(dir)["resources"]["app_env"]["outputs"]["instance_id"], inv.instances["app_env"][0].as_str());
    // The data volume only (the environment's instance's root volume carries no tags).
    assert_eq!(ids(&inv.volumes), BTreeMap::from([("data", 1)]), "{inv:#?}");
    assert_eq!(inv.volumes["data"], [id_of("data")]);
    assert_eq!(ids(&inv.groups), BTreeMap::from([("data_sg", 1)]), "{inv:#?}");
    assert_eq!(inv.groups["data_sg"], [id_of("data_sg")]);
    assert_eq!(inv.roles, ids_of("iam.role"), "{inv:#?}");
    assert_eq!(inv.instance_profiles, ids_of("iam.instance_profile"), "{inv:#?}");
    assert_eq!(inv.buckets, ids_of("s3.bucket"), "{inv:#?}");
    assert_eq!(inv.projects, ids_of("codebuild.project"), "{inv:#?}");
    assert_eq!(inv.pipelines, ids_of("codepipeline.pipeline"), "{inv:#?}");
    assert_eq!(inv.rules, ids_of("events.rule"), "{inv:#?}");
    assert_eq!(inv.parameters, ids_of("ssm.parameter"), "{inv:#?}");
    assert_eq!(inv.applications, ids_of("elasticbeanstalk.application"), "{inv:#?}");
    assert_eq!(inv.environments, ids_of("elasticbeanstalk.environment"), "{inv:#?}");
    let versions = cloud.eb.describe_application_versions().application_name(id_of("app")).send().await.unwrap();
    assert_eq!(versions.application_versions().len(), 1, "{versions:?}");

    // State and cloud agree: a plan through the faults has nothing to do.
    let plan = run_infra_via(&proxy.endpoint, dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.0,
        0,
        "a plan right after apply has no changes (seed {seed}):\n{}\n{}\n--- fault proxy (tail) ---\n{}",
        plan.1,
        plan.2,
        tail(&proxy.stderr(), 40)
    );

    // Destroy through the faults leaves nothing of the stack.
    run(&["destroy", "--yes"]);
    assert_eq!(state(dir)["resources"], serde_json::json!({}));
    let left = cloud.inventory().await;
    assert_eq!(left, Inventory::default(), "left behind after destroy");

    // The proxy really got in the way, in every way it can.
    let faults = proxy.faults();
    let summary = proxy.stop();
    for kind in ["throttle", "server_error", "drop"] {
        assert!(faults.get(kind).copied().unwrap_or(0) > 0, "no {kind} fault injected (seed {seed}): {summary}");
    }
    eprintln!("fault proxy (seed {seed}): {summary}");
}

/// A stack of `n` EBS volumes.
fn volumes_stack(n: usize) -> String {
    let mut text = String::from("[stack]\nregion = \"us-east-1\"\n");
    for i in 0..n {
        text.push_str(&format!(
            "\n[resources.vol{i}]\ntype = \"ec2.volume\"\navailability_zone = \"us-east-1a\"\nsize = 1\n"
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn when_aws_throttles_a_burst_the_concurrency_comes_down_and_the_apply_still_completes() {
    let emu = Emulator::start();
    // Each API's bucket holds 10 requests and refills 20 a second: 60 creates
    // at once overrun CreateVolume's.
    let proxy = FaultProxy::with_token_buckets(&emu, 10, 20);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("stacks")).unwrap();
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(dir.path().join("stacks/bulk.toml"), volumes_stack(60)).unwrap();
    let stats = dir.path().join("stats.json");
    let stats_arg = stats.to_str().unwrap();

    let out =
        run_infra_via(&proxy.endpoint, dir.path(), &["apply", "--stack", "bulk", "--yes", "--stats-json", stats_arg]);
    assert_eq!(out.0, 0, "apply failed under throttling:\n{}\n{}", out.1, out.2);
    let stats: J = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let ec2 = &stats["concurrency"]["ec2"];
    let n = |key: &str| ec2[key].as_u64().unwrap_or_else(|| panic!("no {key} in {ec2}"));
    assert!(n("throttled") > 0, "the buckets throttled nothing: {ec2}");
    assert!(n("lowest") < n("initial"), "the limit never came down: {ec2}");
    assert!(n("peak_in_flight") > 10, "the burst was never wider than a bucket: {ec2}");

    // Every volume exists exactly once, and the next plan is empty.
    let cloud = Cloud::new(&emu).await;
    let volumes = cloud.ec2.describe_volumes().send().await.unwrap();
    assert_eq!(volumes.volumes().len(), 60);
    let plan = run_infra_via(&proxy.endpoint, dir.path(), &["plan", "--stack", "bulk", "--detailed-exitcode"]);
    assert_eq!(plan.0, 0, "{}\n{}", plan.1, plan.2);
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_and_profiles_iam_has_not_shown_yet_are_waited_for_and_the_dev_stack_applies() {
    // IAM is eventually consistent: a service may refuse a role or instance
    // profile made moments before. The first two attempts of each create, and
    // of the environment's first update after a new profile, are answered as
    // each service answers then (its error code and message).
    let emu = Emulator::start();
    let answers = [
        (
            "CreateProject",
            2,
            "InvalidInputException",
            "CodeBuild is not authorized to perform: sts:AssumeRole on arn:aws:iam::123456789012:role/dev-build_role",
        ),
        (
            "CreatePipeline",
            2,
            "InvalidStructureException",
            "CodePipeline is not authorized to perform AssumeRole on role arn:aws:iam::123456789012:role/dev-pipeline_role",
        ),
        (
            "CreateEnvironment",
            2,
            "InvalidParameterValue",
            "The instance profile dev-app_instance_profile associated with the environment does not exist.",
        ),
    ];
    let proxy = FaultProxy::failing_first(&emu, &answers);
    let project = dev_project();
    let dir = project.path();
    common::unprotect_data(dir);

    let out = run_infra_via(&proxy.endpoint, dir, &["apply", "--yes"]);
    assert_eq!(out.0, 0, "apply failed while IAM propagated:\n{}\n{}\n{}", out.1, out.2, proxy.stderr());
    let said = format!("{}{}", out.1, out.2);
    assert!(said.contains("waiting for IAM to show a new role or profile"), "no progress said so:\n{said}");
    assert_eq!(proxy.faults().get("scripted"), Some(&6), "{}", proxy.stderr());
    let plan = run_infra_via(&proxy.endpoint, dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.0, 0, "{}\n{}", plan.1, plan.2);

    // Another refusal is not waited out: it fails the step at once, naming it.
    let proxy = FaultProxy::failing_first(
        &emu,
        &[("UpdateProject", 1, "InvalidInputException", "Invalid project source: location must be specified")],
    );
    let stack = dir.join("stacks/dev.toml");
    let text = std::fs::read_to_string(&stack).unwrap();
    std::fs::write(
        &stack,
        text.replace("compute_type = \"BUILD_GENERAL1_SMALL\"", "compute_type = \"BUILD_GENERAL1_MEDIUM\""),
    )
    .unwrap();
    let out = run_infra_via(&proxy.endpoint, dir, &["apply", "--yes"]);
    assert_eq!(out.0, 1, "{}\n{}", out.1, out.2);
    assert!(out.2.contains("UpdateProject failed: InvalidInputException: Invalid project source"), "{}", out.2);
    assert!(!out.1.contains("waiting for IAM") && !out.2.contains("waiting for IAM"), "{}\n{}", out.1, out.2);
}
