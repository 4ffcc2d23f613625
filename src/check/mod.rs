//! Policy checks: rules a stack must keep before it is planned or applied, run
//! on the declaration alone (no AWS). A resource may be allowed to fail a check
//! only with a reason: `allow = { public_data_port = "why" }`. The checks'
//! names, what each catches and why are data in [`crate::model::checks`]
//! (docs/checks.md is generated from them); this module runs them:
//!
//! - `network.rs`: ports open to the whole internet (`public_data_port`,
//!   `world_open_admin_port`, `world_open_all_ports`), from the union of the
//!   rules' CIDRs, per group and across the groups an environment or an
//!   instance uses.
//! - `iam.rs`: policy documents (roles' trust and inline policies, managed
//!   policy ARNs, bucket policies).
//! - here: volumes, buckets, instance metadata, Elastic Beanstalk settings,
//!   CodeBuild, secrets in plain-text places, and the bundle's ports against
//!   the groups (`closed_service_port`, `unserved_open_port`: these need the
//!   ports each bundle serves, which the caller reads from the project's files,
//!   `compose::environment_bundles`, and passes in).

mod iam;
mod network;

use network::ranges;

use std::collections::{BTreeMap, BTreeSet};

use crate::compose::{BundlePorts, Protocol};
use crate::model::kinds::eb_environment::LAUNCH;
use crate::model::schema::parse_ports;
use crate::model::{Backend, Kind, Props, Resource, Stack, Value};

pub use crate::model::checks::{CHECKS, Check};

/// Ports a security group may open with nothing in the bundle serving them.
const MANAGEMENT_PORTS: &[(i64, &str)] = &[(22, "ssh")];

/// The option settings namespace of an environment's plain-text properties.
const ENV_PROPERTIES: &str = "aws:elasticbeanstalk:application:environment";

/// One rule a resource breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub resource: String,
    pub check: &'static str,
    pub message: String,
    /// The stack's reason for allowing it, when it does.
    pub allowed: Option<String>,
}

