//! The CodeBuild project and CodePipeline pipeline providers through the
//! `Provider` trait, against the emulator: create, batched read (equal to the
//! declared properties, normalised), in-place update, adoption by tags, delete.

mod common;

use common::{STACK, ctx, props, tags};

use common::Emulator;
use infra::model::{Kind, Observed, Props, Value, map};
use infra::provider::Providers;

/// A trust policy that lets `service` assume the role.
fn trust(service: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
    )
}

/// An emulator, the providers pointed at it, and an IAM client.
struct Env {
    _emu: Emulator,
    providers: Providers,
    iam: aws_sdk_iam::Client,
}

async fn env() -> Env {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    Env { providers: Providers::new(&config), iam: aws_sdk_iam::Client::new(&config), _emu: emu }
}

impl Env {
    /// Creates a role that `service` may assume; returns its ARN.
    async fn role(&self, name: &str, service: &str) -> String {
        let out = self.iam.create_role().role_name(name).assume_role_policy_document(trust(service)).send().await;
        out.unwrap().role.unwrap().arn
    }
}

fn output<'a>(o: &'a Observed, key: &str) -> &'a str {
    o.outputs.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("no output `{key}` in {:#?}", o.outputs))
}

/// The observed properties, normalised, equal the declared ones, normalised: the
/// planner would find nothing to change.
fn assert_reads_as_declared(kind: Kind, declared: &Props, observed: &Observed) {
    let schema = kind.schema();
    assert_eq!(schema.normalized(&observed.props), schema.normalized(declared), "{kind} {}", observed.id);
}

const BUILDSPEC: &str = "version: 0.2\nphases:\n  build:\n    commands:\n      - docker build -t web .\nartifacts:\n  files:\n    - Dockerrun.aws.json\n";

#[tokio::test]
async fn a_build_project_is_created_read_updated_in_place_found_by_its_tags_and_deleted() {
    let env = env().await;
    let role = env.role("build", "codebuild.amazonaws.com").await;
    let projects = env.providers.get(Kind::BuildProject);
    let schema = Kind::BuildProject.schema();
    let declared = props(vec![
        ("name", "web-build".into()),
        ("description", "builds the web image".into()),
        ("service_role", role.as_str().into()),
        ("buildspec", BUILDSPEC.into()),
        ("privileged_mode", true.into()),
        ("environment_variables", map([("STAGE", "dev".into()), ("REGION", "us-east-1".into())])),
        ("tags", tags("build")),
    ]);

    let created = projects.create(&ctx("build"), &declared).await.unwrap();
    assert_reads_as_declared(Kind::BuildProject, &declared, &created);
    assert_eq!(created.id, "web-build");
    assert_eq!(output(&created, "id"), "web-build");
    assert_eq!(output(&created, "name"), "web-build");
    let arn = output(&created, "arn").to_string();
    assert!(arn.starts_with("arn:aws:codebuild:us-east-1:") && arn.ends_with(":project/web-build"), "{arn}");
    assert_eq!(created.props["image"], Value::from("aws/codebuild/amazonlinux-x86_64-standard:5.0"));
    assert_eq!(created.props["compute_type"], Value::from("BUILD_GENERAL1_SMALL"));

    let read = projects.read_many(&["web-build".to_string(), "no-such-project".to_string()]).await.unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), ["web-build"], "a project AWS does not have is absent");
    assert_eq!(read["web-build"], created);

    // A changed variable and image: an update in place, the same project.
    let before = schema.normalized(&read["web-build"].props);
    let mut after = before.clone();
    after.insert("environment_variables".into(), map([("STAGE", "prod".into()), ("REGION", "us-east-1".into())]));
    after.insert("image".into(), "aws/codebuild/standard:7.0".into());
    let updated = projects.update(&ctx("build"), "web-build", &before, &after).await.unwrap();
    assert_eq!(schema.normalized(&updated.props), after);
    assert_eq!(output(&updated, "arn"), arn, "updated in place");
    let reread = projects.read_many(&["web-build".to_string()]).await.unwrap();
    assert_eq!(schema.normalized(&reread["web-build"].props), after);

    let found = projects.find_tagged(STACK).await.unwrap();

    let found: std::collections::BTreeMap<_, _> = found.into_iter().collect();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["build"], "keyed by infra:name");
    assert_eq!(found["build"].id, "web-build");
    assert!(projects.find_tagged("another-stack").await.unwrap().is_empty());

    projects.delete(&ctx("build"), "web-build", &after).await.unwrap();
    assert!(projects.read_many(&["web-build".to_string()]).await.unwrap().is_empty());
    assert!(projects.find_tagged(STACK).await.unwrap().is_empty());
    projects.delete(&ctx("build"), "web-build", &after).await.expect("deleting twice succeeds");
}

#[tokio::test]
async fn a_build_project_without_a_name_is_named_after_its_stack_and_resource() {
    let env = env().await;
    let role = env.role("build", "codebuild.amazonaws.com").await;
    let projects = env.providers.get(Kind::BuildProject);
    let declared = props(vec![
        ("service_role", role.as_str().into()),
        ("compute_type", "BUILD_GENERAL1_MEDIUM".into()),
        ("tags", tags("image")),
    ]);
    let created = projects.create(&ctx("image"), &declared).await.unwrap();
    assert_eq!(created.id, "test-image");
    let mut want = declared.clone();
    want.insert("name".into(), "test-image".into());
    want.insert("environment_variables".into(), Value::Map(Default::default()));
    assert_reads_as_declared(Kind::BuildProject, &want, &created);
}

