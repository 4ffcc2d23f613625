//! Which ports security group rules open to the whole internet, computed from
//! the union of their CIDRs (IPv4 and IPv6 apart), never from a prefix length:
//! `0.0.0.0/1` beside `128.0.0.0/1` is the world as surely as `0.0.0.0/0`.
//!
//! "The world" is every publicly routable address: a union that covers all of
//! IPv4 but the special-purpose blocks of RFC 6890 (IANA's IPv4
//! Special-Purpose Address Registry: private, loopback, link-local, shared,
//! documentation, multicast, reserved), or all of IPv6's global unicast space
//! (2000::/3, RFC 4291 section 2.4; everything else in ::/0 is not routed on
//! the internet). The CIDR arithmetic is `ipnet`'s (`aggregate`).

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::model::Value;
use crate::model::schema::parse_ports;

/// IPv4 blocks no internet host sends from (RFC 6890, IANA's registry).
const NOT_PUBLIC_V4: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
];

/// IPv6 outside global unicast (2000::/3): ::/0 less 2000::/3.
const NOT_PUBLIC_V6: &[&str] = &["::/3", "4000::/2", "8000::/1"];

/// Administration ports (checkov CKV_AWS_24, CKV_AWS_25).
const ADMIN_PORTS: &[(i64, &str)] = &[(22, "ssh"), (3389, "rdp")];

