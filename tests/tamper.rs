//! Tamper evidence, with the real `infra` binary on the emulator: a state file,
//! a journal or a saved plan changed by someone without the state key, and an
//! old state put back, are each refused with exit 1, naming the file and what
//! failed, and nothing is written (the files' bytes are unchanged, and AWS
//! gets no new volume).

mod common;

use std::path::Path;

use common::{Emulator, infra_command, run_infra};

const STACK: &str = "vault";

/// One volume: one create call, so each apply is quick.
const ONE_VOLUME: &str = r#"
[stack]
region = "us-east-1"

[resources.data]
type = "ec2.volume"
availability_zone = "us-east-1a"
size = 10
"#;

const SECOND_VOLUME: &str = r#"
[resources.logs]
type = "ec2.volume"
availability_zone = "us-east-1a"
size = 10
"#;

fn project(stack_file: &str) -> tempfile::TempDir {
    common::project_of(STACK, stack_file)
}

fn ok(emu: &Emulator, dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = run_infra(emu, dir, args);
    assert_eq!(code, 0, "infra {args:?}:\n{out}\n{err}");
    format!("{out}{err}")
}

/// Every file under the project's `state/`, by name, with its bytes.
fn state_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("state"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file() && !e.file_name().to_string_lossy().ends_with(".lock"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

async fn volume_count(emu: &Emulator) -> usize {
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
    ec2.describe_volumes().send().await.unwrap().volumes().len()
}

/// Runs each command against the tampered project: each exits 1 with
/// `expected` in its message, and leaves state and AWS as they were.
async fn each_refused(emu: &Emulator, dir: &Path, commands: &[&[&str]], expected: &str) {
    let before = state_files(dir);
    let volumes = volume_count(emu).await;
    for args in commands {
        let (code, out, err) = run_infra(emu, dir, args);
        assert_eq!(code, 1, "infra {args:?} must be refused:\n{out}\n{err}");
        assert!(err.contains(expected), "infra {args:?}: expected {expected:?} in:\n{err}");
        assert_eq!(state_files(dir), before, "infra {args:?} wrote nothing to state");
        assert_eq!(volume_count(emu).await, volumes, "infra {args:?} made no volume");
    }
}

/// A saved plan's text with the first step's desired `prop` set to `value`.
fn edit_desired(text: &str, prop: &str, value: serde_json::Value) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(text).unwrap();
    let desired = &mut doc["plan"]["steps"][0]["desired"];
    assert!(desired.get(prop).is_some(), "the plan sets `{prop}`: {text}");
    assert_ne!(desired[prop], value, "{text}");
    desired[prop] = value;
    serde_json::to_string_pretty(&doc).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flipped_byte_in_the_state_file_is_refused_naming_the_file() {
    let emu = Emulator::start();
    let project = project(ONE_VOLUME);
    let dir = project.path();
    ok(&emu, dir, &["apply", "--yes"]);
    let path = dir.join(format!("state/{STACK}.json"));
    let mut bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("\"mac\": {"), "a state written with a key carries a MAC:\n{text}");
    // One bit of the volume's id: still JSON, another volume.
    let at = text.find("\"id\": \"vol-").unwrap() + "\"id\": \"vol-".len() + 2;
    bytes[at] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let expected =
        format!("state/{STACK}.json: its MAC does not match: it was changed outside infra; nothing was read from it");
    each_refused(&emu, dir, &[&["plan"], &["apply", "--yes"], &["destroy", "--yes"], &["state", "list"]], &expected)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journal_line_added_by_a_stranger_is_refused_naming_the_journal_and_the_line() {
    let emu = Emulator::start();
    let project = project(ONE_VOLUME);
    let dir = project.path();
    ok(&emu, dir, &["apply", "--yes"]);
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("state/{STACK}.json"))).unwrap()).unwrap();
    let (serial, lineage) = (state["serial"].as_u64().unwrap(), state["lineage"].as_str().unwrap());
    // The journal a stranger writes: it extends the state as it is, and
    // repoints `data` at a volume of theirs.
    let journal = format!(
        "{{\"journal\":1,\"stack\":\"{STACK}\",\"lineage\":\"{lineage}\",\"base_serial\":{serial}}}\n\
         {{\"serial\":{},\"resources\":{{\"data\":{{\"type\":\"ec2.volume\",\"id\":\"vol-0123456789abcdef0\"}}}}}}\n",
        serial + 1
    );
    std::fs::write(dir.join(format!("state/{STACK}.journal")), journal).unwrap();
    let expected = format!(
        "state/{STACK}.journal: line 1 carries no MAC: a line was added, removed, reordered or changed outside infra"
    );
    each_refused(&emu, dir, &[&["plan"], &["apply", "--yes"], &["destroy", "--yes"]], &expected).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_state_put_back_is_refused_unless_the_rollback_is_allowed() {
    let emu = Emulator::start();
    let project = project(ONE_VOLUME);
    let dir = project.path();
    ok(&emu, dir, &["apply", "--yes"]);
    let path = dir.join(format!("state/{STACK}.json"));
    let old = std::fs::read(&path).unwrap();
    std::fs::write(dir.join(format!("stacks/{STACK}.toml")), format!("{ONE_VOLUME}{SECOND_VOLUME}")).unwrap();
    ok(&emu, dir, &["apply", "--yes"]);
    let serial = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).unwrap()["serial"].as_u64().unwrap();
    let newer = serial(&std::fs::read(&path).unwrap());
    // The old file is authentic (its MAC matches): only its age gives it away.
    std::fs::write(&path, &old).unwrap();
    let expected =
        format!("state/{STACK}.json: serial {} is older than serial {newer} of the same state", serial(&old));
    each_refused(&emu, dir, &[&["plan"], &["apply", "--yes"], &["state", "list"]], &expected).await;

    // Said on purpose, it is read: the old state, which does not record `logs`.
    let plan = ok(&emu, dir, &["plan", "--allow-rollback"]);
    let line = plan.lines().find(|l| l.contains("[adopt: found in AWS by its tags")).unwrap_or_default();
    assert_eq!(line.split_whitespace().nth(1), Some("logs"), "{plan}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_saved_plan_is_refused_and_a_saved_plan_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let emu = Emulator::start();
    let project = project(ONE_VOLUME);
    let dir = project.path();
    let plan_file = dir.join("plan.json");
    ok(&emu, dir, &["plan", "--out", plan_file.to_str().unwrap()]);
    assert_eq!(std::fs::metadata(&plan_file).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&plan_file).unwrap();
    assert!(text.contains("\"mac\": {"), "{text}");
    // The size of the volume to create, changed in the artifact.
    let edited = edit_desired(&text, "size", serde_json::json!({"int": 16000}));
    std::fs::write(&plan_file, &edited).unwrap();
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let expected = "plan.json: its MAC does not match: the plan was changed after `infra plan --out` wrote it";
    each_refused(&emu, dir, &[&["apply", "--yes", plan_file.to_str().unwrap()]], expected).await;
    assert_eq!(std::fs::read_to_string(&plan_file).unwrap(), edited, "the plan file is left as it was");

    // An existing file, readable by all, is made private when a plan is saved over it.
    std::fs::set_permissions(&plan_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    ok(&emu, dir, &["plan", "--out", plan_file.to_str().unwrap()]);
    assert_eq!(std::fs::metadata(&plan_file).unwrap().permissions().mode() & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_key_a_saved_plan_is_checked_against_the_policy_and_state_again() {
    let emu = Emulator::start();
    let project = project(ONE_VOLUME);
    let dir = project.path();
    let plan_file = dir.join("plan.json");
    let keyless = |args: &[&str]| {
        let out = infra_command(&emu.endpoint, dir, args).env_remove("INFRA_STATE_KEY").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code().unwrap_or(-1), err)
    };
    let (code, err) = keyless(&["plan", "--out", plan_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("so the plan carries no MAC"), "plan --out says what is not protected: {err}");
    let text = std::fs::read_to_string(&plan_file).unwrap();
    assert!(!text.contains("\"mac\""), "{text}");
    // An unencrypted volume, which the stack file would never pass.
    let edited = edit_desired(&text, "encrypted", serde_json::json!({"bool": false}));
    std::fs::write(&plan_file, &edited).unwrap();
    let volumes = volume_count(&emu).await;
    let (code, err) = keyless(&["apply", "--yes", plan_file.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("plan.json: the saved plan's contents"), "{err}");
    assert!(err.contains("unencrypted_volume"), "{err}");
    assert_eq!(volume_count(&emu).await, volumes, "no volume was made");
    assert!(!dir.join(format!("state/{STACK}.json")).exists(), "no state was written");
}

/// Every object in `bucket`: (key, ETag).
async fn objects(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<(String, String)> {
    let listed = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    let mut all: Vec<(String, String)> = listed
        .contents()
        .iter()
        .map(|o| (o.key().unwrap_or_default().to_string(), o.e_tag().unwrap_or_default().to_string()))
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journal_object_added_to_the_bucket_by_a_stranger_is_refused_and_nothing_is_written() {
    use aws_sdk_s3::primitives::ByteStream;
    const BUCKET: &str = "tamper-state";
    let emu = Emulator::start();
    let project = project(&format!("{ONE_VOLUME}\n[backend.s3]\nbucket = \"{BUCKET}\"\nkey_prefix = \"infra/\"\n"));
    let dir = project.path();
    ok(&emu, dir, &["backend", "bootstrap"]);
    ok(&emu, dir, &["apply", "--yes"]);
    let s3 = common::s3_client(&emu).await;
    let got = s3.get_object().bucket(BUCKET).key(format!("infra/{STACK}.json")).send().await.unwrap();
    let state: serde_json::Value = serde_json::from_slice(&got.body.collect().await.unwrap().into_bytes()).unwrap();
    assert!(state["mac"]["tag"].is_string(), "{state}");
    let (serial, lineage) = (state["serial"].as_u64().unwrap(), state["lineage"].as_str().unwrap().to_string());
    // Anyone with PutObject on the prefix: the next journal objects, which
    // every later command on every machine would replay.
    let header =
        format!("{{\"journal\":1,\"stack\":\"{STACK}\",\"lineage\":\"{lineage}\",\"base_serial\":{serial}}}\n");
    let entry = format!(
        "{{\"serial\":{},\"resources\":{{\"data\":{{\"type\":\"ec2.volume\",\"id\":\"vol-0123456789abcdef0\"}}}}}}\n",
        serial + 1
    );
    for (at, body) in [(serial, header), (serial + 1, entry)] {
        let key = format!("infra/{STACK}.journal/{at:020}");
        s3.put_object().bucket(BUCKET).key(key).body(ByteStream::from(body.into_bytes())).send().await.unwrap();
    }
    let before = objects(&s3, BUCKET).await;
    let volumes = volume_count(&emu).await;
    let expected = format!(
        "s3://{BUCKET}/infra/{STACK}.journal/{serial:020}: line 1 carries no MAC: a line was added, removed, \
         reordered or changed outside infra"
    );
    for args in [&["plan"][..], &["apply", "--yes"], &["destroy", "--yes"]] {
        let (code, out, err) = run_infra(&emu, dir, args);
        assert_eq!(code, 1, "infra {args:?} must be refused:\n{out}\n{err}");
        assert!(err.contains(&expected), "infra {args:?}: expected {expected:?} in:\n{err}");
        assert_eq!(objects(&s3, BUCKET).await, before, "infra {args:?} wrote nothing to the bucket");
        assert_eq!(volume_count(&emu).await, volumes, "infra {args:?} made no volume");
    }
}