/// A pipeline's declaration with the given source.
fn pipeline(role: &str, source: Value, build_project: &str, name: &str) -> Props {
    props(vec![
        ("name", "web-pipeline".into()),
        ("role_arn", role.into()),
        ("artifact_bucket", "web-artifacts".into()),
        ("source", source),
        ("build_project", build_project.into()),
        ("deploy_application", "web".into()),
        ("deploy_environment", "web-dev".into()),
        ("tags", tags(name)),
    ])
}

fn s3_source() -> Value {
    map([("provider", "s3".into()), ("bucket", "web-source".into()), ("key", "web.zip".into())])
}

fn github_source() -> Value {
    map([
        ("provider", "github".into()),
        ("connection_arn", "arn:aws:codestar-connections:us-east-1:123456789012:connection/0b1f5cbe".into()),
        ("repository", "octo/web".into()),
    ])
}

#[tokio::test]
async fn a_pipeline_with_an_s3_source_is_created_read_updated_in_place_found_by_its_tags_and_deleted() {
    let env = env().await;
    let role = env.role("pipeline", "codepipeline.amazonaws.com").await;
    let pipelines = env.providers.get(Kind::Pipeline);
    let schema = Kind::Pipeline.schema();
    let declared = pipeline(&role, s3_source(), "web-build", "deploy");

    let created = pipelines.create(&ctx("deploy"), &declared).await.unwrap();
    assert_reads_as_declared(Kind::Pipeline, &declared, &created);
    assert_eq!(created.id, "web-pipeline");
    assert_eq!(output(&created, "id"), "web-pipeline");
    assert_eq!(output(&created, "name"), "web-pipeline");
    let arn = output(&created, "arn").to_string();
    assert!(arn.starts_with("arn:aws:codepipeline:us-east-1:") && arn.ends_with(":web-pipeline"), "{arn}");

    let read = pipelines.read_many(&["web-pipeline".to_string(), "no-such-pipeline".to_string()]).await.unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), ["web-pipeline"], "a pipeline AWS does not have is absent");
    assert_eq!(read["web-pipeline"], created);

    // Another build project and tag changes: an update in place.
    let before = schema.normalized(&read["web-pipeline"].props);
    let mut after = before.clone();
    after.insert("build_project".into(), "web-build-2".into());
    let Value::Map(t) = after.get_mut("tags").unwrap() else { panic!() };
    t.insert("owner".into(), "ops".into());
    t.remove("project");
    let updated = pipelines.update(&ctx("deploy"), "web-pipeline", &before, &after).await.unwrap();
    assert_eq!(schema.normalized(&updated.props), after);
    assert_eq!(output(&updated, "arn"), arn, "updated in place");
    let reread = pipelines.read_many(&["web-pipeline".to_string()]).await.unwrap();
    assert_eq!(schema.normalized(&reread["web-pipeline"].props), after);

    let found = pipelines.find_tagged(STACK).await.unwrap();

    let found: std::collections::BTreeMap<_, _> = found.into_iter().collect();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["deploy"], "keyed by infra:name");
    assert_eq!(found["deploy"].id, "web-pipeline");
    assert!(pipelines.find_tagged("another-stack").await.unwrap().is_empty());

    pipelines.delete(&ctx("deploy"), "web-pipeline", &after).await.unwrap();
    assert!(pipelines.read_many(&["web-pipeline".to_string()]).await.unwrap().is_empty());
    assert!(pipelines.find_tagged(STACK).await.unwrap().is_empty());
    pipelines.delete(&ctx("deploy"), "web-pipeline", &after).await.expect("deleting twice succeeds");
}

#[tokio::test]
async fn a_pipeline_with_a_github_source_reads_back_as_declared_and_changes_branch_in_place() {
    let env = env().await;
    let role = env.role("pipeline", "codepipeline.amazonaws.com").await;
    let pipelines = env.providers.get(Kind::Pipeline);
    let schema = Kind::Pipeline.schema();
    let declared = pipeline(&role, github_source(), "web-build", "deploy");

    let created = pipelines.create(&ctx("deploy"), &declared).await.unwrap();
    assert_reads_as_declared(Kind::Pipeline, &declared, &created);
    assert_eq!(created.props["source"].as_map().unwrap()["branch"], Value::from("main"), "main by default");
    let read = pipelines.read_many(&["web-pipeline".to_string()]).await.unwrap();
    assert_reads_as_declared(Kind::Pipeline, &declared, &read["web-pipeline"]);

    let before = schema.normalized(&read["web-pipeline"].props);
    let mut after = before.clone();
    let Value::Map(source) = after.get_mut("source").unwrap() else { panic!() };
    source.insert("branch".into(), "release".into());
    let updated = pipelines.update(&ctx("deploy"), "web-pipeline", &before, &after).await.unwrap();
    assert_eq!(schema.normalized(&updated.props), after);
    assert_eq!(output(&updated, "arn"), output(&created, "arn"));

    pipelines.delete(&ctx("deploy"), "web-pipeline", &after).await.unwrap();
    assert!(pipelines.read_many(&["web-pipeline".to_string()]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_pipeline_without_a_name_is_named_after_its_stack_and_resource() {
    let env = env().await;
    let role = env.role("pipeline", "codepipeline.amazonaws.com").await;
    let pipelines = env.providers.get(Kind::Pipeline);
    let mut declared = pipeline(&role, s3_source(), "web-build", "deploy");
    declared.remove("name");
    let created = pipelines.create(&ctx("deploy"), &declared).await.unwrap();
    assert_eq!(created.id, "test-deploy");
    declared.insert("name".into(), "test-deploy".into());
    assert_reads_as_declared(Kind::Pipeline, &declared, &created);
}