/// Every finding of every check, in resource order. `bundles` holds the ports
/// the bundle of each Elastic Beanstalk environment serves, by environment.
pub fn check(stack: &Stack, bundles: &BTreeMap<String, BundlePorts>) -> Vec<Finding> {
    let mut out = Vec::new();
    let versioned_uses = versioned_uses(stack);
    for (name, res) in &stack.resources {
        let props = res.kind.schema().normalized(&res.props);
        let mut found: Vec<(&'static str, String)> = Vec::new();
        match res.kind {
            Kind::SecurityGroup => {
                let ingress = props.get("ingress").and_then(Value::as_list).unwrap_or_default();
                let open = network::world_open(&network::rules(ingress));
                found.extend(open.iter().map(|w| (w.check, w.message("`ingress` opens"))));
            }
            Kind::Volume if props.get("encrypted") == Some(&Value::Bool(false)) => {
                found.push((
                    "unencrypted_volume",
                    "the volume is not encrypted at rest (`encrypted = false`); set `encrypted = true`".into(),
                ));
            }
            Kind::EbEnvironment => {
                if let Some(message) = immutable_with_data_volume(&props) {
                    found.push(("immutable_update_with_data_volume", message));
                }
                found.extend(groups_together(stack, &props, "security_groups"));
                found.extend(environment(&props));
            }
            Kind::Instance => {
                found.extend(groups_together(stack, &props, "security_group_ids"));
                if props.get("http_tokens").and_then(Value::as_str) == Some("optional") {
                    found.push((
                        "imdsv1_enabled",
                        "`http_tokens = \"optional\"` lets the instance answer IMDSv1; \
                         set `http_tokens = \"required\"` (the default)"
                            .into(),
                    ));
                }
                if props.get("user_data").is_some_and(Value::contains_secret) {
                    found.push(plaintext_secret(
                        "`user_data`",
                        "keep it in an `ssm.parameter` (a SecureString) and have the instance read it at boot, \
                         by name or ARN",
                    ));
                }
            }
            // The value is where a secret belongs: a SecureString, which AWS
            // shows only to whoever may decrypt it. The description is shown
            // to whoever may describe the parameter.
            Kind::SsmParameter if props.get("description").is_some_and(Value::contains_secret) => {
                found.push(plaintext_secret("`description`", "describe what the parameter holds, not its value"));
            }
            Kind::Role => found.extend(role(&props)),
            Kind::Bucket => found.extend(bucket(&props, versioned_uses.get(name.as_str()))),
            Kind::BuildProject => {
                if props.get("privileged_mode") == Some(&Value::Bool(true)) {
                    found.push((
                        "codebuild_privileged_mode",
                        "`privileged_mode = true` runs the build container as root on its host; \
                         set it false unless the build makes Docker images"
                            .into(),
                    ));
                }
                for (var, value) in props.get("environment_variables").and_then(Value::as_map).into_iter().flatten() {
                    if value.contains_secret() {
                        found.push(plaintext_secret(
                            &format!("`environment_variables.{var}` (a PLAINTEXT build variable)"),
                            "keep it in an `ssm.parameter` (a SecureString) or Secrets Manager and give the build a \
                             PARAMETER_STORE or SECRETS_MANAGER variable naming it",
                        ));
                    }
                }
            }
            _ => {}
        }
        found.extend(secret_in_tags_or_name(&props));
        out.extend(found.into_iter().map(|(check, message)| finding(name, res, check, message)));
    }
    out.extend(port_findings(stack, bundles));
    out.sort_by(|a, b| a.resource.cmp(&b.resource));
    out
}

fn finding(name: &str, res: &Resource, check: &'static str, message: String) -> Finding {
    Finding { resource: name.to_string(), check, message, allowed: res.allow.get(check).cloned() }
}

fn plaintext_secret(place: &str, instead: &str) -> (&'static str, String) {
    ("secret_in_plaintext_sink", format!("{place} holds a secret, which AWS shows in plain text; {instead}"))
}

/// A secret in any kind's tags or name: both are shown to whoever may list
/// the resource.
fn secret_in_tags_or_name(props: &Props) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (key, value) in props.get("tags").and_then(Value::as_map).into_iter().flatten() {
        if value.contains_secret() {
            out.push(plaintext_secret(&format!("`tags.{key}`"), "tag it with the secret's name or ARN, not its value"));
        }
    }
    for prop in ["name", "bucket"] {
        if props.get(prop).is_some_and(Value::contains_secret) {
            out.push(plaintext_secret(&format!("`{prop}`"), "name it with something that is not secret"));
        }
    }
    out
}

/// The value of an environment's option setting, if declared.
fn setting<'a>(props: &'a Props, namespace: &str, name: &str) -> Option<&'a Value> {
    props.get("option_settings").and_then(Value::as_list).unwrap_or_default().iter().filter_map(Value::as_map).find_map(
        |s| {
            let matches = s.get("namespace").and_then(Value::as_str) == Some(namespace)
                && s.get("name").and_then(Value::as_str) == Some(name);
            if matches { s.get("value") } else { None }
        },
    )
}

/// `imdsv1_enabled`, `eb_default_security_group` and secrets in environment
/// properties, on an environment's option settings.
fn environment(props: &Props) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if setting(props, LAUNCH, "DisableIMDSv1").and_then(Value::as_str) != Some("true") {
        out.push((
            "imdsv1_enabled",
            format!(
                "`option_settings` do not set {LAUNCH} DisableIMDSv1 = true, so the instances answer IMDSv1; set it"
            ),
        ));
    }
    if setting(props, LAUNCH, "DisableDefaultEC2SecurityGroup").and_then(Value::as_str) != Some("true") {
        out.push((
            "eb_default_security_group",
            format!(
                "`option_settings` do not set {LAUNCH} DisableDefaultEC2SecurityGroup = true, so the instances \
                 keep Elastic Beanstalk's group (SSH and HTTP open to the internet); set it, with `security_groups`"
            ),
        ));
    }
    for s in props.get("option_settings").and_then(Value::as_list).unwrap_or_default().iter().filter_map(Value::as_map)
    {
        if s.get("namespace").and_then(Value::as_str) == Some(ENV_PROPERTIES)
            && s.get("value").is_some_and(Value::contains_secret)
        {
            let name = s.get("name").and_then(Value::as_str).unwrap_or("?");
            out.push(plaintext_secret(
                &format!("the environment property {name} (`option_settings`, {ENV_PROPERTIES})"),
                "keep it in an `ssm.parameter` (a SecureString) and name its ARN in \
                 aws:elasticbeanstalk:application:environmentsecrets instead",
            ));
        }
    }
    out
}