/// Ports of the seed's data stores, with what listens there.
const DATA_PORTS: &[(i64, i64, &str)] = &[
    (6379, 6381, "redis"),
    (16379, 16381, "redis cluster bus"),
    (9200, 9200, "elasticsearch"),
    (5601, 5601, "kibana"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Proto {
    Tcp,
    Udp,
}

/// One normalised ingress rule with a CIDR: protocol, inclusive port range, network.
#[derive(Clone, Debug)]
pub struct Rule {
    proto: Proto,
    from: i64,
    to: i64,
    net: IpNet,
}

/// The CIDR rules among a group's normalised (flattened) ingress rules; rules
/// naming a source group, ICMP rules and values not known yet are left out.
pub fn rules(ingress: &[Value]) -> Vec<Rule> {
    let mut out = Vec::new();
    for rule in ingress.iter().filter_map(Value::as_map) {
        let nets = rule.get("cidrs").and_then(Value::as_list).unwrap_or_default();
        let (from, to) = match rule.get("ports") {
            Some(p) => match parse_ports(p) {
                Ok(range) => range,
                Err(_) => continue,
            },
            None => (0, 65535),
        };
        let protos: &[Proto] = match rule.get("protocol").and_then(Value::as_str).unwrap_or("tcp") {
            "tcp" => &[Proto::Tcp],
            "udp" => &[Proto::Udp],
            "all" => &[Proto::Tcp, Proto::Udp],
            _ => &[],
        };
        for net in nets.iter().filter_map(Value::as_str).filter_map(|s| s.parse::<IpNet>().ok()) {
            out.extend(protos.iter().map(|&proto| Rule { proto, from, to, net }));
        }
    }
    out
}

/// A port range some rules open to the whole internet of one address family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorldOpen {
    pub check: &'static str,
    /// What is open: `22 (ssh)`, `every tcp port`.
    pub what: String,
    /// `IPv4` or `IPv6`.
    pub family: &'static str,
    /// The CIDRs that cover it, aggregated: `0.0.0.0/0`.
    pub cidrs: String,
}

impl WorldOpen {
    /// The finding's message, `subject` saying what opens it (`` `ingress` opens ``).
    pub fn message(&self, subject: &str) -> String {
        let instead = match self.check {
            "world_open_admin_port" => "open it to an operator's CIDR instead, or use Session Manager and no port",
            "world_open_all_ports" => "open only the ports served, to the clients' CIDRs or groups",
            _ => "open it to the VPC's CIDR or the clients' security groups instead",
        };
        format!("{subject} {} to the whole {} internet ({}); {instead}", self.what, self.family, self.cidrs)
    }
}

/// What `rules`, together, open to the world: every tcp port, the admin
/// ports, the data ports.
pub fn world_open(rules: &[Rule]) -> Vec<WorldOpen> {
    let mut out = Vec::new();
    for (family, v6) in [("IPv4", false), ("IPv6", true)] {
        let family_rules: Vec<&Rule> = rules.iter().filter(|r| r.net.addr().is_ipv6() == v6).collect();
        let open = |port_from: i64, port_to: i64| -> Option<String> {
            let nets: Vec<IpNet> = family_rules
                .iter()
                .filter(|r| r.proto == Proto::Tcp && r.from <= port_from && port_to <= r.to)
                .map(|r| r.net)
                .collect();
            covers_the_world(&nets, v6)
                .then(|| IpNet::aggregate(&nets).iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
        };
        let mut found = |check: &'static str, what: String, cidrs: String| {
            out.push(WorldOpen { check, what, family, cidrs });
        };
        if let Some(cidrs) = open(0, 65535) {
            found("world_open_all_ports", "every tcp port".into(), cidrs);
        }
        for &(port, what) in ADMIN_PORTS {
            if let Some(cidrs) = open(port, port) {
                found("world_open_admin_port", format!("{port} ({what})"), cidrs);
            }
        }
        for &(a, b, what) in DATA_PORTS {
            // Each port of a range on its own: two rules may open halves of it.
            let open_ports: Vec<(i64, String)> = (a..=b).filter_map(|p| open(p, p).map(|c| (p, c))).collect();
            if let Some((_, cidrs)) = open_ports.first() {
                let ports: Vec<i64> = open_ports.iter().map(|(p, _)| *p).collect();
                found("public_data_port", format!("{} ({what})", ranges(&ports)), cidrs.clone());
            }
        }
    }
    out
}

/// Sorted ports as ranges: `6379, 6381` or `6379-6381`.
pub fn ranges(ports: &[i64]) -> String {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &p in ports {
        match out.last_mut() {
            Some((_, to)) if *to + 1 == p => *to = p,
            _ => out.push((p, p)),
        }
    }
    out.iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect::<Vec<_>>().join(", ")
}

/// Whether `nets`, with the blocks no internet host sends from, cover the
/// whole address space of the family.
fn covers_the_world(nets: &[IpNet], v6: bool) -> bool {
    if nets.is_empty() {
        return false;
    }
    let (not_public, everything): (&[&str], IpNet) = if v6 {
        (NOT_PUBLIC_V6, IpNet::V6(Ipv6Net::default()))
    } else {
        (NOT_PUBLIC_V4, IpNet::V4(Ipv4Net::default()))
    };
    let mut all: Vec<IpNet> = nets.to_vec();
    all.extend(not_public.iter().filter_map(|s| s.parse::<IpNet>().ok()));
    IpNet::aggregate(&all) == [everything]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::map;

    fn open(rules_: &[(&str, Value, &str)]) -> Vec<(&'static str, String, String)> {
        let values: Vec<Value> = rules_
            .iter()
            .map(|(proto, ports, cidr)| {
                let mut m = map([("protocol", Value::from(*proto)), ("cidrs", Value::from(vec![*cidr]))]);
                if let (Value::Map(m), false) = (&mut m, *ports == Value::Null) {
                    m.insert("ports".into(), ports.clone());
                }
                m
            })
            .collect();
        world_open(&rules(&values)).into_iter().map(|w| (w.check, w.what, w.cidrs)).collect()
    }

    #[test]
    fn two_halves_of_ipv4_are_the_world() {
        let found = open(&[("tcp", Value::Int(22), "0.0.0.0/1"), ("tcp", Value::Int(22), "128.0.0.0/1")]);
        assert_eq!(found, vec![("world_open_admin_port", "22 (ssh)".to_string(), "0.0.0.0/0".to_string())]);
    }

    #[test]
    fn one_half_of_ipv4_is_not_the_world() {
        assert_eq!(open(&[("tcp", Value::Int(22), "0.0.0.0/1")]), vec![]);
        assert_eq!(open(&[("tcp", Value::Int(22), "0.0.0.0/4")]), vec![]);
    }

    #[test]
    fn all_public_ipv4_without_the_private_blocks_is_the_world() {
        // 0.0.0.0/0 less 10.0.0.0/8: every public address still reaches it.
        let cidrs = [
            "0.0.0.0/5",
            "8.0.0.0/7",
            "11.0.0.0/8",
            "12.0.0.0/6",
            "16.0.0.0/4",
            "32.0.0.0/3",
            "64.0.0.0/2",
            "128.0.0.0/1",
        ];
        let rules_: Vec<(&str, Value, &str)> = cidrs.iter().map(|c| ("tcp", Value::Int(3389), *c)).collect();
        assert_eq!(open(&rules_).len(), 1);
    }

    #[test]
    fn ipv6_global_unicast_is_the_world() {
        let found = open(&[("tcp", Value::Int(9200), "2000::/3")]);
        assert_eq!(found, vec![("public_data_port", "9200 (elasticsearch)".to_string(), "2000::/3".to_string())]);
    }

    #[test]
    fn protocol_all_opens_every_port_and_so_each_named_one() {
        let checks: Vec<&str> = open(&[("all", Value::Null, "0.0.0.0/0")]).into_iter().map(|f| f.0).collect();
        assert_eq!(
            checks,
            [
                "world_open_all_ports",
                "world_open_admin_port",
                "world_open_admin_port",
                "public_data_port",
                "public_data_port",
                "public_data_port",
                "public_data_port"
            ]
        );
    }

    #[test]
    fn a_port_open_to_the_world_only_for_udp_is_not_a_tcp_finding() {
        assert_eq!(open(&[("udp", Value::Int(22), "0.0.0.0/0")]), vec![]);
    }

    #[test]
    fn the_vpc_is_not_the_world() {
        assert_eq!(open(&[("tcp", Value::from("0-65535"), "172.31.0.0/16")]), vec![]);
    }
}
