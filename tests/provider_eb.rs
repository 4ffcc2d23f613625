//! The Elastic Beanstalk providers (applications, application versions,
//! environments) through the `Provider` trait, against the emulator: create,
//! batched read, in-place update, waits through the environment's lifecycle with
//! progress reported, delete (twice).

mod common;

use common::{STACK, props, tags};

use std::path::Path;
use std::sync::{Arc, Mutex};

use common::Emulator;
use infra::bundle;
use infra::model::{Kind, Props, Resource, Stack, TAG_NAME, TAG_STACK, Value, map};
use infra::provider::{Ctx, Progress, Providers};

const BUCKET: &str = "test-artifacts";
const APP_ENV: &str = "aws:elasticbeanstalk:application:environment";

/// An emulator with an artifact bucket, and the providers pointed at it.
struct Env {
    _emu: Emulator,
    providers: Providers,
    s3: aws_sdk_s3::Client,
    eb: aws_sdk_elasticbeanstalk::Client,
}

const PROFILE: &str = "seed-dev-host";

async fn env() -> Env {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    s3.create_bucket().bucket(BUCKET).send().await.expect("create the artifact bucket");
    // The instance profile the environments' instances run with: Elastic
    // Beanstalk fails to launch an instance with one that does not exist.
    let iam = aws_sdk_iam::Client::new(&config);
    iam.create_instance_profile().instance_profile_name(PROFILE).send().await.expect("create the instance profile");
    Env { providers: Providers::new(&config), s3, eb: aws_sdk_elasticbeanstalk::Client::new(&config), _emu: emu }
}

/// A context whose progress messages are collected.
fn ctx(name: &str) -> (Ctx, Arc<Mutex<Vec<String>>>) {
    let messages = Arc::new(Mutex::new(Vec::new()));
    let seen = messages.clone();
    let ctx = Ctx {
        stack: STACK.to_string(),
        name: name.to_string(),
        client_token: uuid::Uuid::new_v4().to_string(),
        progress: Progress::new(move |_, msg| seen.lock().unwrap().push(msg.to_string())),
        ..Ctx::default()
    };
    (ctx, messages)
}

fn setting(namespace: &str, name: &str, value: &str) -> Value {
    map([("namespace", namespace.into()), ("name", name.into()), ("value", value.into())])
}

fn output(o: &infra::model::Observed, key: &str) -> String {
    o.outputs
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no output `{key}` in {:#?}", o.outputs))
        .to_string()
}

fn taken(messages: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    std::mem::take(&mut *messages.lock().unwrap())
}

/// A directory to deploy: a compose file and one config file.
fn source_dir(redis_port: u16) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), "services:\n  redis-1:\n    image: redis:6.0.9\n").unwrap();
    std::fs::write(dir.path().join("redis-1.conf"), format!("port {redis_port}\n")).unwrap();
    dir
}

/// The label `bundle::prepare` gives a version made from `dir`, as the engine would.
fn prepared_label(dir: &Path) -> String {
    let mut stack = Stack::new(STACK).resource(
        "site",
        Resource::new(Kind::EbVersion)
            .prop("application", Value::reference("app", "name"))
            .prop("bucket", BUCKET)
            .prop("source_dir", dir.to_str().unwrap()),
    );
    bundle::prepare(&mut stack, Path::new(".")).unwrap();
    stack.resources["site"].props["label"].as_str().unwrap().to_string()
}

/// An application made directly through the SDK, for the versions and environments.
async fn create_app(env: &Env) -> String {
    let name = "test-app";
    env.eb.create_application().application_name(name).send().await.expect("create the application");
    name.to_string()
}

fn version_props(app: &str, dir: &Path, label: &str) -> Props {
    props(vec![
        ("application", app.into()),
        ("bucket", BUCKET.into()),
        ("source_dir", dir.to_str().unwrap().into()),
        ("label", label.into()),
    ])
}

