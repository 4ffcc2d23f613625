//! The call declarations (`model::calls`) cannot drift from the code: the dev
//! stack and the host fixture (an `ec2.instance`, its volume and their
//! attachment) are planned, applied, updated, checked for drift, imported
//! and destroyed on the emulator with `--stats-json`, and every call each
//! command made (service, operation, resource) must be allowed by the policy
//! `infra policy` gives for that command: the operation's IAM actions, on the
//! ARN AWS gave the resource whose operation made the call (the recorded
//! `arn`), where its kind declares the call on its own ARN. A call the policy
//! does not cover fails, naming the kind, the call and the command.
//! Conditions (the stack's tags) are not evaluated here: the emulator does not.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Emulator, dev_project, host_project, run_infra};
use infra::model::Kind;
use infra::model::calls::{self, On};
use infra::permissions::{self, For, Policy};

const ACCOUNT: &str = "123456789012";

fn ok(out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "infra failed:\nstdout:\n{}\nstderr:\n{}", out.1, out.2);
    out.1
}

fn edit(dir: &Path, stack: &str, from: &str, to: &str) {
    let path = dir.join(format!("stacks/{stack}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "stacks/{stack}.toml has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// The policy for `what` of the project's stack as its file now declares it.
fn policy_of(dir: &Path, stack: &str, what: For) -> Policy {
    let sources =
        infra::config::Sources::fixed(dir.to_str().unwrap(), &[("ELASTIC_PASSWORD", "x"), ("REDIS_PASSWORD", "y")]);
    let declared = infra::config::load_file_with(&dir.join(format!("stacks/{stack}.toml")), &sources).unwrap();
    permissions::policy(&declared, what, Some(ACCOUNT))
}

/// Each recorded resource's kind and ARN (the `arn` output; an application
/// version's from its application and label), by name.
fn recorded(dir: &Path, stack: &str) -> BTreeMap<String, (Kind, Option<String>)> {
    let text = std::fs::read_to_string(dir.join(format!("state/{stack}.json"))).unwrap_or_default();
    let Ok(state) = serde_json::from_str::<serde_json::Value>(&text) else { return BTreeMap::new() };
    let mut out = BTreeMap::new();
    for (name, r) in state["resources"].as_object().into_iter().flatten() {
        let kind = Kind::from_type_name(r["type"].as_str().unwrap()).unwrap();
        let outputs = &r["outputs"];
        let arn = match kind {
            Kind::EbVersion => Some(format!(
                "arn:aws:elasticbeanstalk:us-east-1:{ACCOUNT}:applicationversion/{}/{}",
                r["props"]["application"].as_str().unwrap_or_default(),
                outputs["label"].as_str().unwrap_or_default()
            )),
            _ => outputs["arn"].as_str().map(str::to_string),
        };
        out.insert(name.clone(), (kind, arn));
    }
    out
}

/// Runs `infra ARGS --stats-json` and checks its every call against the
/// policy for `what`; `known` are the resources' kinds and ARNs (state
/// before the command, and after). Returns the failures.
fn run_and_check(emu: &Emulator, dir: &Path, stack: &str, args: &[&str], what: For) -> Vec<String> {
    let policy = policy_of(dir, stack, what);
    let before = recorded(dir, stack);
    let stats = dir.join("stats.json");
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--stats-json", stats.to_str().unwrap()]);
    let out = run_infra(emu, dir, &full);
    assert!(out.0 == 0 || out.0 == 2, "infra {args:?} failed:\n{}\n{}", out.1, out.2);
    let mut known = before;
    known.extend(recorded(dir, stack));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let mut failures = Vec::new();
    let trace = doc["trace"].as_array().unwrap();
    assert!(!trace.is_empty(), "`infra {args:?}` traced no call");
    let mut on_own_arn = 0;
    for call in trace {
        let operation = call["operation"].as_str().unwrap();
        // `infra import STACK RES ID` reads RES outside any executor task.
        let imported = (args[0] == "import").then(|| args[3]);
        let resource = call["resource"].as_str().or(imported).map(|r| r.split('~').next().unwrap_or(r).to_string());
        let target = resource.as_ref().and_then(|r| known.get(r));
        let kind = target.map_or("(refresh)".to_string(), |(k, _)| k.to_string());
        let Some(actions) = calls::actions_of(operation) else {
            failures.push(format!("{kind}: {operation} in `infra {}` maps to no IAM action", args[0]));
            continue;
        };
        for action in actions {
            let own = target.and_then(|(k, arn)| {
                let declared_on_own = calls::access(*k)
                    .calls
                    .iter()
                    .any(|c| c.actions.contains(&action.as_str()) && c.on.contains(&On::Own));
                arn.clone().filter(|_| declared_on_own)
            });
            on_own_arn += usize::from(own.is_some());
            let covered = match &own {
                Some(arn) => policy.allows(&action, arn),
                None => policy.has_action(&action),
            };
            if !covered {
                let on = own.map_or(String::new(), |arn| format!(" on {arn}"));
                let by = resource.as_deref().unwrap_or("refresh");
                failures.push(format!(
                    "{kind} ({by}): {operation} needs {action}{on}, which the policy `--for {}` does not allow (in `infra {}`)",
                    what.name(),
                    args[0]
                ));
            }
        }
    }
    eprintln!("infra {args:?}: {} calls, {on_own_arn} checked on the resource's own ARN", trace.len());
    let mutating_on_resources = trace
        .iter()
        .filter(|c| c["resource"].is_string() && !infra::provider::stats::is_read(c["operation"].as_str().unwrap()))
        .count();
    if mutating_on_resources > 0 {
        assert!(on_own_arn > 0, "`infra {args:?}` changed resources, yet no call was checked on their ARNs");
    }
    failures.sort();
    failures.dedup();
    failures
}

#[test]
fn every_call_the_dev_stack_s_commands_make_is_allowed_by_the_policy_for_that_command() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    common::unprotect_data(dir);
    let mut failures = Vec::new();
    let mut run = |args: &[&str], what: For| failures.extend(run_and_check(&emu, dir, "dev", args, what));

    run(&["plan", "--stack", "dev"], For::Plan);
    run(&["apply", "--stack", "dev", "--yes"], For::Apply);
    run(&["drift", "--stack", "dev"], For::Drift);
    // An update: a bigger host and volume, one more rule, a changed trust policy's tag.
    edit(dir, "dev", "instance_type = \"t3.medium\"", "instance_type = \"t3.large\"");
    edit(dir, "dev", "size = 30", "size = 50");
    edit(dir, "dev", "ssh_cidrs = []", "ssh_cidrs = [\"172.31.0.0/16\"]");
    edit(dir, "dev", "tags = { project = \"seed\", env = \"dev\" }", "tags = { project = \"seed\", env = \"dev2\" }");
    run(&["apply", "--stack", "dev", "--yes"], For::Apply);
    run(&["plan", "--stack", "dev"], For::Plan);
    // Crash-and-adopt's search: state forgets a resource, the next apply adopts it.
    ok(run_infra(&emu, dir, &["state", "rm", "--stack", "dev", "data_sg"]));
    run(&["apply", "--stack", "dev", "--yes"], For::Apply);
    // `infra import`: the build project forgotten, then recorded again by its id.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state/dev.json")).unwrap()).unwrap();
    let build_id = state["resources"]["build"]["id"].as_str().unwrap().to_string();
    ok(run_infra(&emu, dir, &["state", "rm", "--stack", "dev", "build"]));
    run(&["import", "--stack", "dev", "build", &build_id], For::All);
    run(&["destroy", "--stack", "dev", "--yes"], For::Destroy);
    assert!(failures.is_empty(), "calls the generated policy does not cover:\n{}", failures.join("\n"));
}

#[test]
fn every_call_an_instance_its_volume_and_their_attachment_make_is_allowed_by_the_policy_for_that_command() {
    let emu = Emulator::start();
    let project = host_project();
    let dir = project.path();
    let stack = common::HOST_STACK;
    let mut failures = Vec::new();
    let mut run = |args: &[&str], what: For| failures.extend(run_and_check(&emu, dir, stack, args, what));

    run(&["apply", "--stack", stack, "--yes"], For::Apply);
    edit(dir, stack, "instance_type = \"t3.medium\"", "instance_type = \"t3.large\"");
    edit(dir, stack, "size = 30", "size = 40");
    run(&["apply", "--stack", stack, "--yes"], For::Apply);
    run(&["drift", "--stack", stack], For::Drift);
    run(&["destroy", "--stack", stack, "--yes"], For::Destroy);
    assert!(failures.is_empty(), "calls the generated policy does not cover:\n{}", failures.join("\n"));
}
