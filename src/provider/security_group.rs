//! `ec2.security_group`: a security group and its rules.
//!
//! Rules are a set: each declared rule is flattened into one rule per CIDR or
//! source group, so the declared form and what AWS reports (which merges rules
//! by protocol and ports) compare equal. Rule changes are applied with
//! authorize/revoke calls; the group itself is never recreated for them.
//!
//! For protocol `icmp`, `ports` is the ICMP type, with all its codes (AWS's
//! `FromPort` = type, `ToPort` = -1).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, ResourceType, SecurityGroup, UserIdGroupPair};

use super::ec2::{
    Filtered, arn, filter, name_tag, read_by_ids, read_by_stack_tag, read_tagged, region, tag_specification,
    tags_value, update_tags,
};
use super::shared::{ok_if_gone, put};
use super::wait::{self, Backoff};
use super::{Ctx, Observed, Provider, ProviderError, RecordedOutputs, Tagged, aws_error, tags_of};
use crate::model::kinds::security_group::MAX_NAME;
pub use crate::model::kinds::security_group::SCHEMA;
use crate::model::schema::parse_ports;
use crate::model::{Kind, Props, Value};

/// The error codes that mean the group is already gone.
const GONE: &[&str] = &["InvalidGroup.NotFound"];

/// How long a delete retries while something (a terminating instance) still uses the group.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(300);

/// One flattened rule as an `IpPermission`. Revokes leave the description out:
/// AWS matches rules by protocol, ports and target.
fn permission(rule: &Value, with_description: bool) -> Result<IpPermission, ProviderError> {
    let m = rule.as_map().ok_or_else(|| ProviderError::Invalid(format!("a rule must be a table, found {rule:?}")))?;
    let protocol = m.get("protocol").and_then(Value::as_str).unwrap_or("tcp");
    let mut p = IpPermission::builder().ip_protocol(if protocol == "all" { "-1" } else { protocol });
    if let Some(ports) = m.get("ports").filter(|_| protocol != "all") {
        let (from, to) = parse_ports(ports).map_err(ProviderError::Invalid)?;
        // For ICMP, FromPort is the type and ToPort the code; -1 is every code.
        let to = if protocol == "icmp" && from == to { -1 } else { to };
        p = p.from_port(from as i32).to_port(to as i32);
    }
    let description = m.get("description").and_then(Value::as_str).filter(|_| with_description).map(str::to_string);
    for cidr in m.get("cidrs").and_then(Value::as_list).unwrap_or_default().iter().filter_map(Value::as_str) {
        if cidr.contains(':') {
            p = p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).set_description(description.clone()).build());
        } else {
            p = p.ip_ranges(IpRange::builder().cidr_ip(cidr).set_description(description.clone()).build());
        }
    }
    if let Some(group) = m.get("source_security_group").and_then(Value::as_str) {
        p = p.user_id_group_pairs(UserIdGroupPair::builder().group_id(group).set_description(description).build());
    }
    Ok(p.build())
}

/// AWS's protocol as the schema names it: `-1` is `all`; numbers of named protocols become names.
fn protocol_name(aws: &str) -> &str {
    match aws {
        "-1" => "all",
        "6" => "tcp",
        "17" => "udp",
        "1" => "icmp",
        other => other,
    }
}

/// AWS's port range in the schema's shape: a port, or `"a-b"`.
fn ports_value(protocol: &str, from: Option<i32>, to: Option<i32>) -> Option<Value> {
    let (from, to) = (from?, to?);
    match protocol {
        "all" => None,
        "icmp" if from == -1 => None,
        "icmp" if to == -1 => Some(Value::Int(from.into())),
        _ if from == to => Some(Value::Int(from.into())),
        _ => Some(Value::Str(format!("{from}-{to}"))),
    }
}

/// AWS's rules, flattened to one rule per CIDR block or source group, sorted.
/// (Prefix-list targets have no place in the schema and are not reported.)
/// The egress rule AWS gives every new group in a VPC: everything, to anywhere.
fn default_egress() -> IpPermission {
    IpPermission::builder().ip_protocol("-1").ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build()).build()
}

