//! The S3 state backend on the emulator: a team's machines and its CI sharing
//! one stack's state through a bucket, safely.
//!
//! The emulator is moto, whose S3 honours `If-None-Match: *` and `If-Match` on
//! PutObject and `If-Match` on DeleteObject as AWS documents them
//! (tests/emulator/test_patches.py checks it). Each "machine" is a project
//! directory of its own with no local state; they share only the bucket.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::BucketVersioningStatus;
use common::{Emulator, FaultProxy, infra_command, run_infra, s3_client, s3_store};
use infra::state::s3::LEASE_VAR;
use infra::state::{State, StateError};

const BUCKET: &str = "team-state";
const PREFIX: &str = "infra/";
const STACK: &str = "team";

/// Three volumes: each create is one call and a wait, so two applies that
/// race over them fail only on state, never on AWS.
const RESOURCES: &str = r#"
[stack]
region = "us-east-1"

[resources.data_a]
type = "ec2.volume"
availability_zone = "us-east-1a"
size = 10

[resources.data_b]
type = "ec2.volume"
availability_zone = "us-east-1a"
size = 10

[resources.data_c]
type = "ec2.volume"
availability_zone = "us-east-1a"
size = 10
"#;

fn backend(bucket: &str) -> String {
    format!("\n[backend.s3]\nbucket = \"{bucket}\"\nkey_prefix = \"{PREFIX}\"\n")
}

/// A project directory ("a machine") whose only stack is the team's, with its
/// state in `bucket`, and no local state.
fn machine(bucket: &str) -> tempfile::TempDir {
    machine_with(&format!("{RESOURCES}{}", backend(bucket)))
}

fn machine_with(stack_file: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("infra-machine-").tempdir().unwrap();
    std::fs::create_dir(dir.path().join("stacks")).unwrap();
    std::fs::write(dir.path().join(format!("stacks/{STACK}.toml")), stack_file).unwrap();
    dir
}

fn ok(what: &str, out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "{what}: infra failed (exit {}):\nstdout:\n{}\nstderr:\n{}", out.0, out.1, out.2);
    out.1
}

/// A command that must fail with exit 1 and an error containing `message`.
fn refused(what: &str, out: (i32, String, String), message: &str) {
    assert_eq!(out.0, 1, "{what}: expected exit 1:\nstdout:\n{}\nstderr:\n{}", out.1, out.2);
    assert!(out.2.contains(message), "{what}: expected an error saying {message:?}, got:\n{}", out.2);
    assert!(!out.2.contains("panicked"), "{what}: {}", out.2);
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The bucket's objects: key -> ETag.
async fn objects(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<(String, String)> {
    let out = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    out.contents().iter().map(|o| (o.key().unwrap().to_string(), o.e_tag().unwrap_or_default().to_string())).collect()
}

async fn object_text(s3: &aws_sdk_s3::Client, key: &str) -> String {
    let out = s3.get_object().bucket(BUCKET).key(key).send().await.unwrap();
    String::from_utf8(out.body.collect().await.unwrap().to_vec()).unwrap()
}

/// The ids of the volumes tagged as the team stack's, by `infra:name`.
async fn volumes(emu: &Emulator) -> Vec<(String, String)> {
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
    let filter = aws_sdk_ec2::types::Filter::builder().name("tag:infra:stack").values(STACK).build();
    let out = ec2.describe_volumes().filters(filter).send().await.unwrap();
    let mut found: Vec<(String, String)> = out
        .volumes()
        .iter()
        .map(|v| {
            let name = v.tags().iter().find(|t| t.key() == Some("infra:name")).and_then(|t| t.value());
            (name.unwrap_or("untagged").to_string(), v.volume_id().unwrap().to_string())
        })
        .collect();
    found.sort();
    found
}

/// Exactly one volume per declared name, each the one state records.
async fn assert_state_matches_aws(emu: &Emulator, state: &State, when: &str) {
    let live = volumes(emu).await;
    let names: Vec<&str> = live.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["data_a", "data_b", "data_c"], "{when}: not exactly one of each volume: {live:?}");
    let recorded: Vec<(String, String)> = state.resources.iter().map(|(n, r)| (n.clone(), r.id.clone())).collect();
    assert_eq!(recorded, live, "{when}: state records other volumes than the emulator holds");
    assert!(state.pending.is_empty(), "{when}: pending operations left: {:?}", state.pending);
}

/// A recorded volume.
fn volume(id: &str) -> infra::state::Recorded {
    infra::state::Recorded {
        kind: infra::model::Kind::Volume,
        id: id.into(),
        props: Default::default(),
        outputs: Default::default(),
        depends_on: vec![],
        protect: false,
    }
}

async fn create_plain_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
}

