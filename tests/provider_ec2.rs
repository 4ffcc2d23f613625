//! The EC2 providers (security groups, instances, volumes, volume attachments)
//! through the `Provider` trait, against the emulator: create, batched read,
//! in-place update, adoption by tags, delete (twice).
//!
//! A [`Tap`] relays the SDK's traffic to the emulator and notes each EC2 call's
//! `Action`, so a test can tell which calls an operation made.

mod common;

use common::{STACK, ctx, props};

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::Emulator;
use infra::model::{Kind, Observed, Props, TAG_NAME, TAG_STACK, Value, map};
use infra::provider::{Progress, Providers};

const AZ: &str = "us-east-1a";

/// A TCP relay in front of the emulator that records the `Action` of every
/// query-protocol call (EC2) passing through it.
struct Tap {
    endpoint: String,
    actions: Arc<Mutex<Vec<String>>>,
}

impl Tap {
    fn start(emu: &Emulator) -> Tap {
        let upstream = emu.endpoint.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the tap");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let actions = Arc::new(Mutex::new(Vec::new()));
        let seen = actions.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(&upstream) else { return };
                let seen = seen.clone();
                std::thread::spawn(move || relay(client, server, seen));
            }
        });
        Tap { endpoint, actions }
    }

    /// The actions recorded since the last call.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.actions.lock().unwrap())
    }

    /// The recorded actions that change something (not `Describe*`), since the last call.
    fn take_changes(&self) -> Vec<String> {
        self.take().into_iter().filter(|a| !a.starts_with("Describe")).collect()
    }
}

fn relay(client: TcpStream, server: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let (mut from_server, mut to_client) = (server.try_clone().unwrap(), client.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(std::net::Shutdown::Both);
    });
    let (mut from_client, mut to_server) = (client, server);
    let mut buf = [0u8; 16384];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = match from_client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Noted before it is forwarded, so it is recorded before the SDK sees the answer.
        pending.extend_from_slice(&buf[..n]);
        note_actions(&mut pending, &seen);
        if to_server.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to_server.shutdown(std::net::Shutdown::Both);
}

/// Moves every complete `Action=<name>&` out of `pending` into `seen`.
fn note_actions(pending: &mut Vec<u8>, seen: &Mutex<Vec<String>>) {
    const KEY: &[u8] = b"Action=";
    loop {
        let Some(start) = find(pending, KEY) else {
            // Keep only what could be the start of a split `Action=`.
            let keep = pending.len().saturating_sub(KEY.len());
            pending.drain(..keep);
            return;
        };
        let rest = &pending[start + KEY.len()..];
        let Some(end) = rest.iter().position(|b| *b == b'&') else { return };
        seen.lock().unwrap().push(String::from_utf8_lossy(&rest[..end]).into_owned());
        pending.drain(..start + KEY.len() + end);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// An emulator, a tap in front of it, and the providers and an EC2 client going through the tap.
struct Env {
    _emu: Emulator,
    tap: Tap,
    providers: Providers,
    ec2: aws_sdk_ec2::Client,
    ssm: aws_sdk_ssm::Client,
}

async fn env() -> Env {
    let emu = Emulator::start();
    let tap = Tap::start(&emu);
    let config = emu.sdk_config().await.to_builder().endpoint_url(&tap.endpoint).build();
    Env {
        providers: Providers::new(&config),
        ec2: aws_sdk_ec2::Client::new(&config),
        ssm: aws_sdk_ssm::Client::new(&config),
        _emu: emu,
        tap,
    }
}

/// The tags the planner would pass: the stack's, the resource's, and the ownership tags.
fn tags(name: &str) -> Value {
    map([(TAG_STACK, STACK.into()), (TAG_NAME, name.into()), ("project", "seed".into()), ("owner", "ops".into())])
}

/// Properties a batched read cannot report.
const NOT_READ: &[&str] = &["user_data", "root_volume_size", "ami_parameter"];

/// Every declared property (normalised, as the planner compares them) equals the
/// observed one, except those a batched read cannot report.
fn assert_reads_as_declared(kind: Kind, declared: &Props, observed: &Observed) {
    let schema = kind.schema();
    let (want, got) = (schema.normalized(declared), schema.normalized(&observed.props));
    for (k, v) in &want {
        if NOT_READ.contains(&k.as_str()) {
            continue;
        }
        assert_eq!(got.get(k), Some(v), "{kind} {}: property `{k}`\nobserved: {got:#?}", observed.id);
    }
}

fn rule(protocol: &str, ports: Option<Value>, cidrs: &[&str], description: Option<&str>) -> Value {
    let mut m = BTreeMap::from([("protocol".to_string(), Value::from(protocol))]);
    if let Some(p) = ports {
        m.insert("ports".into(), p);
    }
    m.insert("cidrs".into(), Value::from(cidrs.to_vec()));
    if let Some(d) = description {
        m.insert("description".into(), d.into());
    }
    Value::Map(m)
}

fn output<'a>(o: &'a Observed, key: &str) -> &'a str {
    o.outputs.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("no output `{key}` in {:#?}", o.outputs))
}

