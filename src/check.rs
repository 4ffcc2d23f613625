//! Policy checks: rules a stack must keep before it is planned or applied, run
//! on the declaration alone (no AWS). A resource may be allowed to fail a check
//! only with a reason: `allow = { public_data_port = "why" }`.
//!
//! - `public_data_port`: a security group opens a data store's port (Redis
//!   6379-6381 and its cluster bus 16379-16381, Elasticsearch 9200, Kibana 5601)
//!   to the whole internet (0.0.0.0/0 or ::/0).
//! - `unencrypted_volume`: an EBS volume is not encrypted at rest.

use crate::model::schema::parse_ports;
use crate::model::{Kind, Stack, Value};

/// A policy check.
#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub summary: &'static str,
}

pub const CHECKS: &[Check] = &[
    Check { name: "public_data_port", summary: "a data store's port open to the internet" },
    Check { name: "unencrypted_volume", summary: "an EBS volume not encrypted at rest" },
];

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

/// Every finding of every check, in resource order.
pub fn check(stack: &Stack) -> Vec<Finding> {
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
            _ => {}
        }
    }
    out
}

/// The findings no reason allows.
pub fn violations(findings: &[Finding]) -> Vec<&Finding> {
    findings.iter().filter(|f| f.allowed.is_none()).collect()
}

/// What a normalised ingress rule opens to the internet among the data ports.
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

    fn group(cidr: &str, ports: Value) -> Stack {
        Stack::new("t").resource(
            "sg",
            Resource::new(Kind::SecurityGroup)
                .prop("ingress", vec![map([("ports", ports), ("cidrs", Value::from(vec![cidr]))])]),
        )
    }

    #[test]
    fn redis_open_to_the_world_is_a_violation() {
        let findings = check(&group("0.0.0.0/0", Value::from("6000-6400")));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].message, "an ingress rule opens 6379-6381 (redis) to 0.0.0.0/0");
        assert_eq!(violations(&findings).len(), 1);
    }

    #[test]
    fn ipv6_everywhere_counts_as_the_world_too() {
        assert_eq!(check(&group("::/0", Value::Int(9200))).len(), 1);
    }

    #[test]
    fn data_ports_open_to_the_vpc_and_other_ports_open_to_the_world_are_fine() {
        assert!(check(&group("172.31.0.0/16", Value::from("6379-6381"))).is_empty());
        assert!(check(&group("0.0.0.0/0", Value::Int(443))).is_empty());
    }

    #[test]
    fn an_allowed_finding_is_kept_with_its_reason_and_is_no_violation() {
        let mut stack = group("0.0.0.0/0", Value::Int(5601));
        stack.resources.get_mut("sg").unwrap().allow.insert("public_data_port".into(), "a public demo".into());
        let findings = check(&stack);
        assert_eq!(findings[0].allowed.as_deref(), Some("a public demo"));
        assert!(violations(&findings).is_empty());
    }

    #[test]
    fn an_unencrypted_volume_is_a_violation() {
        let stack = Stack::new("t").resource(
            "v",
            Resource::new(Kind::Volume).prop("availability_zone", "a").prop("size", 1).prop("encrypted", false),
        );
        assert_eq!(check(&stack)[0].check, "unencrypted_volume");
    }
}
