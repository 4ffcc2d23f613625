//! Policy checks: rules a stack must keep before it is planned or applied, run
//! on the declaration alone (no AWS). A resource may be allowed to fail a check
//! only with a reason: `allow = { public_data_port = "why" }`.
//!
//! - `public_data_port`: a security group opens a data store's port (Redis
//!   6379-6381 and its cluster bus 16379-16381, Elasticsearch 9200, Kibana 5601)
//!   to the whole internet (0.0.0.0/0 or ::/0).
//! - `unencrypted_volume`: an EBS volume is not encrypted at rest.
//! - `closed_service_port`: the bundle an Elastic Beanstalk environment runs
//!   serves a port (published in its `docker-compose.yml`, or a host-network
//!   Redis node's port or bus port) that no security group of the environment
//!   opens: a service nobody can reach, the seed's own pain.
//! - `unserved_open_port`: a security group of such an environment opens a
//!   port that nothing in its bundle serves (SSH, 22, excepted).
//! - `immutable_update_with_data_volume`: an environment whose instance
//!   attaches a data volume (the environment property `DATA_VOLUME_ID` its
//!   hooks read) deploys or applies configuration changes Immutable, or lets
//!   managed platform updates run (always immutable): each starts a second
//!   instance while the first still holds the volume, and waits on it
//!   ("Deployment policies and settings" and "Configuration changes" in the
//!   Elastic Beanstalk developer guide).
//!
//! The last two need the ports each bundle serves, which the caller reads from
//! the project's files (`compose::environment_bundles`) and passes in.

use std::collections::{BTreeMap, BTreeSet};

use crate::compose::{BundlePorts, Protocol};
use crate::model::schema::parse_ports;
use crate::model::{Kind, Stack, Value};

pub use crate::model::checks::{CHECKS, Check};

/// Ports a security group may open with nothing in the bundle serving them.
const MANAGEMENT_PORTS: &[(i64, &str)] = &[(22, "ssh")];

/// Ports of the seed's data stores, with what listens there.
const DATA_PORTS: &[(i64, i64, &str)] = &[
    (6379, 6381, "redis"),
    (16379, 16381, "redis cluster bus"),
    (9200, 9200, "elasticsearch"),
    (5601, 5601, "kibana"),
];

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
    for (name, res) in &stack.resources {
        let props = res.kind.schema().normalized(&res.props);
        let mut found = |check: &'static str, message: String| {
            out.push(Finding { resource: name.clone(), check, message, allowed: res.allow.get(check).cloned() });
        };
        match res.kind {
            Kind::SecurityGroup => {
                for rule in props.get("ingress").and_then(Value::as_list).unwrap_or_default() {
                    if let Some(message) = public_data_port(rule) {
                        found("public_data_port", message);
                    }
                }
            }
            Kind::Volume if props.get("encrypted") == Some(&Value::Bool(false)) => {
                found("unencrypted_volume", "the volume is not encrypted at rest (encrypted = false)".into());
            }
            Kind::EbEnvironment => {
                if let Some(message) = immutable_with_data_volume(&props) {
                    found("immutable_update_with_data_volume", message);
                }
            }
            _ => {}
        }
    }
    out.extend(port_findings(stack, bundles));
    out.sort_by(|a, b| a.resource.cmp(&b.resource));
    out
}