#[tokio::test]
async fn a_security_group_is_created_read_updated_found_by_its_tags_and_deleted() {
    let env = env().await;
    let sgs = env.providers.get(Kind::SecurityGroup);
    let declared = props(vec![
        ("description", "data services".into()),
        (
            "ingress",
            Value::List(vec![
                rule("tcp", Some("6379-6381".into()), &["172.31.0.0/16", "10.1.0.0/16"], Some("redis clients")),
                rule("tcp", Some(5601.into()), &["172.31.0.0/16"], None),
                rule("tcp", Some(22.into()), &[], Some("ssh")),
            ]),
        ),
        ("tags", tags("data_sg")),
    ]);

    let created = sgs.create(&ctx("data_sg"), &declared).await.unwrap();
    assert_reads_as_declared(Kind::SecurityGroup, &declared, &created);
    assert_eq!(created.props["name"], Value::from("test-data_sg"), "the default name is <stack>-<resource>");
    let id = created.id.clone();
    assert!(id.starts_with("sg-"));
    assert_eq!(output(&created, "id"), id);
    assert_eq!(output(&created, "name"), "test-data_sg");
    assert!(output(&created, "arn").starts_with("arn:aws:ec2:us-east-1:"), "{:?}", created.outputs);
    assert!(output(&created, "arn").ends_with(&format!(":security-group/{id}")));
    assert!(output(&created, "vpc_id").starts_with("vpc-"));
    // Egress was not declared: AWS's allow-all rule is left alone.
    assert_eq!(created.props["egress"], Value::List(vec![rule("all", None, &["0.0.0.0/0"], None)]));

    env.tap.take();
    let gone = "sg-0123456789abcdef0".to_string();
    let read = sgs.read_many(&[id.clone(), gone]).await.unwrap();
    assert_eq!(env.tap.take(), ["DescribeSecurityGroups"], "one batched read");
    assert_eq!(read.keys().collect::<Vec<_>>(), [&id], "a group AWS does not have is absent");
    // The create's answer is built from what it sent and what AWS answered,
    // not read back: it reads the same, normalised.
    let schema = Kind::SecurityGroup.schema();
    assert_eq!((read[&id].id.as_str(), &read[&id].outputs), (created.id.as_str(), &created.outputs));
    assert_eq!(schema.canonical(&read[&id].props), schema.canonical(&created.props));

    // Adding a rule authorizes that one rule and touches nothing else.
    let schema = Kind::SecurityGroup.schema();
    let before = schema.normalized(&read[&id].props);
    let mut after = before.clone();
    let Value::List(ingress) = after.get_mut("ingress").unwrap() else { panic!() };
    ingress.push(rule("tcp", Some(9200.into()), &["172.31.0.0/16"], Some("elasticsearch")));
    let after = schema.normalized(&after);
    let updated = sgs.update(&ctx("data_sg"), &id, &before, &after).await.unwrap();
    assert_eq!(env.tap.take_changes(), ["AuthorizeSecurityGroupIngress"]);
    assert_eq!(schema.normalized(&updated.props), after);

    // Removing a rule and changing tags: one revoke, one CreateTags, one DeleteTags.
    let before = after;
    let mut after = before.clone();
    after.insert("ingress".into(), declared["ingress"].clone());
    let Value::Map(t) = after.get_mut("tags").unwrap() else { panic!() };
    t.insert("project".into(), "other".into());
    t.remove("owner");
    let after = schema.normalized(&after);
    let updated = sgs.update(&ctx("data_sg"), &id, &before, &after).await.unwrap();
    assert_eq!(env.tap.take_changes(), ["RevokeSecurityGroupIngress", "CreateTags", "DeleteTags"]);
    assert_eq!(schema.normalized(&updated.props), after);

    let found = sgs.find_tagged(STACK).await.unwrap();

    let found: std::collections::BTreeMap<_, _> = found.into_iter().collect();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["data_sg"], "keyed by infra:name");
    assert_eq!(found["data_sg"].id, id);
    assert!(sgs.find_tagged("another-stack").await.unwrap().is_empty());

    sgs.delete(&ctx("data_sg"), &id, &after).await.unwrap();
    assert!(sgs.read_many(std::slice::from_ref(&id)).await.unwrap().is_empty());
    assert!(sgs.find_tagged(STACK).await.unwrap().is_empty());
    sgs.delete(&ctx("data_sg"), &id, &after).await.expect("deleting twice succeeds");
}