fn rules_value(perms: &[IpPermission]) -> Value {
    let mut rules = Vec::new();
    for p in perms {
        let protocol = protocol_name(p.ip_protocol().unwrap_or("-1"));
        let mut base = BTreeMap::from([("protocol".to_string(), Value::from(protocol))]);
        put(&mut base, "ports", ports_value(protocol, p.from_port(), p.to_port()));
        let rule = |target: &str, value: Value, description: Option<&str>| {
            let mut r = base.clone();
            r.insert(target.to_string(), value);
            put(&mut r, "description", description.filter(|d| !d.is_empty()));
            Value::Map(r)
        };
        for r in p.ip_ranges() {
            if let Some(c) = r.cidr_ip() {
                rules.push(rule("cidrs", Value::from(vec![c]), r.description()));
            }
        }
        for r in p.ipv6_ranges() {
            if let Some(c) = r.cidr_ipv6() {
                rules.push(rule("cidrs", Value::from(vec![c]), r.description()));
            }
        }
        for g in p.user_id_group_pairs() {
            if let Some(id) = g.group_id() {
                rules.push(rule("source_security_group", Value::from(id), g.description()));
            }
        }
    }
    rules.sort();
    rules.dedup();
    Value::List(rules)
}

/// Security groups, through the EC2 API.
pub struct SecurityGroups {
    ec2: aws_sdk_ec2::Client,
    /// The region's default VPC, looked up once per run for groups that name none.
    default_vpc: tokio::sync::OnceCell<String>,
}

impl SecurityGroups {
    pub fn new(ec2: aws_sdk_ec2::Client) -> Self {
        SecurityGroups { ec2, default_vpc: tokio::sync::OnceCell::new() }
    }

    /// Every group matching `filters`, all pages.
    async fn describe(&self, filters: Vec<Filter>) -> Result<Vec<SecurityGroup>, ProviderError> {
        let mut pages = self.ec2.describe_security_groups().set_filters(Some(filters)).into_paginator().send();
        let mut groups = Vec::new();
        while let Some(page) = pages.try_next().await.map_err(|e| aws_error("DescribeSecurityGroups", e))? {
            groups.extend(page.security_groups.unwrap_or_default());
        }
        Ok(groups)
    }

    fn observe(&self, sg: &SecurityGroup) -> Observed {
        let id = sg.group_id().unwrap_or_default().to_string();
        let mut props = Props::new();
        put(&mut props, "name", sg.group_name());
        put(&mut props, "description", sg.description());
        put(&mut props, "vpc_id", sg.vpc_id());
        props.insert("ingress".into(), rules_value(sg.ip_permissions()));
        props.insert("egress".into(), rules_value(sg.ip_permissions_egress()));
        props.insert("tags".into(), tags_value(sg.tags()));
        let arn = match sg.security_group_arn() {
            Some(a) => a.to_string(),
            None => arn(&region(&self.ec2), sg.owner_id().unwrap_or_default(), &format!("security-group/{id}")),
        };
        let mut outputs = Props::new();
        outputs.insert("id".into(), Value::from(id.as_str()));
        outputs.insert("arn".into(), Value::from(arn));
        put(&mut outputs, "vpc_id", sg.vpc_id());
        put(&mut outputs, "name", sg.group_name());
        Observed { id, props, outputs }
    }

    async fn read_one(&self, id: &str) -> Result<Option<Observed>, ProviderError> {
        Ok(self.read_many(&[id.to_string()]).await?.remove(id))
    }

    /// The ARN of a group whose create did not answer with it (an older EC2
    /// API): read back.
    async fn arn_of(&self, id: &str) -> Result<String, ProviderError> {
        let read = self.read_one(id).await?;
        let read =
            read.ok_or_else(|| ProviderError::Invalid(format!("security group {id} vanished after it was created")))?;
        Ok(read.outputs.get("arn").and_then(Value::as_str).unwrap_or_default().to_string())
    }

    async fn default_vpc(&self) -> Result<String, ProviderError> {
        self.default_vpc.get_or_try_init(|| self.find_default_vpc()).await.cloned()
    }

    async fn find_default_vpc(&self) -> Result<String, ProviderError> {
        let out = self
            .ec2
            .describe_vpcs()
            .filters(filter("is-default", &["true".to_string()]))
            .send()
            .await
            .map_err(|e| aws_error("DescribeVpcs", e))?;
        out.vpcs().iter().find_map(|v| v.vpc_id()).map(str::to_string).ok_or_else(|| {
            ProviderError::Invalid(format!("the region {} has no default VPC: set `vpc_id`", region(&self.ec2)))
        })
    }

    /// Revokes the rules in `before` but not in `after` and authorizes those in
    /// `after` but not in `before`, for each direction `after` declares; the two
    /// directions at once.
    async fn sync_rules(&self, id: &str, before: &Props, after: &Props) -> Result<(), ProviderError> {
        let (ingress, egress) =
            tokio::join!(self.sync_direction(id, false, before, after), self.sync_direction(id, true, before, after));
        ingress.and(egress)
    }

