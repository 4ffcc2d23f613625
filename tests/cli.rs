//! The command line on bad input: a clear message, exit 1, no change to state,
//! and no AWS call (AWS is pointed at a closed loopback port, so any call would
//! fail with a connection error instead of the message expected).

use std::path::Path;
use std::process::Command;

/// A port nothing listens on: any AWS call would fail to connect.
const CLOSED_ENDPOINT: &str = "http://127.0.0.1:9";

/// The dev stack's secret, and the key state encrypts it with, in these tests.
const PASSWORD: &str = "cli-test-elastic-password";
const REDIS_PASSWORD: &str = "cli-test-redis-password";
const KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";

fn infra(dir: &Path, args: &[&str]) -> (i32, String, String) {
    infra_with(
        dir,
        args,
        &[("ELASTIC_PASSWORD", PASSWORD), ("REDIS_PASSWORD", REDIS_PASSWORD), ("INFRA_STATE_KEY", KEY)],
    )
}

/// `infra` with only these of the variables secrets need.
fn infra_with(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_infra"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("INFRA_STATE_") || k == "ELASTIC_PASSWORD" || k == "REDIS_PASSWORD" {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .envs(vars.iter().copied())
        .args(args)
        .current_dir(dir)
        .env("AWS_ENDPOINT_URL", CLOSED_ENDPOINT)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("NO_COLOR", "1")
        .env("INFRA_SEEN_DIR", dir.join(".infra-seen"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("infra runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn project(stacks: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("stacks")).unwrap();
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    for (name, text) in stacks {
        std::fs::write(dir.path().join(format!("stacks/{name}.toml")), text).unwrap();
    }
    dir
}

fn dev_toml() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/dev.toml")).unwrap()
}

#[test]
fn every_command_rejects_a_broken_stack_file_with_its_location_and_exit_1() {
    let broken = dev_toml().replace("size = 30", "size = \"thirty\"");
    let dir = project(&[("dev", &broken)]);
    for cmd in [&["plan"][..], &["apply", "--yes"], &["destroy", "--yes"], &["output"]] {
        let (code, _, stderr) = infra(dir.path(), cmd);
        assert_eq!(code, 1, "{cmd:?}: {stderr}");
        assert!(stderr.contains("stacks/dev.toml:"), "{cmd:?} names the file and line: {stderr}");
        assert!(stderr.contains("expected a whole number, found a string"), "{stderr}");
        assert!(!stderr.contains("dispatch failure") && !stderr.contains("127.0.0.1:9"), "no AWS call: {stderr}");
    }
    assert!(!dir.path().join("state/dev.json").exists());
}

#[test]
fn a_corrupted_state_file_is_named_and_left_as_it_was() {
    let dir = project(&[("dev", &dev_toml())]);
    let state = dir.path().join("state/dev.json");
    std::fs::write(&state, "{\"version\": 1, \"serial\": 3, \"stack\": \"dev\", \"resou").unwrap();
    for cmd in [&["plan"][..], &["apply", "--yes"], &["destroy", "--yes"]] {
        let (code, _, stderr) = infra(dir.path(), cmd);
        assert_eq!(code, 1, "{cmd:?}: {stderr}");
        assert!(stderr.contains("state/dev.json: not a valid state file"), "{stderr}");
    }
    let after = std::fs::read_to_string(&state).unwrap();
    assert!(after.ends_with("\"resou"), "the state file is unchanged");
    assert!(!dir.path().join("state/dev.lock").exists(), "the lock is released");
}

#[test]
fn a_state_file_from_a_newer_infra_is_refused() {
    let dir = project(&[("dev", &dev_toml())]);
    std::fs::write(dir.path().join("state/dev.json"), r#"{"version": 7, "serial": 1, "stack": "dev"}"#).unwrap();
    let (code, _, stderr) = infra(dir.path(), &["plan"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("state version 7 is newer than this infra understands"), "{stderr}");
}

#[test]
fn the_stack_may_be_left_out_only_when_there_is_one() {
    let broken = "[resources.x]\ntype = \"ec2.nothing\"\n";
    let dir = project(&[("dev", broken), ("prod", broken)]);
    let (code, _, stderr) = infra(dir.path(), &["plan"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("several stacks found, choose one with --stack: dev, prod"), "{stderr}");
    let (code, _, stderr) = infra(dir.path(), &["plan", "--stack", "staging"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no stack `staging`"), "{stderr}");
    let (code, _, stderr) = infra(dir.path(), &["plan", "--stack", "prod"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("stacks/prod.toml:2:8"), "{stderr}");
}

#[test]
fn dash_c_runs_as_if_started_in_the_directory() {
    let dir = project(&[("dev", "[resources.x]\ntype = \"ec2.nothing\"\n")]);
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, _, stderr) = infra(elsewhere.path(), &["-C", dir.path().to_str().unwrap(), "plan"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("stacks/dev.toml:2:8"), "{stderr}");
}

#[test]
fn a_wrong_flag_is_an_error_with_exit_1() {
    let dir = project(&[("dev", &dev_toml())]);
    let (code, _, stderr) = infra(dir.path(), &["plan", "--no-such-flag"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
    let (code, _, _) = infra(dir.path(), &["apply", "--parallelism", "0", "--yes"]);
    assert_eq!(code, 1);
}

#[test]
fn an_endpoint_variable_set_to_nothing_is_named_in_an_error_with_exit_1() {
    let dir = project(&[("dev", &dev_toml())]);
    let vars = [
        ("ELASTIC_PASSWORD", PASSWORD),
        ("REDIS_PASSWORD", REDIS_PASSWORD),
        ("INFRA_STATE_KEY", KEY),
        ("AWS_ENDPOINT_URL_EC2", ""),
    ];
    let (code, _, stderr) = infra_with(dir.path(), &["plan", "--stack", "dev"], &vars);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("AWS_ENDPOINT_URL_EC2 is set but empty"), "{stderr}");
    assert!(!dir.path().join("state/dev.json").exists());
}

#[test]
fn help_lists_every_command_and_exits_0() {
    let dir = project(&[]);
    let (code, stdout, _) = infra(dir.path(), &["--help"]);
    assert_eq!(code, 0);
    for cmd in ["plan", "apply", "destroy", "output"] {
        assert!(stdout.contains(cmd), "{stdout}");
    }
    let (code, stdout, _) = infra(dir.path(), &["plan", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("--detailed-exitcode"), "{stdout}");
}

#[test]
fn unlock_removes_a_lock_a_dead_process_left_and_refuses_one_a_live_process_holds() {
    let dir = project(&[("dev", &dev_toml())]);
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let lock = serde_json::json!({
        "id": "3f1c2a9e", "pid": 999_999_999u32, "host": host,
        "started": "2026-11-25T10:00:00Z", "command": "apply",
    });
    let lock_path = dir.path().join("state/dev.lock");
    std::fs::write(&lock_path, lock.to_string()).unwrap();
    let (code, _, stderr) = infra(dir.path(), &["unlock", "--stack", "dev", "wrong-id"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("locked under id 3f1c2a9e, not wrong-id"), "{stderr}");
    assert!(lock_path.exists());
    let (code, stdout, _) = infra(dir.path(), &["unlock", "--stack", "dev", "3f1c2a9e"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Removed the lock of stack `dev`"), "{stdout}");
    assert!(!lock_path.exists());

    // This test process holds the lock now, as a running apply would.
    let held = infra::state::Store::new(dir.path().join("state"), "dev").lock("apply").unwrap();
    let (code, _, stderr) = infra(dir.path(), &["unlock", "--stack", "dev", &held.info.id]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("which is running: it releases the lock when it exits"), "{stderr}");
    assert!(lock_path.exists(), "the holder keeps its lock");
    drop(held);
    assert!(!lock_path.exists(), "released when its holder is done");
}

#[test]
fn redis_open_to_the_world_fails_the_policy_checks_unless_allowed_with_a_reason() {
    let open = dev_toml().replace(
        "ports = \"6379-6381\", cidrs = [\"${config.vpc_cidr}\"]",
        "ports = \"6379-6381\", cidrs = [\"0.0.0.0/0\"]",
    );
    let dir = project(&[("dev", &open)]);
    for cmd in [&["check"][..], &["plan"], &["apply", "--yes"]] {
        let (code, _, stderr) = infra(dir.path(), cmd);
        assert_eq!(code, 1, "{cmd:?}");
        assert!(stderr.contains("policy check"), "{stderr}");
        assert!(!stderr.contains("127.0.0.1:9"), "no AWS call: {stderr}");
    }
    let (_, stdout, _) = infra(dir.path(), &["check"]);
    assert!(
        stdout.contains("FAILED   data_sg: public_data_port: `ingress` opens 6379-6381 (redis) to the whole IPv4 internet (0.0.0.0/0)"),
        "{stdout}"
    );

    let allowed = open.replace(
        "type = \"ec2.security_group\"\n",
        "type = \"ec2.security_group\"\nallow = { public_data_port = \"a throwaway demo\" }\n",
    );
    let dir = project(&[("dev", &allowed)]);
    let (code, stdout, stderr) = infra(dir.path(), &["check"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("allowed  data_sg: public_data_port"), "{stdout}");

    let no_reason = open.replace(
        "type = \"ec2.security_group\"\n",
        "type = \"ec2.security_group\"\nallow = { public_data_port = \"\" }\n",
    );
    let dir = project(&[("dev", &no_reason)]);
    let (code, _, stderr) = infra(dir.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("allowing `public_data_port` needs a reason"), "{stderr}");
}

#[test]
fn the_dev_stack_passes_the_policy_checks() {
    let dir = project(&[("dev", &dev_toml())]);
    let (code, stdout, stderr) = infra(dir.path(), &["check"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("passes the policy checks"), "{stdout}");
}

/// The dev project with its bundle (deploy/dev), the compose file and the
/// stack edited.
fn dev_project_edited(compose: (&str, &str), stack: (&str, &str)) -> tempfile::TempDir {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let toml = dev_toml();
    assert!(toml.contains(stack.0), "stacks/dev.toml has no {:?}", stack.0);
    let dir = project(&[("dev", &toml.replacen(stack.0, stack.1, 1))]);
    let bundle = dir.path().join("deploy/dev");
    std::fs::create_dir_all(&bundle).unwrap();
    for file in ["docker-compose.yml", "redis-1.conf", "redis-2.conf", "redis-3.conf"] {
        std::fs::copy(repo.join("deploy/dev").join(file), bundle.join(file)).unwrap();
    }
    let compose_path = bundle.join("docker-compose.yml");
    let text = std::fs::read_to_string(&compose_path).unwrap();
    assert!(text.contains(compose.0), "docker-compose.yml has no {:?}", compose.0);
    std::fs::write(&compose_path, text.replacen(compose.0, compose.1, 1)).unwrap();
    dir
}

#[test]
fn a_port_the_bundle_serves_but_the_group_does_not_open_fails_the_checks_before_any_aws_call() {
    let kibana_rule = r#"{ protocol = "tcp", ports = 5601, cidrs = ["${config.vpc_cidr}"], description = "kibana" },"#;
    let dir = dev_project_edited(("\"9200:9200\"", "\"9200:9200\"\n      - \"9300:9300\""), (kibana_rule, ""));
    for command in ["check", "plan"] {
        let (code, stdout, stderr) = infra(dir.path(), &[command]);
        assert_eq!(code, 1, "{command}: {stdout}{stderr}");
        let text = format!("{stdout}{stderr}");
        for expected in [
            "app_env: closed_service_port: deploy/dev serves tcp 5601 (kibana), but none of its security groups (data_sg) opens it",
            "app_env: closed_service_port: deploy/dev serves tcp 9300 (elasticsearch)",
        ] {
            assert!(text.contains(expected), "{command}: no {expected:?} in:\n{text}");
        }
    }
    assert!(!dir.path().join("state/dev.json").exists(), "nothing was written");
}

#[cfg(unix)]
#[test]
fn a_bundle_with_a_link_leading_outside_its_directory_fails_the_plan_before_any_aws_call() {
    let dir = dev_project_edited(("services:", "services:"), ("[resources", "[resources"));
    let credentials = dir.path().join("credentials");
    std::fs::write(&credentials, "[default]\naws_secret_access_key = not-for-s3\n").unwrap();
    std::os::unix::fs::symlink(&credentials, dir.path().join("deploy/dev/x")).unwrap();
    let (code, stdout, stderr) = infra(dir.path(), &["plan"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("deploy/dev/x is a symbolic link to"), "{stderr}");
    assert!(stderr.contains("outside the bundle's directory"), "{stderr}");
    assert!(!stderr.contains("dispatch failure") && !stderr.contains("connect"), "{stderr}");
    assert!(!dir.path().join("state/dev.json").exists(), "nothing was written");
}

#[test]
fn a_port_the_group_opens_but_nothing_in_the_bundle_serves_fails_the_checks() {
    let redis_rule = r#"ports = "6379-6381""#;
    let dir = dev_project_edited(("\"5601:5601\"", "\"5601:5601\""), (redis_rule, r#"ports = "6379-6382""#));
    let (code, stdout, stderr) = infra(dir.path(), &["check"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "data_sg: unserved_open_port: an ingress rule opens tcp 6382, which nothing in deploy/dev serves"
        ),
        "{stdout}{stderr}"
    );
}

#[test]
fn a_missing_elastic_password_is_a_load_error_with_its_location() {
    let dir = project(&[("dev", &dev_toml())]);
    for cmd in [&["plan"][..], &["apply", "--yes"], &["output"]] {
        let (code, _, stderr) = infra_with(dir.path(), cmd, &[("INFRA_STATE_KEY", KEY)]);
        assert_eq!(code, 1, "{cmd:?}: {stderr}");
        let line = dev_toml().lines().position(|l| l.starts_with("elastic_password")).unwrap() + 1;
        assert!(
            stderr.contains(&format!(
                "stacks/dev.toml:{line}:28: secret `elastic_password`: the environment variable `ELASTIC_PASSWORD` is not set"
            )),
            "{stderr}"
        );
        assert!(!stderr.contains("127.0.0.1:9"), "no AWS call: {stderr}");
    }
}

#[test]
fn a_stack_with_secrets_and_no_state_key_is_refused_before_any_aws_call() {
    let dir = project(&[("dev", &dev_toml())]);
    for cmd in [&["plan"][..], &["apply", "--yes"], &["plan", "--out", "p.json"]] {
        let (code, _, stderr) =
            infra_with(dir.path(), cmd, &[("ELASTIC_PASSWORD", PASSWORD), ("REDIS_PASSWORD", REDIS_PASSWORD)]);
        assert_eq!(code, 1, "{cmd:?}: {stderr}");
        assert!(stderr.contains("state/dev.json: secrets are stored only encrypted"), "{stderr}");
        assert!(stderr.contains("INFRA_STATE_KEY") && stderr.contains("INFRA_STATE_PASSPHRASE"), "{stderr}");
        assert!(!stderr.contains("127.0.0.1:9") && !stderr.contains(PASSWORD), "{stderr}");
    }
    let (code, _, stderr) = infra_with(
        dir.path(),
        &["plan"],
        &[("ELASTIC_PASSWORD", PASSWORD), ("REDIS_PASSWORD", REDIS_PASSWORD), ("INFRA_STATE_KEY", "not-a-key")],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("INFRA_STATE_KEY is not a key: expected 64 hex digits or base64"), "{stderr}");
    assert!(!dir.path().join("state/dev.json").exists());
}

#[test]
fn a_wrong_key_fails_to_read_state_with_a_clear_message() {
    use infra::model::{Kind, Value};
    use infra::secret::KeySource;
    use infra::state::{Recorded, State, Store};

    let dir = project(&[("dev", &dev_toml())]);
    let mut state = State::default();
    let props =
        [("environment_variables".to_string(), Value::Map([("PW".to_string(), Value::secret(PASSWORD))].into()))];
    state.resources.insert(
        "build".into(),
        Recorded {
            kind: Kind::BuildProject,
            id: "p".into(),
            props: props.into(),
            outputs: Default::default(),
            depends_on: vec![],
            protect: false,
        },
    );
    let store = Store::with_keys(dir.path().join("state"), "dev", Ok(KeySource::key([1; 32])));
    store.save(&mut state).unwrap();
    let text = std::fs::read_to_string(dir.path().join("state/dev.json")).unwrap();
    assert!(!text.contains(PASSWORD), "{text}");

    let other = "02".repeat(32);
    let vars =
        [("ELASTIC_PASSWORD", PASSWORD), ("REDIS_PASSWORD", REDIS_PASSWORD), ("INFRA_STATE_KEY", other.as_str())];
    for cmd in [&["plan"][..], &["drift"], &["output"], &["destroy", "--yes"]] {
        let (code, _, stderr) = infra_with(dir.path(), cmd, &vars);
        assert_eq!(code, 1, "{cmd:?}: {stderr}");
        assert!(
            // The MAC, checked first, is what the wrong key cannot check.
            stderr.contains("state/dev.json: its MAC was made with another key than INFRA_STATE_KEY"),
            "{cmd:?}: {stderr}"
        );
        assert!(!stderr.contains("127.0.0.1:9"), "no AWS call: {stderr}");
    }
    let (code, _, stderr) = infra_with(
        dir.path(),
        &["output"],
        &[("ELASTIC_PASSWORD", PASSWORD), ("REDIS_PASSWORD", REDIS_PASSWORD), ("INFRA_STATE_PASSPHRASE", "p")],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("it carries a MAC under a key from INFRA_STATE_KEY, which is not set"), "{stderr}");
    // The right key reads it.
    let (code, stdout, stderr) = infra(dir.path(), &["output"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains(PASSWORD));
}

/// A state with three resources (no AWS needed to look at or edit it).
fn recorded_state(dir: &Path) -> infra::state::Store {
    use infra::model::{Kind, Props, Value};
    use infra::state::{Recorded, State, Store};
    let record = |kind, id: &str, deps: &[&str]| Recorded {
        kind,
        id: id.to_string(),
        props: Props::from([("size".to_string(), Value::Int(30))]),
        outputs: Props::from([("id".to_string(), Value::from(id))]),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        protect: false,
    };
    let mut state = State::default();
    state.resources.insert("data_sg".into(), record(Kind::SecurityGroup, "sg-1", &[]));
    state.resources.insert("data".into(), record(Kind::Volume, "vol-1", &[]));
    state.resources.insert("app_env".into(), record(Kind::EbEnvironment, "e-1", &["data", "data_sg"]));
    let key = infra::secret::KeySource::from_values(Some(KEY), None);
    let store = Store::with_keys(dir.join("state"), "dev", key);
    store.save(&mut state).unwrap();
    store
}

#[test]
fn state_commands_list_show_forget_and_rename_recorded_resources_without_aws() {
    let dir = project(&[("dev", &dev_toml())]);
    let store = recorded_state(dir.path());

    let (code, stdout, stderr) = infra(dir.path(), &["state", "list"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "app_env  elasticbeanstalk.environment  e-1\ndata     ec2.volume                    vol-1\ndata_sg  ec2.security_group            sg-1\n"
    );
    let (_, stdout, _) = infra(dir.path(), &["state", "show", "data", "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["id"], "vol-1");
    assert_eq!(shown["properties"]["size"], 30);
    let (code, _, stderr) = infra(dir.path(), &["state", "show", "nope"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("records no resource `nope` (it records: app_env, data, data_sg)"), "{stderr}");

    // A rename carries the dependencies on it along.
    let (code, stdout, stderr) = infra(dir.path(), &["state", "mv", "data", "volume"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Renamed data to volume"), "{stdout}");
    let state = store.load().unwrap();
    assert_eq!(state.resources["volume"].id, "vol-1");
    assert_eq!(state.resources["app_env"].depends_on, ["volume", "data_sg"]);
    let serial = state.serial;
    let (code, _, stderr) = infra(dir.path(), &["state", "mv", "volume", "data_sg"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("already records a resource `data_sg`"), "{stderr}");
    assert_eq!(store.load().unwrap().serial, serial, "a refused edit writes nothing");

    let (code, stdout, stderr) = infra(dir.path(), &["state", "rm", "data_sg", "volume"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Forgot data_sg (ec2.security_group sg-1); AWS keeps it."), "{stdout}");
    let state = store.load().unwrap();
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["app_env"]);
    assert_eq!(state.serial, serial + 1, "one write for the whole command");

    // Edits hold the lock.
    let held = store.lock("apply").unwrap();
    let (code, _, stderr) = infra(dir.path(), &["state", "rm", "app_env"]);
    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("locked by `infra apply` (pid {}", std::process::id())), "{stderr}");
    drop(held);
    assert_eq!(store.load().unwrap().resources.len(), 1);
}

#[test]
fn protect_given_a_non_boolean_is_refused_with_its_location_by_every_command() {
    let broken = dev_toml().replace("protect = true", "protect = \"yes\"");
    let dir = project(&[("dev", &broken)]);
    for cmd in [&["plan"][..], &["apply", "--yes"], &["destroy", "--yes"]] {
        let (code, _, stderr) = infra(dir.path(), cmd);
        assert_eq!(code, 1, "{cmd:?}: {stderr}");
        assert!(
            stderr.contains("stacks/dev.toml:") && stderr.contains("expected true or false, found a string"),
            "{stderr}"
        );
        assert!(!stderr.contains("127.0.0.1:9"), "no AWS call: {stderr}");
    }
    assert!(!dir.path().join("state/dev.json").exists());
}

#[test]
fn a_target_naming_no_resource_is_refused_before_any_aws_call() {
    let dir = project(&[("dev", &dev_toml())]);
    for cmd in [&["plan", "--target", "hots"][..], &["apply", "--yes", "--target", "hots"]] {
        let (code, _, stderr) = infra(dir.path(), cmd);
        assert_eq!(code, 1, "{cmd:?}: {stderr}");
        assert!(
            stderr.contains("`--target hots`: the stack `dev` has no resource `hots` (it has: app, app_env,"),
            "{stderr}"
        );
        assert!(!stderr.contains("127.0.0.1:9"), "no AWS call: {stderr}");
    }
    // A destroy acts on what state records, and state records nothing yet.
    let (code, _, stderr) = infra(dir.path(), &["destroy", "--yes", "--target", "data"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("`--target data`: the state of stack `dev` has no resources"), "{stderr}");
    let (code, _, stderr) = infra(dir.path(), &["plan", "--replace", "data"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("`--replace data`: `data` does not exist yet, so there is nothing to replace"), "{stderr}");
    assert!(!dir.path().join("state/dev.json").exists());
}

#[test]
fn every_day2_flag_is_in_the_help() {
    for (cmd, flags) in [
        ("plan", &["--target", "--replace", "--refresh-only"][..]),
        ("apply", &["--target", "--replace"]),
        ("destroy", &["--target", "--exclude-protected"]),
    ] {
        let (code, help, _) = infra(Path::new("."), &[cmd, "--help"]);
        assert_eq!(code, 0);
        for flag in flags {
            assert!(help.contains(flag), "`infra {cmd} --help` lacks {flag}:\n{help}");
        }
    }
}