#[tokio::test]
async fn declared_egress_replaces_the_default_rule_and_every_rule_shape_reads_back_as_declared() {
    let env = env().await;
    let sgs = env.providers.get(Kind::SecurityGroup);
    let peer = sgs.create(&ctx("peer"), &props(vec![("name", "peer".into()), ("tags", tags("peer"))])).await.unwrap();
    let declared = props(vec![
        ("name", "shapes".into()),
        (
            "ingress",
            Value::List(vec![
                rule("udp", Some("1000-2000".into()), &["2001:db8::/32", "10.0.0.0/8"], Some("both families")),
                rule("all", None, &["192.168.0.0/16"], None),
                rule("icmp", Some(8.into()), &["10.0.0.0/8"], Some("ping")),
                map([
                    ("protocol", "tcp".into()),
                    ("ports", 6379.into()),
                    ("source_security_group", peer.id.as_str().into()),
                    ("description", "from peers".into()),
                ]),
            ]),
        ),
        ("egress", Value::List(vec![rule("tcp", Some(443.into()), &["0.0.0.0/0"], Some("https out"))])),
        ("tags", tags("shapes")),
    ]);

    let created = sgs.create(&ctx("shapes"), &declared).await.unwrap();
    assert_reads_as_declared(Kind::SecurityGroup, &declared, &created);
    let read = sgs.read_many(std::slice::from_ref(&created.id)).await.unwrap();
    assert_reads_as_declared(Kind::SecurityGroup, &declared, &read[&created.id]);
}

#[tokio::test]
async fn a_volume_is_created_read_grown_found_by_its_tags_and_deleted() {
    let env = env().await;
    let volumes = env.providers.get(Kind::Volume);
    let declared = props(vec![
        ("availability_zone", AZ.into()),
        ("size", 10.into()),
        ("volume_type", "gp3".into()),
        ("tags", tags("data")),
    ]);

    let created = volumes.create(&ctx("data"), &declared).await.unwrap();
    assert_reads_as_declared(Kind::Volume, &declared, &created);
    assert_eq!(created.props["encrypted"], Value::Bool(true), "encrypted by default");
    let id = created.id.clone();
    assert_eq!(output(&created, "id"), id);
    assert_eq!(output(&created, "availability_zone"), AZ);

    env.tap.take();
    let read = volumes.read_many(&[id.clone(), "vol-0123456789abcdef0".to_string()]).await.unwrap();
    assert_eq!(env.tap.take(), ["DescribeVolumes"], "one batched read");
    assert_eq!(read.keys().collect::<Vec<_>>(), [&id]);

    let schema = Kind::Volume.schema();
    let before = schema.normalized(&read[&id].props);
    let mut after = before.clone();
    after.insert("size".into(), 20.into());
    after.insert("iops".into(), 4000.into());
    after.insert("throughput".into(), 250.into());
    let grown = volumes.update(&ctx("data"), &id, &before, &after).await.unwrap();
    assert_eq!(env.tap.take_changes(), ["ModifyVolume"], "one modification for size, IOPS and throughput");
    assert_eq!(schema.normalized(&grown.props), after);
    assert_eq!(schema.normalized(&volumes.read_many(std::slice::from_ref(&id)).await.unwrap()[&id].props), after);

    let found = volumes.find_tagged(STACK).await.unwrap();

    let found: std::collections::BTreeMap<_, _> = found.into_iter().collect();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["data"]);
    assert_eq!(found["data"].id, id);

    volumes.delete(&ctx("data"), &id, &after).await.unwrap();
    assert!(volumes.read_many(std::slice::from_ref(&id)).await.unwrap().is_empty());
    assert!(volumes.find_tagged(STACK).await.unwrap().is_empty());
    volumes.delete(&ctx("data"), &id, &after).await.expect("deleting twice succeeds");
}