    async fn sync_direction(&self, id: &str, egress: bool, before: &Props, after: &Props) -> Result<(), ProviderError> {
        let dir = if egress { "egress" } else { "ingress" };
        let Some(wanted) = after.get(dir).and_then(Value::as_list) else { return Ok(()) };
        let had = before.get(dir).and_then(Value::as_list).unwrap_or_default();
        let revoke: Vec<&Value> = had.iter().filter(|r| !wanted.contains(r)).collect();
        let authorize: Vec<&Value> = wanted.iter().filter(|r| !had.contains(r)).collect();
        // Revoking first lets a rule whose description changed be authorized again.
        if !revoke.is_empty() {
            let perms = revoke.iter().map(|r| permission(r, false)).collect::<Result<Vec<_>, _>>()?;
            self.revoke(id, egress, perms).await?;
        }
        if !authorize.is_empty() {
            let perms = authorize.iter().map(|r| permission(r, true)).collect::<Result<Vec<_>, _>>()?;
            self.authorize(id, egress, perms).await?;
        }
        Ok(())
    }

    async fn revoke(&self, id: &str, egress: bool, perms: Vec<IpPermission>) -> Result<(), ProviderError> {
        if egress {
            let call = self.ec2.revoke_security_group_egress().group_id(id).set_ip_permissions(Some(perms));
            call.send().await.map_err(|e| aws_error("RevokeSecurityGroupEgress", e))?;
        } else {
            let call = self.ec2.revoke_security_group_ingress().group_id(id).set_ip_permissions(Some(perms));
            call.send().await.map_err(|e| aws_error("RevokeSecurityGroupIngress", e))?;
        }
        Ok(())
    }

    async fn authorize(&self, id: &str, egress: bool, perms: Vec<IpPermission>) -> Result<(), ProviderError> {
        if egress {
            let call = self.ec2.authorize_security_group_egress().group_id(id).set_ip_permissions(Some(perms));
            call.send().await.map_err(|e| aws_error("AuthorizeSecurityGroupEgress", e))?;
        } else {
            let call = self.ec2.authorize_security_group_ingress().group_id(id).set_ip_permissions(Some(perms));
            call.send().await.map_err(|e| aws_error("AuthorizeSecurityGroupIngress", e))?;
        }
        Ok(())
    }

    async fn try_delete(&self, id: &str) -> Result<(), ProviderError> {
        let result = self.ec2.delete_security_group().group_id(id).send().await;
        ok_if_gone(result.map(|_| ()).map_err(|e| aws_error("DeleteSecurityGroup", e)), GONE)
    }
}

fn in_use(e: &ProviderError) -> bool {
    e.code() == Some("DependencyViolation")
}

#[async_trait]
impl Filtered for SecurityGroups {
    const ID_FILTER: &'static str = "group-id";

    async fn describe_live(&self, filters: Vec<Filter>) -> Result<Vec<(Option<String>, Observed)>, ProviderError> {
        let groups = self.describe(filters).await?;
        Ok(groups.iter().map(|sg| (name_tag(sg.tags()), self.observe(sg))).collect())
    }
}

#[async_trait]
impl Provider for SecurityGroups {
    fn kind(&self) -> Kind {
        Kind::SecurityGroup
    }

    async fn read_many(&self, ids: &[String]) -> Result<BTreeMap<String, Observed>, ProviderError> {
        read_by_ids(self, ids).await
    }

    async fn read_recorded(
        &self,
        stack: &str,
        ids: &[String],
        _outputs: &RecordedOutputs,
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        read_by_stack_tag(self, stack, ids).await
    }

    async fn find_tagged(&self, stack: &str) -> Result<Tagged, ProviderError> {
        read_tagged(self, stack).await
    }

    /// The default VPC, for groups that name none.
    async fn prepare_creates(&self, declared: &[&Props]) {
        if declared.iter().any(|p| !p.contains_key("vpc_id")) {
            let _ = self.default_vpc().await;
        }
    }

