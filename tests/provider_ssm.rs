//! The Parameter Store provider (`ssm.parameter`) against the emulator: through
//! the `Provider` trait (create, batched read, in-place updates, tags, adoption
//! by tags, delete), and a stack applied with the `infra` binary whose secret
//! lives in a SecureString parameter: the secret reaches AWS, encrypted, and
//! never state, plans or anything infra prints in plain text; a value changed
//! behind infra's back is drift, shown as `[secret]`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_ssm::types::{ParameterTier, ParameterType, ResourceTypeForTagging, Tag};
use common::{ELASTIC_PASSWORD, Emulator, STACK, ctx, infra_command, props, tags};
use infra::model::{Kind, Observed, Props, Value};
use infra::provider::{CallStats, Limits, Providers};

struct Env {
    _emu: Emulator,
    providers: Providers,
    stats: CallStats,
    ssm: aws_sdk_ssm::Client,
}

async fn env() -> Env {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let stats = CallStats::default();
    Env {
        providers: Providers::with(&config, &stats, &Limits::default()),
        stats,
        ssm: aws_sdk_ssm::Client::new(&config),
        _emu: emu,
    }
}

fn output<'a>(o: &'a Observed, key: &str) -> &'a str {
    o.outputs.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("no output `{key}` in {:#?}", o.outputs))
}

fn assert_reads_as_declared(declared: &Props, observed: &Observed) {
    let schema = Kind::SsmParameter.schema();
    assert_eq!(schema.normalized(&observed.props), schema.normalized(declared), "{}", observed.id);
}

/// What Parameter Store holds for `name`, decrypted or not: (type, value).
async fn live(ssm: &aws_sdk_ssm::Client, name: &str, decrypted: bool) -> (ParameterType, String) {
    let out = ssm.get_parameter().name(name).with_decryption(decrypted).send().await.unwrap();
    let parameter = out.parameter().unwrap();
    (parameter.r#type().unwrap().clone(), parameter.value().unwrap().to_string())
}

/// The parameter's (description, key id, tier), as DescribeParameters reports them.
async fn described(ssm: &aws_sdk_ssm::Client, name: &str) -> (Option<String>, Option<String>, Option<String>) {
    let filter = aws_sdk_ssm::types::ParameterStringFilter::builder().key("Name").values(name).build().unwrap();
    let out = ssm.describe_parameters().parameter_filters(filter).send().await.unwrap();
    let meta = &out.parameters()[0];
    (
        meta.description().map(str::to_string),
        meta.key_id().map(str::to_string),
        meta.tier().map(|t| t.as_str().to_string()),
    )
}

const NAME: &str = "/test/elastic_password";
const PASSWORD: &str = "correct-horse-battery-staple-17";

#[tokio::test]
async fn a_parameter_is_created_encrypted_read_updated_in_place_found_by_its_tags_and_deleted() {
    let env = env().await;
    let parameters = env.providers.get(Kind::SsmParameter);
    let schema = Kind::SsmParameter.schema();
    let declared = props(vec![
        ("name", NAME.into()),
        ("description", "the Elasticsearch password".into()),
        ("value", PASSWORD.into()),
        ("tags", tags("elastic_password")),
    ]);

    let created = parameters.create(&ctx("elastic_password"), &declared).await.unwrap();
    assert_reads_as_declared(&declared, &created);
    assert_eq!(created.id, NAME);
    assert_eq!(output(&created, "name"), NAME);
    assert_eq!(output(&created, "arn"), "arn:aws:ssm:us-east-1:123456789012:parameter/test/elastic_password");
    assert_eq!(output(&created, "version"), "1");
    assert_eq!(created.props["value"], Value::secret(PASSWORD), "read back, the value is a secret");
    assert_eq!(created.props["key_id"], Value::from("alias/aws/ssm"), "AWS's key unless declared otherwise");
    assert_eq!(created.props["tier"], Value::from("Standard"));

    // A SecureString: without decryption Parameter Store gives the ciphertext
    // (moto's stand-in for it is `kms:<key id>:` and the value), never the value.
    let (kind, stored) = live(&env.ssm, NAME, false).await;
    assert_eq!(kind, ParameterType::SecureString);
    assert_ne!(stored, PASSWORD);
    assert_eq!(live(&env.ssm, NAME, true).await.1, PASSWORD);

    let read = parameters.read_many(&[NAME.to_string(), "/test/no-such-parameter".to_string()]).await.unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), [NAME], "a parameter AWS does not have is absent");
    assert_eq!(read[NAME], created);

    // A new value and description, a tag changed, one added, one removed: in
    // place, one new version.
    let before = schema.normalized(&read[NAME].props);
    let mut after = before.clone();
    after.insert("value".into(), Value::secret("the-second-password-42"));
    after.insert("description".into(), "the password of Elasticsearch".into());
    let mut new_tags = tags("elastic_password").as_map().unwrap().clone();
    new_tags.remove("project");
    new_tags.insert("owner".into(), "data".into());
    after.insert("tags".into(), Value::Map(new_tags));
    let after = schema.normalized(&after);
    let updated = parameters.update(&ctx("elastic_password"), NAME, &before, &after).await.unwrap();
    assert_eq!(schema.normalized(&updated.props), after);
    assert_eq!(output(&updated, "arn"), output(&created, "arn"), "updated in place");
    assert_eq!(output(&updated, "version"), "2");
    assert_eq!(live(&env.ssm, NAME, true).await.1, "the-second-password-42");
    let reread = parameters.read_many(&[NAME.to_string()]).await.unwrap();
    assert_eq!(schema.normalized(&reread[NAME].props), after);

    // Tags alone: no PutParameter, so no new version.
    let before = after.clone();
    let mut after = before.clone();
    after.insert("tags".into(), tags("elastic_password"));
    let updated = parameters.update(&ctx("elastic_password"), NAME, &before, &after).await.unwrap();
    assert_eq!(schema.normalized(&updated.props), schema.normalized(&after));
    assert_eq!(output(&updated, "version"), "2", "a tag change makes no new version");

    // Another key, and the Advanced tier: in place.
    let before = schema.normalized(&updated.props);
    let mut after = before.clone();
    after.insert("key_id".into(), "alias/infra-test".into());
    after.insert("tier".into(), "Advanced".into());
    let updated = parameters.update(&ctx("elastic_password"), NAME, &before, &after).await.unwrap();
    assert_eq!(schema.normalized(&updated.props), after);
    assert_eq!(
        described(&env.ssm, NAME).await,
        (
            Some("the password of Elasticsearch".to_string()),
            Some("alias/infra-test".to_string()),
            Some("Advanced".to_string())
        )
    );
    assert_eq!(live(&env.ssm, NAME, true).await.1, "the-second-password-42", "the value is kept");

    let found: BTreeMap<_, _> = parameters.find_tagged(STACK).await.unwrap().into_iter().collect();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["elastic_password"], "keyed by infra:name");
    assert_eq!(found["elastic_password"].id, NAME);
    assert_eq!(schema.normalized(&found["elastic_password"].props), after);
    assert!(parameters.find_tagged("another-stack").await.unwrap().is_empty());

    parameters.delete(&ctx("elastic_password"), NAME, &after).await.unwrap();
    assert!(parameters.read_many(&[NAME.to_string()]).await.unwrap().is_empty());
    let gone = env.ssm.get_parameter().name(NAME).send().await.unwrap_err();
    assert_eq!(aws_sdk_ssm::error::ProvideErrorMetadata::code(&gone), Some("ParameterNotFound"));
    parameters.delete(&ctx("elastic_password"), NAME, &after).await.expect("deleting twice succeeds");
}