#[tokio::test]
async fn a_read_of_more_than_200_volumes_takes_one_call_per_200_ids() {
    let env = env().await;
    let mut ids = Vec::new();
    for _ in 0..201 {
        let v = env.ec2.create_volume().availability_zone(AZ).size(1).send().await.unwrap();
        ids.push(v.volume_id.unwrap());
    }
    env.tap.take();
    let read = env.providers.get(Kind::Volume).read_many(&ids).await.unwrap();
    assert_eq!(env.tap.take(), ["DescribeVolumes", "DescribeVolumes"]);
    assert_eq!(read.len(), 201);
}

#[tokio::test]
async fn recorded_resources_are_read_by_the_stack_tag_and_by_id_only_when_their_tags_changed() {
    let env = env().await;
    let volumes = env.providers.get(Kind::Volume);
    let mut ids = Vec::new();
    for i in 0..201 {
        let tags = [(TAG_STACK, STACK.to_string()), (TAG_NAME, format!("v{i}"))]
            .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build());
        let spec = aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(aws_sdk_ec2::types::ResourceType::Volume)
            .set_tags(Some(tags.to_vec()))
            .build();
        let v = env.ec2.create_volume().availability_zone(AZ).size(1).tag_specifications(spec).send().await.unwrap();
        ids.push(v.volume_id.unwrap());
    }
    let gone = "vol-0123456789abcdef0".to_string();
    let recorded: Vec<String> = ids.iter().cloned().chain([gone.clone()]).collect();

    env.tap.take();
    let read = volumes.read_recorded(STACK, &recorded, &Default::default()).await.unwrap();
    // One search by the stack tag, and the id it did not return (deleted) by id.
    assert_eq!(env.tap.take(), ["DescribeVolumes", "DescribeVolumes"]);
    assert_eq!(read.len(), 201);
    assert!(!read.contains_key(&gone));
    assert_eq!(read, volumes.read_many(&ids).await.unwrap(), "the same as a read by id");

    // Out of band, one volume loses the stack tag: it is still read, showing its tags as they are.
    env.ec2
        .delete_tags()
        .resources(&ids[7])
        .tags(aws_sdk_ec2::types::Tag::builder().key(TAG_STACK).build())
        .send()
        .await
        .unwrap();
    let read = volumes.read_recorded(STACK, &ids, &Default::default()).await.unwrap();
    assert_eq!(read.len(), 201);
    let tags = read[&ids[7]].props["tags"].as_map().unwrap();
    assert!(!tags.contains_key(TAG_STACK) && tags.contains_key(TAG_NAME), "{tags:?}");
}

