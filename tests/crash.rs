//! Never lose a resource: `infra apply` killed with SIGKILL at arbitrary moments
//! of an apply of the dev stack, on the emulator. After each kill the state file
//! still loads, the very next `infra apply --yes` (no `infra unlock`: the
//! killed apply's OS lock went with it) converges, and the emulator holds
//! exactly one of each resource the stack declares: no orphan left by the killed
//! run, no duplicate made by the next one.
//!
//! With the state in an S3 backend, the killed apply's machine vanishes too (a
//! CI runner): each next apply runs in a fresh directory, from the state and
//! journal in the bucket alone, after `infra unlock` with the id the refused
//! command names (an S3 lock outlives its holder).
//!
//! The kill moments are pseudo-random from a fixed seed (the same on every run),
//! one in each twentieth of the duration of a normal apply measured first on the
//! same emulator, so they land early (loading, refresh, the first creates) as well
//! as late (waiting for the environment, the pipeline). Nothing about time is
//! asserted: a kill that lands after the apply has finished is simply a round
//! without a crash.
//!
//! Every kind of the stack is counted through the SDK, by its `infra:name` tag
//! where it has one, so an untagged `dev-...` resource (an S3 bucket whose create
//! was killed before `PutBucketTagging`) shows up as an orphan; application
//! versions and volume attachments, which have no tags, are matched to state by id.
//! Root volumes carry `infra:stack` but no `infra:name` and go with their instance:
//! they are not counted.
//!
//! The dev stack declares no `ec2.instance` and no attachment: its host is the
//! Elastic Beanstalk environment's instance, which the environment owns (it
//! carries the environment's tags and `elasticbeanstalk:environment-id`). Such
//! instances are counted apart: exactly one per declared environment, owned by
//! the environment state records. Any other instance tagged as the stack's, or
//! any attachment of its volume, is an orphan.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, InstanceStateName, VolumeAttachmentState, VolumeState};
use aws_sdk_elasticbeanstalk::types::EnvironmentStatus;
use common::{Emulator, dev_project, run_infra};
use infra::state::{State, Store};

const ROUNDS: u64 = 20;
/// Kills of an apply on the S3 backend.
const S3_ROUNDS: u64 = 10;
const STATE_BUCKET: &str = "team-infra-state";
const STATE_PREFIX: &str = "infra/";
const SEED: u64 = 0x1f2e_3d4c_5b6a_7988;
const STACK: &str = "dev";
const TAG_STACK: &str = "infra:stack";
const TAG_NAME: &str = "infra:name";
const TAG_ENVIRONMENT_ID: &str = "elasticbeanstalk:environment-id";
/// The pseudo-kind under which [`Aws::live`] lists the instances an Elastic
/// Beanstalk environment runs, labelled with the name state records for that
/// environment: one is expected per declared `elasticbeanstalk.environment`.
const ENVIRONMENT_INSTANCE: &str = "ec2.instance of an elasticbeanstalk.environment";

fn ok(what: &str, out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "{what}: infra failed (exit {}):\nstdout:\n{}\nstderr:\n{}", out.0, out.1, out.2);
    out.1
}

/// splitmix64: a fixed seed gives the same kill moments on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One moment in each of `rounds` equal slices of `apply`, at a pseudo-random
/// place within its slice, shuffled so that early and late kills alternate with
/// the emulator's growing history.
fn kill_moments(apply: Duration, rounds: u64) -> Vec<Duration> {
    let mut rng = Rng(SEED);
    let mut moments: Vec<Duration> =
        (0..rounds).map(|i| apply.mul_f64((i as f64 + rng.unit()) / rounds as f64)).collect();
    for i in (1..moments.len()).rev() {
        moments.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    moments
}

/// Starts `infra apply --yes` in `dir` with the environment `run_infra` gives
/// (the emulator's, and none of the test process's AWS, state-key or secret
/// variables), its output going to files in `logs`.
fn spawn_apply(emu: &Emulator, dir: &Path, logs: &Path) -> Child {
    spawn_apply_with(emu, dir, logs, &[])
}

/// [`spawn_apply`] with more arguments.
fn spawn_apply_with(emu: &Emulator, dir: &Path, logs: &Path, args: &[&str]) -> Child {
    let stdout = std::fs::File::create(logs.join("stdout")).unwrap();
    let stderr = std::fs::File::create(logs.join("stderr")).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_infra"));
    command.args(["apply", "--yes"]).args(args).current_dir(dir).stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("AWS_") || n.starts_with("INFRA_STATE_") || n == "ELASTIC_PASSWORD" || n == "REDIS_PASSWORD" {
            command.env_remove(name);
        }
    }
    command.envs(emu.env()).env("NO_COLOR", "1");
    command.spawn().expect("start infra apply")
}