#[tokio::test]
async fn a_parameter_without_a_name_is_named_after_its_stack_and_resource_as_a_path() {
    let env = env().await;
    let parameters = env.providers.get(Kind::SsmParameter);
    let declared = props(vec![("value", Value::secret(PASSWORD)), ("tags", tags("api_token"))]);
    let created = parameters.create(&ctx("api_token"), &declared).await.unwrap();
    assert_eq!(created.id, "/test/api_token");
    assert_eq!(output(&created, "arn"), "arn:aws:ssm:us-east-1:123456789012:parameter/test/api_token");
    let mut want = declared.clone();
    want.insert("name".into(), "/test/api_token".into());
    assert_reads_as_declared(&want, &created);
    assert!(!created.props.contains_key("description"));
}

#[tokio::test]
async fn many_parameters_are_read_in_batches_of_ten_values_and_fifty_descriptions() {
    let env = env().await;
    let parameters = env.providers.get(Kind::SsmParameter);
    let mut names = Vec::new();
    for i in 0..12 {
        let name = format!("p{i:02}");
        let created = parameters
            .create(&ctx(&name), &props(vec![("value", Value::secret(format!("secret-{i}"))), ("tags", tags(&name))]))
            .await
            .unwrap();
        names.push(created.id);
    }
    let before = env.stats.snapshot();
    let read = parameters.read_many(&names).await.unwrap();
    assert_eq!(read.len(), 12);
    assert_eq!(read["/test/p07"].props["value"], Value::secret("secret-7"));
    let calls: BTreeMap<String, u64> = env
        .stats
        .snapshot()
        .into_iter()
        .map(|(op, n)| (op.clone(), n - before.get(&op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    // DescribeParameters: one filter of 12 names; the emulator answers 10 a page.
    assert_eq!(
        calls,
        BTreeMap::from([
            ("ssm:GetParameters".to_string(), 2),
            ("ssm:DescribeParameters".to_string(), 2),
            ("ssm:ListTagsForResource".to_string(), 12),
        ])
    );
}

// ---------------------------------------------------------------------------
// A stack whose secret lives in Parameter Store, through the `infra` binary.

const STACK_FILE: &str = r#"[stack]
region = "us-east-1"
tags = { project = "seed" }

[secrets]
elastic_password = { env = "ELASTIC_PASSWORD" }

[resources.elastic_password]
type = "ssm.parameter"
description = "the Elasticsearch password"
value = "${secret.elastic_password}"
"#;

/// The parameter the stack `params` makes: `/<stack>/<resource>`.
const STACK_PARAMETER: &str = "/params/elastic_password";

/// A project whose only stack is [`STACK_FILE`], as `stacks/params.toml`.
fn params_project() -> tempfile::TempDir {
    let project = tempfile::Builder::new().prefix("infra-ssm-").tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("stacks")).unwrap();
    std::fs::create_dir_all(project.path().join("state")).unwrap();
    std::fs::write(project.path().join("stacks/params.toml"), STACK_FILE).unwrap();
    project
}

/// `infra` with `password` as ELASTIC_PASSWORD: (exit code, stdout and stderr together).
fn infra(emu: &Emulator, dir: &Path, password: &str, args: &[&str]) -> (i32, String) {
    let out = infra_command(&emu.endpoint, dir, args).env("ELASTIC_PASSWORD", password).output().unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), printed)
}

