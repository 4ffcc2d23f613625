//! `infra cost` and `infra graph` on the dev stack: golden outputs, the cost a
//! plan carries, and bad input. No AWS call is made (nothing listens where
//! these commands would send one).

mod common;

use std::path::{Path, PathBuf};

use infra::plan::{Refreshed, plan};
use infra::state::State;

const NOWHERE: &str = "http://127.0.0.1:9";

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/cost").join(name)
}

/// Compares `actual` with the golden file `name`; `UPDATE_GOLDEN=1` rewrites it.
fn check_golden(name: &str, actual: &str) {
    let path = golden(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(actual == expected, "{name} differs from {}:\n{actual}", path.display());
}

/// `infra ARGS` in `dir` with an empty price cache; (exit, stdout, stderr).
fn infra(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let cache = tempfile::tempdir().unwrap();
    let out = common::command_of(Path::new(env!("CARGO_BIN_EXE_infra")), NOWHERE, dir, args)
        .env("XDG_CACHE_HOME", cache.path())
        .env_remove("ELASTIC_PASSWORD")
        .env_remove("REDIS_PASSWORD")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "infra failed:\n{}\n{}", out.1, out.2);
    out.1
}

#[test]
fn the_dev_stack_s_cost_in_text_json_and_markdown_matches_its_golden_files_without_its_secrets() {
    let project = common::dev_project();
    let dir = project.path();
    check_golden("dev.txt", &ok(infra(dir, &["cost"])));
    check_golden("dev.json", &ok(infra(dir, &["cost", "--format", "json"])));
    check_golden("dev.md", &ok(infra(dir, &["cost", "--format", "markdown"])));
}

#[test]
fn the_managed_comparison_in_both_regions_matches_its_golden_files() {
    let project = common::dev_project();
    let dir = project.path();
    check_golden("dev-compare-us-east-1.txt", &ok(infra(dir, &["cost", "--compare"])));
    check_golden(
        "dev-compare-ap-northeast-2.txt",
        &ok(infra(dir, &["cost", "--compare", "--region", "ap-northeast-2"])),
    );
    check_golden("dev-compare.json", &ok(infra(dir, &["cost", "--compare", "--format", "json"])));
    check_golden("dev-compare.md", &ok(infra(dir, &["cost", "--compare", "--format", "markdown"])));
}

