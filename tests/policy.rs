//! `infra policy` without AWS: the dev stack's policies pinned as golden files
//! (`tests/golden/policy/`, `UPDATE_GOLDEN=1` rewrites them), the read-only
//! promise of `--for drift` and `--for plan`, the `*` rules of `--for apply`,
//! and the declarations' own shape.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use infra::model::calls::{self, On};
use infra::model::{Kind, Stack};
use infra::permissions::{self, For, Policy};

const ACCOUNT: &str = "123456789012";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dev_stack() -> Stack {
    let sources = infra::config::Sources::fixed(".", &[("ELASTIC_PASSWORD", "x"), ("REDIS_PASSWORD", "y")]);
    infra::config::load_file_with(&root().join("stacks/dev.toml"), &sources).expect("the dev stack loads")
}

fn golden(name: &str, actual: &str) {
    let path = root().join("tests/golden/policy").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(actual, expected, "{} differs (UPDATE_GOLDEN=1 rewrites it)", path.display());
}

fn json(policy: &Policy) -> String {
    serde_json::to_string_pretty(&policy.to_json()).unwrap() + "\n"
}

#[test]
fn the_dev_stack_s_policies_are_pinned_as_golden_files() {
    let stack = dev_stack();
    for what in [For::Plan, For::Drift, For::Apply, For::Destroy, For::All] {
        let policy = permissions::policy(&stack, what, Some(ACCOUNT));
        golden(&format!("dev-{}.json", what.name()), &json(&policy));
    }
    let apply = permissions::policy(&stack, For::Apply, Some(ACCOUNT));
    golden("dev-apply.txt", &apply.to_text("dev", For::Apply));
}

#[test]
fn the_drift_and_plan_policies_hold_no_mutating_action() {
    let stack = dev_stack();
    for what in [For::Drift, For::Plan] {
        let policy = permissions::policy(&stack, what, Some(ACCOUNT));
        let mutating: Vec<&str> =
            policy.actions().into_iter().filter(|a| !infra::provider::stats::is_read(a)).collect();
        assert!(mutating.is_empty(), "--for {} allows {mutating:?}", what.name());
    }
}

#[test]
fn the_apply_policy_has_no_wildcard_action_and_a_reason_on_every_wildcard_resource() {
    let policy = permissions::policy(&dev_stack(), For::Apply, Some(ACCOUNT));
    for s in &policy.statements {
        assert!(s.actions.iter().all(|a| !a.contains('*')), "{}: {:?}", s.sid, s.actions);
        let any = s.resources.contains("*");
        assert_eq!(any, s.reason.is_some(), "{}: resources {:?}, reason {:?}", s.sid, s.resources, s.reason);
        if any {
            assert_eq!(s.resources.len(), 1, "{}: `*` beside narrower resources", s.sid);
        }
    }
    // Roles are passed only to the services their trust policies name.
    let pass: Vec<_> = policy.statements.iter().filter(|s| s.actions.contains("iam:PassRole")).collect();
    let mut passed: Vec<(&str, &str)> = pass
        .iter()
        .flat_map(|s| {
            let service = s.conditions["StringEquals"]["iam:PassedToService"][0].as_str();
            s.resources.iter().map(move |r| (r.rsplit('/').next().unwrap(), service))
        })
        .collect();
    passed.sort();
    assert_eq!(
        passed,
        [
            ("dev-app_instance_role*", "ec2.amazonaws.com"),
            ("dev-build_role*", "codebuild.amazonaws.com"),
            ("dev-eb_service_role*", "elasticbeanstalk.amazonaws.com"),
            ("dev-pipeline_role*", "codepipeline.amazonaws.com"),
            ("dev-source_events_role*", "events.amazonaws.com"),
        ]
    );
    for s in pass {
        assert!(s.resources.iter().all(|r| r.starts_with("arn:aws:iam::123456789012:role/dev-")), "{s:?}");
        assert!(s.conditions["StringEquals"].contains_key("iam:PassedToService"), "{s:?}");
    }
}

#[test]
fn the_dev_stack_s_apply_policy_fits_an_inline_role_policy() {
    // IAM counts a policy's characters without whitespace: at most 10,240 for
    // a role's inline policy (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
    for what in [For::Apply, For::All, For::Drift] {
        let text = serde_json::to_string(&permissions::policy(&dev_stack(), what, Some(ACCOUNT)).to_json()).unwrap();
        let size = text.chars().filter(|c| !c.is_whitespace()).count();
        assert!(size <= 10_240, "--for {}: {size} characters", what.name());
    }
}