fn state_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("state/params.json")).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_s_secret_reaches_parameter_store_encrypted_and_never_state_plans_or_output_in_plain_text() {
    let emu = Emulator::start();
    let project = params_project();
    let dir = project.path();
    let ssm = aws_sdk_ssm::Client::new(&emu.sdk_config().await);
    let mut printed = String::new();
    let mut run = |password: &str, args: &[&str], code: i32| {
        let (got, out) = infra(&emu, dir, password, args);
        assert_eq!(got, code, "infra {args:?}:\n{out}");
        printed.push_str(&out);
        out
    };

    // Applied: Parameter Store has it, as a SecureString; state only sealed.
    let plan = run(ELASTIC_PASSWORD, &["plan"], 0);
    assert!(plan.lines().any(|l| l.trim_start().starts_with("+ value") && l.ends_with("= [secret]")), "{plan}");
    run(ELASTIC_PASSWORD, &["apply", "--yes"], 0);
    let (kind, stored) = live(&ssm, STACK_PARAMETER, false).await;
    assert_eq!(kind, ParameterType::SecureString);
    assert_ne!(stored, ELASTIC_PASSWORD, "GetParameter without decryption gives the value");
    assert_eq!(live(&ssm, STACK_PARAMETER, true).await.1, ELASTIC_PASSWORD);
    assert!(!state_text(dir).contains(ELASTIC_PASSWORD), "state holds the password in plain text");
    assert_eq!(state_text(dir).matches(r#""$secret": "#).count(), 1);
    let state: serde_json::Value = serde_json::from_str(&state_text(dir)).unwrap();
    let recorded = &state["resources"]["elastic_password"];
    assert_eq!(recorded["id"], STACK_PARAMETER);
    assert_eq!(recorded["outputs"]["arn"], "arn:aws:ssm:us-east-1:123456789012:parameter/params/elastic_password");

    // Read back decrypted, the value is no change and no drift.
    for format in ["text", "json", "markdown"] {
        run(ELASTIC_PASSWORD, &["plan", "--detailed-exitcode", "--format", format], 0);
        run(ELASTIC_PASSWORD, &["drift", "--format", format], 0);
    }

    // Changed behind infra's back: drift, shown as [secret] only; apply puts it back.
    let console = "typed-into-the-console-42";
    let put = ssm.put_parameter().name(STACK_PARAMETER).value(console).overwrite(true);
    put.r#type(ParameterType::SecureString).send().await.unwrap();
    let report = run(ELASTIC_PASSWORD, &["drift"], 2);
    assert!(report.contains("value  recorded [secret], live [secret]"), "{report}");
    run(ELASTIC_PASSWORD, &["drift", "--format", "json"], 2);
    run(ELASTIC_PASSWORD, &["drift", "--format", "markdown"], 2);
    let plan = run(ELASTIC_PASSWORD, &["plan"], 0);
    assert!(plan.contains("~ value = [secret]  # reverts drift"), "{plan}");
    run(ELASTIC_PASSWORD, &["apply", "--yes"], 0);
    assert_eq!(live(&ssm, STACK_PARAMETER, true).await.1, ELASTIC_PASSWORD);
    run(ELASTIC_PASSWORD, &["plan", "--detailed-exitcode"], 0);

    // A new password: an update in place that shows neither side.
    let new_password = "the-new-elastic-password-77";
    let plan = run(new_password, &["plan", "--detailed-exitcode"], 2);
    assert!(plan.contains("~ value = [secret]\n") && plan.contains("1 to change, 0 to replace"), "{plan}");
    run(new_password, &["plan", "--out", "plan.json"], 0);
    let saved = std::fs::read_to_string(dir.join("plan.json")).unwrap();
    assert!(!saved.contains(new_password) && !saved.contains(ELASTIC_PASSWORD), "the saved plan leaks");
    run(new_password, &["apply", "--yes", "plan.json"], 0);
    assert_eq!(live(&ssm, STACK_PARAMETER, true).await.1, new_password);
    assert!(!state_text(dir).contains(new_password));
    let state: serde_json::Value = serde_json::from_str(&state_text(dir)).unwrap();
    // Created (1), changed in the console (2), put back (3), the new password (4).
    assert_eq!(state["resources"]["elastic_password"]["outputs"]["version"], "4");
    run(new_password, &["plan", "--detailed-exitcode"], 0);

    run(new_password, &["destroy", "--yes"], 0);
    assert!(ssm.get_parameter().name(STACK_PARAMETER).send().await.is_err(), "destroy deletes the parameter");
    for secret in [ELASTIC_PASSWORD, new_password, console] {
        assert!(!printed.contains(secret), "infra printed a secret:\n{printed}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parameter_an_interrupted_create_left_is_adopted_by_its_tags_not_created_twice() {
    let emu = Emulator::start();
    let project = params_project();
    let dir = project.path();
    let ssm = aws_sdk_ssm::Client::new(&emu.sdk_config().await);
    // What a create interrupted after PutParameter left: a state with its
    // lineage (written before the create), and the parameter, tagged as the
    // stack's and that state's, which the state does not record.
    let store = common::store(dir, "params");
    let mut state = infra::state::State::default();
    store.save(&mut state).unwrap();
    let lineage = state.lineage.clone().unwrap();
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();
    ssm.put_parameter()
        .name(STACK_PARAMETER)
        .value(ELASTIC_PASSWORD)
        .r#type(ParameterType::SecureString)
        .description("the Elasticsearch password")
        .tier(ParameterTier::Standard)
        .tags(tag("infra:stack", "params"))
        .tags(tag("infra:name", "elastic_password"))
        .tags(tag("infra:lineage", &lineage))
        .tags(tag("project", "seed"))
        .send()
        .await
        .unwrap();

    let (code, plan) = infra(&emu, dir, ELASTIC_PASSWORD, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "adopting the parameter is a change:\n{plan}");
    let json = infra_command(&emu.endpoint, dir, &["plan", "--format", "json"])
        .env("ELASTIC_PASSWORD", ELASTIC_PASSWORD)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let step = &json["steps"][0];
    assert_eq!(
        (&step["resource"], &step["action"], &step["adopted"]["id"]),
        (&"elastic_password".into(), &"no_op".into(), &STACK_PARAMETER.into()),
        "the parameter found by its tags is the declared one, unchanged, only adopted:\n{plan}"
    );
    assert!(plan.contains("[adopt: found in AWS by its tags"), "{plan}");
    let (code, out) = infra(&emu, dir, ELASTIC_PASSWORD, &["apply", "--yes"]);
    assert_eq!(code, 0, "{out}");
    let state: serde_json::Value = serde_json::from_str(&state_text(dir)).unwrap();
    assert_eq!(state["resources"]["elastic_password"]["id"], STACK_PARAMETER);
    assert!(!state_text(dir).contains(ELASTIC_PASSWORD));
    let all = ssm.describe_parameters().send().await.unwrap();
    assert_eq!(all.parameters().len(), 1, "one parameter, not two");
    let tags = ssm
        .list_tags_for_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(STACK_PARAMETER)
        .send()
        .await
        .unwrap();
    let tags: BTreeMap<&str, &str> = tags.tag_list().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(
        tags,
        BTreeMap::from([
            ("infra:lineage", lineage.as_str()),
            ("infra:name", "elastic_password"),
            ("infra:stack", "params"),
            ("project", "seed")
        ])
    );
    let (code, out) = infra(&emu, dir, ELASTIC_PASSWORD, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
}