/// The IAM checks on a role: its trust policy, inline policies and managed policies.
fn role(props: &Props) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(trust) = props.get("assume_role_policy").and_then(iam::document) {
        out.extend(iam::any_principal("`assume_role_policy`", &trust));
        out.extend(iam::service_trust("`assume_role_policy`", &trust));
    }
    for (policy, doc) in props.get("inline_policies").and_then(Value::as_map).into_iter().flatten() {
        if let Some(doc) = iam::document(doc) {
            out.extend(iam::identity_policy(&format!("`inline_policies.{policy}`"), &doc));
        }
    }
    out.extend(iam::managed_policies(props.get("managed_policy_arns").and_then(Value::as_list).unwrap_or_default()));
    out
}

/// The S3 checks on a bucket; `used_for` is what needs it versioned, if anything.
fn bucket(props: &Props, used_for: Option<&BTreeSet<String>>) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if props.get("block_public_access") == Some(&Value::Bool(false)) {
        out.push((
            "s3_public_access",
            "`block_public_access = false` leaves the bucket one ACL or policy away from public; \
             set it true (the default)"
                .into(),
        ));
    }
    let policy = props.get("policy").and_then(iam::document);
    if let Some(doc) = &policy {
        out.extend(iam::any_principal("`policy`", doc));
    }
    let tls_only = props.get("tls_only") != Some(&Value::Bool(false));
    if !tls_only && !policy.as_ref().is_some_and(iam::denies_plain_http) {
        out.push((
            "s3_no_tls_only_policy",
            "`tls_only = false` and `policy` does not deny requests without TLS; drop `tls_only = false` (it is on \
             by default), or add a Deny statement for Principal \"*\", Action \"s3:*\" on the bucket and its \
             objects with Condition Bool aws:SecureTransport = \"false\""
                .into(),
        ));
    }
    if let Some(uses) = used_for
        && props.get("versioning") == Some(&Value::Bool(false))
    {
        out.push((
            "s3_unversioned",
            format!(
                "`versioning = false`, but the bucket holds {}: an overwritten object is lost; set `versioning = true`",
                uses.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    out
}

/// What each declared bucket holds that needs versioning, by resource name:
/// a pipeline's artifacts, application versions, infra's state.
fn versioned_uses(stack: &Stack) -> BTreeMap<&str, BTreeSet<String>> {
    let mut out: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let bucket_named = |v: &Value| -> Option<&str> {
        match v {
            Value::Ref(r) => stack.resources.get_key_value(&r.resource).map(|(k, _)| k.as_str()),
            Value::Str(s) => stack.resources.iter().find_map(|(k, res)| {
                (res.kind == Kind::Bucket && res.props.get("bucket").and_then(Value::as_str) == Some(s))
                    .then_some(k.as_str())
            }),
            _ => None,
        }
    };
    for (name, res) in &stack.resources {
        let (prop, what) = match res.kind {
            Kind::Pipeline => ("artifact_bucket", format!("the artifacts of pipeline `{name}`")),
            Kind::EbVersion => ("bucket", format!("the source bundle of application version `{name}`")),
            _ => continue,
        };
        if let Some(bucket) = res.props.get(prop).and_then(bucket_named) {
            out.entry(bucket).or_default().insert(what);
        }
    }
    if let Some(Backend::S3 { bucket, .. }) = &stack.backend
        && let Some(name) = bucket_named(&Value::Str(bucket.clone()))
    {
        out.entry(name).or_default().insert("this stack's state ([backend.s3])".into());
    }
    out
}

/// The stack's own groups a property names (`${group.id}`); `None` when one
/// is not the stack's (an id written out), whose rules are not known here.
fn stack_groups<'a>(stack: &'a Stack, props: &Props, prop: &str) -> Option<Vec<&'a str>> {
    props.get(prop).and_then(Value::as_list).unwrap_or_default().iter().map(|g| own_group(stack, g)).collect()
}

/// The stack's group a value names (`${group.id}`), if it does.
fn own_group<'a>(stack: &'a Stack, group: &Value) -> Option<&'a str> {
    match group {
        Value::Ref(r) if r.attr == "id" => stack
            .resources
            .get_key_value(&r.resource)
            .filter(|(_, res)| res.kind == Kind::SecurityGroup)
            .map(|(k, _)| k.as_str()),
        _ => None,
    }
}