#[tokio::test]
async fn an_application_is_created_read_found_by_its_tags_and_deleted() {
    let env = env().await;
    let apps = env.providers.get(Kind::EbApplication);
    let declared = props(vec![("description", "seed dev services".into()), ("tags", tags("app"))]);

    let created = apps.create(&ctx("app").0, &declared).await.unwrap();
    assert_eq!(created.id, "test-app", "the default name is <stack>-<resource>");
    assert_eq!(output(&created, "name"), "test-app");
    assert!(output(&created, "arn").ends_with(":application/test-app"), "{:?}", created.outputs);
    assert_eq!(created.props["description"], declared["description"]);
    assert_eq!(created.props["tags"], declared["tags"]);

    let read = apps.read_many(&[created.id.clone(), "test-gone".into()]).await.unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), ["test-app"]);
    assert_eq!(read["test-app"], created);
    let found = apps.find_tagged(STACK).await.unwrap();
    let found: std::collections::BTreeMap<_, _> = found.into_iter().collect();
    assert_eq!(found.get("app").map(|o| o.id.as_str()), Some("test-app"));

    let changed = props(vec![
        ("description", "seed dev".into()),
        ("tags", map([(TAG_STACK, STACK.into()), (TAG_NAME, "app".into())])),
    ]);
    let updated = apps.update(&ctx("app").0, &created.id, &declared, &changed).await.unwrap();
    assert_eq!(updated.props["description"], Value::from("seed dev"));
    assert_eq!(updated.props["tags"], changed["tags"], "the removed tag is gone");

    apps.delete(&ctx("app").0, &created.id, &changed).await.unwrap();
    assert!(apps.read_many(std::slice::from_ref(&created.id)).await.unwrap().is_empty());
    apps.delete(&ctx("app").0, &created.id, &changed).await.unwrap();
}

#[tokio::test]
async fn a_version_is_uploaded_from_a_directory_and_read_back_and_the_same_directory_keeps_its_label() {
    let env = env().await;
    let app = create_app(&env).await;
    let versions = env.providers.get(Kind::EbVersion);
    let dir = source_dir(6379);
    let label = prepared_label(dir.path());
    assert_eq!(prepared_label(dir.path()), label, "an unchanged directory keeps its label");

    let created = versions.create(&ctx("site").0, &version_props(&app, dir.path(), &label)).await.unwrap();
    assert_eq!(created.id, format!("{app}/{label}"));
    assert_eq!(output(&created, "label"), label);
    let key = output(&created, "key");
    assert_eq!(key, format!("{app}/{label}.zip"));
    let object = env.s3.get_object().bucket(BUCKET).key(&key).send().await.expect("the bundle is in the bucket");
    let uploaded = object.body.collect().await.unwrap().into_bytes();
    assert_eq!(uploaded.as_ref(), bundle::zip_dir(dir.path()).unwrap().bytes.as_slice());

    let read = versions.read_many(&[created.id.clone(), format!("{app}/v-0000000000000000")]).await.unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), [&created.id]);
    assert_eq!(read[&created.id], created);
    assert_eq!(read[&created.id].props["bucket"], Value::from(BUCKET));

    // A directory changed after the plan is refused.
    let later = source_dir(6380);
    let err = versions.create(&ctx("site").0, &version_props(&app, later.path(), &label)).await.unwrap_err();
    assert!(err.to_string().contains("source_dir changed since the plan was made"), "{err}");

    versions.delete(&ctx("site").0, &created.id, &Props::new()).await.unwrap();
    assert!(versions.read_many(std::slice::from_ref(&created.id)).await.unwrap().is_empty());
    assert!(
        env.s3.get_object().bucket(BUCKET).key(&key).send().await.is_err(),
        "the bundle is deleted with the version"
    );
    versions.delete(&ctx("site").0, &created.id, &Props::new()).await.unwrap();
}

