//! The IAM and S3 providers (roles, instance profiles, buckets) through the
//! `Provider` trait, against the emulator: create, read back equal to what was
//! declared (after the schema's normalisation), update in place, adoption by
//! tags, delete (twice).

mod common;

use common::{STACK, ctx, props, tags};

use common::Emulator;
use infra::model::{Kind, Observed, Props, Value, map};
use infra::provider::{Provider, ProviderError, Providers};

struct Env {
    _emu: Emulator,
    providers: Providers,
    iam: aws_sdk_iam::Client,
    s3: aws_sdk_s3::Client,
}

async fn env() -> Env {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    Env {
        providers: Providers::new(&config),
        iam: aws_sdk_iam::Client::new(&config),
        s3: infra::provider::s3_client(&config),
        _emu: emu,
    }
}

/// Every declared property, normalised as the planner compares them, equals the
/// observed one, normalised too. (`force_destroy` is never read from AWS.)
fn assert_reads_as_declared(kind: Kind, declared: &Props, observed: &Observed) {
    let schema = kind.schema();
    let (want, got) = (schema.normalized(declared), schema.normalized(&observed.props));
    for (k, v) in want.iter().filter(|(k, _)| *k != "force_destroy") {
        assert_eq!(got.get(k), Some(v), "{kind} {}: property `{k}`\nobserved: {got:#?}", observed.id);
    }
}

fn output<'a>(o: &'a Observed, key: &str) -> &'a str {
    o.outputs.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("no output `{key}` in {:#?}", o.outputs))
}

async fn read_one(provider: &dyn Provider, id: &str) -> Option<Observed> {
    provider.read_many(&[id.to_string()]).await.unwrap().remove(id)
}

/// A trust policy letting EC2 assume the role, as a stack file's TOML table gives it.
fn ec2_trust_table() -> Value {
    map([
        ("Version", "2012-10-17".into()),
        (
            "Statement",
            Value::List(vec![map([
                ("Effect", "Allow".into()),
                ("Principal", map([("Service", vec!["ec2.amazonaws.com"].into())])),
                ("Action", "sts:AssumeRole".into()),
            ])]),
        ),
    ])
}

async fn managed_policy(iam: &aws_sdk_iam::Client, name: &str) -> String {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#;
    let out = iam.create_policy().policy_name(name).policy_document(doc).send().await.unwrap();
    out.policy.unwrap().arn.unwrap()
}