// --- bootstrap -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_creates_a_versioned_encrypted_private_bucket_and_running_it_again_changes_nothing() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;
    let dir = machine(BUCKET);

    let out = ok("bootstrap", run_infra(&emu, dir.path(), &["backend", "bootstrap"]));
    assert!(out.contains("Created bucket `team-state`"), "{out}");
    let versioning = s3.get_bucket_versioning().bucket(BUCKET).send().await.unwrap();
    assert_eq!(versioning.status(), Some(&BucketVersioningStatus::Enabled));
    common::assert_bucket_encrypted_and_private(&s3, BUCKET).await;
    assert_tls_only_and_owner_enforced(&s3, BUCKET).await;

    let again = ok("bootstrap again", run_infra(&emu, dir.path(), &["backend", "bootstrap"]));
    assert!(again.contains("Bucket `team-state` exists."), "{again}");
    assert_eq!(again.matches("  already  ").count(), 5, "{again}");
    assert!(!again.contains("  set  "), "{again}");
    // The bucket is not a resource of the stack.
    ok("apply", run_infra(&emu, dir.path(), &["apply", "--yes"]));
    let listed = ok("state list", run_infra(&emu, dir.path(), &["state", "list"]));
    assert!(!listed.contains(BUCKET), "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_refuses_an_existing_bucket_without_versioning_unless_told_to_fix_it() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;
    create_plain_bucket(&s3, BUCKET).await;
    let dir = machine(BUCKET);

    refused(
        "bootstrap of a weak bucket",
        run_infra(&emu, dir.path(), &["backend", "bootstrap"]),
        "bucket `team-state` exists without versioning enabled",
    );
    let versioning = s3.get_bucket_versioning().bucket(BUCKET).send().await.unwrap();
    assert_eq!(versioning.status(), None, "a refused bootstrap changes nothing");

    let out = ok("bootstrap --fix", run_infra(&emu, dir.path(), &["backend", "bootstrap", "--fix"]));
    assert!(out.contains("  set      versioning enabled"), "{out}");
    let versioning = s3.get_bucket_versioning().bucket(BUCKET).send().await.unwrap();
    assert_eq!(versioning.status(), Some(&BucketVersioningStatus::Enabled));
}

