//! Secrets on the emulator: the dev stack's Elasticsearch password (an SSM SecureString parameter) is applied,
//! changed, changed behind infra's back and destroyed, and never appears in plain
//! text in state, in a saved plan or in anything infra prints.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{ELASTIC_PASSWORD, Emulator, REDIS_PASSWORD, dev_project};

/// `infra` with the emulator's environment and `password` as ELASTIC_PASSWORD;
/// (exit code, stdout and stderr together).
fn infra(emu: &Emulator, dir: &Path, password: &str, args: &[&str]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_infra"));
    for (name, _) in std::env::vars_os() {
        let name_str = name.to_string_lossy();
        if name_str.starts_with("AWS_")
            || name_str.starts_with("INFRA_STATE_")
            || name_str == "ELASTIC_PASSWORD"
            || name_str == "REDIS_PASSWORD"
        {
            command.env_remove(&name);
        }
    }
    command.args(args).current_dir(dir).stdin(Stdio::null()).envs(emu.env()).env("NO_COLOR", "1");
    command.env("ELASTIC_PASSWORD", password).env("REDIS_PASSWORD", REDIS_PASSWORD);
    command.env("INFRA_SEEN_DIR", dir.join(".infra-seen"));
    let out = command.output().expect("infra runs");
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), printed)
}

fn state_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("state/dev.json")).unwrap()
}

/// What AWS holds as the password: the SecureString parameter `name`, decrypted.
async fn live_password(ssm: &aws_sdk_ssm::Client, name: &str) -> Option<String> {
    let found = ssm.get_parameter().name(name).with_decryption(true).send().await.unwrap();
    found.parameter().and_then(|p| p.value()).map(str::to_string)
}

/// Whether a text plan creates a property `value` shown as `[secret]`.
fn creates_a_secret_value(plan: &str) -> bool {
    plan.lines().any(|l| l.trim_start().starts_with("+ value") && l.trim_end().ends_with("= [secret]"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_elastic_password_reaches_aws_but_never_state_plans_or_output_in_plain_text() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    // About secrets, not protection: the destroy at the end deletes everything.
    common::unprotect_data(dir);
    let ssm = aws_sdk_ssm::Client::new(&emu.sdk_config().await);
    let mut printed = String::new();
    let mut run = |password: &str, args: &[&str], code: i32| {
        let (got, out) = infra(&emu, dir, password, args);
        assert_eq!(got, code, "infra {args:?}:\n{out}");
        printed.push_str(&out);
        out
    };

    // Applied: AWS has the password; state has it only sealed.
    let plan = run(ELASTIC_PASSWORD, &["plan"], 0);
    assert!(creates_a_secret_value(&plan), "{plan}");
    run(ELASTIC_PASSWORD, &["apply", "--yes"], 0);
    let state: serde_json::Value = serde_json::from_str(&state_text(dir)).unwrap();
    let parameter = state["resources"]["elastic_password"]["outputs"]["name"].as_str().unwrap().to_string();
    assert_eq!(live_password(&ssm, &parameter).await.as_deref(), Some(ELASTIC_PASSWORD));
    assert!(!state_text(dir).contains(ELASTIC_PASSWORD), "state holds the password in plain text");
    assert!(state_text(dir).contains(r#""$secret": "#));
    assert_eq!(state["encryption"]["key"], "INFRA_STATE_KEY");

    // AWS reports the password back in plain text: no change, no drift.
    for format in ["text", "json", "markdown"] {
        run(ELASTIC_PASSWORD, &["plan", "--detailed-exitcode", "--format", format], 0);
        run(ELASTIC_PASSWORD, &["drift", "--format", format], 0);
    }
    run(ELASTIC_PASSWORD, &["output"], 0);
    run(ELASTIC_PASSWORD, &["output", "--json"], 0);

    // A new password: an update in place that shows neither.
    let new_password = "the-new-elastic-password-77";
    let plan = run(new_password, &["plan", "--detailed-exitcode"], 2);
    assert!(plan.contains("~ value = [secret]"), "{plan}");
    assert!(plan.contains("1 to change, 0 to replace"), "{plan}");
    for format in ["json", "markdown"] {
        run(new_password, &["plan", "--format", format], 0);
    }
    // Saved, the plan holds it only sealed, and applies exactly.
    run(new_password, &["plan", "--out", "plan.json"], 0);
    let saved = std::fs::read_to_string(dir.join("plan.json")).unwrap();
    assert!(!saved.contains(new_password) && !saved.contains(ELASTIC_PASSWORD), "the saved plan leaks");
    run(new_password, &["apply", "--yes", "plan.json"], 0);
    assert_eq!(live_password(&ssm, &parameter).await.as_deref(), Some(new_password));
    // The two passwords, each sealed once.
    assert_eq!(state_text(dir).matches(r#""$secret": "#).count(), 2);
    run(new_password, &["plan", "--detailed-exitcode"], 0);

    // Changed in the console: drift, shown as [secret] only; apply puts it back.
    let console = "typed-into-the-console-42";
    ssm.put_parameter()
        .name(&parameter)
        .value(console)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let report = run(new_password, &["drift"], 2);
    assert!(report.contains("value  recorded [secret], live [secret]"), "{report}");
    run(new_password, &["drift", "--format", "json"], 2);
    run(new_password, &["drift", "--format", "markdown"], 2);
    let plan = run(new_password, &["plan"], 0);
    assert!(plan.contains("# reverts drift"), "{plan}");
    // Accepted into state instead: still sealed.
    run(new_password, &["refresh", "--yes"], 0);
    assert!(!state_text(dir).contains(console), "refresh wrote the live password in plain text");
    run(new_password, &["apply", "--yes"], 0);
    assert_eq!(live_password(&ssm, &parameter).await.as_deref(), Some(new_password));

    run(new_password, &["destroy", "--yes"], 0);
    for secret in [ELASTIC_PASSWORD, REDIS_PASSWORD, new_password, console] {
        assert!(!printed.contains(secret), "infra printed a secret:\n{printed}");
    }
}