/// The ports a group's ingress rules open to something: (protocol, from, to),
/// where `all` opens every port of both protocols; in port order.
fn open_ports(props: &crate::model::Props) -> Vec<(Protocol, i64, i64)> {
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
        let groups = env.props.get("security_groups").and_then(Value::as_list).unwrap_or_default();
        let names: Option<Vec<&str>> = groups
            .iter()
            .map(|g| match g {
                Value::Ref(r) if r.attr == "id" => stack
                    .resources
                    .get(&r.resource)
                    .filter(|res| res.kind == Kind::SecurityGroup)
                    .map(|_| r.resource.as_str()),
                _ => None,
            })
            .collect();
        let Some(names) = names else { continue };
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

/// Sorted ports as ranges: `6382, 6390-6399`.
fn ranges(ports: &[i64]) -> String {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &p in ports {
        match out.last_mut() {
            Some((_, to)) if *to + 1 == p => *to = p,
            _ => out.push((p, p)),
        }
    }
    out.iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect::<Vec<_>>().join(", ")
}

/// The findings no reason allows.
pub fn violations(findings: &[Finding]) -> Vec<&Finding> {
    findings.iter().filter(|f| f.allowed.is_none()).collect()
}

/// What a normalised ingress rule opens to the internet among the data ports.
/// What makes an environment that attaches one data volume start a second
/// instance beside the first, if anything.
fn immutable_with_data_volume(props: &crate::model::Props) -> Option<String> {
    let settings = props.get("option_settings").and_then(Value::as_list).unwrap_or_default();
    let setting = |namespace: &str, name: &str| {
        settings.iter().filter_map(Value::as_map).find_map(|s| {
            let matches = s.get("namespace").and_then(Value::as_str) == Some(namespace)
                && s.get("name").and_then(Value::as_str) == Some(name);
            if matches { s.get("value").and_then(Value::as_str).map(str::to_string) } else { None }
        })
    };
    if !settings
        .iter()
        .filter_map(Value::as_map)
        .any(|s| s.get("name").and_then(Value::as_str) == Some("DATA_VOLUME_ID"))
    {
        return None;
    }
    let why = if let Some(policy @ ("Immutable" | "RollingWithAdditionalBatch")) =
        setting("aws:elasticbeanstalk:command", "DeploymentPolicy").as_deref()
    {
        format!("DeploymentPolicy = {policy}")
    } else if setting("aws:autoscaling:updatepolicy:rollingupdate", "RollingUpdateType").as_deref() == Some("Immutable")
        && setting("aws:autoscaling:updatepolicy:rollingupdate", "RollingUpdateEnabled").as_deref() != Some("false")
    {
        "RollingUpdateType = Immutable".to_string()
    } else if setting("aws:elasticbeanstalk:managedactions", "ManagedActionsEnabled").as_deref() == Some("true") {
        "ManagedActionsEnabled = true (managed platform updates are immutable)".to_string()
    } else {
        return None;
    };
    Some(format!(
        "{why}: each such update starts a second instance while the first still holds the data volume \
         (DATA_VOLUME_ID); deploy AllAtOnce and set RollingUpdateEnabled = false"
    ))
}

fn public_data_port(rule: &Value) -> Option<String> {
    let rule = rule.as_map()?;
    let cidr = rule.get("cidrs")?.as_list()?.first()?.as_str()?;
    let world = cidr.parse::<ipnet::IpNet>().is_ok_and(|n| n.prefix_len() == 0);
    let protocol = rule.get("protocol").and_then(Value::as_str).unwrap_or("tcp");
    if !world || !matches!(protocol, "tcp" | "all") {
        return None;
    }
    let (from, to) = match rule.get("ports") {
        Some(p) => parse_ports(p).ok()?,
        None => (0, 65535),
    };
    let open: Vec<String> = DATA_PORTS
        .iter()
        .filter(|(a, b, _)| from <= *b && *a <= to)
        .map(|(a, b, what)| if a == b { format!("{a} ({what})") } else { format!("{a}-{b} ({what})") })
        .collect();
    (!open.is_empty()).then(|| format!("an ingress rule opens {} to {cidr}", open.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Resource, map};

    fn findings_of(stack: &Stack) -> Vec<Finding> {
        check(stack, &BTreeMap::new())
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
        assert_eq!(findings[0].message, "an ingress rule opens 6379-6381 (redis) to 0.0.0.0/0");
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
            let mut settings = vec![volume.clone()];
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
        let without_volume = Stack::new("dev").resource(
            "app_env",
            Resource::new(Kind::EbEnvironment)
                .prop("application", "app")
                .prop("option_settings", Value::List(vec![immutable])),
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
                .prop("security_groups", vec![Value::reference("sg", "id")]),
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
    fn the_dev_stack_opens_exactly_what_its_bundle_serves() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let sources = crate::config::Sources::fixed(root, &[("ELASTIC_PASSWORD", "x")]);
        let stack = crate::config::load_file_with(&root.join("stacks/dev.toml"), &sources).unwrap();
        let bundles = crate::compose::environment_bundles(&stack, root).unwrap();
        assert_eq!(bundles["app_env"].dir, "deploy/dev");
        assert_eq!(check(&stack, &bundles), vec![]);
    }
}