/// The state, which must load whatever moment the apply was killed at.
fn load_state(store: &Store, when: &str) -> State {
    store.load().unwrap_or_else(|e| panic!("{when}: the state does not load: {e}"))
}

/// The declared resources of the stack file: type -> logical names.
fn declared(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(dir.join("stacks/dev.toml")).unwrap();
    let file: toml::Table = toml::from_str(&text).unwrap();
    let mut by_type: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, decl) in file["resources"].as_table().unwrap() {
        let type_name = decl["type"].as_str().unwrap();
        by_type.entry(type_name.to_string()).or_default().push(name.clone());
    }
    by_type.values_mut().for_each(|v| v.sort());
    by_type
}

/// The stack's resources the emulator holds, by type: (label, cloud id), where
/// the label is the `infra:name` tag; for kinds without tags, the name state
/// records the id under; and otherwise `untagged <id>` / `unrecorded <id>`, which
/// no expectation ever matches.
type Live = BTreeMap<&'static str, Vec<(String, String)>>;

struct Aws {
    ec2: aws_sdk_ec2::Client,
    iam: aws_sdk_iam::Client,
    s3: aws_sdk_s3::Client,
    codebuild: aws_sdk_codebuild::Client,
    eb: aws_sdk_elasticbeanstalk::Client,
    pipelines: aws_sdk_codepipeline::Client,
    events: aws_sdk_eventbridge::Client,
    ssm: aws_sdk_ssm::Client,
}

fn owner<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> (Option<String>, Option<String>) {
    let tags: BTreeMap<&str, &str> = tags.into_iter().collect();
    (tags.get(TAG_STACK).map(|s| s.to_string()), tags.get(TAG_NAME).map(|s| s.to_string()))
}

/// The label of a resource of an account-wide listing, when it is the stack's:
/// tagged as the stack's, or named like one of its resources (`dev-...`) but
/// untagged (what an interrupted create could leave).
fn label(id: &str, name: &str, tags: (Option<String>, Option<String>)) -> Option<String> {
    match tags {
        (Some(stack), Some(logical)) if stack == STACK => Some(logical),
        (Some(stack), None) if stack == STACK => Some(format!("untagged {id}")),
        (Some(_), _) => None,
        (None, _) => name.starts_with(&format!("{STACK}-")).then(|| format!("untagged {id}")),
    }
}