#[tokio::test]
async fn a_role_is_created_read_updated_found_by_its_tags_and_deleted() {
    let env = env().await;
    let roles = env.providers.get(Kind::Role);
    let (read_only, extra) = (managed_policy(&env.iam, "read-only").await, managed_policy(&env.iam, "extra").await);
    // A JSON string with its own key order, whitespace, a single statement object
    // and one-element lists: the same meaning as the canonical form AWS's copy reads as.
    let logs_policy = r#"{
        "Statement": {
            "Resource": ["arn:aws:logs:*:*:*"],
            "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
            "Effect": "Allow"
        },
        "Version": "2012-10-17"
    }"#;
    let s3_table = map([
        ("Version", "2012-10-17".into()),
        (
            "Statement",
            Value::List(vec![map([
                ("Effect", "Allow".into()),
                ("Action", vec!["s3:GetObject"].into()),
                ("Resource", vec!["arn:aws:s3:::artifacts/*", "arn:aws:s3:::artifacts"].into()),
            ])]),
        ),
    ]);
    let declared = props(vec![
        ("description", "the app host".into()),
        ("assume_role_policy", ec2_trust_table()),
        ("managed_policy_arns", vec![extra.as_str(), read_only.as_str()].into()),
        ("inline_policies", map([("logs", logs_policy.into()), ("s3", s3_table)])),
        ("tags", tags("app_role")),
    ]);

    let created = roles.create(&ctx("app_role"), &declared).await.unwrap();
    assert_reads_as_declared(Kind::Role, &declared, &created);
    assert_eq!(created.id, "test-app_role", "the default name is <stack>-<resource>");
    assert_eq!(created.props["name"], Value::from("test-app_role"));
    assert_eq!(output(&created, "id"), "test-app_role");
    assert_eq!(output(&created, "name"), "test-app_role");
    assert!(output(&created, "arn").ends_with(":role/test-app_role"), "{:?}", created.outputs);

    let id = created.id.clone();
    let read = roles.read_many(&[id.clone(), "no-such-role".to_string()]).await.unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), [&id], "a role IAM does not have is absent");
    // The create's answer is built from what it sent and the ARN CreateRole
    // gave, not read back: it reads the same.
    let schema = Kind::Role.schema();
    assert_eq!((&read[&id].id, &read[&id].outputs), (&created.id, &created.outputs));
    assert_eq!(schema.canonical(&read[&id].props), schema.canonical(&created.props));
    // A plan right after the apply is empty: recorded and observed compare equal.
    let schema = Kind::Role.schema();
    let mut recorded = schema.normalized(&declared);
    recorded.insert("name".into(), Value::from(id.as_str()));
    assert_eq!(schema.normalized(&read[&id].props), recorded);

    // A changed inline policy and one managed policy detached.
    let before = schema.normalized(&read[&id].props);
    let mut after = before.clone();
    let Value::Map(inline) = after.get_mut("inline_policies").unwrap() else { panic!() };
    inline.insert(
        "logs".into(),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*"}]}"#.into(),
    );
    after.insert("managed_policy_arns".into(), vec![read_only.as_str()].into());
    after.insert("description".into(), "the app host, narrower".into());
    let Value::Map(t) = after.get_mut("tags").unwrap() else { panic!() };
    t.insert("project".into(), "other".into());
    let after = schema.normalized(&after);
    let updated = roles.update(&ctx("app_role"), &id, &before, &after).await.unwrap();
    assert_eq!(schema.normalized(&updated.props), after);
    assert_eq!(schema.normalized(&read_one(roles, &id).await.unwrap().props), after);

    let found = roles.find_tagged(STACK).await.unwrap();

    let found: std::collections::BTreeMap<_, _> = found.into_iter().collect();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["app_role"], "keyed by infra:name");
    assert_eq!(found["app_role"].id, id);
    assert!(roles.find_tagged("another-stack").await.unwrap().is_empty());

    roles.delete(&ctx("app_role"), &id, &after).await.unwrap();
    assert!(read_one(roles, &id).await.is_none());
    assert!(roles.find_tagged(STACK).await.unwrap().is_empty());
    roles.delete(&ctx("app_role"), &id, &after).await.expect("deleting twice succeeds");
    // The managed policies themselves are left alone.
    env.iam.get_policy().policy_arn(&extra).send().await.expect("a detached policy still exists");
}

#[tokio::test]
async fn an_instance_profile_holds_a_role_swaps_it_and_is_deleted() {
    let env = env().await;
    let roles = env.providers.get(Kind::Role);
    let profiles = env.providers.get(Kind::InstanceProfile);
    let role = |name: &str| props(vec![("assume_role_policy", ec2_trust_table()), ("tags", tags(name))]);
    let first = roles.create(&ctx("first"), &role("first")).await.unwrap();
    let second = roles.create(&ctx("second"), &role("second")).await.unwrap();

    let declared = props(vec![("role", first.id.as_str().into()), ("tags", tags("host_profile"))]);
    let created = profiles.create(&ctx("host_profile"), &declared).await.unwrap();
    assert_reads_as_declared(Kind::InstanceProfile, &declared, &created);
    let id = created.id.clone();
    assert_eq!(id, "test-host_profile");
    assert!(output(&created, "arn").ends_with(":instance-profile/test-host_profile"), "{:?}", created.outputs);
    let read = profiles.read_many(&[id.clone(), "no-such-profile".to_string()]).await.unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), [&id]);
    assert_eq!(read[&id], created);

    let schema = Kind::InstanceProfile.schema();
    let before = schema.normalized(&read[&id].props);
    let mut after = before.clone();
    after.insert("role".into(), second.id.as_str().into());
    let Value::Map(t) = after.get_mut("tags").unwrap() else { panic!() };
    t.remove("project");
    let after = schema.normalized(&after);
    let updated = profiles.update(&ctx("host_profile"), &id, &before, &after).await.unwrap();
    assert_eq!(schema.normalized(&updated.props), after);
    assert_eq!(schema.normalized(&read_one(profiles, &id).await.unwrap().props), after);

    let found = profiles.find_tagged(STACK).await.unwrap();

    let found: std::collections::BTreeMap<_, _> = found.into_iter().collect();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["host_profile"]);
    assert_eq!(found["host_profile"].id, id);

    // Deleting a role takes it out of the profiles that hold it.
    roles.delete(&ctx("second"), &second.id, &Props::new()).await.unwrap();
    assert!(read_one(roles, &second.id).await.is_none());
    assert_eq!(read_one(profiles, &id).await.unwrap().props.get("role"), None);

    profiles.delete(&ctx("host_profile"), &id, &after).await.unwrap();
    assert!(read_one(profiles, &id).await.is_none());
    assert!(profiles.find_tagged(STACK).await.unwrap().is_empty());
    profiles.delete(&ctx("host_profile"), &id, &after).await.expect("deleting twice succeeds");
}