#[tokio::test]
async fn an_instance_is_launched_read_resized_found_by_its_tags_and_terminated() {
    let env = env().await;
    let sg = env
        .providers
        .get(Kind::SecurityGroup)
        .create(&ctx("host_sg"), &props(vec![("tags", tags("host_sg"))]))
        .await
        .unwrap();
    let instances = env.providers.get(Kind::Instance);
    let declared = props(vec![
        ("instance_type", "t3.micro".into()),
        ("availability_zone", AZ.into()),
        ("security_group_ids", vec![sg.id.as_str()].into()),
        ("root_volume_size", 16.into()),
        ("user_data", "#!/bin/sh\necho hello\n".into()),
        ("tags", tags("host")),
    ]);

    let created = instances.create(&ctx("host"), &declared).await.unwrap();
    assert_reads_as_declared(Kind::Instance, &declared, &created);
    let id = created.id.clone();
    let ami = env
        .ssm
        .get_parameter()
        .name(infra::model::kinds::instance::AL2023_PARAMETER)
        .send()
        .await
        .unwrap()
        .parameter
        .unwrap()
        .value
        .unwrap();
    assert_eq!(created.props["ami"], Value::from(ami), "the AMI comes from the SSM parameter");
    for key in ["private_ip", "private_dns", "subnet_id", "vpc_id"] {
        assert!(!output(&created, key).is_empty(), "{key}");
    }
    assert_eq!(output(&created, "availability_zone"), AZ);
    assert!(output(&created, "arn").ends_with(&format!(":instance/{id}")));

    // The user data went in base64, and the root volume has the declared size and the
    // stack's tags, but no infra:name (it is not a declared ec2.volume).
    let user_data = env
        .ec2
        .describe_instance_attribute()
        .instance_id(&id)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
        .send()
        .await
        .unwrap();
    let encoded = user_data.user_data.and_then(|u| u.value).unwrap();
    assert_eq!(aws_smithy_types::base64::decode(encoded).unwrap(), b"#!/bin/sh\necho hello\n");
    let roots = env
        .ec2
        .describe_volumes()
        .filters(aws_sdk_ec2::types::Filter::builder().name("attachment.instance-id").values(&id).build())
        .send()
        .await
        .unwrap()
        .volumes
        .unwrap();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0].size, Some(16));
    let root_tags: Vec<_> = roots[0].tags().iter().filter_map(|t| t.key()).collect();
    assert!(root_tags.contains(&TAG_STACK) && root_tags.contains(&"project"), "{root_tags:?}");
    assert!(!root_tags.contains(&TAG_NAME), "{root_tags:?}");
    assert!(env.providers.get(Kind::Volume).find_tagged(STACK).await.unwrap().is_empty());

    env.tap.take();
    let read = instances.read_many(&[id.clone(), "i-0123456789abcdef0".to_string()]).await.unwrap();
    assert_eq!(env.tap.take(), ["DescribeInstances"], "one batched read");
    assert_eq!(read.keys().collect::<Vec<_>>(), [&id]);
    assert_eq!(read[&id], created);

    // A new instance type: stop, modify, start, each phase reported.
    let schema = Kind::Instance.schema();
    let before = schema.normalized(&read[&id].props);
    let mut after = before.clone();
    after.insert("instance_type".into(), "t3.small".into());
    let messages = Arc::new(Mutex::new(Vec::new()));
    let noted = messages.clone();
    let mut resize = ctx("host");
    resize.progress = Progress::new(move |_, msg| noted.lock().unwrap().push(msg.to_string()));
    let resized = instances.update(&resize, &id, &before, &after).await.unwrap();
    assert_eq!(env.tap.take_changes(), ["StopInstances", "ModifyInstanceAttribute", "StartInstances"]);
    assert_eq!(resized.props["instance_type"], Value::from("t3.small"));
    let messages = messages.lock().unwrap().clone();
    for phase in ["stopping", "changing the instance type to t3.small", "starting"] {
        assert!(messages.iter().any(|m| m.contains(phase)), "no `{phase}` in {messages:?}");
    }

    // Other security groups: one ModifyInstanceAttribute, no restart.
    let other = env
        .providers
        .get(Kind::SecurityGroup)
        .create(&ctx("other_sg"), &props(vec![("tags", tags("other_sg"))]))
        .await
        .unwrap();
    env.tap.take();
    let before = schema.normalized(&resized.props);
    let mut after = before.clone();
    after.insert("security_group_ids".into(), vec![sg.id.as_str(), other.id.as_str()].into());
    let after = schema.normalized(&after);
    let regrouped = instances.update(&ctx("host"), &id, &before, &after).await.unwrap();
    assert_eq!(env.tap.take_changes(), ["ModifyInstanceAttribute"]);
    assert_eq!(schema.normalized(&regrouped.props)["security_group_ids"], after["security_group_ids"]);

    // IMDSv2 only with a hop limit of 2 by default; other metadata options
    // change in place, in one ModifyInstanceMetadataOptions.
    assert_eq!(created.props["http_tokens"], Value::from("required"));
    assert_eq!(created.props["http_put_response_hop_limit"], Value::Int(2));
    let before = schema.normalized(&regrouped.props);
    let mut after = before.clone();
    after.insert("http_tokens".into(), "optional".into());
    after.insert("http_put_response_hop_limit".into(), 1.into());
    let reopened = instances.update(&ctx("host"), &id, &before, &after).await.unwrap();
    assert_eq!(env.tap.take_changes(), ["ModifyInstanceMetadataOptions"]);
    assert_eq!(reopened.props["http_tokens"], Value::from("optional"));
    assert_eq!(reopened.props["http_put_response_hop_limit"], Value::Int(1));

    let found = instances.find_tagged(STACK).await.unwrap();

    let found: std::collections::BTreeMap<_, _> = found.into_iter().collect();
    assert_eq!(found.keys().collect::<Vec<_>>(), ["host"]);
    assert_eq!(found["host"].id, id);

    instances.delete(&ctx("host"), &id, &after).await.unwrap();
    assert!(
        instances.read_many(std::slice::from_ref(&id)).await.unwrap().is_empty(),
        "a terminated instance is absent"
    );
    assert!(instances.find_tagged(STACK).await.unwrap().is_empty());
    instances.delete(&ctx("host"), &id, &after).await.expect("deleting twice succeeds");
}