#[test]
fn a_plan_of_the_dev_stack_ends_with_what_it_adds_to_the_monthly_bill() {
    let sources =
        infra::config::Sources::fixed(".", &[("ELASTIC_PASSWORD", "unused-here"), ("REDIS_PASSWORD", "unused-here")]);
    let stack = infra::config::load_file_with(&Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/dev.toml"), &sources)
        .unwrap();
    let mut planned = plan(&stack, &State::default(), &Refreshed::new()).unwrap();
    let table = infra::cost::PriceTable::shipped().unwrap();
    planned.cost = Some(infra::plan::cost::delta(&planned, &stack.cost.usage, &table, "us-east-1").unwrap());
    let cost = planned.cost.as_ref().unwrap();
    let estimate = infra::cost::estimate(&stack, &table, "us-east-1").unwrap();
    assert!((cost.monthly() - estimate.total).abs() < 1e-9, "creating the stack adds what it costs");
    check_golden("dev-plan.txt", &anstream::adapter::strip_str(&infra::render::plan_text(&planned)).to_string());
    check_golden("dev-plan.md", &infra::render::plan_markdown(&planned));
    let json = infra::render::plan_json(&planned);
    check_golden("dev-plan-cost.json", &(serde_json::to_string_pretty(&json["cost"]).unwrap() + "\n"));
    // A saved plan carries it.
    let sealer = std::sync::Arc::new(infra::secret::Sealer::create(&infra::secret::KeySource::key([1; 32])).unwrap());
    let saved = infra::plan::to_saved(&planned, Some(&sealer)).unwrap();
    let back = infra::plan::from_saved(&saved, &|_| Ok(sealer.clone()), true).unwrap();
    assert_eq!(back.cost, planned.cost);
}

#[test]
fn a_region_or_type_the_price_table_lacks_or_a_malformed_price_file_is_a_clear_error() {
    let project = common::dev_project();
    let dir = project.path();
    let (code, _, err) = infra(dir, &["cost", "--region", "eu-west-9"]);
    assert_eq!(code, 1);
    assert!(err.contains("no prices for region `eu-west-9` (the price table has ap-northeast-2, us-east-1)"), "{err}");

    let stack = dir.join("stacks/dev.toml");
    let text = std::fs::read_to_string(&stack).unwrap();
    std::fs::write(&stack, text.replace("instance_type = \"t3.medium\"", "instance_type = \"t9.huge\"")).unwrap();
    let (code, _, err) = infra(dir, &["cost"]);
    assert_eq!(code, 1);
    assert!(err.contains("app_env: no price for instance type `t9.huge` in us-east-1"), "{err}");
    std::fs::write(&stack, text).unwrap();

    let cache = tempfile::tempdir().unwrap();
    std::fs::create_dir(cache.path().join("infra")).unwrap();
    std::fs::write(cache.path().join("infra/prices.json"), "{\"format\": 1, \"as_of\": ").unwrap();
    let out = common::command_of(Path::new(env!("CARGO_BIN_EXE_infra")), NOWHERE, dir, &["cost"])
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("infra/prices.json: not a valid price table: "), "{err}");

    let (code, _, err) = infra(dir, &["cost", "--compare", "--stack", "dev", "--format", "yaml"]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn the_dev_stack_s_graph_matches_its_golden_files_and_the_readme_shows_it() {
    let project = common::dev_project();
    let dir = project.path();
    let dot = ok(infra(dir, &["graph"]));
    check_golden("dev-graph.dot", &dot);
    let mermaid = ok(infra(dir, &["graph", "--format", "mermaid"]));
    check_golden("dev-graph.mmd", &mermaid);
    assert!(mermaid.contains("  data --> app_env\n") && mermaid.contains("  app_env --> pipeline\n"), "{mermaid}");
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/stack-file.md")).unwrap();
    let block = readme
        .split("```mermaid\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/stack-file.md has a mermaid block");
    assert!(
        block == mermaid,
        "docs/stack-file.md's mermaid block is not what `infra graph --format mermaid` prints:\n{mermaid}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_on_aws_says_what_a_change_of_instance_type_adds_to_the_bill_unless_told_not_to() {
    let emu = common::Emulator::start();
    let project = common::dev_project();
    let dir = project.path();
    let (_, out, err) = common::run_infra(&emu, dir, &["plan"]);
    assert!(out.contains("Cost: +$34.29/month, $34.29/month in all\n"), "{out}\n{err}");
    ok(common::run_infra(&emu, dir, &["apply", "--yes"]));
    let (_, out, _) = common::run_infra(&emu, dir, &["plan"]);
    assert!(out.contains("Cost: no change ($34.29/month)"), "{out}");

    let stack = dir.join("stacks/dev.toml");
    let text = std::fs::read_to_string(&stack).unwrap();
    std::fs::write(&stack, text.replace("instance_type = \"t3.medium\"", "instance_type = \"t3.large\"")).unwrap();
    let (_, out, _) = common::run_infra(&emu, dir, &["plan"]);
    assert!(
        out.contains("Cost: +$30.37/month (app_env: instance_type \"t3.medium\" → \"t3.large\"), $64.66/month in all"),
        "{out}"
    );
    let (_, json, _) = common::run_infra(&emu, dir, &["plan", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["cost"]["monthly_delta"], 30.37, "{}", json["cost"]);
    let (_, out, _) = common::run_infra(&emu, dir, &["plan", "--no-cost"]);
    assert!(!out.contains("Cost:"), "{out}");
}