#[tokio::test]
async fn a_bucket_is_created_read_updated_found_by_its_tags_and_deleted() {
    let env = env().await;
    let buckets = env.providers.get(Kind::Bucket);
    let declared = props(vec![("tags", tags("artifacts"))]);

    let created = buckets.create(&ctx("artifacts"), &declared).await.unwrap();
    assert_reads_as_declared(Kind::Bucket, &declared, &created);
    let id = created.id.clone();
    assert!(id.starts_with("test-artifacts-") && id.len() == "test-artifacts-".len() + 8, "{id}");
    assert_eq!(created.props["versioning"], Value::Bool(true), "versioned by default");
    assert_eq!(created.props["encryption"], Value::from("AES256"));
    assert_eq!(created.props["block_public_access"], Value::Bool(true));
    assert_eq!(output(&created, "arn"), format!("arn:aws:s3:::{id}"));
    assert_eq!(output(&created, "bucket"), id);

    let read = buckets.read_many(&[id.clone(), "no-such-bucket".to_string()]).await.unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), [&id], "a bucket S3 does not have is absent");
    assert_eq!(read[&id], created);

    // Versioning suspended.
    let schema = Kind::Bucket.schema();
    let before = schema.normalized(&read[&id].props);
    let mut after = before.clone();
    after.insert("versioning".into(), false.into());
    let updated = buckets.update(&ctx("artifacts"), &id, &before, &after).await.unwrap();
    assert_eq!(schema.normalized(&updated.props), schema.normalized(&after));
    let status = env.s3.get_bucket_versioning().bucket(&id).send().await.unwrap().status;
    assert_eq!(status, Some(aws_sdk_s3::types::BucketVersioningStatus::Suspended));

    // Encryption, public access and tags.
    let before = schema.normalized(&updated.props);
    let mut after = before.clone();
    after.insert("encryption".into(), "aws:kms".into());
    after.insert("block_public_access".into(), false.into());
    let Value::Map(t) = after.get_mut("tags").unwrap() else { panic!() };
    t.insert("project".into(), "other".into());
    let updated = buckets.update(&ctx("artifacts"), &id, &before, &after).await.unwrap();
    assert_eq!(schema.normalized(&updated.props), schema.normalized(&after));
    assert_eq!(schema.normalized(&read_one(buckets, &id).await.unwrap().props), schema.normalized(&after));

    let found = buckets.find_tagged(STACK).await.unwrap();

    let found: std::collections::BTreeMap<_, _> = found.into_iter().collect();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["artifacts"], "keyed by infra:name");
    assert_eq!(found["artifacts"].id, id);
    assert!(buckets.find_tagged("another-stack").await.unwrap().is_empty());

    buckets.delete(&ctx("artifacts"), &id, &after).await.expect("an empty bucket needs no force_destroy");
    assert!(read_one(buckets, &id).await.is_none());
    assert!(buckets.find_tagged(STACK).await.unwrap().is_empty());
    buckets.delete(&ctx("artifacts"), &id, &after).await.expect("deleting twice succeeds");
}