/// Asserts that `bucket`'s policy denies every request without TLS (AWS's
/// `aws:SecureTransport` example) and that its objects are the bucket owner's
/// (ACLs disabled). Returns the policy's statements.
async fn assert_tls_only_and_owner_enforced(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<serde_json::Value> {
    let policy = s3.get_bucket_policy().bucket(bucket).send().await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let statements = policy["Statement"].as_array().unwrap().clone();
    let arn = format!("arn:aws:s3:::{bucket}");
    let tls = statements
        .iter()
        .find(|st| st["Condition"]["Bool"]["aws:SecureTransport"] == "false")
        .unwrap_or_else(|| panic!("{bucket}: no statement on aws:SecureTransport: {policy}"));
    assert_eq!(
        (tls["Effect"].as_str(), tls["Principal"].as_str(), tls["Action"].as_str()),
        (Some("Deny"), Some("*"), Some("s3:*"))
    );
    assert_eq!(tls["Resource"], serde_json::json!([arn, format!("{arn}/*")]), "{policy}");
    let controls = s3.get_bucket_ownership_controls().bucket(bucket).send().await.unwrap();
    let rules = controls.ownership_controls().unwrap().rules();
    assert_eq!(rules[0].object_ownership(), &aws_sdk_s3::types::ObjectOwnership::BucketOwnerEnforced);
    statements
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_fix_adds_tls_only_and_owner_enforced_keeping_a_policys_other_statements() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;
    create_plain_bucket(&s3, BUCKET).await;
    let reader = serde_json::json!({
        "Sid": "CiReads",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{BUCKET}/*"),
    });
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [reader.clone()]});
    s3.put_bucket_policy().bucket(BUCKET).policy(policy.to_string()).send().await.unwrap();
    let dir = machine(BUCKET);

    let (code, out, err) = run_infra(&emu, dir.path(), &["backend", "bootstrap"]);
    assert_eq!(code, 1, "{out}\n{err}");
    for missing in [
        "versioning enabled",
        "a bucket policy denying requests without TLS",
        "object ownership BucketOwnerEnforced (ACLs disabled)",
    ] {
        assert!(err.contains(missing), "the refusal does not name {missing:?}:\n{err}");
    }
    let out = ok("bootstrap --fix", run_infra(&emu, dir.path(), &["backend", "bootstrap", "--fix"]));
    assert_eq!(out.matches("  set      ").count(), 5, "{out}");
    let statements = assert_tls_only_and_owner_enforced(&s3, BUCKET).await;
    assert_eq!(statements.len(), 2, "{statements:?}");
    assert!(statements.contains(&reader), "the bucket's own statement is kept as it was: {statements:?}");
    let again = ok("bootstrap again", run_infra(&emu, dir.path(), &["backend", "bootstrap"]));
    assert_eq!(again.matches("  already  ").count(), 5, "{again}");
    // The stack works in the hardened bucket.
    ok("apply", run_infra(&emu, dir.path(), &["apply", "--yes"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_with_a_kms_key_sets_sse_kms_with_a_bucket_key_and_checks_it_on_an_existing_bucket() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;
    // S3 takes the key's word for it here; AWS would check the key exists.
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".to_string();
    let dir = machine(BUCKET);

    // A bucket bootstrapped with SSE-S3 lacks the key the stack now names.
    ok("bootstrap", run_infra(&emu, dir.path(), &["backend", "bootstrap"]));
    let with_key = format!("{RESOURCES}{}kms_key_id = \"{key}\"\n", backend(BUCKET));
    std::fs::write(dir.path().join(format!("stacks/{STACK}.toml")), with_key).unwrap();
    refused(
        "bootstrap of an SSE-S3 bucket with kms_key_id",
        run_infra(&emu, dir.path(), &["backend", "bootstrap"]),
        &format!("exists without default encryption with KMS key `{key}` and a bucket key"),
    );
    let out = ok("bootstrap --fix", run_infra(&emu, dir.path(), &["backend", "bootstrap", "--fix"]));
    assert!(out.contains(&format!("  set      default encryption with KMS key `{key}`")), "{out}");
    let enc = s3.get_bucket_encryption().bucket(BUCKET).send().await.unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    let default = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!(default.sse_algorithm(), &aws_sdk_s3::types::ServerSideEncryption::AwsKms);
    assert_eq!(default.kms_master_key_id(), Some(key.as_str()));
    assert_eq!(rule.bucket_key_enabled(), Some(true));

    // --kms-key-id names it on the command line, for a new bucket.
    let other = machine("team-state-kms");
    let out =
        ok("bootstrap --kms-key-id", run_infra(&emu, other.path(), &["backend", "bootstrap", "--kms-key-id", &key]));
    assert!(out.contains("Created bucket `team-state-kms`"), "{out}");
    let enc = s3.get_bucket_encryption().bucket("team-state-kms").send().await.unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(rule.apply_server_side_encryption_by_default().unwrap().kms_master_key_id(), Some(key.as_str()));
}

// --- the bucket's owner ----------------------------------------------------

/// An account other than the emulator's default one.
const OTHER_ACCOUNT: &str = "111122223333";

/// An S3 client acting in `account`: moto's multi-account switch, STS
/// AssumeRole into a role of that account.
async fn s3_client_of(emu: &Emulator, account: &str) -> aws_sdk_s3::Client {
    let config = emu.sdk_config().await;
    let sts = aws_sdk_sts::Client::new(&config);
    let role = format!("arn:aws:iam::{account}:role/state-owner");
    let out = sts.assume_role().role_arn(role).role_session_name("other-account").send().await.unwrap();
    let c = out.credentials().unwrap();
    let creds = aws_sdk_s3::config::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "assumed-role",
    );
    let s3 = aws_sdk_s3::config::Builder::from(&config).credentials_provider(creds).force_path_style(true).build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// The emulator's request log lines for `bucket` since `from` (a length of its log).
fn requests_for(emu: &Emulator, bucket: &str, from: usize) -> Vec<String> {
    let log = emu.stderr();
    log[from.min(log.len())..].lines().filter(|l| l.contains(&format!(" /{bucket}"))).map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backend_bucket_owned_by_another_account_is_refused_before_anything_is_read() {
    let emu = Emulator::start();
    let theirs = s3_client_of(&emu, OTHER_ACCOUNT).await;
    theirs.create_bucket().bucket(BUCKET).send().await.unwrap();
    let enabled = aws_sdk_s3::types::VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    theirs.put_bucket_versioning().bucket(BUCKET).versioning_configuration(enabled).send().await.unwrap();
    theirs
        .put_object()
        .bucket(BUCKET)
        .key("infra/team.json")
        .body(ByteStream::from_static(b"theirs"))
        .send()
        .await
        .unwrap();
    let versions = || async {
        let out = theirs.list_object_versions().bucket(BUCKET).send().await.unwrap();
        (out.versions().len(), out.delete_markers().len())
    };
    let before = versions().await;

    // The credentials' account (the emulator's default) is not the owner.
    let dir = machine(BUCKET);
    let from = emu.stderr().len();
    let ours = "bucket `team-state` is not owned by account 123456789012 (the account of these credentials)";
    for command in [&["plan"][..], &["apply", "--yes"], &["state", "list"], &["backend", "bootstrap", "--fix"]] {
        refused(&format!("{command:?} on another account's bucket"), run_infra(&emu, dir.path(), command), ours);
    }
    // Nor the account `expected_owner` names.
    let named = machine_with(&format!("{RESOURCES}{}expected_owner = \"123456789012\"\n", backend(BUCKET)));
    refused(
        "plan with expected_owner",
        run_infra(&emu, named.path(), &["plan"]),
        "is not owned by account 123456789012 (`expected_owner` in [backend.s3])",
    );
    let requests = requests_for(&emu, BUCKET, from);
    assert!(!requests.is_empty(), "no request reached the bucket");
    for line in &requests {
        assert!(line.contains("\" 403 "), "a request on another account's bucket was answered: {line}");
    }
    assert_eq!(versions().await, before, "nothing was written to their bucket");
    assert!(volumes(&emu).await.is_empty(), "nothing was created");

    // Naming the owner's account passes the condition (the emulator lets any
    // account in): their state object is read, and is no state of ours.
    let owner = machine_with(&format!("{RESOURCES}{}expected_owner = \"{OTHER_ACCOUNT}\"\n", backend(BUCKET)));
    refused("plan naming the owner", run_infra(&emu, owner.path(), &["plan"]), "not a valid state file");
}

// --- two machines ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_second_machine_without_local_state_plans_nothing_after_the_first_applies_and_sees_drift() {
    let emu = Emulator::start();
    let (first, second) = (machine(BUCKET), machine(BUCKET));
    ok("bootstrap", run_infra(&emu, first.path(), &["backend", "bootstrap"]));
    ok("apply on the first machine", run_infra(&emu, first.path(), &["apply", "--yes"]));
    assert!(!first.path().join("state").exists(), "no local state is written with a backend");

    let (code, out, err) = run_infra(&emu, second.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "the second machine plans changes:\n{out}\n{err}");
    assert!(out.contains("No changes"), "{out}");
    let listed = ok("state list", run_infra(&emu, second.path(), &["state", "list"]));
    assert_eq!(listed.lines().count(), 3, "{listed}");

    // Out of band: somebody changes a volume's type in the console.
    let ec2 = aws_sdk_ec2::Client::new(&emu.sdk_config().await);
    let state = s3_store(&s3_client(&emu).await, BUCKET, PREFIX, STACK).load().unwrap();
    ec2.modify_volume()
        .volume_id(&state.resources["data_b"].id)
        .volume_type(aws_sdk_ec2::types::VolumeType::Gp2)
        .send()
        .await
        .unwrap();
    let (code, out, err) = run_infra(&emu, second.path(), &["drift"]);
    assert_eq!(code, 2, "drift from the second machine:\n{out}\n{err}");
    assert!(out.contains("data_b") && out.contains("volume_type"), "{out}");
    assert!(!second.path().join("state").exists());
}

// --- locking and lost updates ----------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn two_applies_started_together_on_two_machines_one_waits_for_the_other_naming_it_then_finds_nothing_to_do() {
    let emu = Emulator::start();
    let (first, second) = (machine(BUCKET), machine(BUCKET));
    ok("bootstrap", run_infra(&emu, first.path(), &["backend", "bootstrap"]));
    // 100 ms a call: each apply lasts seconds, so the two overlap. A lease
    // longer than either apply: the waiter waits for the holder to finish.
    let far = FaultProxy::with_latency(&emu, 100);
    let apply = |dir: &std::path::Path| {
        infra_command(&far.endpoint, dir, &["apply", "--yes"]).env(LEASE_VAR, "60").spawn().unwrap()
    };
    let (a, b) = (apply(first.path()), apply(second.path()));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!((a.status.code(), b.status.code()), (Some(0), Some(0)), "first:\n{}\nsecond:\n{}", text(&a), text(&b));

    let waited = |o: &Output| String::from_utf8_lossy(&o.stderr).contains("waiting for it to finish");
    let (winner, waiter) = match (waited(&a), waited(&b)) {
        (false, true) => (&a, &b),
        (true, false) => (&b, &a),
        other => panic!("exactly one apply waits: {other:?}\nfirst:\n{}\nsecond:\n{}", text(&a), text(&b)),
    };
    let waited = String::from_utf8_lossy(&waiter.stderr);
    assert!(waited.contains("stack `team` is locked by `infra apply` (pid "), "{waited}");
    assert!(waited.contains("or for its lease to lapse unrenewed at "), "{waited}");
    assert!(!waited.contains("took over"), "a live holder's lock is not taken over: {waited}");
    assert!(text(winner).contains("Apply complete"), "{}", text(winner));
    assert!(String::from_utf8_lossy(&waiter.stdout).contains("No changes"), "{}", text(waiter));

    let s3 = s3_client(&emu).await;
    let keys: Vec<String> = objects(&s3, BUCKET).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["infra/team.json"], "the lock is released and the journal folded in");
    let state = s3_store(&s3, BUCKET, PREFIX, STACK).load().unwrap();
    assert_state_matches_aws(&emu, &state, "after the race").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_lock_broken_by_hand_at_most_one_of_two_applies_writes_and_the_state_still_matches_aws() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;
    let (first, second) = (machine(BUCKET), machine(BUCKET));
    ok("bootstrap", run_infra(&emu, first.path(), &["backend", "bootstrap"]));

    // The first apply runs from far away; once its volumes exist, and while it
    // is still recording them, somebody deletes its lock and the second
    // machine applies.
    let far = FaultProxy::with_latency(&emu, 1000);
    let slow = infra_command(&far.endpoint, first.path(), &["apply", "--yes"]).spawn().unwrap();
    let started = Instant::now();
    while volumes(&emu).await.len() < 3 {
        assert!(started.elapsed() < Duration::from_secs(60), "the first apply created no volumes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s3.delete_object().bucket(BUCKET).key("infra/team.lock").send().await.unwrap();
    let fast = run_infra(&emu, second.path(), &["apply", "--yes"]);
    let slow = slow.wait_with_output().unwrap();

    // Usually the second finds the first's volumes by their tags and records
    // them, and the first's next write is refused: its lease renewal found
    // its lock gone (or the second's), or its write met a state it had not read.
    // On a slow machine the first may finish before the second writes, and
    // then it is the second's write that is refused, or (if it read the state
    // only once the first was done) it has nothing to write. Whichever the
    // order: never both writes, and a refused one says why.
    let conflict = "s3://team-state/infra/team.json: another command wrote it since this one read it";
    let slow_err = String::from_utf8_lossy(&slow.stderr).into_owned();
    let outcomes = (slow.status.code(), fast.0);
    let adopted = fast.1.contains("[adopt: found in AWS by its tags");
    match outcomes {
        (Some(1), 0) => {
            let lost = "not written: this command's lock (s3://team-state/infra/team.lock) was taken over";
            let refused = slow_err.contains(conflict) || slow_err.contains(lost);
            assert!(refused && adopted, "the first:\n{slow_err}\nthe second:\n{}", fast.1)
        }
        (Some(0), 1) => assert!(fast.2.contains(conflict), "the second:\n{}", fast.2),
        (Some(0), 0) => assert!(!adopted, "both wrote:\n{}\n{}", text(&slow), fast.1),
        other => panic!("exits {other:?}:\nthe first:\n{}\nthe second:\n{}\n{}", text(&slow), fast.1, fast.2),
    }
    eprintln!("exits (first, second): {outcomes:?}");
    let state = s3_store(&s3, BUCKET, PREFIX, STACK).load().unwrap();
    assert_state_matches_aws(&emu, &state, "after both").await;
    let (code, out, err) = run_infra(&emu, second.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "a plan after both:\n{out}\n{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_write_over_one_another_command_made_meanwhile_fails_and_overwrites_nothing() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;
    ok("bootstrap", run_infra(&emu, machine(BUCKET).path(), &["backend", "bootstrap"]));
    let (mine, theirs) = (s3_store(&s3, BUCKET, PREFIX, STACK), s3_store(&s3, BUCKET, PREFIX, STACK));

    // Both read "no state"; the first write wins, the second is refused.
    let (mut a, mut b) = (mine.load().unwrap(), theirs.load().unwrap());
    theirs.save(&mut b).unwrap();
    let written = objects(&s3, BUCKET).await;
    let err = mine.save(&mut a).unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    assert_eq!(objects(&s3, BUCKET).await, written, "nothing was overwritten");

    // After reading again, the write goes through.
    let mut a = mine.load().unwrap();
    mine.save(&mut a).unwrap();
    assert_eq!(s3_store(&s3, BUCKET, PREFIX, STACK).load().unwrap().serial, a.serial);
    // And now the other's copy is the stale one. (Were it the very state in
    // the bucket, the write would be taken for a retry of one that landed.)
    b.resources.insert("data_a".into(), volume("vol-1"));
    let err = theirs.save(&mut b).unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_whose_state_another_command_replaced_cannot_write_its_journal_over_it_nor_its_last_state() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;
    ok("bootstrap", run_infra(&emu, machine(BUCKET).path(), &["backend", "bootstrap"]));
    let (mine, theirs) = (s3_store(&s3, BUCKET, PREFIX, STACK), s3_store(&s3, BUCKET, PREFIX, STACK));

    let mut state = mine.load().unwrap();
    let mut journal = mine.begin(&mut state).unwrap();
    journal.record(&mut state, &["data_a"]).unwrap();
    // The other command reads the journal so far, writes the state anew and
    // starts a journal of its own.
    let mut other = theirs.load().unwrap();
    assert_eq!(other.serial, state.serial, "a load replays the journal");
    let mut their_journal = theirs.begin(&mut other).unwrap();
    let written = objects(&s3, BUCKET).await;
    // Our next line is under the serial their journal starts at.
    let err = journal.record(&mut state, &["data_b"]).unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    let err = journal.finish(&mut state).unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    assert_eq!(objects(&s3, BUCKET).await, written, "nothing was overwritten");
    their_journal.record(&mut other, &["data_c"]).unwrap();
    their_journal.finish(&mut other).unwrap();
    assert_eq!(theirs.load().unwrap(), other);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lock_object_names_its_holder_and_only_its_id_removes_it() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;
    let dir = machine(BUCKET);
    ok("bootstrap", run_infra(&emu, dir.path(), &["backend", "bootstrap"]));
    // A short lease: a waiter gives up after two of them and a grace.
    let store = s3_store(&s3, BUCKET, PREFIX, STACK).with_lock_lease(Duration::from_secs(1));

    let held = store.lock("apply").unwrap();
    let holder = serde_json::from_str::<serde_json::Value>(&object_text(&s3, "infra/team.lock").await).unwrap();
    for field in ["id", "pid", "host", "user", "started", "command", "lease_secs", "renewed"] {
        assert!(holder.get(field).is_some(), "the lock object has no `{field}`: {holder}");
    }
    let waited = Instant::now();
    match store.lock("destroy").unwrap_err() {
        StateError::LockedRemote { holder, .. } => {
            assert_eq!(holder.id, held.info.id);
            assert!(holder.renewals > 0, "a live holder renews its lease: {holder:?}");
        }
        other => panic!("expected LockedRemote, got {other}"),
    }
    let waited = waited.elapsed();
    assert!(waited >= Duration::from_secs(2), "a waiter waits out two leases before giving up: {waited:?}");
    refused(
        "apply while locked",
        run_infra(&emu, dir.path(), &["apply", "--yes"]),
        &format!("lock id {})", held.info.id),
    );
    refused(
        "unlock with another id",
        run_infra(&emu, dir.path(), &["unlock", "--stack", STACK, "not-the-id"]),
        &format!("is locked under id {}, not not-the-id", held.info.id),
    );
    // The holder's machine vanished: the lock is removed by hand, with its id.
    let id = held.info.id.clone();
    std::mem::forget(held);
    let out = ok("unlock", run_infra(&emu, dir.path(), &["unlock", "--stack", STACK, &id]));
    assert!(out.contains(&format!("lock id {id}")), "{out}");
    assert!(objects(&s3, BUCKET).await.is_empty());
    refused("unlock again", run_infra(&emu, dir.path(), &["unlock", "--stack", STACK, &id]), "is not locked");

    // A released lock is gone; one that is no longer ours is left alone.
    drop(store.lock("apply").unwrap());
    assert!(objects(&s3, BUCKET).await.is_empty(), "a released lock is deleted");
    let mine = store.lock("apply").unwrap();
    s3.delete_object().bucket(BUCKET).key("infra/team.lock").send().await.unwrap();
    let theirs = s3_store(&s3, BUCKET, PREFIX, STACK).lock("apply").unwrap();
    drop(mine);
    let lock = object_text(&s3, "infra/team.lock").await;
    assert!(lock.contains(&theirs.info.id), "releasing a lock leaves another holder's lock: {lock}");
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_are_sealed_in_the_bucket_as_in_a_local_file() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;
    ok("bootstrap", run_infra(&emu, machine(BUCKET).path(), &["backend", "bootstrap"]));
    let store = s3_store(&s3, BUCKET, PREFIX, STACK);
    let mut state = State::default();
    let mut record = volume("vol-1");
    record.props.insert("password".to_string(), infra::model::Value::secret("hunter2-in-s3"));
    state.resources.insert("data_a".into(), record.clone());
    let mut journal = store.begin(&mut state).unwrap();
    state.resources.insert("data_b".into(), record);
    journal.record(&mut state, &["data_b"]).unwrap();
    for (key, _) in objects(&s3, BUCKET).await {
        let text = object_text(&s3, &key).await;
        assert!(!text.contains("hunter2"), "{key} holds the secret in plain text: {text}");
    }
    assert_eq!(store.load().unwrap(), state);
}

// --- the lock's lease -------------------------------------------------------

/// Waits until `ready` holds, polling, for at most a minute.
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut ready: impl FnMut() -> F) {
    let started = Instant::now();
    while !ready().await {
        assert!(started.elapsed() < Duration::from_secs(60), "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every version and delete marker in the bucket: (key, version id).
async fn versions(s3: &aws_sdk_s3::Client) -> Vec<(String, String)> {
    let out = s3.list_object_versions().bucket(BUCKET).send().await.unwrap();
    let mut all: Vec<(String, String)> = out
        .versions()
        .iter()
        .map(|v| (v.key().unwrap().to_string(), v.version_id().unwrap().to_string()))
        .chain(out.delete_markers().iter().map(|m| (m.key().unwrap().to_string(), m.version_id().unwrap().to_string())))
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn a_holder_killed_mid_apply_is_taken_over_once_its_lease_lapses_and_a_fresh_apply_converges_without_unlock() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;
    let (doomed, fresh) = (machine(BUCKET), machine(BUCKET));
    ok("bootstrap", run_infra(&emu, doomed.path(), &["backend", "bootstrap"]));

    // A CI runner that vanishes mid-apply (kill -9: no release, no renewal).
    let far = FaultProxy::with_latency(&emu, 300);
    let mut holder = infra_command(&far.endpoint, doomed.path(), &["apply", "--yes"]).spawn().unwrap();
    until("the holder created a volume", || async { !volumes(&emu).await.is_empty() }).await;
    assert!(holder.try_wait().unwrap().is_none(), "the apply finished before it could be killed");
    holder.kill().unwrap();
    holder.wait().unwrap();
    let lock = object_text(&s3, "infra/team.lock").await;
    assert!(lock.contains(&format!("\"lease_secs\": {}", common::LOCK_LEASE_SECS)), "{lock}");

    // The next apply, from another machine, waits out the lease and takes over.
    let started = Instant::now();
    let (code, out, err) = run_infra(&emu, fresh.path(), &["apply", "--yes"]);
    let took = started.elapsed();
    assert_eq!(code, 0, "the next apply:\n{out}\n{err}");
    assert!(err.contains("stack `team` is locked by `infra apply` (pid "), "{err}");
    assert!(err.contains("took over the lock of stack `team`"), "{err}");
    assert!(err.contains("whose lease of 3 s went unrenewed"), "{err}");
    assert!(took >= Duration::from_secs(3), "the lease was not waited out: took over after {took:?}");
    eprintln!("took over and applied in {took:?}");

    let keys: Vec<String> = objects(&s3, BUCKET).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["infra/team.json"], "the lock is released and the journal folded in");
    let state = s3_store(&s3, BUCKET, PREFIX, STACK).load().unwrap();
    assert_state_matches_aws(&emu, &state, "after the takeover").await;
    let (code, out, err) = run_infra(&emu, fresh.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "a plan after the takeover:\n{out}\n{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_holder_resumed_after_a_takeover_writes_nothing() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;
    let (paused, fresh) = (machine(BUCKET), machine(BUCKET));
    ok("bootstrap", run_infra(&emu, paused.path(), &["backend", "bootstrap"]));

    // Paused (SIGSTOP: a laptop's lid closed, a VM frozen) once its volumes
    // exist, while it is recording them.
    let far = FaultProxy::with_latency(&emu, 500);
    let holder = infra_command(&far.endpoint, paused.path(), &["apply", "--yes"]).spawn().unwrap();
    let pid = i32::try_from(holder.id()).unwrap();
    until("the holder created every volume", || async { volumes(&emu).await.len() == 3 }).await;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    let mut holder = holder;
    assert!(holder.try_wait().unwrap().is_none(), "the apply finished before it could be paused");

    let (code, out, err) = run_infra(&emu, fresh.path(), &["apply", "--yes"]);
    assert_eq!(code, 0, "the apply that takes over:\n{out}\n{err}");
    assert!(err.contains("took over the lock of stack `team`"), "{err}");
    let before = versions(&s3).await;

    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    let resumed = holder.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(1), "the resumed holder:\n{}", text(&resumed));
    assert!(said.contains("was taken over by another command, or its lease of 3 s lapsed"), "{said}");
    assert_eq!(versions(&s3).await, before, "the resumed holder wrote to the bucket");
    let state = s3_store(&s3, BUCKET, PREFIX, STACK).load().unwrap();
    assert_state_matches_aws(&emu, &state, "after the resumed holder stopped").await;
}

/// A lock object as a holder that vanished left it: `lease_secs`, never renewed.
fn vanished_lock(lease_secs: u64) -> String {
    format!(
        r#"{{"id":"vanished","pid":4242,"host":"ci-runner-7","user":"ci","started":"2026-12-01T10:00:00Z","command":"apply","lease_secs":{lease_secs}}}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn takers_racing_for_a_lapsed_lease_exactly_one_wins_and_the_others_name_it() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;
    ok("bootstrap", run_infra(&emu, machine(BUCKET).path(), &["backend", "bootstrap"]));
    s3.put_object()
        .bucket(BUCKET)
        .key("infra/team.lock")
        .body(ByteStream::from(vanished_lock(1).into_bytes()))
        .send()
        .await
        .unwrap();

    let takers: Vec<_> =
        (0..4).map(|_| s3_store(&s3, BUCKET, PREFIX, STACK).with_lock_lease(Duration::from_secs(2))).collect();
    let outcomes: Vec<Result<infra::state::Lock, StateError>> = std::thread::scope(|scope| {
        let running: Vec<_> = takers.iter().map(|t| scope.spawn(move || t.lock("apply"))).collect();
        running.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let winners: Vec<&infra::state::Lock> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one taker wins: {outcomes:?}");
    let winner = &winners[0].info;
    for outcome in &outcomes {
        match outcome {
            Ok(_) => {}
            Err(StateError::LockedRemote { holder, .. }) => {
                assert_eq!(holder.id, winner.id, "a loser names the winner")
            }
            Err(other) => panic!("a loser failed otherwise: {other}"),
        }
    }
    let lock = object_text(&s3, "infra/team.lock").await;
    assert!(lock.contains(&winner.id), "the lock object is the winner's: {lock}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_holder_whose_lock_was_taken_over_fails_its_next_state_write_and_writes_nothing() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;
    ok("bootstrap", run_infra(&emu, machine(BUCKET).path(), &["backend", "bootstrap"]));
    let mine = s3_store(&s3, BUCKET, PREFIX, STACK).with_lock_lease(Duration::from_secs(1));
    let lock = mine.lock("apply").unwrap();
    let mut state = mine.load().unwrap();
    // Another command takes the lock object over.
    s3.put_object()
        .bucket(BUCKET)
        .key("infra/team.lock")
        .body(ByteStream::from(vanished_lock(60).into_bytes()))
        .send()
        .await
        .unwrap();
    // The holder's next renewal (a third of its lease) finds it.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before = versions(&s3).await;
    match mine.save(&mut state).unwrap_err() {
        StateError::LockLost { location, .. } => {
            assert_eq!(location.display().to_string(), "s3://team-state/infra/team.json")
        }
        other => panic!("expected LockLost, got {other}"),
    }
    assert!(matches!(mine.begin(&mut state), Err(StateError::LockLost { .. })), "nor a journal line");
    drop(lock);
    assert_eq!(versions(&s3).await, before, "nothing was written, and the other's lock is left alone");
}

// --- moving state ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn state_push_and_pull_move_state_to_the_bucket_and_back_refusing_newer_or_foreign_state() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;
    let dir = machine_with(RESOURCES);
    let stack_file = dir.path().join("stacks/team.toml");
    ok("local apply", run_infra(&emu, dir.path(), &["apply", "--yes"]));
    let local = common::store(dir.path(), STACK);
    let applied = local.load().unwrap();

    std::fs::write(&stack_file, format!("{RESOURCES}{}", backend(BUCKET))).unwrap();
    ok("bootstrap", run_infra(&emu, dir.path(), &["backend", "bootstrap"]));
    let out = ok("push", run_infra(&emu, dir.path(), &["state", "push"]));
    assert!(out.contains("from state/team.json to s3://team-state/infra/team.json"), "{out}");
    let remote = s3_store(&s3, BUCKET, PREFIX, STACK);
    let pushed = remote.load().unwrap();
    assert_eq!((pushed.resources.clone(), pushed.lineage.clone()), (applied.resources.clone(), applied.lineage));
    assert_eq!(pushed.serial, applied.serial + 1);
    let (code, out, err) = run_infra(&emu, dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "the plan from the bucket:\n{out}\n{err}");

    // The bucket moved on (another machine wrote): pushing the older local
    // state is refused.
    let mut newer = remote.load().unwrap();
    remote.save(&mut newer).unwrap();
    let before = objects(&s3, BUCKET).await;
    refused("push of an older state", run_infra(&emu, dir.path(), &["state", "push"]), "it is newer (serial");
    assert_eq!(objects(&s3, BUCKET).await, before);

    // Pull brings the newer state home, and refuses to overwrite a local
    // state of another lineage.
    let out = ok("pull", run_infra(&emu, dir.path(), &["state", "pull"]));
    assert!(out.contains("to state/team.json"), "{out}");
    let pulled = local.load().unwrap();
    assert_eq!((pulled.resources, pulled.serial), (newer.resources.clone(), newer.serial + 1));
    let path = dir.path().join("state/team.json");
    // Written with the key (an edit by hand would fail its MAC instead).
    let mut other_lineage = local.load().unwrap();
    other_lineage.lineage = Some("another-lineage".into());
    local.save(&mut other_lineage).unwrap();
    let foreign = std::fs::read_to_string(&path).unwrap();
    refused("pull over another lineage", run_infra(&emu, dir.path(), &["state", "pull"]), "another state (lineage");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), foreign, "a refused pull writes nothing");
    refused("push of another lineage", run_infra(&emu, dir.path(), &["state", "push"]), "another state (lineage");
    assert_eq!(objects(&s3, BUCKET).await, before);
}

// --- bad input -------------------------------------------------------------

/// Bad backends: each command fails before any change, naming the problem.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_unversioned_bucket_a_corrupt_state_object_or_a_foreign_journal_changes_nothing() {
    let emu = Emulator::start();
    let s3 = s3_client(&emu).await;

    let missing = machine("no-such-bucket");
    for command in [&["plan"][..], &["apply", "--yes"], &["state", "list"]] {
        refused(
            &format!("{command:?} with a missing bucket"),
            run_infra(&emu, missing.path(), command),
            "bucket `no-such-bucket` does not exist: create it with `infra backend bootstrap`",
        );
    }

    create_plain_bucket(&s3, "unversioned").await;
    let unversioned = machine("unversioned");
    for command in [&["plan"][..], &["apply", "--yes"]] {
        refused(
            &format!("{command:?} with an unversioned bucket"),
            run_infra(&emu, unversioned.path(), command),
            "bucket `unversioned` does not keep versions",
        );
    }
    assert!(objects(&s3, "unversioned").await.is_empty(), "nothing was written to the unversioned bucket");

    let dir = machine(BUCKET);
    ok("bootstrap", run_infra(&emu, dir.path(), &["backend", "bootstrap"]));
    s3.put_object()
        .bucket(BUCKET)
        .key("infra/team.json")
        .body(ByteStream::from_static(b"{\"version\": 1, \"ser"))
        .send()
        .await
        .unwrap();
    let before = objects(&s3, BUCKET).await;
    for command in [&["plan"][..], &["apply", "--yes"], &["state", "rm", "data_a"]] {
        refused(
            &format!("{command:?} with a corrupt state object"),
            run_infra(&emu, dir.path(), command),
            "s3://team-state/infra/team.json: not a valid state file",
        );
    }
    assert_eq!(objects(&s3, BUCKET).await, before, "a corrupt state is left as it is");
    s3.delete_object().bucket(BUCKET).key("infra/team.json").send().await.unwrap();

    // A journal object of another state's lineage where this state's journal
    // would begin.
    ok("apply", run_infra(&emu, dir.path(), &["apply", "--yes"]));
    let state = s3_store(&s3, BUCKET, PREFIX, STACK).load().unwrap();
    let header = format!(
        "{{\"journal\":1,\"stack\":\"team\",\"lineage\":\"another-lineage\",\"base_serial\":{}}}\n",
        state.serial
    );
    let key = format!("infra/team.journal/{:020}", state.serial);
    s3.put_object().bucket(BUCKET).key(&key).body(ByteStream::from(header.into_bytes())).send().await.unwrap();
    let before = objects(&s3, BUCKET).await;
    for command in [&["plan"][..], &["apply", "--yes"], &["destroy", "--yes"]] {
        refused(
            &format!("{command:?} with a foreign journal"),
            run_infra(&emu, dir.path(), command),
            "the journal extends a state of lineage another-lineage",
        );
    }
    assert_eq!(objects(&s3, BUCKET).await, before, "a foreign journal changes nothing");
    assert_eq!(volumes(&emu).await.len(), 3, "nothing was destroyed");
}

#[test]
fn a_backend_table_is_checked_before_any_aws_call() {
    let cases = [
        ("[backend.s4]\nbucket = \"b\"\n", "unknown backend `s4`"),
        ("[backend.s3]\nkey_prefix = \"x/\"\n", "[backend.s3] has no `bucket`"),
        ("[backend.s3]\nbucket = \"Team_State\"\n", "`Team_State` is not a valid S3 bucket name"),
        ("[backend.s3]\nbucket = \"team-state\"\nregion = 5\n", "expected a string"),
        ("[backend.s3]\nbucket = \"team-state\"\nprefix = \"x/\"\n", "unknown key `prefix` in [backend.s3]"),
        ("[backend.s3]\nbucket = \"team-state\"\nexpected_owner = \"12345\"\n", "`12345` is not an AWS account id"),
        ("[backend.s3]\nbucket = \"team-state\"\nexpected_owner = \"12345678901x\"\n", "team.toml:"),
    ];
    for (table, message) in cases {
        let dir = machine_with(&format!("{RESOURCES}\n{table}"));
        // No emulator: a call to AWS would fail otherwise than expected.
        let out = common::run_infra_via("http://127.0.0.1:9", dir.path(), &["plan"]);
        refused(table, out, message);
    }
}
