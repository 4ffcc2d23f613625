//! Stacks declared by Rust programs: `examples/dev.rs` is the dev stack of
//! `stacks/dev.toml` (the same plan, the same state), `examples/stages.rs`
//! declares dev and prod from per-stack config, a program runs every command
//! (`infra::run`), and `infra` runs a stack's `program` as a language
//! host, refusing whatever a program gets wrong before any AWS call.

mod common;

use std::path::{Path, PathBuf};

use common::{Emulator, command_of, run_infra, run_infra_via};

/// No emulator listens here: a command that made an AWS call would fail otherwise.
const NOWHERE: &str = "http://127.0.0.1:9";

/// An example program's binary, built beside `infra`.
fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_infra")).parent().unwrap().join("examples").join(name)
}

/// Runs the example program `name` with `args` in `dir`, as `run_infra_via`
/// runs `infra`, with `env` besides.
fn run_program(name: &str, endpoint: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = command_of(&example(name), endpoint, dir, args).envs(env.iter().copied()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(what: &str, out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "{what}: failed (exit {}):\nstdout:\n{}\nstderr:\n{}", out.0, out.1, out.2);
    out.1
}

/// A plan as JSON, its lineage (a fresh one for every plan of a state never
/// written, and in the tags of what it creates) written `<lineage>`.
fn plan_json(out: &str) -> serde_json::Value {
    let plan: serde_json::Value = serde_json::from_str(out).expect("plan --format json prints JSON");
    let lineage = plan["lineage"].as_str().expect("a plan has its state's lineage");
    serde_json::from_str(&out.replace(lineage, "<lineage>")).expect("still JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dev_program_plans_exactly_like_the_dev_stack_file_then_applies_replans_empty_and_destroys() {
    let emu = Emulator::start();
    let project = common::dev_project();
    let dir = project.path();
    let file = ok("file plan", run_infra(&emu, dir, &["plan", "--format", "json"]));
    let program = ok(
        "program plan",
        run_program("dev", &emu.endpoint, dir, &["plan", "--stack", "dev", "--format", "json"], &[]),
    );
    assert_eq!(plan_json(&program), plan_json(&file), "the program's plan differs from the file's");
    let steps = common::changed_steps(&program);
    assert_eq!(steps.len(), 17, "{steps:?}");

    // The same stack file naming the program: infra runs it.
    let stack = dir.join("stacks/dev.toml");
    let text = std::fs::read_to_string(&stack).unwrap();
    let settings = &text[..text.find("[resources.").unwrap()];
    let program = format!("program = \"{}\"\n", example("dev").display());
    std::fs::write(&stack, settings.replacen("[stack]\n", &format!("[stack]\n{program}"), 1)).unwrap();
    let hosted = ok("plan through the program", run_infra(&emu, dir, &["plan", "--format", "json"]));
    assert_eq!(plan_json(&hosted), plan_json(&file), "the plan through `program` differs from the file's");

    // The program applies, plans nothing more, and destroys.
    let run = |args: &[&str]| run_program("dev", &emu.endpoint, dir, args, &[]);
    ok("program apply", run(&["apply", "--stack", "dev", "--yes"]));
    let (code, out, err) = run(&["plan", "--stack", "dev", "--detailed-exitcode"]);
    assert_eq!(code, 0, "a plan after the program's apply is not empty:\n{out}\n{err}");
    let (code, out, err) = run_infra(&emu, dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "infra running the program plans changes after its apply:\n{out}\n{err}");
    // The program protects the data volume as the file does: its destroy
    // refuses, and with --exclude-protected keeps only the volume.
    let (code, _, err) = run(&["destroy", "--stack", "dev", "--yes"]);
    assert_eq!(code, 1, "the program's destroy deleted a protected volume:\n{err}");
    assert!(err.contains("`data` (ec2.volume vol-") && err.contains("is protected"), "{err}");
    ok("program destroy", run(&["destroy", "--stack", "dev", "--yes", "--exclude-protected"]));
    let state = common::store(dir, "dev").load().unwrap();
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["data"], "the program's destroy kept only the volume");
    assert!(state.resources["data"].protect);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_applied_from_the_file_is_the_stack_the_program_declares_and_its_state_is_left_as_it_is() {
    let emu = Emulator::start();
    let project = common::dev_project();
    let dir = project.path();
    ok("file apply", run_infra(&emu, dir, &["apply", "--yes"]));
    let state = std::fs::read(dir.join("state/dev.json")).unwrap();

    let (code, out, err) =
        run_program("dev", &emu.endpoint, dir, &["plan", "--stack", "dev", "--detailed-exitcode"], &[]);
    assert_eq!(code, 0, "the program plans changes over the file's state:\n{out}\n{err}");
    let out = ok("program apply", run_program("dev", &emu.endpoint, dir, &["apply", "--stack", "dev", "--yes"], &[]));
    assert!(out.contains("No changes"), "{out}");
    assert_eq!(std::fs::read(dir.join("state/dev.json")).unwrap(), state, "the program left the state as it was");

    // And the program's own commands: output, drift, destroy.
    let outputs = ok("program output", run_program("dev", &emu.endpoint, dir, &["output", "--stack", "dev"], &[]));
    assert!(outputs.contains("redis_cluster_nodes"), "{outputs}");
    let (code, out, err) = run_program("dev", &emu.endpoint, dir, &["drift", "--stack", "dev"], &[]);
    assert_eq!(code, 0, "drift from the program:\n{out}\n{err}");
    let destroy = ["destroy", "--stack", "dev", "--yes", "--exclude-protected"];
    ok("program destroy", run_program("dev", &emu.endpoint, dir, &destroy, &[]));
    let (code, out, _) = run_infra(&emu, dir, &["plan", "--detailed-exitcode", "--format", "json"]);
    assert_eq!(code, 2, "after the program's destroy the file plans every resource again:\n{out}");
    assert_eq!(common::changed_steps(&out).len(), 16, "all but the kept volume:\n{out}");
}

/// A project holding examples/stages's stack files, with the deploy bundle.
fn stages_project(client_group: &str) -> tempfile::TempDir {
    let project = common::dev_project();
    let stacks = project.path().join("stacks");
    std::fs::remove_file(stacks.join("dev.toml")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/stages/stacks");
    for stage in ["dev", "prod"] {
        let text = std::fs::read_to_string(repo.join(format!("{stage}.toml"))).unwrap();
        let text = text.replace("../../deploy/dev", "deploy/dev").replace("sg-0123456789abcdef0", client_group);
        std::fs::write(stacks.join(format!("{stage}.toml")), text).unwrap();
    }
    project
}

const REDIS_PASSWORD: &str = "stages-redis-password-7c1e";

#[tokio::test(flavor = "multi_thread")]
async fn one_program_declares_dev_and_prod_from_their_config_and_each_applies_replans_empty_and_destroys() {
    let emu = Emulator::start();
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
    let clients =
        ec2.create_security_group().group_name("app-servers").description("the clients").send().await.unwrap();
    let clients = clients.group_id().unwrap().to_string();
    let project = stages_project(&clients);
    let dir = project.path();
    let env = [("REDIS_PASSWORD", REDIS_PASSWORD), ("ELASTIC_PASSWORD", common::ELASTIC_PASSWORD)];
    let run = |args: &[&str]| run_program("stages", &emu.endpoint, dir, args, &env);

    let dev = plan_json(&ok("dev plan", run(&["plan", "--stack", "dev", "--format", "json"])));
    let prod = plan_json(&ok("prod plan", run(&["plan", "--stack", "prod", "--format", "json"])));
    // A created resource's properties in a JSON plan: property -> value after.
    let after = |plan: &serde_json::Value, resource: &str| -> serde_json::Value {
        let step = plan["steps"].as_array().unwrap().iter().find(|s| s["resource"] == resource).unwrap();
        let changes = step["changes"].as_array().unwrap();
        changes.iter().map(|c| (c["property"].as_str().unwrap().to_string(), c["after"].clone())).collect()
    };
    let env_of = |plan: &serde_json::Value| after(plan, "app_env");
    assert_eq!(env_of(&dev)["instance_type"], "t3.medium");
    assert_eq!(env_of(&prod)["instance_type"], "m5.large");
    let rules = |plan: &serde_json::Value| after(plan, "data_sg")["ingress"].to_string();
    assert!(rules(&dev).contains("172.31.0.0/16") && !rules(&dev).contains(&clients), "{}", rules(&dev));
    assert!(rules(&prod).contains(&clients) && !rules(&prod).contains("cidrs"), "{}", rules(&prod));
    assert!(!rules(&prod).contains("16379"), "prod opens no cluster bus port: {}", rules(&prod));
    // Both name the passwords' parameters, never a password.
    for plan in [&dev, &prod] {
        let text = env_of(plan).to_string();
        assert!(text.contains("environmentsecrets") && text.contains("REDIS_PASSWORD"), "{text}");
        assert!(!plan.to_string().contains(REDIS_PASSWORD), "{plan}");
    }

    for stage in ["dev", "prod"] {
        ok(&format!("{stage} apply"), run(&["apply", "--stack", stage, "--yes"]));
        let (code, out, err) = run(&["plan", "--stack", stage, "--detailed-exitcode"]);
        assert_eq!(code, 0, "{stage}: a plan after apply is not empty:\n{out}\n{err}");
        let state = std::fs::read_to_string(dir.join(format!("state/{stage}.json"))).unwrap();
        assert!(!state.contains(REDIS_PASSWORD), "{stage}: the secret is in state in plain text");
    }
    for stage in ["dev", "prod"] {
        ok(&format!("{stage} destroy"), run(&["destroy", "--stack", stage, "--yes"]));
    }
}

#[test]
fn the_declared_stacks_of_both_examples_match_their_golden_json_and_carry_secrets_by_name() {
    let project = stages_project("sg-0123456789abcdef0");
    let dev_project = common::dev_project();
    let env = [("REDIS_PASSWORD", REDIS_PASSWORD), ("ELASTIC_PASSWORD", common::ELASTIC_PASSWORD)];
    let cases = [
        ("dev", dev_project.path(), "dev", "dev.json"),
        ("stages", project.path(), "dev", "stages-dev.json"),
        ("stages", project.path(), "prod", "stages-prod.json"),
    ];
    let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/programs");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    for (program, dir, stack, golden) in cases {
        let out =
            ok(&format!("{program} declare"), run_program(program, NOWHERE, dir, &["declare", "--stack", stack], &env));
        assert!(!out.contains(REDIS_PASSWORD) && !out.contains(common::ELASTIC_PASSWORD), "a secret crossed:\n{out}");
        if stack == "prod" || program == "dev" {
            assert!(out.contains("${secret."), "{program} {stack}: the secret is named: {out}");
        }
        let path = golden_dir.join(golden);
        if update {
            std::fs::create_dir_all(&golden_dir).unwrap();
            std::fs::write(&path, &out).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(out == expected, "{program} {stack}: the declaration differs from {}:\n{out}", path.display());
    }
}

/// A project whose stack `dev` is declared by the misbehaving program in `mode`.
fn misbehaving_project(mode: &str, timeout: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("stacks")).unwrap();
    let program = format!("env INFRA_TEST_MODE={mode} {}", example("misbehaving_program").display());
    let text = format!("[stack]\nregion = \"us-east-1\"\nprogram = \"{program}\"\nprogram_timeout = {timeout}\n");
    std::fs::write(dir.path().join("stacks/dev.toml"), text).unwrap();
    dir
}

#[test]
fn a_program_that_panics_fails_prints_garbage_or_a_newer_format_declares_wrongly_or_takes_too_long_is_refused_before_any_aws_call()
 {
    let cases = [
        ("panic", "failed (exit status: 1) declaring stack `dev`", "a bug in the program"),
        ("exit1", "failed (exit status: 1) declaring stack `dev`", "cannot read the team's settings"),
        ("garbage", "printed no stack `dev`", "not valid JSON of the infra_stack format"),
        ("newer", "format version 99 is newer than this infra understands (1)", ""),
        ("schema", "resources.data.size", "expected"),
        ("slow", "did not declare stack `dev` within 1 s", "`program_timeout`"),
    ];
    for (mode, message, detail) in cases {
        // A second for the one meant to time out; the others get long enough
        // not to on a loaded machine.
        let dir = misbehaving_project(mode, if mode == "slow" { 1 } else { 60 });
        let started = std::time::Instant::now();
        let (code, out, err) = run_infra_via(NOWHERE, dir.path(), &["apply", "--yes"]);
        assert_eq!(code, 1, "{mode}: expected exit 1:\n{out}\n{err}");
        assert!(
            err.contains(message) && err.contains(detail),
            "{mode}: expected {message:?} and {detail:?} in:\n{err}"
        );
        assert!(
            !err.contains("127.0.0.1:9") && !err.contains("dispatch failure"),
            "{mode}: an AWS call was made:\n{err}"
        );
        assert!(!dir.path().join("state").exists(), "{mode}: state was written");
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{mode}: the timeout did not stop it");
    }
    // The well-behaved mode declares, and only fails at AWS.
    let dir = misbehaving_project("fine", 30);
    let (code, out, _) = run_infra_via(NOWHERE, dir.path(), &["check"]);
    assert_eq!(code, 0, "a well-behaved program's stack passes the checks:\n{out}");
}

#[test]
fn a_program_sees_no_credential_of_the_process_that_runs_it_only_what_a_build_needs() {
    let dir = misbehaving_project("env", 60);
    let infra = Path::new(env!("CARGO_BIN_EXE_infra"));
    let out = command_of(infra, NOWHERE, dir.path(), &["check"])
        .env("INFRA_STATE_KEY", "0101010101010101010101010101010101010101010101010101010101010101")
        .env("INFRA_STATE_PASSPHRASE", "a passphrase")
        .env("ELASTIC_PASSWORD", "an elastic password")
        .env("REDIS_PASSWORD", "a redis password")
        .env("CARGO_REGISTRY_TOKEN", "a registry token")
        .env("CARGO_HOME_FOR_TEST", "kept")
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let seen: Vec<&str> = err.lines().filter_map(|l| l.strip_prefix("env: ")).collect();
    assert!(seen.iter().any(|v| v.starts_with("PATH=")), "{err}");
    assert!(seen.contains(&"CARGO_HOME_FOR_TEST=kept") && seen.contains(&"LC_ALL=C"), "{err}");
    for secret in [
        "INFRA_STATE_KEY",
        "INFRA_STATE_PASSPHRASE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "ELASTIC_PASSWORD",
        "REDIS_PASSWORD",
        "CARGO_REGISTRY_TOKEN",
    ] {
        assert!(!seen.iter().any(|v| v.starts_with(&format!("{secret}="))), "the program saw {secret}:\n{err}");
    }
    assert!(!err.contains("a passphrase") && !err.contains("a redis password"), "{err}");
}

#[test]
fn a_program_printing_without_end_is_stopped_at_the_output_limit_with_its_name() {
    let dir = misbehaving_project("flood", 60);
    let (code, out, err) = run_infra_via(NOWHERE, dir.path(), &["check"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("misbehaving_program") && err.contains("printed more than 64 MiB"), "{err}");
}

#[test]
fn missing_or_mistyped_config_is_an_error_naming_the_key_and_the_file() {
    let project = stages_project("sg-0123456789abcdef0");
    let stack = project.path().join("stacks/dev.toml");
    let text = std::fs::read_to_string(&stack).unwrap();
    std::fs::write(&stack, text.replace("instance_type = \"t3.medium\"\n", "")).unwrap();
    let (code, _, err) = run_program("stages", NOWHERE, project.path(), &["plan", "--stack", "dev"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("stacks/dev.toml: [config] missing field `instance_type`"), "{err}");

    std::fs::write(&stack, text.replace("instance_type = \"t3.medium\"", "instance_type = 3")).unwrap();
    let (code, _, err) = run_program("stages", NOWHERE, project.path(), &["plan", "--stack", "dev"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("stacks/dev.toml: [config] `instance_type`: invalid type: integer `3`, expected a string"),
        "{err}"
    );

    // A secret the file does not declare.
    let prod = project.path().join("stacks/prod.toml");
    let text = std::fs::read_to_string(&prod).unwrap();
    std::fs::write(&prod, text.replace("redis_password = { env = \"REDIS_PASSWORD\" }\n", "")).unwrap();
    let (code, _, err) = run_program("stages", NOWHERE, project.path(), &["plan", "--stack", "prod"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unknown secret `redis_password`: declare it in the stack file's [secrets]"), "{err}");
}