#[tokio::test]
async fn a_volume_is_attached_read_and_detached() {
    let env = env().await;
    let host = env
        .providers
        .get(Kind::Instance)
        .create(
            &ctx("host"),
            &props(vec![
                ("instance_type", "t3.micro".into()),
                ("availability_zone", AZ.into()),
                ("tags", tags("host")),
            ]),
        )
        .await
        .unwrap();
    let data = env
        .providers
        .get(Kind::Volume)
        .create(
            &ctx("data"),
            &props(vec![("availability_zone", AZ.into()), ("size", 10.into()), ("tags", tags("data"))]),
        )
        .await
        .unwrap();
    let attachments = env.providers.get(Kind::VolumeAttachment);
    let declared = props(vec![
        ("instance_id", host.id.as_str().into()),
        ("volume_id", data.id.as_str().into()),
        ("device_name", "/dev/sdf".into()),
    ]);

    let attached = attachments.create(&ctx("data_attachment"), &declared).await.unwrap();
    let id = format!("{}:{}:/dev/sdf", data.id, host.id);
    assert_eq!(attached.id, id);
    assert_eq!(output(&attached, "id"), id);
    assert_reads_as_declared(Kind::VolumeAttachment, &declared, &attached);

    env.tap.take();
    let elsewhere = format!("{}:{}:/dev/sdg", data.id, host.id);
    let read = attachments.read_many(&[id.clone(), elsewhere]).await.unwrap();
    assert_eq!(env.tap.take(), ["DescribeVolumes"], "one batched read");
    assert_eq!(read.keys().collect::<Vec<_>>(), [&id], "an attachment at another device is absent");
    assert_eq!(read[&id], attached);
    assert!(attachments.find_tagged(STACK).await.unwrap().is_empty(), "attachments carry no tags");

    attachments.delete(&ctx("data_attachment"), &id, &declared).await.unwrap();
    assert!(attachments.read_many(std::slice::from_ref(&id)).await.unwrap().is_empty());
    attachments.delete(&ctx("data_attachment"), &id, &declared).await.expect("detaching twice succeeds");

    // A detached volume can be deleted.
    env.providers.get(Kind::Volume).delete(&ctx("data"), &data.id, &Props::new()).await.unwrap();
    attachments
        .delete(&ctx("data_attachment"), &id, &declared)
        .await
        .expect("detaching from a deleted volume succeeds");
}

#[tokio::test]
async fn a_volume_attached_to_a_running_instance_is_not_deleted_and_one_whose_instance_is_terminated_is() {
    let env = env().await;
    let host = env
        .ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .placement(aws_sdk_ec2::types::Placement::builder().availability_zone(AZ).build())
        .send()
        .await
        .unwrap();
    let host = host.instances()[0].instance_id().unwrap().to_string();
    let volumes = env.providers.get(Kind::Volume);
    let declared = props(vec![("availability_zone", AZ.into()), ("size", 10.into()), ("tags", tags("data"))]);
    let data = volumes.create(&ctx("data"), &declared).await.unwrap();
    // Attached by something other than the stack (an Elastic Beanstalk instance's hook).
    env.ec2.attach_volume().volume_id(&data.id).instance_id(&host).device("/dev/sdf").send().await.unwrap();

    let err = volumes.delete(&ctx("data"), &data.id, &declared).await.unwrap_err().to_string();
    assert!(err.contains(&format!("attached to instance {host}, which is running")), "{err}");
    assert_eq!(volumes.read_many(std::slice::from_ref(&data.id)).await.unwrap().len(), 1, "the volume is kept");

    env.ec2.terminate_instances().instance_ids(&host).send().await.unwrap();
    volumes.delete(&ctx("data"), &data.id, &declared).await.unwrap();
    assert!(volumes.read_many(std::slice::from_ref(&data.id)).await.unwrap().is_empty());
}