#[tokio::test]
async fn a_bucket_policy_is_put_read_back_as_declared_changed_and_deleted() {
    let env = env().await;
    let buckets = env.providers.get(Kind::Bucket);
    let schema = Kind::Bucket.schema();
    let name = "test-policy-bucket";
    let arn = format!("arn:aws:s3:::{name}");
    // A table, as a stack file writes it: S3 keeps it as JSON text of its own.
    let tls_only = |actions: Value| {
        map([
            ("Version", "2012-10-17".into()),
            (
                "Statement",
                Value::List(vec![map([
                    ("Sid", "TlsOnly".into()),
                    ("Effect", "Deny".into()),
                    ("Principal", "*".into()),
                    ("Action", actions),
                    ("Resource", Value::from(vec![arn.clone(), format!("{arn}/*")])),
                    ("Condition", map([("Bool", map([("aws:SecureTransport", "false".into())]))])),
                ])]),
            ),
        ])
    };
    // `tls_only = false`: the declared policy alone (see the next test for infra's own statement).
    let declared = props(vec![
        ("bucket", name.into()),
        ("policy", tls_only("s3:*".into())),
        ("tls_only", false.into()),
        ("tags", tags("b")),
    ]);
    let created = buckets.create(&ctx("b"), &declared).await.unwrap();
    assert_reads_as_declared(Kind::Bucket, &declared, &created);
    let read = read_one(buckets, name).await.unwrap();
    assert_eq!(schema.canonical(&read.props)["policy"], schema.normalized(&declared)["policy"], "no perpetual diff");
    let stored = env.s3.get_bucket_policy().bucket(name).send().await.unwrap().policy.unwrap();
    assert!(stored.contains("aws:SecureTransport"), "{stored}");

    // Another policy in place, then none: DeleteBucketPolicy.
    let before = schema.normalized(&read.props);
    let mut after = before.clone();
    after.insert("policy".into(), tls_only(Value::from(vec!["s3:GetObject", "s3:PutObject"])));
    let after = schema.normalized(&after);
    let updated = buckets.update(&ctx("b"), name, &before, &after).await.unwrap();
    assert_eq!(schema.canonical(&updated.props)["policy"], after["policy"]);
    let mut none = after.clone();
    none.remove("policy");
    let updated = buckets.update(&ctx("b"), name, &after, &none).await.unwrap();
    assert!(!updated.props.contains_key("policy"), "{:?}", updated.props.get("policy"));
    let gone = env.s3.get_bucket_policy().bucket(name).send().await.unwrap_err();
    assert_eq!(gone.into_service_error().meta().code(), Some("NoSuchBucketPolicy"));

    buckets.delete(&ctx("b"), name, &none).await.unwrap();
}