impl Aws {
    async fn new(emu: &Emulator) -> Aws {
        let config = emu.sdk_config().await;
        Aws {
            ec2: aws_sdk_ec2::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build(),
            ),
            codebuild: aws_sdk_codebuild::Client::new(&config),
            eb: aws_sdk_elasticbeanstalk::Client::new(&config),
            pipelines: aws_sdk_codepipeline::Client::new(&config),
            events: aws_sdk_eventbridge::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
        }
    }

    async fn live(&self, state: &State) -> Live {
        let recorded = |id: &str| {
            let name = state.resources.iter().find(|(_, r)| r.id == id).map(|(n, _)| n.clone());
            name.unwrap_or(format!("unrecorded {id}"))
        };
        let stack_filter = || Filter::builder().name(format!("tag:{TAG_STACK}")).values(STACK).build();
        let mut live = Live::new();
        let mut add =
            |kind: &'static str, label: String, id: &str| live.entry(kind).or_default().push((label, id.to_string()));

        // EC2: tagged at creation; root volumes carry infra:stack but no infra:name.
        let out = self.ec2.describe_instances().filters(stack_filter()).send().await.unwrap();
        for i in out.reservations().iter().flat_map(|r| r.instances()) {
            let state = i.state().and_then(|s| s.name()).cloned();
            if matches!(state, Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown)) {
                continue;
            }
            let id = i.instance_id().unwrap();
            if let Some(env) = i.tags().iter().find(|t| t.key() == Some(TAG_ENVIRONMENT_ID)).and_then(|t| t.value()) {
                add(ENVIRONMENT_INSTANCE, recorded(env), id);
                continue;
            }
            let tags = owner(i.tags().iter().map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))));
            add("ec2.instance", tags.1.unwrap_or(format!("untagged {id}")), id);
        }
        let out = self.ec2.describe_volumes().filters(stack_filter()).send().await.unwrap();
        for v in out.volumes() {
            if matches!(v.state(), Some(VolumeState::Deleting | VolumeState::Deleted)) {
                continue;
            }
            let tags = owner(v.tags().iter().map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))));
            let Some(name) = tags.1 else { continue }; // a root volume
            let vid = v.volume_id().unwrap();
            add("ec2.volume", name, vid);
            for a in v.attachments() {
                if matches!(a.state(), Some(VolumeAttachmentState::Attaching | VolumeAttachmentState::Attached)) {
                    let id = format!("{vid}:{}:{}", a.instance_id().unwrap_or(""), a.device().unwrap_or(""));
                    add("ec2.volume_attachment", recorded(&id), &id);
                }
            }
        }
        let out = self.ec2.describe_security_groups().filters(stack_filter()).send().await.unwrap();
        for g in out.security_groups() {
            let id = g.group_id().unwrap();
            let tags = owner(g.tags().iter().map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))));
            add("ec2.security_group", tags.1.unwrap_or(format!("untagged {id}")), id);
        }

        // IAM.
        for r in self.iam.list_roles().send().await.unwrap().roles() {
            let name = r.role_name();
            let tags = self.iam.list_role_tags().role_name(name).send().await.unwrap();
            let tags = owner(tags.tags().iter().map(|t| (t.key(), t.value())));
            if let Some(l) = label(name, name, tags) {
                add("iam.role", l, name);
            }
        }
        for p in self.iam.list_instance_profiles().send().await.unwrap().instance_profiles() {
            let name = p.instance_profile_name();
            let got = self.iam.get_instance_profile().instance_profile_name(name).send().await.unwrap();
            let tags = got.instance_profile().map(|p| p.tags()).unwrap_or_default();
            if let Some(l) = label(name, name, owner(tags.iter().map(|t| (t.key(), t.value())))) {
                add("iam.instance_profile", l, name);
            }
        }

        // S3: CreateBucket takes no tags; an untagged `dev-...` bucket is an orphan.
        for b in self.s3.list_buckets().send().await.unwrap().buckets() {
            let name = b.name().unwrap();
            let tags = match self.s3.get_bucket_tagging().bucket(name).send().await {
                Ok(out) => out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
                Err(_) => Vec::new(), // NoSuchTagSet
            };
            if let Some(l) = label(name, name, owner(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))) {
                add("s3.bucket", l, name);
            }
        }

        // CodeBuild.
        let names = self.codebuild.list_projects().send().await.unwrap().projects().to_vec();
        if !names.is_empty() {
            let out = self.codebuild.batch_get_projects().set_names(Some(names)).send().await.unwrap();
            for p in out.projects() {
                let name = p.name().unwrap();
                let tags = owner(p.tags().iter().map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))));
                if let Some(l) = label(name, name, tags) {
                    add("codebuild.project", l, name);
                }
            }
        }

        // Elastic Beanstalk: applications and environments are tagged; versions
        // are not, and are known by what state records.
        let eb_tags = |arn: String| async move {
            let out = self.eb.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
            let pair = |t: &aws_sdk_elasticbeanstalk::types::Tag| {
                (t.key().unwrap_or("").to_string(), t.value().unwrap_or("").to_string())
            };
            out.resource_tags().iter().map(pair).collect::<Vec<_>>()
        };
        for a in self.eb.describe_applications().send().await.unwrap().applications() {
            let name = a.application_name().unwrap();
            let tags = eb_tags(a.application_arn().unwrap().to_string()).await;
            if let Some(l) = label(name, name, owner(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))) {
                add("elasticbeanstalk.application", l, name);
            }
        }
        for v in self.eb.describe_application_versions().send().await.unwrap().application_versions() {
            let id = format!("{}/{}", v.application_name().unwrap(), v.version_label().unwrap());
            add("elasticbeanstalk.application_version", recorded(&id), &id);
        }
        for e in self.eb.describe_environments().send().await.unwrap().environments() {
            if matches!(e.status(), Some(EnvironmentStatus::Terminated | EnvironmentStatus::Terminating)) {
                continue;
            }
            let id = e.environment_id().unwrap();
            let tags = eb_tags(e.environment_arn().unwrap().to_string()).await;
            let name = e.environment_name().unwrap();
            if let Some(l) = label(id, name, owner(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))) {
                add("elasticbeanstalk.environment", l, id);
            }
        }

        // CodePipeline.
        for p in self.pipelines.list_pipelines().send().await.unwrap().pipelines() {
            let name = p.name().unwrap();
            let got = self.pipelines.get_pipeline().name(name).send().await.unwrap();
            let arn = got.metadata().and_then(|m| m.pipeline_arn()).unwrap().to_string();
            let out = self.pipelines.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
            let tags = owner(out.tags().iter().map(|t| (t.key(), t.value())));
            if let Some(l) = label(name, name, tags) {
                add("codepipeline.pipeline", l, name);
            }
        }

        // EventBridge: PutRule tags the rule it creates.
        for r in self.events.list_rules().send().await.unwrap().rules() {
            let name = r.name().unwrap();
            let out = self.events.list_tags_for_resource().resource_arn(r.arn().unwrap()).send().await.unwrap();
            let tags = owner(out.tags().iter().map(|t| (t.key(), t.value())));
            if let Some(l) = label(name, name, tags) {
                add("events.rule", l, name);
            }
        }

        // Parameter Store: PutParameter tags the parameter it creates.
        let mut token = None;
        loop {
            let out = self.ssm.describe_parameters().set_next_token(token).send().await.unwrap();
            for p in out.parameters() {
                let name = p.name().unwrap();
                let out = self
                    .ssm
                    .list_tags_for_resource()
                    .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
                    .resource_id(name)
                    .send()
                    .await
                    .unwrap();
                let tags = owner(out.tag_list().iter().map(|t| (t.key(), t.value())));
                if let Some(l) = label(name, name, tags) {
                    add("ssm.parameter", l, name);
                }
            }
            token = out.next_token;
            if token.is_none() {
                break;
            }
        }

        live.values_mut().for_each(|v| v.sort());
        live
    }

    /// The environments (not terminated) that are not Ready, with their status:
    /// an environment still launching has no instance yet.
    async fn environments_not_ready(&self) -> Vec<(String, String)> {
        let out = self.eb.describe_environments().send().await.unwrap();
        out.environments()
            .iter()
            .filter(|e| !matches!(e.status(), Some(EnvironmentStatus::Terminated | EnvironmentStatus::Terminating)))
            .filter(|e| e.status() != Some(&EnvironmentStatus::Ready))
            .map(|e| {
                let status = e.status().map(|s| s.as_str().to_string()).unwrap_or_default();
                (e.environment_id().unwrap_or_default().to_string(), status)
            })
            .collect()
    }
}