#[test]
fn the_stack_s_own_resources_are_allowed_and_another_stack_s_are_not() {
    let policy = permissions::policy(&dev_stack(), For::Apply, Some(ACCOUNT));
    let mine = "arn:aws:iam::123456789012:role/dev-build_role";
    let theirs = "arn:aws:iam::123456789012:role/prod-build_role";
    assert!(policy.allows("iam:DeleteRole", mine));
    assert!(!policy.allows("iam:DeleteRole", theirs));
    assert!(policy.allows("s3:DeleteBucket", "arn:aws:s3:::dev-artifacts-0a1b2c3d"));
    assert!(!policy.allows("s3:DeleteBucket", "arn:aws:s3:::acme-infra-state"));
    assert!(policy.allows("ssm:PutParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/dev/redis_password"));
    assert!(!policy.allows("ssm:PutParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/prod/redis_password"));
}

#[test]
fn an_s3_backend_adds_its_state_objects_and_only_reads_them_for_drift() {
    let mut stack = dev_stack();
    stack.backend = Some(infra::model::Backend::S3 {
        bucket: "acme-infra-state".into(),
        key_prefix: "infra/".into(),
        region: None,
        expected_owner: None,
        kms_key_id: None,
    });
    let apply = permissions::policy(&stack, For::Apply, Some(ACCOUNT));
    assert!(apply.allows("s3:PutObject", "arn:aws:s3:::acme-infra-state/infra/dev.lock"));
    assert!(apply.allows("s3:DeleteObject", "arn:aws:s3:::acme-infra-state/infra/dev.journal/00000000000000000007"));
    assert!(!apply.allows("s3:PutObject", "arn:aws:s3:::acme-infra-state/infra/prod.json"));
    let drift = permissions::policy(&stack, For::Drift, Some(ACCOUNT));
    assert!(drift.allows("s3:GetObject", "arn:aws:s3:::acme-infra-state/infra/dev.json"));
    assert!(!drift.has_action("s3:PutObject") && !drift.has_action("s3:DeleteObject"));
}

#[test]
fn every_kind_declares_iam_actions_and_an_arn_wherever_a_call_acts_on_its_own() {
    for kind in Kind::ALL {
        let access = calls::access(*kind);
        assert!(!access.calls.is_empty(), "{kind} declares no call");
        for call in access.calls {
            for action in call.actions {
                let (service, name) = action.split_once(':').unwrap_or_else(|| panic!("{kind}: {action}"));
                assert!(
                    !service.is_empty() && name.chars().next().is_some_and(|c| c.is_ascii_uppercase()),
                    "{kind}: {action}"
                );
            }
            if call.on.contains(&On::Own) {
                assert!(
                    access.arn.starts_with("arn:{partition}:"),
                    "{kind}: {:?} on its own ARN, which it lacks",
                    call.actions
                );
            }
        }
    }
}

#[test]
fn infra_policy_prints_the_document_and_refuses_a_bad_account() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("stacks")).unwrap();
    std::fs::copy(root().join("stacks/dev.toml"), dir.path().join("stacks/dev.toml")).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_infra"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("ELASTIC_PASSWORD")
            .env_remove("REDIS_PASSWORD")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, err) =
        run(&["policy", "--stack", "dev", "--for", "drift", "--format", "json", "--account", ACCOUNT]);
    assert_eq!(code, Some(0), "{err}");
    let printed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed, permissions::policy(&dev_stack(), For::Drift, Some(ACCOUNT)).to_json());
    let (code, _, err) = run(&["policy", "--stack", "dev", "--account", "12345"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--account \"12345\" is not an AWS account id"), "{err}");
}

#[test]
fn a_stack_with_an_environment_names_elastic_beanstalk_s_managed_policy_beside_its_write_policies() {
    let dev = dev_stack();
    for what in [For::Apply, For::Destroy, For::All] {
        let policy = permissions::policy(&dev, what, Some(ACCOUNT));
        assert_eq!(policy.beside, [permissions::EB_ON_BEHALF], "{what:?}");
        assert!(policy.to_text("dev", what).contains("AdministratorAccess-AWSElasticBeanstalk"));
    }
    for what in [For::Plan, For::Drift] {
        assert!(permissions::policy(&dev, what, Some(ACCOUNT)).beside.is_empty(), "{what:?} reads only");
    }
    let mut no_environment = dev.clone();
    no_environment.resources.retain(|_, r| r.kind != Kind::EbEnvironment);
    assert!(permissions::policy(&no_environment, For::Apply, Some(ACCOUNT)).beside.is_empty());
}
