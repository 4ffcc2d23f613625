//! Day-2 operations on the emulator: the dev stack's protected data volume
//! under destroy, `--exclude-protected`, `--replace` of a protected resource
//! and the documented teardown; `--target` and `--replace` on the host
//! fixture (tests/fixtures/stacks/host.toml), whose host is an `ec2.instance`.

mod common;

use std::path::Path;

use common::{Emulator, HOST_STACK, changed_steps, dev_project, host_project, run_infra};
use serde_json::Value as J;

fn ok(what: &str, out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "{what}: exit {}\nstdout:\n{}\nstderr:\n{}", out.0, out.1, out.2);
    out.1
}

/// A command that must fail with exit 1, its stderr saying `says`; returns stderr.
fn refused(what: &str, out: (i32, String, String), says: &str) -> String {
    assert_eq!(out.0, 1, "{what}: exit {}\nstdout:\n{}\nstderr:\n{}", out.0, out.1, out.2);
    assert!(out.2.contains(says), "{what}: stderr does not say {says:?}:\n{}", out.2);
    out.2
}

fn state_text(dir: &Path, stack: &str) -> String {
    std::fs::read_to_string(dir.join(format!("state/{stack}.json"))).unwrap()
}

/// Recorded resources by name: their cloud ids.
fn ids(dir: &Path, stack: &str) -> std::collections::BTreeMap<String, String> {
    let state: J = serde_json::from_str(&state_text(dir, stack)).unwrap();
    state["resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, r)| (name.clone(), r["id"].as_str().unwrap().to_string()))
        .collect()
}

/// The volume's state in EC2 (`available`, `in-use`), or `None` when EC2 no longer has it.
async fn volume_state(ec2: &aws_sdk_ec2::Client, id: &str) -> Option<String> {
    let found = ec2.describe_volumes().volume_ids(id).send().await.ok()?;
    found.volumes().first().and_then(|v| v.state()).map(|s| s.as_str().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_protected_data_volume_stops_a_destroy_survives_exclude_protected_and_goes_only_once_lifted() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
    let iam = aws_sdk_iam::Client::new(&emu.sdk_config().await);
    ok("apply", run_infra(&emu, dir, &["apply", "--yes"]));
    let before = state_text(dir, "dev");
    let applied = ids(dir, "dev");
    let volume = applied["data"].clone();
    assert!(before.contains("\"protect\": true"), "state records the protection:\n{before}");
    let refresh_only = run_infra(&emu, dir, &["plan", "--refresh-only", "--detailed-exitcode"]);
    assert!(ok("refresh-only plan", refresh_only).contains("would accept nothing"));

    // A destroy fails as a whole, before any mutating call: nothing deleted.
    let err = refused("destroy", run_infra(&emu, dir, &["destroy", "--yes"]), "is protected");
    assert!(err.contains(&format!("`data` (ec2.volume {volume}) is protected: destroy would delete it")), "{err}");
    assert!(err.contains("set `protect = false`") && err.contains("--exclude-protected"), "{err}");
    eprintln!("what destroy printed:\n{err}");
    assert_eq!(state_text(dir, "dev"), before, "state is unchanged");
    assert_eq!(volume_state(&ec2, &volume).await.as_deref(), Some("available"));
    let groups = ec2.describe_security_groups().group_ids(&applied["data_sg"]).send().await.unwrap();
    assert_eq!(groups.security_groups().len(), 1, "nothing was deleted");

    // Bad input: a protected resource to replace, a target the stack lacks.
    let replace = run_infra(&emu, dir, &["apply", "--yes", "--replace", "data"]);
    refused("apply --replace data", replace, "--replace would replace it");
    let target = run_infra(&emu, dir, &["apply", "--yes", "--target", "hots"]);
    refused("apply --target hots", target, "`--target hots`: the stack `dev` has no resource `hots` (it has: app,");
    assert_eq!(state_text(dir, "dev"), before, "state is unchanged");

    // --exclude-protected deletes everything else; the volume and its record stay.
    let out = ok("destroy --exclude-protected", run_infra(&emu, dir, &["destroy", "--yes", "--exclude-protected"]));
    assert!(out.contains("[protected: kept]") && out.contains("Kept, and still recorded in state: data"), "{out}");
    assert_eq!(ids(dir, "dev").into_iter().collect::<Vec<_>>(), [("data".to_string(), volume.clone())]);
    assert!(state_text(dir, "dev").contains("\"protect\": true"));
    assert_eq!(volume_state(&ec2, &volume).await.as_deref(), Some("available"));
    assert!(ec2.describe_security_groups().group_ids(&applied["data_sg"]).send().await.is_err(), "the group is gone");
    let roles = iam.list_roles().send().await.unwrap();
    assert!(roles.roles().iter().all(|r| !r.role_name().starts_with("dev-")), "{roles:?}");

    // The documented teardown: `protect = false`, apply (here only the volume,
    // so nothing else is created again), destroy.
    common::unprotect_data(dir);
    let lifted = ok("apply --target data", run_infra(&emu, dir, &["apply", "--yes", "--target", "data"]));
    assert!(lifted.contains("[protection lifted]") && lifted.contains("1 protection set or lifted"), "{lifted}");
    ok("destroy", run_infra(&emu, dir, &["destroy", "--yes"]));
    assert!(ids(dir, "dev").is_empty());
    assert_ne!(volume_state(&ec2, &volume).await.as_deref(), Some("available"), "the volume is deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_targeting_the_host_creates_only_the_host_and_what_it_depends_on() {
    let emu = Emulator::start();
    let project = host_project();
    let dir = project.path();
    let plan = ok("plan --target", run_infra(&emu, dir, &["plan", "--target", "host", "--out", "host.plan"]));
    assert!(plan.contains("Partial plan: only host and what it depends on"), "{plan}");
    assert!(plan.contains("Left out, with changes: data_attachment"), "{plan}");
    let json = ok("plan --json", run_infra(&emu, dir, &["plan", "--target", "host", "--json"]));
    let doc: J = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["targeted"], serde_json::json!(["host"]));
    ok("apply the saved plan", run_infra(&emu, dir, &["apply", "--yes", "host.plan"]));
    assert_eq!(ids(dir, HOST_STACK).into_keys().collect::<Vec<_>>(), ["data", "data_sg", "host"]);

    // The rest of the stack is untouched; a full plan shows what was left out.
    let (code, out, err) = run_infra(&emu, dir, &["plan", "--detailed-exitcode", "--json"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert_eq!(changed_steps(&out), [("data_attachment".to_string(), "create".to_string())]);
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
    let volume = &ids(dir, HOST_STACK)["data"];
    assert_eq!(volume_state(&ec2, volume).await.as_deref(), Some("available"), "not attached");
}

#[tokio::test(flavor = "multi_thread")]
async fn replacing_the_host_gives_it_a_new_id_and_leaves_the_group_and_the_volume_as_they_were() {
    let emu = Emulator::start();
    let project = host_project();
    let dir = project.path();
    ok("apply", run_infra(&emu, dir, &["apply", "--yes"]));
    let before = ids(dir, HOST_STACK);
    let plan = ok("plan --replace", run_infra(&emu, dir, &["plan", "--replace", "host", "--json"]));
    let doc: J = serde_json::from_str(&plan).unwrap();
    let host = doc["steps"].as_array().unwrap().iter().find(|s| s["resource"] == "host").unwrap();
    assert_eq!((&host["action"], &host["replace_requested"]), (&J::from("replace"), &J::Bool(true)));
    assert_eq!(host["reason"], "replace_requested");

    ok("apply --replace", run_infra(&emu, dir, &["apply", "--yes", "--replace", "host"]));
    let after = ids(dir, HOST_STACK);
    assert_ne!(after["host"], before["host"], "the host has a new id");
    assert_eq!(after["data_sg"], before["data_sg"]);
    assert_eq!(after["data"], before["data"]);
    // The attachment names its instance, so it follows the host.
    let state: J = serde_json::from_str(&state_text(dir, HOST_STACK)).unwrap();
    assert_eq!(state["resources"]["data_attachment"]["props"]["instance_id"], after["host"].as_str());
    assert_eq!(run_infra(&emu, dir, &["plan", "--detailed-exitcode"]).0, 0, "nothing left to do");
}