#[tokio::test]
async fn an_environment_waits_through_launching_updating_and_terminating_reporting_progress() {
    let env = env().await;
    let app = create_app(&env).await;
    let versions = env.providers.get(Kind::EbVersion);
    let envs = env.providers.get(Kind::EbEnvironment);
    let schema = Kind::EbEnvironment.schema();

    let first_dir = source_dir(6379);
    let first_label = prepared_label(first_dir.path());
    let first = versions.create(&ctx("site").0, &version_props(&app, first_dir.path(), &first_label)).await.unwrap();

    // Create: Launching, then Ready.
    let declared = props(vec![
        ("name", "seed-dev".into()),
        ("application", app.as_str().into()),
        ("version_label", first_label.as_str().into()),
        ("instance_profile", PROFILE.into()),
        ("option_settings", Value::List(vec![setting(APP_ENV, "HOST_IP", "172.31.0.10")])),
        ("tags", tags("web")),
    ]);
    let (web, messages) = ctx("web");
    let created = envs.create(&web, &declared).await.unwrap();
    let progress = taken(&messages);
    assert!(progress.iter().any(|m| m == "status Launching"), "{progress:#?}");
    assert!(progress.iter().any(|m| m.contains("Successfully launched environment: seed-dev")), "{progress:#?}");
    let id = created.id.clone();
    assert!(id.starts_with("e-"), "{id}");
    assert_eq!(output(&created, "name"), "seed-dev");
    // Its instance, read through DescribeEnvironmentResources.
    assert!(output(&created, "instance_id").starts_with("i-"), "{created:?}");
    assert!(output(&created, "private_ip").parse::<std::net::Ipv4Addr>().is_ok(), "{created:?}");
    assert!(output(&created, "solution_stack").ends_with("running Docker"), "{:?}", created.outputs);
    assert!(output(&created, "solution_stack").starts_with("64bit Amazon Linux 2023 "));
    assert!(output(&created, "cname").starts_with("seed-dev."), "{:?}", created.outputs);

    // A batched read, trimmed as the planner trims it, reads as declared.
    let recorded = schema.normalized(&declared);
    let read = envs.read_many(&[id.clone(), "e-gone".into()]).await.unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), [&id]);
    let mut live = schema.normalized(&read[&id].props);
    (schema.trim_observed.unwrap())(&recorded, &mut live);
    assert_eq!(live, recorded);
    let found = envs.find_tagged(STACK).await.unwrap();
    assert_eq!(found.iter().map(|(name, o)| (name.as_str(), o.id.clone())).collect::<Vec<_>>(), [("web", id.clone())]);

    // Update a setting in place: Updating, then Ready, same environment.
    let mut changed = declared.clone();
    changed.insert(
        "option_settings".into(),
        Value::List(vec![setting(APP_ENV, "HOST_IP", "172.31.0.11"), setting(APP_ENV, "ES_HEAP", "512m")]),
    );
    let updated = envs.update(&web, &id, &recorded, &schema.normalized(&changed)).await.unwrap();
    let progress = taken(&messages);
    assert!(progress.iter().any(|m| m == "status Updating"), "{progress:#?}");
    assert!(progress.iter().any(|m| m.contains("Environment update completed successfully.")), "{progress:#?}");
    assert_eq!(updated.id, id);
    let mut live = schema.normalized(&updated.props);
    (schema.trim_observed.unwrap())(&schema.normalized(&changed), &mut live);
    assert_eq!(live["option_settings"], schema.normalized(&changed)["option_settings"]);

    // A new version replaces the old one: created first, deployed, then the old one deleted.
    let second_dir = source_dir(6380);
    let second_label = prepared_label(second_dir.path());
    assert_ne!(second_label, first_label);
    versions.create(&ctx("site").0, &version_props(&app, second_dir.path(), &second_label)).await.unwrap();
    let mut deployed = changed.clone();
    deployed.insert("version_label".into(), second_label.as_str().into());
    let updated = envs.update(&web, &id, &schema.normalized(&changed), &schema.normalized(&deployed)).await.unwrap();
    assert_eq!(updated.props["version_label"], Value::from(second_label.as_str()));
    versions.delete(&ctx("site").0, &first.id, &Props::new()).await.unwrap();
    taken(&messages);

    // Terminate: Terminating, then gone.
    envs.delete(&web, &id, &deployed).await.unwrap();
    let progress = taken(&messages);
    assert!(progress.iter().any(|m| m == "status Terminating"), "{progress:#?}");
    assert!(progress.iter().any(|m| m.contains("terminateEnvironment completed successfully.")), "{progress:#?}");
    assert!(envs.read_many(std::slice::from_ref(&id)).await.unwrap().is_empty());
    envs.delete(&web, &id, &deployed).await.unwrap();
}
