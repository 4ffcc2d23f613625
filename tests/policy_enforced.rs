//! `infra policy`'s documents, enforced: the emulator authorizes every request
//! (moto's `POST /moto-api/reset-auth`, the switch behind
//! `INITIAL_NO_AUTH_ACTION_COUNT`) against the caller's identity policies on
//! every resource the request acts on, with the tags, the roles passed and the
//! tag-on-create checks in the request context
//! (tests/emulator/patches/iam_request_authorization.py). Two roles, as the
//! docs/security.md's "Permissions" gives them: a deploy role whose only policy is
//! `infra policy --for apply`, and a drift-check role whose only policy is
//! `infra policy --for drift`. The deploy role applies, updates and destroys
//! the dev stack; the drift role checks drift, and its apply of a change is
//! denied at the first mutating call, naming the AWS error, with nothing changed.

mod common;

use std::io::{Read, Write};
use std::path::Path;

use common::{ACCOUNT, Emulator, dev_project, infra_command};

/// Credentials of one principal.
#[derive(Clone)]
struct Keys {
    id: String,
    secret: String,
    token: Option<String>,
}

/// The `infra` command as `keys`, with the emulator's other settings.
fn command_as(emu: &Emulator, keys: &Keys, dir: &Path, args: &[&str]) -> std::process::Command {
    let mut command = infra_command(&emu.endpoint, dir, args);
    command.env("AWS_ACCESS_KEY_ID", &keys.id).env("AWS_SECRET_ACCESS_KEY", &keys.secret);
    if let Some(token) = &keys.token {
        command.env("AWS_SESSION_TOKEN", token);
    }
    command
}

/// Runs infra as `keys`, with the emulator's other settings.
fn run_as(emu: &Emulator, keys: &Keys, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = command_as(emu, keys, dir, args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn ok(out: (i32, String, String)) -> String {
    assert_eq!(out.0, 0, "infra failed:\nstdout:\n{}\nstderr:\n{}", out.1, out.2);
    out.1
}

/// Starts `infra apply` as `keys` and kills it (SIGKILL) once it reports a resource created.
fn kill_after_first_create(emu: &Emulator, keys: &Keys, dir: &Path) {
    use std::io::BufRead;
    let mut command = command_as(emu, keys, dir, &["apply", "--yes"]);
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.unwrap();
        let created = line.contains("created in");
        seen.push(line);
        if created {
            break;
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        seen.iter().any(|l| l.contains("created in")),
        "the apply created nothing before it ended ({status}):\n{}",
        seen.join("\n")
    );
}

/// An EC2 client on the emulator acting as `keys`.
async fn ec2_as(emu: &Emulator, keys: &Keys) -> aws_sdk_ec2::Client {
    let credentials = aws_sdk_ec2::config::Credentials::new(
        keys.id.clone(),
        keys.secret.clone(),
        keys.token.clone(),
        None,
        "policy-enforced",
    );
    let config = aws_sdk_ec2::config::Builder::from(&emu.sdk_config().await).credentials_provider(credentials).build();
    aws_sdk_ec2::Client::from_conf(config)
}

/// The role `name` (trusting this account) whose only policy is `infra policy --for WHAT`,
/// assumed: its session's keys.
async fn role_with_policy(emu: &Emulator, dir: &Path, stack: &str, name: &str, what: &str) -> Keys {
    let config = emu.sdk_config().await;
    let policy = ok(common::run_infra(
        emu,
        dir,
        &["policy", "--stack", stack, "--for", what, "--format", "json", "--account", ACCOUNT],
    ));
    let iam = aws_sdk_iam::Client::new(&config);
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]
    });
    iam.create_role().role_name(name).assume_role_policy_document(trust.to_string()).send().await.unwrap();
    iam.put_role_policy()
        .role_name(name)
        .policy_name(format!("infra-{what}"))
        .policy_document(policy)
        .send()
        .await
        .unwrap();
    let sts = aws_sdk_sts::Client::new(&config);
    let session = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{name}"))
        .role_session_name(format!("{name}-job"))
        .send()
        .await
        .unwrap();
    let c = session.credentials().unwrap();
    Keys { id: c.access_key_id().into(), secret: c.secret_access_key().into(), token: Some(c.session_token().into()) }
}