/// Exactly one of each declared resource, each the one state records, nothing else.
async fn assert_exactly_one_of_each(aws: &Aws, dir: &Path, store: &Store, when: &str) {
    // An apply that succeeded has waited for what it created, an environment it
    // adopted from a killed run included: Ready, and so running its instance.
    let not_ready = aws.environments_not_ready().await;
    assert!(not_ready.is_empty(), "{when}: the apply returned with environments not Ready: {not_ready:?}");
    let state = load_state(store, when);
    let live = aws.live(&state).await;
    let declared = declared(dir);
    let context = || format!("{when}:\nthe emulator holds {live:#?}\nstate records {:#?}", state.resources);
    assert!(state.pending.is_empty(), "{when}: a converged state has no pending operation: {:?}", state.pending);
    let kinds: std::collections::BTreeSet<&str> =
        declared.keys().map(String::as_str).chain(live.keys().copied()).chain([ENVIRONMENT_INSTANCE]).collect();
    for kind in kinds {
        let labels: Vec<&str> = live.get(kind).into_iter().flatten().map(|(l, _)| l.as_str()).collect();
        // One instance for each environment, owned by the one state records.
        let declared_kind = if kind == ENVIRONMENT_INSTANCE { "elasticbeanstalk.environment" } else { kind };
        let wanted: Vec<&str> = declared.get(declared_kind).into_iter().flatten().map(String::as_str).collect();
        assert_eq!(labels, wanted, "{kind}: not exactly one of each declared resource; {}", context());
    }
    // The dev stack's host is its environment's instance: infra declares none itself.
    assert!(
        !declared.contains_key("ec2.instance") && !declared.contains_key("ec2.volume_attachment"),
        "{when}: the dev stack declares {declared:?}"
    );
    let recorded: Vec<&String> = state.resources.keys().collect();
    let mut wanted: Vec<&String> = declared.values().flatten().collect();
    wanted.sort();
    assert_eq!(recorded, wanted, "state records every declared resource; {}", context());
    // The environment's instance is what its outputs (instance_id, and the
    // private IP the stack's outputs are made of) were read from.
    for (name, instance) in live.get(ENVIRONMENT_INSTANCE).into_iter().flatten() {
        let recorded = state.resources.get(name).and_then(|r| r.outputs.get("instance_id"));
        assert_eq!(
            recorded.and_then(infra::model::Value::as_str),
            Some(instance.as_str()),
            "{name}: state records another instance_id output; {}",
            context()
        );
    }
    for (name, r) in &state.resources {
        let found = live.get(r.kind.type_name()).into_iter().flatten().any(|(l, id)| l == name && *id == r.id);
        let kind = r.kind.type_name();
        assert!(found, "{name}: state records {kind} {}, which the emulator does not hold; {}", r.id, context());
    }
    // The one bucket of the stack is the artifact bucket.
    let buckets: Vec<&str> = live.get("s3.bucket").into_iter().flatten().map(|(_, id)| id.as_str()).collect();
    assert!(
        buckets.len() == 1 && buckets[0].starts_with("dev-artifacts"),
        "{when}: exactly one bucket, dev-artifacts-...: {buckets:?}"
    );
}