    async fn create(&self, ctx: &Ctx, props: &Props) -> Result<Observed, ProviderError> {
        let props = SCHEMA.normalized(props);
        let name = match props.get("name").and_then(Value::as_str) {
            Some(n) => n.to_string(),
            None => ctx.generated_name(MAX_NAME),
        };
        let vpc_id = match props.get("vpc_id").and_then(Value::as_str) {
            Some(v) => v.to_string(),
            None => self.default_vpc().await?,
        };
        let created = self
            .ec2
            .create_security_group()
            .group_name(&name)
            .set_description(props.get("description").and_then(Value::as_str).map(str::to_string))
            .vpc_id(&vpc_id)
            .set_tag_specifications(tag_specification(ResourceType::SecurityGroup, &tags_of(&props)).map(|t| vec![t]))
            .send()
            .await
            .map_err(|e| aws_error("CreateSecurityGroup", e))?;
        let id = created.group_id().unwrap_or_default().to_string();
        // What AWS gives every new group: no ingress, and in a VPC one egress
        // rule allowing everything (revoked when the stack declares egress).
        let fresh = Props::from([
            ("ingress".to_string(), Value::List(Vec::new())),
            ("egress".to_string(), rules_value(&[default_egress()])),
        ]);
        ctx.status("authorizing rules");
        // The group may not be visible yet to the next call (EC2's eventual
        // consistency): that call is retried, not preceded by a read.
        wait::retrying(ctx, &format!("security group {id} to appear"), Backoff::default(), || async {
            match self.sync_rules(&id, &fresh, &props).await {
                Ok(()) => Ok(Some(())),
                Err(e) if e.code() == Some("InvalidGroup.NotFound") => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await?;
        // What was sent and what the create answered is the group: a read
        // back would tell nothing new.
        let arn = match created.security_group_arn() {
            Some(a) => a.to_string(),
            None => self.arn_of(&id).await?,
        };
        let mut outputs = Props::new();
        outputs.insert("id".into(), Value::from(id.as_str()));
        outputs.insert("arn".into(), Value::from(arn));
        outputs.insert("vpc_id".into(), Value::from(vpc_id.as_str()));
        outputs.insert("name".into(), Value::from(name.as_str()));
        let mut made = props.clone();
        made.insert("name".into(), Value::from(name.as_str()));
        made.insert("vpc_id".into(), Value::from(vpc_id));
        if !made.contains_key("egress") {
            made.insert("egress".into(), fresh["egress"].clone());
        }
        Ok(Observed { id, props: made, outputs })
    }

    async fn update(&self, _ctx: &Ctx, id: &str, before: &Props, after: &Props) -> Result<Observed, ProviderError> {
        let (before, after) = (SCHEMA.normalized(before), SCHEMA.normalized(after));
        self.sync_rules(id, &before, &after).await?;
        update_tags(&self.ec2, id, &before, &after).await?;
        self.read_one(id).await?.ok_or_else(|| ProviderError::Invalid(format!("security group {id} no longer exists")))
    }

    async fn delete(&self, ctx: &Ctx, id: &str, _props: &Props) -> Result<(), ProviderError> {
        match self.try_delete(id).await {
            Err(e) if in_use(&e) => {
                ctx.status("security group still in use; retrying");
                let backoff = Backoff { timeout: RELEASE_TIMEOUT, ..Backoff::default() };
                wait::until(ctx, &format!("security group {id} to be released"), backoff, || async {
                    match self.try_delete(id).await {
                        Ok(()) => Ok(Some(())),
                        Err(e) if in_use(&e) => Ok(None),
                        Err(e) => Err(e),
                    }
                })
                .await
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kinds::security_group::*;
    use crate::model::map;

    #[test]
    fn a_declared_rule_and_the_rule_aws_reports_for_it_compare_equal() {
        let declared = map([
            ("protocol", "tcp".into()),
            ("ports", "6379-6381".into()),
            ("cidrs", vec!["10.0.0.0/16", "2001:db8::/32"].into()),
            ("description", "redis".into()),
        ]);
        let perms: Vec<IpPermission> = flatten_rule(&declared).iter().map(|r| permission(r, true).unwrap()).collect();
        let mut want = flatten_rule(&declared);
        want.sort();
        assert_eq!(rules_value(&perms), Value::List(want));
    }

    #[test]
    fn protocol_all_has_no_ports_and_icmp_ports_are_a_type() {
        let all = IpPermission::builder()
            .ip_protocol("-1")
            .from_port(-1)
            .to_port(-1)
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        assert_eq!(
            rules_value(&[all]),
            Value::List(vec![map([("protocol", "all".into()), ("cidrs", vec!["0.0.0.0/0"].into())])])
        );
        let echo = map([("protocol", "icmp".into()), ("ports", 8.into()), ("source_security_group", "sg-1".into())]);
        let p = permission(&echo, true).unwrap();
        assert_eq!((p.from_port(), p.to_port()), (Some(8), Some(-1)));
        assert_eq!(rules_value(&[p]), Value::List(vec![echo]));
    }

    #[test]
    fn revokes_leave_the_description_out() {
        let rule = map([
            ("protocol", "tcp".into()),
            ("ports", 22.into()),
            ("cidrs", vec!["10.0.0.0/8"].into()),
            ("description", "ssh".into()),
        ]);
        let p = permission(&rule, false).unwrap();
        assert_eq!(p.ip_ranges()[0].description(), None);
    }
}
