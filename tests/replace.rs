//! Replacements of the dev stack on the emulator, through the `infra` binary:
//! `--replace R` of every resource, one at a time, and a force-new edit of
//! each kind's replaceable property. Each applies; afterwards only what the
//! plan said would be replaced has a new id, what it replaced is gone from
//! AWS (read through the kind's own provider), and the next plan is empty.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Emulator, dev_project, run_infra, unprotect_data};
use infra::model::Kind;
use infra::provider::Providers;
use serde_json::Value as J;

fn ok(what: &str, out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "{what}: exit {}\nstdout:\n{}\nstderr:\n{}", out.0, out.1, out.2);
    out.1
}

/// Recorded resources by name: their kind and cloud id.
fn recorded(dir: &Path) -> BTreeMap<String, (Kind, String)> {
    let text = std::fs::read_to_string(dir.join("state/dev.json")).unwrap();
    let state: J = serde_json::from_str(&text).unwrap();
    state["resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, r)| {
            let kind = Kind::from_type_name(r["type"].as_str().unwrap()).unwrap();
            (name.clone(), (kind, r["id"].as_str().unwrap().to_string()))
        })
        .collect()
}

/// Each changing step of a `plan --json`: (resource, action, order).
fn steps(plan_json: &str) -> Vec<(String, String, Option<String>)> {
    let plan: J = serde_json::from_str(plan_json).unwrap();
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] != "no_op")
        .map(|s| {
            let order = s["order"].as_str().map(str::to_string);
            (s["resource"].as_str().unwrap().to_string(), s["action"].as_str().unwrap().to_string(), order)
        })
        .collect()
}

/// Plans with `args`, applies the same, and checks the outcome: the replaced
/// resources have new ids and the old ones are gone from AWS, everything else
/// keeps its id, and the next plan is empty. Returns the plan's steps.
async fn replaces(
    emu: &Emulator,
    providers: &Providers,
    dir: &Path,
    args: &[&str],
) -> Vec<(String, String, Option<String>)> {
    let before = recorded(dir);
    let plan = ok("plan", run_infra(emu, dir, &[&["plan", "--json", "--no-cost"], args].concat()));
    let planned = steps(&plan);
    ok("apply", run_infra(emu, dir, &[&["apply", "--yes"], args].concat()));
    let after = recorded(dir);
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>(), "{args:?}");
    for (name, (kind, old)) in &before {
        let new = &after[name].1;
        let replaced = planned.iter().any(|(r, action, _)| r == name && action == "replace");
        if replaced {
            assert_ne!(new, old, "{args:?}: {name} has a new id");
            let found = providers.get(*kind).read_many(std::slice::from_ref(old)).await.unwrap();
            assert!(found.is_empty(), "{args:?}: the {name} it replaced ({old}) is still in AWS: {found:?}");
        } else {
            assert_eq!(new, old, "{args:?}: {name} keeps its id");
        }
    }
    let again = run_infra(emu, dir, &["plan", "--detailed-exitcode", "--no-cost"]);
    assert_eq!(again.0, 0, "{args:?}: the plan after the replacement is not empty:\n{}\n{}", again.1, again.2);
    planned
}

fn row(steps: &[(String, String, Option<String>)]) -> String {
    steps
        .iter()
        .map(|(r, action, order)| match order {
            Some(order) => format!("{action} {r} ({})", order.replace('_', " ")),
            None => format!("{action} {r}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_resource_of_the_dev_stack_replaced_one_at_a_time_applies_and_converges() {
    let emu = Emulator::start();
    let providers = Providers::new(&emu.sdk_config().await);
    let project = dev_project();
    let dir = project.path();
    // The data volume's protection lifted, so that it can be replaced too.
    unprotect_data(dir);
    ok("apply", run_infra(&emu, dir, &["apply", "--yes"]));

    let mut table = Vec::new();
    for name in recorded(dir).keys() {
        let planned = replaces(&emu, &providers, dir, &["--replace", name]).await;
        assert!(planned.iter().any(|(r, action, _)| r == name && action == "replace"), "--replace {name}: {planned:?}");
        table.push(format!("| `--replace {name}` | {} |", row(&planned)));
    }
    // The table the closing note of issue 20 shows (`--nocapture`).
    println!("| command | steps, in plan order |\n| --- | --- |\n{}", table.join("\n"));
    ok("destroy", run_infra(&emu, dir, &["destroy", "--yes"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_force_new_edit_of_each_kind_applies_and_converges() {
    let emu = Emulator::start();
    let providers = Providers::new(&emu.sdk_config().await);
    let project = dev_project();
    let dir = project.path();
    unprotect_data(dir);
    let path = dir.join("stacks/dev.toml");
    let edit = |from: &str, to: &str| {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(from).count(), 1, "stacks/dev.toml has one {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    ok("apply", run_infra(&emu, dir, &["apply", "--yes"]));

    // Each edit: the stack file's text before and after, and what the plan replaces.
    let edits: &[(&str, &str, &[&str])] = &[
        // The group's description: created first under a generated name; the
        // environment moves to it before the old group goes.
        (
            "description = \"dev data services: redis cluster, elasticsearch, kibana\"\ningress",
            "description = \"dev data services\"\ningress",
            &["data_sg"],
        ),
        // A name declared where it was generated, then changed: created first each time.
        (
            "description = \"packages deploy/dev for Elastic Beanstalk\"",
            "description = \"packages deploy/dev for Elastic Beanstalk\"\nname = \"dev-packager\"",
            &["build"],
        ),
        ("name = \"dev-packager\"", "name = \"dev-packager-2\"", &["build"]),
        (
            "type = \"s3.bucket\"",
            "type = \"s3.bucket\"\nbucket = \"dev-artifacts-renamed\"",
            &["artifacts", "app_version"],
        ),
        (
            "description = \"CodeBuild for the dev stack\"",
            "description = \"CodeBuild for the dev stack\"\nname = \"dev-builder\"",
            &["build_role"],
        ),
        (
            "role = \"${app_instance_role.name}\"",
            "role = \"${app_instance_role.name}\"\nname = \"dev-app-profile\"",
            &["app_instance_profile"],
        ),
        (
            "description = \"dev data services: redis cluster, elasticsearch, kibana\"\n\n#",
            "description = \"dev data services: redis cluster, elasticsearch, kibana\"\nname = \"dev-data-app\"\n\n#",
            &["app", "app_version", "app_env"],
        ),
        (
            "role_arn = \"${pipeline_role.arn}\"",
            "role_arn = \"${pipeline_role.arn}\"\nname = \"dev-delivery\"",
            &["pipeline"],
        ),
        // The volume's zone: a new volume there, and the environment moves beside it.
        ("zone = \"us-east-1a\"", "zone = \"us-east-1b\"", &["data"]),
    ];
    for (from, to, replaced) in edits {
        edit(from, to);
        let planned = replaces(&emu, &providers, dir, &[]).await;
        let mut actual: Vec<&str> =
            planned.iter().filter(|(_, action, _)| action == "replace").map(|(r, _, _)| r.as_str()).collect();
        actual.sort();
        let mut expected = replaced.to_vec();
        expected.sort();
        assert_eq!(actual, expected, "editing {to:?}: {}", row(&planned));
    }
    ok("destroy", run_infra(&emu, dir, &["destroy", "--yes"]));
}
