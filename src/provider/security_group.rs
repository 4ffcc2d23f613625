//! `ec2.security_group`: a security group and its rules.
//!
//! Rules are a set: each declared rule is flattened into one rule per CIDR or
//! source group, so the declared form and what AWS reports (which merges rules
//! by protocol and ports) compare equal. Rule changes are applied with
//! authorize/revoke calls; the group itself is never recreated for them.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Ctx, Observed, Provider, ProviderError};
use crate::model::schema::{Default, Field, Schema, Ty, parse_ports};
use crate::model::{Kind, Path, Props, ValidationError, Value};

const PROTOCOLS: &[&str] = &["tcp", "udp", "icmp", "all"];

const RULE_FIELDS: &[Field] = &[
    Field::new("protocol", Ty::Enum(PROTOCOLS), "tcp, udp, icmp or all").default(Default::Str("tcp")),
    Field::new("ports", Ty::Ports, "a port (9200) or an inclusive range (\"6379-6381\"); omitted for protocol all"),
    Field::new("cidrs", Ty::Set(&Ty::Cidr), "source (ingress) or destination (egress) CIDR blocks"),
    Field::new("source_security_group", Ty::Str, "a security group id, instead of CIDRs"),
    Field::new("description", Ty::Str, "what the rule is for"),
];

const RULE: Ty = Ty::Object(RULE_FIELDS);

pub static SCHEMA: Schema = Schema {
    type_name: "ec2.security_group",
    fields: &[
        Field::new("name", Ty::Str, "the group name; defaults to <stack>-<resource>").force_new(),
        Field::new("description", Ty::Str, "the group description").default(Default::Str("managed by infra")).force_new(),
        Field::new("vpc_id", Ty::Str, "the VPC; defaults to the region's default VPC").force_new(),
        Field::new("ingress", Ty::Set(&RULE), "inbound rules"),
        Field::new("egress", Ty::Set(&RULE), "outbound rules; when omitted, AWS's allow-all rule is left alone"),
        Field::new("tags", Ty::Map(&Ty::Str), "tags beside the stack's"),
    ],
    outputs: &["id", "arn", "vpc_id", "name"],
    taggable: true,
    check: check_rules,
    check_update: None,
    normalize,
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
fn normalize(props: &mut Props) {
    for dir in ["ingress", "egress"] {
        if let Some(Value::List(rules)) = props.get_mut(dir) {
            let mut flat: Vec<Value> = rules.iter().flat_map(flatten_rule).collect();
            flat.sort();
            flat.dedup();
            *rules = flat;
        }
    }
}

fn flatten_rule(rule: &Value) -> Vec<Value> {
    let Some(m) = rule.as_map() else { return vec![rule.clone()] };
    let mut base: BTreeMap<String, Value> = BTreeMap::new();
    let protocol = m.get("protocol").cloned().unwrap_or_else(|| Value::from("tcp"));
    let all = protocol.as_str() == Some("all");
    base.insert("protocol".into(), protocol);
    if !all {
        if let Some(p) = m.get("ports") {
            let canonical = match parse_ports(p) {
                Ok((a, b)) if a == b => Value::Int(a),
                Ok((a, b)) => Value::Str(format!("{a}-{b}")),
                Err(_) => p.clone(),
            };
            base.insert("ports".into(), canonical);
        }
    }
    if let Some(d) = m.get("description") {
        if d.as_str() != Some("") {
            base.insert("description".into(), d.clone());
        }
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

/// Security groups, through the EC2 API.
pub struct SecurityGroups {
    ec2: aws_sdk_ec2::Client,
}

impl SecurityGroups {
    pub fn new(ec2: aws_sdk_ec2::Client) -> Self {
        SecurityGroups { ec2 }
    }
}

#[async_trait]
impl Provider for SecurityGroups {
    fn kind(&self) -> Kind {
        Kind::SecurityGroup
    }
    async fn read_many(&self, _ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let _ = &self.ec2;
        Err(ProviderError::Invalid("not yet implemented".into()))
    }
    async fn find_tagged(&self, _stack: &str) -> Result<BTreeMap<String, Observed>, ProviderError> {
        Err(ProviderError::Invalid("not yet implemented".into()))
    }
    async fn create(&self, _ctx: &Ctx, _props: &Props) -> Result<Observed, ProviderError> {
        Err(ProviderError::Invalid("not yet implemented".into()))
    }
    async fn update(&self, _ctx: &Ctx, _id: &str, _b: &Props, _a: &Props) -> Result<Observed, ProviderError> {
        Err(ProviderError::Invalid("not yet implemented".into()))
    }
    async fn delete(&self, _ctx: &Ctx, _id: &str, _props: &Props) -> Result<(), ProviderError> {
        Err(ProviderError::Invalid("not yet implemented".into()))
    }
}
