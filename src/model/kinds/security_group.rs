//! The schema of `ec2.security_group`: an EC2 security group and its rules ([`crate::provider::security_group`] talks to AWS).

use std::collections::BTreeMap;

use crate::model::schema::{BASE, Default, Field, Replacement, Schema, Ty, parse_ports};
use crate::model::{Path, Props, ValidationError, Value};

const PROTOCOLS: &[&str] = &["tcp", "udp", "icmp", "all"];

const RULE_FIELDS: &[Field] = &[
    Field::new("protocol", Ty::Enum(PROTOCOLS), "tcp, udp, icmp or all").default(Default::Str("tcp")),
    Field::new("ports", Ty::Ports, "a port (9200) or an inclusive range (\"6379-6381\"); omitted for protocol all"),
    Field::new("cidrs", Ty::Set(&Ty::Cidr), "source (ingress) or destination (egress) CIDR blocks"),
    Field::new("source_security_group", Ty::Str, "a security group id, instead of CIDRs"),
    Field::new("description", Ty::Str, "what the rule is for"),
];

const RULE: Ty = Ty::Object(RULE_FIELDS);

/// The longest group name EC2 takes.
pub const MAX_NAME: usize = 255;

pub static SCHEMA: Schema = Schema {
    type_name: "ec2.security_group",
    fields: &[
        Field::new("name", Ty::Str, "the group name; defaults to <stack>-<resource>").force_new(),
        Field::new("description", Ty::Str, "the group description")
            .default(Default::Str("managed by infra"))
            .force_new(),
        Field::new("vpc_id", Ty::Str, "the VPC; defaults to the region's default VPC").force_new(),
        Field::new("ingress", Ty::Set(&RULE), "inbound rules"),
        Field::new("egress", Ty::Set(&RULE), "outbound rules; when omitted, AWS's allow-all rule is left alone"),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "arn", "vpc_id", "name"],
    taggable: true,
    check: check_rules,
    normalize,
    replacement: Replacement::CreateFirst { unique_name: Some("name") },
    replacement_why: "group names are unique within a VPC: a generated name gets a suffix for the replacement",
    id_form: "the group id, `sg-...`",
    ..BASE
};

fn check_rules(props: &Props) -> Result<(), ValidationError> {
    for dir in ["ingress", "egress"] {
        let Some(rules) = props.get(dir).and_then(Value::as_list) else { continue };
        for (i, rule) in rules.iter().enumerate() {
            let Some(rule) = rule.as_map() else { continue };
            let at = Path::root().key(dir).index(i);
            let protocol = rule.get("protocol").and_then(Value::as_str).unwrap_or("tcp");
            if protocol != "all" && !rule.contains_key("ports") {
                return Err(ValidationError::new(at, format!("a {protocol} rule needs `ports`"))
                    .hint("write a port (9200) or an inclusive range (\"6379-6381\")"));
            }
            // An empty `cidrs` list is allowed: it declares no rule (an SSH rule
            // whose CIDR list comes from config and is empty by default).
            if rule.contains_key("cidrs") == rule.contains_key("source_security_group") {
                return Err(ValidationError::new(at, "a rule needs either `cidrs` or `source_security_group`"));
            }
        }
    }
    Ok(())
}

/// Flattens every rule to one target each, with canonical ports, sorted.
pub fn normalize(props: &mut Props) {
    for dir in ["ingress", "egress"] {
        if let Some(Value::List(rules)) = props.get_mut(dir) {
            let mut flat: Vec<Value> = rules.iter().flat_map(flatten_rule).collect();
            flat.sort();
            flat.dedup();
            *rules = flat;
        }
    }
}

pub fn flatten_rule(rule: &Value) -> Vec<Value> {
    let Some(m) = rule.as_map() else { return vec![rule.clone()] };
    let mut base: BTreeMap<String, Value> = BTreeMap::new();
    let protocol = m.get("protocol").cloned().unwrap_or_else(|| Value::from("tcp"));
    let all = protocol.as_str() == Some("all");
    base.insert("protocol".into(), protocol);
    if !all && let Some(p) = m.get("ports") {
        let canonical = match parse_ports(p) {
            Ok((a, b)) if a == b => Value::Int(a),
            Ok((a, b)) => Value::Str(format!("{a}-{b}")),
            Err(_) => p.clone(),
        };
        base.insert("ports".into(), canonical);
    }
    if let Some(d) = m.get("description")
        && d.as_str() != Some("")
    {
        base.insert("description".into(), d.clone());
    }
    let mut out = Vec::new();
    if let Some(cidrs) = m.get("cidrs").and_then(Value::as_list) {
        for c in cidrs {
            let mut r = base.clone();
            r.insert("cidrs".into(), Value::List(vec![c.clone()]));
            out.push(Value::Map(r));
        }
    }
    if let Some(sg) = m.get("source_security_group") {
        let mut r = base.clone();
        r.insert("source_security_group".into(), sg.clone());
        out.push(Value::Map(r));
    }
    out
}
