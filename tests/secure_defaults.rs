//! The dev stack's security defaults, applied on the emulator and read back through
//! the AWS SDK as a reviewer would read them on a real account:
//!
//! - no Elastic Beanstalk environment property, tag, build variable or state file holds a
//!   password: the environment names each password's SSM SecureString parameter by ARN
//!   (`aws:elasticbeanstalk:application:environmentsecrets`), and the value is read only
//!   through SSM's own API;
//! - the instance role may read those two parameters and no other, statement by statement
//!   (moto has no IAM policy simulation);
//! - the pipeline role has no managed policy, and every role an AWS service assumes for
//!   the stack names this account (`aws:SourceAccount`), except Elastic Beanstalk's
//!   service role (its documented `sts:ExternalId`);
//! - the artifact bucket denies requests without TLS, with its own ARN.

mod common;

use std::collections::BTreeSet;

use common::{ELASTIC_PASSWORD, Emulator, REDIS_PASSWORD, dev_project, run_infra};
use infra::model::kinds::iam_role::canonical_policy;
use serde_json::Value as Json;

/// moto's account id: what `${aws.account_id}` binds to on the emulator.
const ACCOUNT: &str = "123456789012";

fn ok(out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    out.1
}

fn state(dir: &std::path::Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(dir.join("state/dev.json")).unwrap()).unwrap()
}

fn output<'a>(state: &'a Json, resource: &str, attr: &str) -> &'a str {
    state["resources"][resource]["outputs"][attr].as_str().unwrap_or_else(|| panic!("{resource}.{attr}"))
}

/// A policy document as IAM returns it (URL-encoded JSON), decoded as infra reads it.
fn document(text: &str) -> Json {
    let canonical = canonical_policy(text).unwrap_or_else(|| panic!("not a policy: {text}"));
    serde_json::from_str(&canonical).unwrap()
}

fn statements(doc: &Json) -> Vec<Json> {
    match &doc["Statement"] {
        Json::Array(list) => list.clone(),
        one => vec![one.clone()],
    }
}

fn strings(v: &Json) -> BTreeSet<String> {
    match v {
        Json::String(s) => BTreeSet::from([s.clone()]),
        Json::Array(list) => list.iter().filter_map(Json::as_str).map(str::to_string).collect(),
        _ => BTreeSet::new(),
    }
}

/// Whether an action pattern of a policy covers `action` (`*` only, as IAM's, ignoring case).
fn covers(pattern: &str, action: &str) -> bool {
    let (pattern, action) = (pattern.to_ascii_lowercase(), action.to_ascii_lowercase());
    match pattern.split_once('*') {
        None => pattern == action,
        Some((head, tail)) => action.starts_with(head) && action[head.len()..].ends_with(tail),
    }
}

/// Every policy document of a role: inline ones and the default version of each managed one.
async fn role_documents(iam: &aws_sdk_iam::Client, role: &str) -> (Vec<Json>, Vec<String>) {
    let mut docs = Vec::new();
    for name in iam.list_role_policies().role_name(role).send().await.unwrap().policy_names() {
        let policy = iam.get_role_policy().role_name(role).policy_name(name).send().await.unwrap();
        docs.push(document(policy.policy_document()));
    }
    let mut managed = Vec::new();
    for attached in iam.list_attached_role_policies().role_name(role).send().await.unwrap().attached_policies() {
        let arn = attached.policy_arn().unwrap().to_string();
        let policy = iam.get_policy().policy_arn(&arn).send().await.unwrap();
        let version = policy.policy().and_then(|p| p.default_version_id()).unwrap().to_string();
        let text = iam.get_policy_version().policy_arn(&arn).version_id(version).send().await.unwrap();
        docs.push(document(text.policy_version().and_then(|v| v.document()).unwrap()));
        managed.push(arn);
    }
    (docs, managed)
}