/// Destroy leaves nothing of the stack behind.
async fn assert_nothing_left(aws: &Aws, store: &Store, when: &str) {
    let state = load_state(store, when);
    let live = aws.live(&state).await;
    assert!(live.is_empty(), "{when}: the emulator still holds {live:#?}");
    assert!(state.resources.is_empty() && state.pending.is_empty(), "{when}: state still records {state:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_killed_at_any_of_twenty_moments_converges_on_the_next_run_with_exactly_one_of_each_resource() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    // About convergence, not protection: each round destroys everything.
    common::unprotect_data(dir);
    let logs = tempfile::tempdir().unwrap();
    let aws = Aws::new(&emu).await;
    // With the key the tests' infra encrypts the dev stack's secret with.
    let store = common::store(dir, STACK);

    // A first apply warms the emulator up (and checks the checks); the second
    // measures how long a normal apply takes here.
    ok("first apply", run_infra(&emu, dir, &["apply", "--yes"]));
    assert_exactly_one_of_each(&aws, dir, &store, "after a normal apply").await;
    ok("destroy", run_infra(&emu, dir, &["destroy", "--yes"]));
    assert_nothing_left(&aws, &store, "after a normal destroy").await;
    let started = Instant::now();
    ok("measured apply", run_infra(&emu, dir, &["apply", "--yes"]));
    let normal = started.elapsed();
    ok("destroy", run_infra(&emu, dir, &["destroy", "--yes"]));

    let mut killed = 0;
    for (round, moment) in kill_moments(normal, ROUNDS).into_iter().enumerate() {
        let when = format!("round {round} (kill at {moment:?} of a {normal:?} apply)");
        let mut child = spawn_apply(&emu, dir, logs.path());
        tokio::time::sleep(moment).await;
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        child.kill().unwrap(); // SIGKILL; a no-op for an apply already done
        let status = child.wait().unwrap();
        let output = || {
            let read = |f: &str| std::fs::read_to_string(logs.path().join(f)).unwrap_or_default();
            format!("the killed apply ({status}) wrote:\n{}\n{}", read("stdout"), read("stderr"))
        };

        let left = load_state(&store, &format!("{when}, right after the kill"));
        let pending: Vec<String> = left.pending.iter().map(|p| format!("{} {:?}", p.resource, p.op)).collect();
        eprintln!(
            "{when}: {}; state recorded {} resources, pending {pending:?}",
            if status.success() { "the apply had finished" } else { "killed" },
            left.resources.len()
        );
        // No unlock: the killed apply's OS lock went with it.
        let converged = run_infra(&emu, dir, &["apply", "--yes"]);
        assert_eq!(converged.0, 0, "{when}: the next apply failed:\n{}\n{}\n{}", converged.1, converged.2, output());
        let adopted: Vec<&str> = converged
            .1
            .lines()
            .filter(|l| l.contains("[adopt: found in AWS by its tags"))
            .filter_map(|l| l.split_whitespace().nth(1))
            .collect();
        eprintln!("{when}: the next apply adopted {adopted:?}");
        let (code, out, err) = run_infra(&emu, dir, &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "{when}: a plan after the next apply is not empty:\n{out}\n{err}\n{}", output());
        assert_exactly_one_of_each(&aws, dir, &store, &when).await;

        ok(&format!("{when}: destroy"), run_infra(&emu, dir, &["destroy", "--yes"]));
        assert_nothing_left(&aws, &store, &format!("{when}, destroyed")).await;
    }
    // Not a timing assertion: the moments are spread over a normal apply, so
    // nearly all of them find it still running.
    assert!(killed > 0, "no round killed a running apply");
    eprintln!("{killed} of {ROUNDS} applies were killed while running (a normal apply took {normal:?})");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_environment_update_a_killed_run_left_is_recorded_with_the_instance_it_settles_on_and_not_sent_again() {
    // The killed apply had sent UpdateEnvironment (a new instance type, which
    // replaces the instance) and recorded it pending. The next run finds the
    // environment still Updating, or already Ready: either way it records the
    // environment as it settles (its new instance, not the one it replaced),
    // resolves the pending operation, and sends nothing again.
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    let aws = Aws::new(&emu).await;
    let store = common::store(dir, STACK);
    ok("first apply", run_infra(&emu, dir, &["apply", "--yes"]));
    let stack_file = dir.join("stacks/dev.toml");

    for (round, (from, to)) in [("t3.medium", "t3.large"), ("t3.large", "t3.medium")].into_iter().enumerate() {
        let settled_first = round == 1;
        let when = format!("{from} to {to}, {}", if settled_first { "settled" } else { "still Updating" });
        let text = std::fs::read_to_string(&stack_file).unwrap();
        let (old, new) = (format!("\ninstance_type = \"{from}\"\n"), format!("\ninstance_type = \"{to}\"\n"));
        assert!(text.contains(&old), "{when}: the dev stack's host type moved");
        std::fs::write(&stack_file, text.replace(&old, &new)).unwrap();
        let mut state = load_state(&store, &when);
        let env_id = state.resources["app_env"].id.clone();
        let before = state.resources["app_env"].outputs["instance_id"].clone();
        state.pending.push(infra::state::Pending {
            resource: "app_env".to_string(),
            kind: infra::model::Kind::EbEnvironment,
            op: infra::state::PendingOp::Update,
            id: Some(env_id.clone()),
            client_token: None,
        });
        store.save(&mut state).unwrap();
        let launch = aws_sdk_elasticbeanstalk::types::ConfigurationOptionSetting::builder()
            .namespace("aws:autoscaling:launchconfiguration")
            .option_name("InstanceType")
            .value(to)
            .build();
        aws.eb.update_environment().environment_id(&env_id).option_settings(launch).send().await.unwrap();
        if settled_first {
            common::wait_environment_ready(&aws.eb, &env_id).await;
        }

        let out = ok(&format!("{when}: the next apply"), run_infra(&emu, dir, &["apply", "--yes"]));
        assert!(out.contains("No changes."), "{when}: the next apply sent the update again:\n{out}");
        let live = aws.live(&load_state(&store, &when)).await;
        let instances = &live[ENVIRONMENT_INSTANCE];
        assert_eq!(instances.len(), 1, "{when}: one instance for the environment: {instances:?}");
        assert_ne!(before.as_str(), Some(instances[0].1.as_str()), "{when}: the update replaced the instance");
        let (code, out, err) = run_infra(&emu, dir, &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "{when}: a plan after the next apply is not empty:\n{out}\n{err}");
        assert_exactly_one_of_each(&aws, dir, &store, &when).await;
    }
}

/// Kills of a replacement, for each resource replaced.
const REPLACE_ROUNDS: u64 = 3;

#[tokio::test(flavor = "multi_thread")]
async fn a_replacement_killed_at_any_moment_converges_on_the_next_run_with_exactly_one_of_each_resource() {
    // Between the new resource's create and the old one's delete, state keeps
    // the old one under its deposed key; a create killed before it was
    // recorded is found by its tags beside the old one. Either way the next
    // apply deletes the old one: nothing is left behind, nothing duplicated.
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    common::unprotect_data(dir);
    let logs = tempfile::tempdir().unwrap();
    let aws = Aws::new(&emu).await;
    let store = common::store(dir, STACK);
    ok("first apply", run_infra(&emu, dir, &["apply", "--yes"]));

    // A group the environment moves to, a role, a bucket and what lives in
    // it, an application with its version and environment, a build project.
    for resource in ["data_sg", "build_role", "artifacts", "app", "build"] {
        let started = Instant::now();
        ok("measured replacement", run_infra(&emu, dir, &["apply", "--yes", "--replace", resource]));
        let normal = started.elapsed();
        for (round, moment) in kill_moments(normal, REPLACE_ROUNDS).into_iter().enumerate() {
            let when = format!("--replace {resource}, round {round} (kill at {moment:?} of {normal:?})");
            let mut child = spawn_apply_with(&emu, dir, logs.path(), &["--replace", resource]);
            tokio::time::sleep(moment).await;
            child.kill().unwrap();
            let status = child.wait().unwrap();
            let left = load_state(&store, &format!("{when}, right after the kill"));
            let deposed: Vec<&String> =
                left.resources.keys().filter(|k| infra::state::deposed_of(k).is_some()).collect();
            eprintln!("{when}: {status}; deposed {deposed:?}, pending {:?}", left.pending);
            let converged = run_infra(&emu, dir, &["apply", "--yes"]);
            let read = |f: &str| std::fs::read_to_string(logs.path().join(f)).unwrap_or_default();
            assert_eq!(
                converged.0,
                0,
                "{when}: the next apply failed:\n{}\n{}\nthe killed one wrote:\n{}\n{}",
                converged.1,
                converged.2,
                read("stdout"),
                read("stderr")
            );
            let (code, out, err) = run_infra(&emu, dir, &["plan", "--detailed-exitcode"]);
            assert_eq!(code, 0, "{when}: a plan after the next apply is not empty:\n{out}\n{err}");
            assert_exactly_one_of_each(&aws, dir, &store, &when).await;
        }
    }
    ok("destroy", run_infra(&emu, dir, &["destroy", "--yes"]));
    assert_nothing_left(&aws, &store, "destroyed").await;
}

/// A CI runner: a fresh copy of the dev project whose stack keeps its state in
/// the S3 backend, and no local state.
fn runner() -> tempfile::TempDir {
    let project = dev_project();
    // About convergence, not protection: each round destroys everything.
    common::unprotect_data(project.path());
    let stack = project.path().join("stacks/dev.toml");
    let mut text = std::fs::read_to_string(&stack).unwrap();
    text.push_str(&format!("\n[backend.s3]\nbucket = \"{STATE_BUCKET}\"\nkey_prefix = \"{STATE_PREFIX}\"\n"));
    std::fs::write(&stack, text).unwrap();
    project
}

/// `infra apply --yes` in `dir`; when the stack is locked by a command that is
/// gone (the killed apply), `infra unlock` with the id the refusal names, once,
/// and again. Returns the apply's output and whether a lock was removed.
fn apply_unlocking(emu: &Emulator, dir: &Path) -> ((i32, String, String), bool) {
    let out = run_infra(emu, dir, &["apply", "--yes"]);
    let hint = format!("infra unlock --stack {STACK} ");
    let Some(at) = out.2.find(&hint) else { return (out, false) };
    let id: String = out.2[at + hint.len()..].chars().take_while(|c| *c != '`').collect();
    ok("unlock", run_infra(emu, dir, &["unlock", "--stack", STACK, &id]));
    (run_infra(emu, dir, &["apply", "--yes"]), true)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_on_the_s3_backend_killed_at_ten_moments_converges_from_a_fresh_directory_with_one_of_each_resource() {
    let emu = Emulator::start();
    let logs = tempfile::tempdir().unwrap();
    let aws = Aws::new(&emu).await;
    let s3 = common::s3_client(&emu).await;
    let store = common::s3_store(&s3, STATE_BUCKET, STATE_PREFIX, STACK);

    let first = runner();
    ok("bootstrap", run_infra(&emu, first.path(), &["backend", "bootstrap"]));
    ok("first apply", run_infra(&emu, first.path(), &["apply", "--yes"]));
    assert_exactly_one_of_each(&aws, first.path(), &store, "after a normal apply").await;
    ok("destroy", run_infra(&emu, first.path(), &["destroy", "--yes"]));
    assert_nothing_left(&aws, &store, "after a normal destroy").await;
    let started = Instant::now();
    ok("measured apply", run_infra(&emu, first.path(), &["apply", "--yes"]));
    let normal = started.elapsed();
    ok("destroy", run_infra(&emu, first.path(), &["destroy", "--yes"]));
    drop(first);

    let (mut killed, mut unlocked) = (0, 0);
    for (round, moment) in kill_moments(normal, S3_ROUNDS).into_iter().enumerate() {
        let when = format!("S3 round {round} (kill at {moment:?} of a {normal:?} apply)");
        let doomed = runner();
        let mut child = spawn_apply(&emu, doomed.path(), logs.path());
        tokio::time::sleep(moment).await;
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let output = || {
            let read = |f: &str| std::fs::read_to_string(logs.path().join(f)).unwrap_or_default();
            format!("the killed apply ({status}) wrote:\n{}\n{}", read("stdout"), read("stderr"))
        };
        let left = load_state(&store, &format!("{when}, right after the kill"));
        eprintln!(
            "{when}: state in the bucket records {} resources, {} pending",
            left.resources.len(),
            left.pending.len()
        );
        // The runner vanishes with its directory.
        drop(doomed);

        let fresh = runner();
        let (converged, removed) = apply_unlocking(&emu, fresh.path());
        unlocked += usize::from(removed);
        assert_eq!(converged.0, 0, "{when}: the next apply failed:\n{}\n{}\n{}", converged.1, converged.2, output());
        let (code, out, err) = run_infra(&emu, fresh.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "{when}: a plan after the next apply is not empty:\n{out}\n{err}\n{}", output());
        assert_exactly_one_of_each(&aws, fresh.path(), &store, &when).await;
        let local: Vec<_> = std::fs::read_dir(fresh.path().join("state")).unwrap().collect();
        assert!(local.is_empty(), "{when}: a runner with a backend writes no local state: {local:?}");

        ok(&format!("{when}: destroy"), run_infra(&emu, fresh.path(), &["destroy", "--yes"]));
        assert_nothing_left(&aws, &store, &format!("{when}, destroyed")).await;
    }
    assert!(killed > 0, "no round killed a running apply");
    eprintln!("{killed} of {S3_ROUNDS} applies on S3 were killed while running, {unlocked} locks removed by hand");
    // A killed apply's lock lease lapses (INFRA_LOCK_LEASE_SECS, short in
    // tests) and the next apply takes it over: nobody runs `infra unlock`.
    assert_eq!(unlocked, 0, "a killed apply's lock needed `infra unlock`");
}

/// A volume and a role, whose creates the killed run's requests race with.
const IN_FLIGHT_STACK: &str = r#"
[stack]
region = "us-east-1"

[resources.data]
type = "ec2.volume"
availability_zone = "us-east-1a"
size = 10

[resources.role]
type = "iam.role"
assume_role_policy = { Version = "2012-10-17", Statement = [
  { Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" },
] }
"#;

/// Waits until `proxy` has logged `line` `count` times.
fn wait_for_log(proxy: &common::FaultProxy, line: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.stderr().matches(line).count() < count {
        assert!(Instant::now() < deadline, "the proxy never logged {count} of {line:?}:\n{}", proxy.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_still_in_flight_when_apply_is_killed_lands_after_the_next_run_searched_and_is_not_made_twice() {
    // The killed run's CreateVolume and CreateRole reach AWS whole, and AWS
    // carries them out after the next run has searched by tags and found
    // nothing. The next run creates with the killed run's token: EC2 gives the
    // same volume for it, and the role's name, taken meanwhile, is found by
    // its tags. One of each, an empty plan, nothing unmanaged.
    let emu = Emulator::start();
    let project = common::project_of("flight", IN_FLIGHT_STACK);
    let dir = project.path();
    let late = common::FaultProxy::holding(&emu, &[("CreateVolume", 3.0), ("CreateRole", 3.0)]);
    let mut killed = common::infra_command(&late.endpoint, dir, &["apply", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_log(&late, "infra-faultproxy: held ", 2);
    killed.kill().unwrap();
    killed.wait().unwrap();
    let store = common::store(dir, "flight");
    let pending: Vec<String> =
        load_state(&store, "after the kill").pending.iter().map(|p| p.resource.clone()).collect();
    assert_eq!(pending, ["data", "role"], "both creates were journaled before they were sent");

    // This run's own CreateRole reaches AWS after the killed run's has landed.
    let slow = common::FaultProxy::holding(&emu, &[("CreateRole", 6.0)]);
    let next = common::run_infra_via(&slow.endpoint, dir, &["apply", "--yes"]);
    wait_for_log(&late, "infra-faultproxy: released ", 2);
    assert_eq!(next.0, 0, "the next apply failed:\n{}\n{}", next.1, next.2);

    let aws = Aws::new(&emu).await;
    let tagged = Filter::builder().name("tag:infra:stack").values("flight").build();
    let volumes = aws.ec2.describe_volumes().filters(tagged).send().await.unwrap();
    let volumes: Vec<&str> = volumes.volumes().iter().filter_map(|v| v.volume_id()).collect();
    let state = load_state(&store, "after the next apply");
    assert_eq!(volumes, [state.resources["data"].id.as_str()], "one volume, the one state records");
    let roles = aws.iam.list_roles().send().await.unwrap();
    let roles: Vec<&str> = roles.roles().iter().map(|r| r.role_name()).filter(|n| n.starts_with("flight-")).collect();
    assert_eq!(roles, [state.resources["role"].id.as_str()], "one role, the one state records");
    let (code, out, err) = common::run_infra(&emu, dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "a plan after the next apply is not empty:\n{out}\n{err}");
    let (code, out, err) = common::run_infra(&emu, dir, &["drift"]);
    assert_eq!(code, 0, "drift after the next apply:\n{out}\n{err}");
}