/// What an environment's or instance's groups open to the world together
/// that none of them opens alone (each group's own findings are its own). The
/// stack's groups among them are judged; one named by id is not known here.
fn groups_together(stack: &Stack, props: &Props, prop: &str) -> Vec<(&'static str, String)> {
    let groups = props.get(prop).and_then(Value::as_list).unwrap_or_default();
    let names: Vec<&str> = groups.iter().filter_map(|g| own_group(stack, g)).collect();
    let rules_of = |g: &str| {
        let res = &stack.resources[g];
        let props = res.kind.schema().normalized(&res.props);
        network::rules(props.get("ingress").and_then(Value::as_list).unwrap_or_default())
    };
    let alone: Vec<network::WorldOpen> = names.iter().flat_map(|g| network::world_open(&rules_of(g))).collect();
    let together = network::world_open(&names.iter().flat_map(|g| rules_of(g)).collect::<Vec<_>>());
    let subject = format!("`{prop}` ({}) together open", names.join(", "));
    together.iter().filter(|w| !alone.contains(w)).map(|w| (w.check, w.message(&subject))).collect()
}

/// The ports a group's ingress rules open to something: (protocol, from, to),
/// where `all` opens every port of both protocols; in port order.
fn open_ports(props: &Props) -> Vec<(Protocol, i64, i64)> {
    let mut out = Vec::new();
    for rule in props.get("ingress").and_then(Value::as_list).unwrap_or_default() {
        let Some(rule) = rule.as_map() else { continue };
        let (from, to) = match rule.get("ports") {
            Some(p) => match parse_ports(p) {
                Ok(range) => range,
                Err(_) => continue,
            },
            None => (0, 65535),
        };
        match rule.get("protocol").and_then(Value::as_str).unwrap_or("tcp") {
            "tcp" => out.push((Protocol::Tcp, from, to)),
            "udp" => out.push((Protocol::Udp, from, to)),
            "all" => out.extend([(Protocol::Tcp, from, to), (Protocol::Udp, from, to)]),
            _ => {}
        }
    }
    out.sort();
    out
}

/// What the environments using one security group serve.
#[derive(Default)]
struct GroupUse<'a> {
    served: BTreeSet<(Protocol, i64)>,
    /// Their bundles' directories.
    bundles: BTreeSet<&'a str>,
}