#[tokio::test]
async fn the_dev_stack_keeps_its_passwords_where_only_ssm_shows_them_and_its_roles_to_what_they_use() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    let config = emu.sdk_config().await;
    let (eb, iam, ssm) = (
        aws_sdk_elasticbeanstalk::Client::new(&config),
        aws_sdk_iam::Client::new(&config),
        aws_sdk_ssm::Client::new(&config),
    );
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());

    ok(run_infra(&emu, dir, &["apply", "--stack", "dev", "--yes"]));
    let recorded = state(dir);
    let passwords = [ELASTIC_PASSWORD, REDIS_PASSWORD];
    let text = std::fs::read_to_string(dir.join("state/dev.json")).unwrap();
    for password in passwords {
        assert!(!text.contains(password), "state holds a password in plain text");
    }

    // The environment's configuration: every value, as the console and
    // DescribeConfigurationSettings show it. No password; the secrets by ARN.
    let env_name = output(&recorded, "app_env", "name");
    let app_name = output(&recorded, "app", "name");
    let settings = eb
        .describe_configuration_settings()
        .application_name(app_name)
        .environment_name(env_name)
        .send()
        .await
        .unwrap();
    let options: Vec<(String, String, String)> = settings
        .configuration_settings()
        .iter()
        .flat_map(|c| c.option_settings())
        .map(|o| {
            let field = |v: Option<&str>| v.unwrap_or_default().to_string();
            (field(o.namespace()), field(o.option_name()), field(o.value()))
        })
        .collect();
    for (namespace, name, value) in &options {
        for password in passwords {
            assert!(!value.contains(password), "{namespace} {name} shows a password");
        }
    }
    let elastic_arn = output(&recorded, "elastic_password", "arn");
    let redis_arn = output(&recorded, "redis_password", "arn");
    let secret = |name: &str| {
        options
            .iter()
            .find(|(ns, n, _)| ns == "aws:elasticbeanstalk:application:environmentsecrets" && n == name)
            .map(|(_, _, v)| v.clone())
    };
    assert_eq!(secret("ELASTIC_PASSWORD").as_deref(), Some(elastic_arn));
    assert_eq!(secret("REDIS_PASSWORD").as_deref(), Some(redis_arn));
    assert!(elastic_arn.starts_with(&format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/")), "{elastic_arn}");
    assert!(
        !options
            .iter()
            .any(|(ns, n, _)| ns == "aws:elasticbeanstalk:application:environment" && n.ends_with("PASSWORD")),
        "no password is an environment property"
    );

    // Each password is a SecureString, readable through SSM's own API with decryption.
    for (arn, password) in [(elastic_arn, ELASTIC_PASSWORD), (redis_arn, REDIS_PASSWORD)] {
        let name = output(&recorded, if arn == elastic_arn { "elastic_password" } else { "redis_password" }, "name");
        let found = ssm.get_parameter().name(name).with_decryption(true).send().await.unwrap();
        let parameter = found.parameter().unwrap();
        assert_eq!(parameter.r#type().map(|t| t.as_str()), Some("SecureString"));
        assert_eq!(parameter.value(), Some(password));
        assert_eq!(parameter.arn(), Some(arn));
        let tags = ssm
            .list_tags_for_resource()
            .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .send()
            .await
            .unwrap();
        assert!(tags.tag_list().iter().all(|t| t.value() != password), "a tag holds a password");
    }

    // The instance role: it may read exactly the two parameters. Its own Allow names
    // them; the managed AmazonSSMManagedInstanceCore allows more, which its Deny takes back.
    let ours: BTreeSet<String> = [elastic_arn, redis_arn].map(str::to_string).into();
    let instance_role = output(&recorded, "app_instance_role", "name");
    let (docs, managed) = role_documents(&iam, instance_role).await;
    assert!(!managed.iter().any(|m| m.contains("MulticontainerDocker")), "no ECS policy: {managed:?}");
    let reads = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory"];
    let denied_elsewhere = |action: &str| {
        docs.iter().flat_map(statements).any(|s| {
            s["Effect"] == "Deny"
                && strings(&s["Action"]).iter().any(|a| covers(a, action))
                && strings(&s["NotResource"]) == ours
        })
    };
    for statement in docs.iter().flat_map(statements).filter(|s| s["Effect"] == "Allow") {
        let actions = strings(&statement["Action"]);
        for read in reads.iter().filter(|r| actions.iter().any(|a| covers(a, r))) {
            let resources = strings(&statement["Resource"]);
            assert!(
                resources.is_subset(&ours) || denied_elsewhere(read),
                "{read} is allowed on {resources:?} and not denied beyond the stack's parameters"
            );
        }
    }
    assert!(
        docs.iter().flat_map(statements).any(|s| s["Effect"] == "Allow"
            && strings(&s["Action"]).contains("ssm:GetParameter")
            && strings(&s["Resource"]) == ours),
        "the instance role may read the stack's two parameters"
    );
    // The data volume: attached to an instance launched with the stack's profile only.
    let attach = docs
        .iter()
        .flat_map(statements)
        .find(|s| strings(&s["Resource"]).iter().any(|r| r.contains(":instance/")))
        .expect("an AttachVolume statement on instances");
    assert_eq!(
        attach["Condition"]["ArnLike"]["ec2:InstanceProfile"],
        format!("arn:aws:iam::{ACCOUNT}:instance-profile/dev-app_instance_profile*")
    );

    // The pipeline role: no managed policy at all, and PassRole only with PassedToService.
    let pipeline_role = output(&recorded, "pipeline_role", "name");
    let (docs, managed) = role_documents(&iam, pipeline_role).await;
    assert_eq!(managed, Vec::<String>::new(), "the pipeline role has no managed policy");
    for statement in docs.iter().flat_map(statements).filter(|s| strings(&s["Action"]).contains("iam:PassRole")) {
        assert_ne!(statement["Resource"], "*");
        assert!(statement["Condition"]["StringEquals"]["iam:PassedToService"].is_string(), "{statement}");
    }

    // Who may assume each role: services acting for this account only.
    for (role, service) in [
        ("build_role", "codebuild.amazonaws.com"),
        ("pipeline_role", "codepipeline.amazonaws.com"),
        ("source_events_role", "events.amazonaws.com"),
    ] {
        let name = output(&recorded, role, "name");
        let got = iam.get_role().role_name(name).send().await.unwrap();
        let trust = document(got.role().and_then(|r| r.assume_role_policy_document()).unwrap());
        let statement = &statements(&trust)[0];
        assert_eq!(statement["Principal"]["Service"], service);
        assert_eq!(statement["Condition"]["StringEquals"]["aws:SourceAccount"], ACCOUNT, "{role}: {trust}");
    }
    let eb_role = output(&recorded, "eb_service_role", "name");
    let got = iam.get_role().role_name(eb_role).send().await.unwrap();
    let trust = document(got.role().and_then(|r| r.assume_role_policy_document()).unwrap());
    assert_eq!(statements(&trust)[0]["Condition"]["StringEquals"]["sts:ExternalId"], "elasticbeanstalk");
    let service_role = options
        .iter()
        .find(|(ns, n, _)| ns == "aws:elasticbeanstalk:environment" && n == "ServiceRole")
        .map(|(_, _, v)| v.as_str());
    assert_eq!(service_role, Some(output(&recorded, "eb_service_role", "arn")));

    // The artifact bucket refuses requests without TLS, naming itself.
    let bucket = output(&recorded, "artifacts", "bucket");
    let policy = s3.get_bucket_policy().bucket(bucket).send().await.unwrap();
    let doc: Json = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let tls = statements(&doc).into_iter().find(|s| s["Sid"] == "InfraTlsOnly").expect("the TLS-only statement");
    assert_eq!(tls["Effect"], "Deny");
    assert_eq!(tls["Condition"]["Bool"]["aws:SecureTransport"], "false");
    assert_eq!(
        strings(&tls["Resource"]),
        BTreeSet::from([format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")])
    );

    // And after all that, nothing to do.
    let plan = ok(run_infra(&emu, dir, &["plan", "--stack", "dev"]));
    assert!(plan.contains("No changes"), "{plan}");
}