/// The statements of the bucket policy S3 stores for `bucket`, by `Sid`.
async fn stored_statements(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<serde_json::Value> {
    let stored = s3.get_bucket_policy().bucket(bucket).send().await.unwrap().policy.unwrap();
    let doc: serde_json::Value = serde_json::from_str(&stored).unwrap();
    doc["Statement"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_bucket_denies_requests_without_tls_by_default_beside_its_declared_policy() {
    let env = env().await;
    let buckets = env.providers.get(Kind::Bucket);
    let schema = Kind::Bucket.schema();
    let name = "test-tls-bucket";
    let arn = format!("arn:aws:s3:::{name}");
    // Nothing declared: the bucket policy holds infra's TLS-only statement, on this
    // bucket and its objects, and reads back as `tls_only` with no `policy`.
    let declared = props(vec![("bucket", name.into()), ("tags", tags("t"))]);
    let created = buckets.create(&ctx("t"), &declared).await.unwrap();
    assert_reads_as_declared(Kind::Bucket, &declared, &created);
    let read = schema.canonical(&read_one(buckets, name).await.unwrap().props);
    assert_eq!(read.get("tls_only"), Some(&Value::Bool(true)));
    assert!(!read.contains_key("policy"), "{:?}", read.get("policy"));
    let statements = stored_statements(&env.s3, name).await;
    assert_eq!(statements.len(), 1, "{statements:?}");
    let tls = &statements[0];
    assert_eq!(tls["Sid"], "InfraTlsOnly");
    assert_eq!(tls["Effect"], "Deny");
    assert_eq!(tls["Principal"], "*");
    assert_eq!(tls["Action"], "s3:*");
    assert_eq!(tls["Resource"], serde_json::json!([arn, format!("{arn}/*")]));
    assert_eq!(tls["Condition"]["Bool"]["aws:SecureTransport"], "false");

    // A declared policy joins it, and reads back as declared: no perpetual diff.
    let before = schema.normalized(&read);
    let mut after = before.clone();
    let reader = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Reader","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123456789012:root"}},"Action":"s3:GetObject","Resource":"{arn}/*"}}]}}"#
    );
    after.insert("policy".into(), Value::from(reader.as_str()));
    let after = schema.normalized(&after);
    buckets.update(&ctx("t"), name, &before, &after).await.unwrap();
    let read = schema.canonical(&read_one(buckets, name).await.unwrap().props);
    assert_eq!(read["policy"], after["policy"]);
    assert_eq!(read.get("tls_only"), Some(&Value::Bool(true)));
    let sids: Vec<String> = stored_statements(&env.s3, name).await.iter().map(|s| s["Sid"].to_string()).collect();
    assert_eq!(sids, ["\"Reader\"", "\"InfraTlsOnly\""]);

    // tls_only = false with no policy left: the bucket policy is deleted.
    let mut off = after.clone();
    off.remove("policy");
    off.insert("tls_only".into(), Value::Bool(false));
    let off = schema.normalized(&off);
    let updated = buckets.update(&ctx("t"), name, &after, &off).await.unwrap();
    assert_eq!(updated.props.get("tls_only"), Some(&Value::Bool(false)));
    let gone = env.s3.get_bucket_policy().bucket(name).send().await.unwrap_err();
    assert_eq!(gone.into_service_error().meta().code(), Some("NoSuchBucketPolicy"));
    buckets.delete(&ctx("t"), name, &off).await.unwrap();
}

async fn put_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &str) {
    s3.put_object().bucket(bucket).key(key).body(body.as_bytes().to_vec().into()).send().await.unwrap();
}

/// Deleting `bucket` without `force_destroy` is refused and leaves it; with it,
/// the bucket goes with everything in it.
async fn assert_deleted_only_when_forced(buckets: &dyn Provider, bucket: &str) {
    let keep = props(vec![("force_destroy", false.into())]);
    let err = buckets.delete(&ctx("b"), bucket, &keep).await.unwrap_err();
    assert!(matches!(err, ProviderError::Invalid(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("bucket {bucket} is not empty; set force_destroy = true to delete it with its objects")
    );
    assert!(read_one(buckets, bucket).await.is_some(), "a refused delete leaves the bucket");

    let force = props(vec![("force_destroy", true.into())]);
    buckets.delete(&ctx("b"), bucket, &force).await.unwrap();
    assert!(read_one(buckets, bucket).await.is_none());
    buckets.delete(&ctx("b"), bucket, &force).await.expect("deleting twice succeeds");
}

#[tokio::test]
async fn a_versioned_bucket_holding_versions_and_delete_markers_is_deleted_only_with_force_destroy() {
    let env = env().await;
    let buckets = env.providers.get(Kind::Bucket);
    let created = buckets.create(&ctx("b"), &props(vec![("tags", tags("b"))])).await.unwrap();
    // Two versions of one key and a delete marker: no current object, but not empty.
    put_object(&env.s3, &created.id, "build.zip", "one").await;
    put_object(&env.s3, &created.id, "build.zip", "two").await;
    env.s3.delete_object().bucket(&created.id).key("build.zip").send().await.unwrap();
    put_object(&env.s3, &created.id, "other.zip", "three").await;

    assert_deleted_only_when_forced(buckets, &created.id).await;
}

#[tokio::test]
async fn an_unversioned_bucket_with_a_declared_name_reads_back_as_declared_and_is_deleted_only_with_force_destroy() {
    let env = env().await;
    let buckets = env.providers.get(Kind::Bucket);
    let declared = props(vec![
        ("bucket", "seed-logs".into()),
        ("versioning", false.into()),
        ("encryption", "aws:kms".into()),
        ("tags", tags("logs")),
    ]);
    let created = buckets.create(&ctx("logs"), &declared).await.unwrap();
    assert_eq!(created.id, "seed-logs");
    assert_reads_as_declared(Kind::Bucket, &declared, &created);
    let status = env.s3.get_bucket_versioning().bucket("seed-logs").send().await.unwrap().status;
    assert_eq!(status, None, "never versioned rather than suspended");

    put_object(&env.s3, "seed-logs", "app.log", "hello").await;
    assert_deleted_only_when_forced(buckets, "seed-logs").await;
}