/// `closed_service_port` and `unserved_open_port` (see the module docs). An
/// environment whose groups are not all the stack's own (an id written out) is
/// not checked: what those groups open is not known here.
fn port_findings(stack: &Stack, bundles: &BTreeMap<String, BundlePorts>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut uses: BTreeMap<&str, GroupUse> = BTreeMap::new();
    for (env_name, bundle) in bundles {
        let Some(env) = stack.resources.get(env_name) else { continue };
        let Some(names) = stack_groups(stack, &env.props, "security_groups") else { continue };
        let open: Vec<(Protocol, i64, i64)> = names
            .iter()
            .flat_map(|g| open_ports(&stack.resources[*g].kind.schema().normalized(&stack.resources[*g].props)))
            .collect();
        for p in &bundle.served {
            let port = i64::from(p.port);
            if !open.iter().any(|(proto, from, to)| *proto == p.protocol && (*from..=*to).contains(&port)) {
                let groups = if names.is_empty() {
                    "it declares no `security_groups`".to_string()
                } else {
                    format!("none of its security groups ({}) opens it", names.join(", "))
                };
                out.push(Finding {
                    resource: env_name.clone(),
                    check: "closed_service_port",
                    message: format!(
                        "{} serves {} {} ({}), but {groups}",
                        bundle.dir,
                        protocol_name(p.protocol),
                        p.port,
                        p.service
                    ),
                    allowed: env.allow.get("closed_service_port").cloned(),
                });
            }
        }
        for g in names {
            let used = uses.entry(g).or_default();
            used.served.extend(bundle.served.iter().map(|p| (p.protocol, i64::from(p.port))));
            used.bundles.insert(bundle.dir.as_str());
        }
    }
    for (group, GroupUse { served, bundles }) in uses {
        let res = &stack.resources[group];
        for (protocol, from, to) in open_ports(&res.kind.schema().normalized(&res.props)) {
            let unserved: Vec<i64> = (from..=to)
                .filter(|p| !served.contains(&(protocol, *p)) && !MANAGEMENT_PORTS.iter().any(|(m, _)| m == p))
                .collect();
            if unserved.is_empty() {
                continue;
            }
            let dirs: Vec<&str> = bundles.iter().copied().collect();
            out.push(Finding {
                resource: group.to_string(),
                check: "unserved_open_port",
                message: format!(
                    "an ingress rule opens {} {}, which nothing in {} serves",
                    protocol_name(protocol),
                    ranges(&unserved),
                    dirs.join(", ")
                ),
                allowed: res.allow.get("unserved_open_port").cloned(),
            });
        }
    }
    out
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

/// The findings no reason allows.
pub fn violations(findings: &[Finding]) -> Vec<&Finding> {
    findings.iter().filter(|f| f.allowed.is_none()).collect()
}

/// What makes an environment that attaches one data volume start a second
/// instance beside the first, if anything.
fn immutable_with_data_volume(props: &Props) -> Option<String> {
    let settings = props.get("option_settings").and_then(Value::as_list).unwrap_or_default();
    let setting = |namespace: &str, name: &str| setting(props, namespace, name).and_then(Value::as_str);
    if !settings
        .iter()
        .filter_map(Value::as_map)
        .any(|s| s.get("name").and_then(Value::as_str) == Some("DATA_VOLUME_ID"))
    {
        return None;
    }
    let why = if let Some(policy @ ("Immutable" | "RollingWithAdditionalBatch")) =
        setting("aws:elasticbeanstalk:command", "DeploymentPolicy")
    {
        format!("DeploymentPolicy = {policy}")
    } else if setting("aws:autoscaling:updatepolicy:rollingupdate", "RollingUpdateType") == Some("Immutable")
        && setting("aws:autoscaling:updatepolicy:rollingupdate", "RollingUpdateEnabled") != Some("false")
    {
        "RollingUpdateType = Immutable".to_string()
    } else if setting("aws:elasticbeanstalk:managedactions", "ManagedActionsEnabled") == Some("true") {
        "ManagedActionsEnabled = true (managed platform updates are immutable)".to_string()
    } else {
        return None;
    };
    Some(format!(
        "{why}: each such update starts a second instance while the first still holds the data volume \
         (DATA_VOLUME_ID); deploy AllAtOnce and set RollingUpdateEnabled = false"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Resource, map};

    fn findings_of(stack: &Stack) -> Vec<Finding> {
        check(stack, &BTreeMap::new())
    }

    /// The settings that keep an environment clear of the checks on its
    /// defaults (IMDSv1, Elastic Beanstalk's own group).
    fn hardened() -> Vec<Value> {
        ["DisableIMDSv1", "DisableDefaultEC2SecurityGroup"]
            .into_iter()
            .map(|name| {
                map([("namespace", Value::from(LAUNCH)), ("name", Value::from(name)), ("value", Value::from("true"))])
            })
            .collect()
    }

    fn group(cidr: &str, ports: Value) -> Stack {
        Stack::new("t").resource(
            "sg",
            Resource::new(Kind::SecurityGroup)
                .prop("ingress", vec![map([("ports", ports), ("cidrs", Value::from(vec![cidr]))])]),
        )
    }

    #[test]
    fn redis_open_to_the_world_is_a_violation() {
        let findings = findings_of(&group("0.0.0.0/0", Value::from("6000-6400")));
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].message,
            "`ingress` opens 6379-6381 (redis) to the whole IPv4 internet (0.0.0.0/0); \
             open it to the VPC's CIDR or the clients' security groups instead"
        );
        assert_eq!(violations(&findings).len(), 1);
    }

    #[test]
    fn ipv6_everywhere_counts_as_the_world_too() {
        assert_eq!(findings_of(&group("::/0", Value::Int(9200))).len(), 1);
    }

    #[test]
    fn data_ports_open_to_the_vpc_and_other_ports_open_to_the_world_are_fine() {
        assert!(findings_of(&group("172.31.0.0/16", Value::from("6379-6381"))).is_empty());
        assert!(findings_of(&group("0.0.0.0/0", Value::Int(443))).is_empty());
    }

    #[test]
    fn an_allowed_finding_is_kept_with_its_reason_and_is_no_violation() {
        let mut stack = group("0.0.0.0/0", Value::Int(5601));
        stack.resources.get_mut("sg").unwrap().allow.insert("public_data_port".into(), "a public demo".into());
        let findings = findings_of(&stack);
        assert_eq!(findings[0].allowed.as_deref(), Some("a public demo"));
        assert!(violations(&findings).is_empty());
    }

    #[test]
    fn an_immutable_update_of_an_environment_holding_the_data_volume_is_a_violation() {
        use crate::model::{Resource, map};
        let setting = |ns: &str, name: &str, value: &str| {
            map([("namespace", Value::from(ns)), ("name", Value::from(name)), ("value", Value::from(value))])
        };
        let volume = setting("aws:elasticbeanstalk:application:environment", "DATA_VOLUME_ID", "vol-1");
        let env = |extra: Vec<Value>| {
            let mut settings = hardened();
            settings.push(volume.clone());
            settings.extend(extra);
            Stack::new("dev").resource(
                "app_env",
                Resource::new(Kind::EbEnvironment)
                    .prop("application", "app")
                    .prop("option_settings", Value::List(settings)),
            )
        };
        let immutable = setting("aws:elasticbeanstalk:command", "DeploymentPolicy", "Immutable");
        let found = findings_of(&env(vec![immutable.clone()]));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].check, "immutable_update_with_data_volume");
        assert!(found[0].message.starts_with("DeploymentPolicy = Immutable: each such update"), "{}", found[0].message);
        let config = setting("aws:autoscaling:updatepolicy:rollingupdate", "RollingUpdateType", "Immutable");
        assert_eq!(findings_of(&env(vec![config])).len(), 1);
        let managed = setting("aws:elasticbeanstalk:managedactions", "ManagedActionsEnabled", "true");
        assert_eq!(findings_of(&env(vec![managed])).len(), 1);
        // AllAtOnce, or no volume to hold: nothing to say.
        assert!(
            findings_of(&env(vec![setting("aws:elasticbeanstalk:command", "DeploymentPolicy", "AllAtOnce")]))
                .is_empty()
        );
        let mut settings = hardened();
        settings.push(immutable);
        let without_volume = Stack::new("dev").resource(
            "app_env",
            Resource::new(Kind::EbEnvironment)
                .prop("application", "app")
                .prop("option_settings", Value::List(settings)),
        );
        assert!(findings_of(&without_volume).is_empty());
    }

    #[test]
    fn an_unencrypted_volume_is_a_violation() {
        let stack = Stack::new("t").resource(
            "v",
            Resource::new(Kind::Volume).prop("availability_zone", "a").prop("size", 1).prop("encrypted", false),
        );
        assert_eq!(findings_of(&stack)[0].check, "unencrypted_volume");
    }

    fn served(ports: &[u16]) -> BTreeMap<String, BundlePorts> {
        let served = ports
            .iter()
            .map(|&port| crate::compose::ServedPort { port, protocol: Protocol::Tcp, service: format!("svc-{port}") })
            .collect();
        BTreeMap::from([("env".to_string(), BundlePorts { dir: "deploy/x".into(), served })])
    }

    /// A group opening `rules` (ports, to the VPC) and an environment using it.
    fn environment(rules: &[&str]) -> Stack {
        let rules: Vec<Value> = rules
            .iter()
            .map(|p| map([("ports", Value::from(*p)), ("cidrs", Value::from(vec!["10.0.0.0/16"]))]))
            .collect();
        Stack::new("t").resource("sg", Resource::new(Kind::SecurityGroup).prop("ingress", rules)).resource(
            "env",
            Resource::new(Kind::EbEnvironment)
                .prop("application", "app")
                .prop("security_groups", vec![Value::reference("sg", "id")])
                .prop("option_settings", Value::List(hardened())),
        )
    }

    #[test]
    fn served_ports_open_in_the_environments_group_pass() {
        let stack = environment(&["6379-6381", "9200", "22"]);
        assert!(check(&stack, &served(&[6379, 6380, 6381, 9200])).is_empty());
    }

    #[test]
    fn a_served_port_no_group_opens_is_a_violation() {
        let findings = check(&environment(&["6379-6380"]), &served(&[6379, 6380, 6381]));
        assert_eq!(findings.len(), 1);
        assert_eq!((findings[0].resource.as_str(), findings[0].check), ("env", "closed_service_port"));
        assert_eq!(
            findings[0].message,
            "deploy/x serves tcp 6381 (svc-6381), but none of its security groups (sg) opens it"
        );
    }

    #[test]
    fn an_open_port_nothing_serves_is_a_violation_but_ssh_is_not() {
        let findings = check(&environment(&["6379-6390", "22", "9300"]), &served(&[6379, 6380, 6381]));
        let got: Vec<(&str, &str, &str)> =
            findings.iter().map(|f| (f.resource.as_str(), f.check, f.message.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("sg", "unserved_open_port", "an ingress rule opens tcp 6382-6390, which nothing in deploy/x serves"),
                ("sg", "unserved_open_port", "an ingress rule opens tcp 9300, which nothing in deploy/x serves"),
            ]
        );
    }

    #[test]
    fn an_environment_without_security_groups_serves_into_a_closed_door() {
        let mut stack = environment(&[]);
        stack.resources.get_mut("env").unwrap().props.remove("security_groups");
        let findings = check(&stack, &served(&[9200]));
        assert_eq!(findings[0].message, "deploy/x serves tcp 9200 (svc-9200), but it declares no `security_groups`");
    }

    #[test]
    fn groups_named_by_id_are_not_judged() {
        let mut stack = environment(&["9300"]);
        stack.resources.get_mut("env").unwrap().props.insert("security_groups".into(), Value::from(vec!["sg-123"]));
        assert!(check(&stack, &served(&[9200])).is_empty());
    }

    #[test]
    fn a_secret_in_a_parameter_s_value_is_where_it_belongs_and_in_its_description_is_not() {
        let parameter = Resource::new(Kind::SsmParameter).prop("value", Value::secret("hunter2"));
        assert!(findings_of(&Stack::new("t").resource("pw", parameter.clone())).is_empty());
        let described = parameter.prop("description", Value::secret("hunter2"));
        let findings = findings_of(&Stack::new("t").resource("pw", described));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].check, "secret_in_plaintext_sink");
        assert!(findings[0].message.starts_with("`description` holds a secret"), "{}", findings[0].message);
    }

    #[test]
    fn the_dev_stack_opens_exactly_what_its_bundle_serves() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let sources = crate::config::Sources::fixed(root, &[("ELASTIC_PASSWORD", "x"), ("REDIS_PASSWORD", "x")]);
        let stack = crate::config::load_file_with(&root.join("stacks/dev.toml"), &sources).unwrap();
        let bundles = crate::compose::environment_bundles(&stack, root).unwrap();
        assert_eq!(bundles["app_env"].dir, "deploy/dev");
        let ports: Vec<Finding> = check(&stack, &bundles)
            .into_iter()
            .filter(|f| matches!(f.check, "closed_service_port" | "unserved_open_port"))
            .collect();
        assert_eq!(ports, vec![]);
    }
}