/// A user allowed everything: the account's administrator, to look at what the roles did.
async fn administrator(emu: &Emulator) -> Keys {
    let iam = aws_sdk_iam::Client::new(&emu.sdk_config().await);
    iam.create_user().user_name("admin").send().await.unwrap();
    let all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    iam.put_user_policy().user_name("admin").policy_name("all").policy_document(all).send().await.unwrap();
    let key = iam.create_access_key().user_name("admin").send().await.unwrap();
    let key = key.access_key().unwrap();
    Keys { id: key.access_key_id().into(), secret: key.secret_access_key().into(), token: None }
}

/// Turns the emulator's authorization on: every request from now on is checked.
fn authorize_every_request(emu: &Emulator) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", emu.port())).unwrap();
    let request = format!(
        "POST /moto-api/reset-auth HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: text/plain\r\nContent-Length: 1\r\nConnection: close\r\n\r\n0",
        emu.port()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "reset-auth answered: {answer}");
}

fn edit(dir: &Path, from: &str, to: &str) {
    let path = dir.join("stacks/dev.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "stacks/dev.toml has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// The data ports' group's rules, as the administrator sees them.
async fn ingress_ports(ec2: &aws_sdk_ec2::Client) -> Vec<(i32, i32)> {
    let groups = ec2
        .describe_security_groups()
        .filters(aws_sdk_ec2::types::Filter::builder().name("tag:infra:stack").values("dev").build())
        .send()
        .await
        .unwrap();
    let mut ports: Vec<(i32, i32)> = groups
        .security_groups()
        .iter()
        .flat_map(|g| g.ip_permissions())
        .map(|p| (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1)))
        .collect();
    ports.sort();
    ports
}

/// `value` with each sealed secret's ciphertext (sealed afresh at every write) as `<sealed>`.
fn sealed_hidden(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) if map.contains_key("$secret") => serde_json::json!("<sealed>"),
        serde_json::Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), sealed_hidden(v))).collect(),
        serde_json::Value::Array(items) => items.iter().map(sealed_hidden).collect(),
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_apply_policy_deploys_and_destroys_the_dev_stack_and_the_drift_policy_only_reads() {
    let emu = Emulator::start();
    let project = dev_project();
    let dir = project.path();
    common::unprotect_data(dir);

    let admin = administrator(&emu).await;
    let deploy = role_with_policy(&emu, dir, "dev", "infra-deploy", "apply").await;
    let drift = role_with_policy(&emu, dir, "dev", "infra-drift", "drift").await;
    authorize_every_request(&emu);
    let ec2 = ec2_as(&emu, &admin).await;

    // Authorization is on: the emulator's default credentials are nobody's.
    let stranger = Keys { id: "testing".into(), secret: "testing".into(), token: None };
    let refused = run_as(&emu, &stranger, dir, &["plan"]);
    assert_eq!(refused.0, 1, "{refused:?}");

    // The deploy role: plan, apply, a no-change plan.
    let plan = ok(run_as(&emu, &deploy, dir, &["plan"]));
    assert!(plan.contains("17 to add"), "{plan}");
    // An apply killed (SIGKILL) right after its first creates; the next one finds
    // what it made by its tags (the search by ownership tags, under the same policy).
    kill_after_first_create(&emu, &deploy, dir);
    // The killed process's requests still in flight complete on the server: let them,
    // as AWS would have by the time anyone reruns. (Read sooner, a create in flight is
    // not found yet and is made twice; an idempotency token kept with the pending
    // create would close that window, see the issue note.)
    std::thread::sleep(std::time::Duration::from_secs(2));
    ok(run_as(&emu, &deploy, dir, &["apply", "--yes"]));
    let again = run_as(&emu, &deploy, dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.0, 0, "{again:?}");
    let before = ingress_ports(&ec2).await;
    assert_eq!(before, vec![(5601, 5601), (6379, 6381), (9200, 9200), (16379, 16381)]);

    // The drift role: drift passes, and finds none.
    let report = run_as(&emu, &drift, dir, &["drift"]);
    assert_eq!(report.0, 0, "drift as the drift role:\n{}\n{}", report.1, report.2);

    // A change: the drift role may plan it but not apply it. It is denied at the
    // first mutating call, with AWS's error, and nothing changes.
    edit(dir, "ssh_cidrs = []", "ssh_cidrs = [\"172.31.0.0/16\"]");
    let plan = ok(run_as(&emu, &drift, dir, &["plan"]));
    assert!(plan.contains("data_sg"), "{plan}");
    let state_before = std::fs::read_to_string(dir.join("state/dev.json")).unwrap();
    let denied = run_as(&emu, &drift, dir, &["apply", "--yes"]);
    assert_ne!(denied.0, 0, "the drift role applied a change:\n{}\n{}", denied.1, denied.2);
    let said = format!("{}{}", denied.1, denied.2);
    assert!(said.contains("UnauthorizedOperation"), "the AWS error is named:\n{said}");
    assert!(said.contains("ec2:AuthorizeSecurityGroupIngress"), "the denied action is named:\n{said}");
    assert_eq!(ingress_ports(&ec2).await, before, "no rule was added");
    let state_after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state/dev.json")).unwrap()).unwrap();
    let state_before: serde_json::Value = serde_json::from_str(&state_before).unwrap();
    assert!(
        sealed_hidden(&state_after["resources"]) == sealed_hidden(&state_before["resources"]),
        "state records no change"
    );

    // The deploy role applies it, then destroys everything.
    ok(run_as(&emu, &deploy, dir, &["apply", "--yes"]));
    assert!(ingress_ports(&ec2).await.contains(&(22, 22)));
    ok(run_as(&emu, &deploy, dir, &["destroy", "--yes"]));
    assert_eq!(ingress_ports(&ec2).await, Vec::<(i32, i32)>::new(), "the group is gone");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state/dev.json")).unwrap()).unwrap();
    assert_eq!(state["resources"], serde_json::json!({}));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_apply_policy_runs_resizes_and_terminates_an_instance_with_its_volume_and_attachment() {
    let emu = Emulator::start();
    let project = common::host_project();
    let dir = project.path();
    let admin = administrator(&emu).await;
    let deploy = role_with_policy(&emu, dir, common::HOST_STACK, "infra-deploy", "apply").await;
    authorize_every_request(&emu);
    let ec2 = ec2_as(&emu, &admin).await;

    // RunInstances is authorized on the instance, its volumes, network interface,
    // subnet, groups and image; AttachVolume on the instance and the volume.
    ok(run_as(&emu, &deploy, dir, &["apply", "--yes"]));
    let attached = ec2.describe_volumes().send().await.unwrap();
    assert!(
        attached.volumes().iter().any(|v| !v.attachments().is_empty()),
        "the data volume is attached: {attached:?}"
    );
    let again = run_as(&emu, &deploy, dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.0, 0, "{again:?}");

    // A bigger host and volume, in place: stop, modify, start; ModifyVolume.
    let path = dir.join(format!("stacks/{}.toml", common::HOST_STACK));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("t3.medium", "t3.large", 1).replacen("size = 30", "size = 50", 1)).unwrap();
    ok(run_as(&emu, &deploy, dir, &["apply", "--yes"]));
    let sizes: Vec<i32> =
        ec2.describe_volumes().send().await.unwrap().volumes().iter().filter_map(|v| v.size()).collect();
    assert!(sizes.contains(&50), "{sizes:?}");

    ok(run_as(&emu, &deploy, dir, &["destroy", "--yes"]));
    let left = ec2.describe_instances().send().await.unwrap();
    let running = left
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated"))
        .count();
    assert_eq!(running, 0, "the instance is terminated");
}
