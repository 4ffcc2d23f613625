//! The least-privilege IAM policy a stack's commands need (`infra policy`),
//! built from the kinds' call declarations (`model::calls`) and the stack:
//! the union of the actions the chosen commands make on this stack's
//! resources, each scoped to the ARNs the stack gives or generates, narrowed
//! by the stack's tag where the service supports it, `*` only with a reason;
//! `iam:PassRole` on the stack's roles only, each to the services its trust
//! policy names; the S3 state backend's objects when `[backend.s3]` is set.
//! Also IAM's wildcard matching (`matches`, `Policy::allows`), which the
//! trace test checks real calls with. Pure: no AWS, no files.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::calls::{self, Access, Cond, Naming, On, Op};
use crate::model::{Backend, Kind, Resource, Stack, Value};

/// The commands a policy is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum For {
    Plan,
    Drift,
    Apply,
    Destroy,
    All,
}

impl For {
    /// The operations the commands perform.
    pub fn ops(self) -> &'static [Op] {
        match self {
            For::Drift => &[Op::Read, Op::Adopt],
            For::Plan => &[Op::Read, Op::Adopt],
            For::Apply => &[Op::Read, Op::Adopt, Op::Prepare, Op::Create, Op::Update, Op::Delete],
            For::Destroy => &[Op::Read, Op::Adopt, Op::Delete],
            For::All => &[Op::Read, Op::Adopt, Op::Prepare, Op::Create, Op::Update, Op::Delete, Op::Import],
        }
    }

    /// Whether the commands change anything (the state backend's objects too).
    pub fn writes(self) -> bool {
        matches!(self, For::Apply | For::Destroy | For::All)
    }

    /// Whether the commands search every kind for the stack's tags, not only
    /// the kinds it declares (`infra drift` reports what is tagged as the
    /// stack's and recorded nowhere).
    pub fn searches_every_kind(self) -> bool {
        matches!(self, For::Drift | For::All)
    }

    pub fn name(self) -> &'static str {
        match self {
            For::Plan => "plan",
            For::Drift => "drift",
            For::Apply => "apply",
            For::Destroy => "destroy",
            For::All => "all",
        }
    }
}

/// One statement: `Allow` the actions on the resources, under the conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub sid: String,
    pub actions: BTreeSet<String>,
    pub resources: BTreeSet<String>,
    /// test -> key -> values.
    pub conditions: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Why the resource is `*` (set exactly when it is).
    pub reason: Option<String>,
}

/// An IAM policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub statements: Vec<Statement>,
    /// AWS managed policies the same principal needs beside this one, each
    /// with why: permissions AWS services use on the caller's behalf, which
    /// no call of infra's shows.
    pub beside: Vec<(&'static str, &'static str)>,
}

/// Elastic Beanstalk builds, updates and terminates an environment's
/// resources (its CloudFormation stack, Auto Scaling group, launch template,
/// instance, its regional S3 bucket) with the caller's permissions ("Elastic
/// Beanstalk user policies":
/// https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/concepts-roles-user.html),
/// which its managed policy grants.
pub const EB_ON_BEHALF: (&str, &str) = (
    "arn:aws:iam::aws:policy/AdministratorAccess-AWSElasticBeanstalk",
    "Elastic Beanstalk creates, updates and terminates an environment's CloudFormation stack, \
     Auto Scaling group and instance with the caller's permissions (docs/policy.md)",
);

/// Where ARNs are: the stack's region and partition, and the account when known.
struct Place<'a> {
    stack: &'a Stack,
    partition: &'static str,
    region: String,
    account: String,
}

/// The partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

type Conditions = BTreeMap<String, BTreeMap<String, Vec<String>>>;
/// Resources, conditions, reason.
type Key = (BTreeSet<String>, Conditions, Option<String>);
/// Actions, conditions, reason.
type Merged = (BTreeSet<String>, Conditions, Option<String>);

/// The policy `stack`'s commands `what` need. `account` fills the ARNs'
/// account (`*` when not given: any account's resource of these names).
pub fn policy(stack: &Stack, what: For, account: Option<&str>) -> Policy {
    let region = stack.region.clone().unwrap_or_else(|| "*".to_string());
    let place = Place {
        stack,
        partition: partition(&region),
        region,
        account: account.map_or_else(|| "*".to_string(), str::to_string),
    };
    let ops = what.ops();
    let mut grouped: BTreeMap<Key, BTreeSet<String>> = BTreeMap::new();
    for (name, resource) in &stack.resources {
        let access = calls::access(resource.kind);
        for call in access.calls.iter().filter(|c| c.ops.iter().any(|op| ops.contains(op))) {
            let key = place.key(call, name, resource, access);
            grouped.entry(key).or_default().extend(call.actions.iter().map(|a| a.to_string()));
        }
    }
    if what.searches_every_kind() {
        // The search of a kind the stack declares nothing of: names the stack would give.
        let declared: BTreeSet<Kind> = stack.resources.values().map(|r| r.kind).collect();
        for kind in Kind::ALL.iter().filter(|k| !declared.contains(k)) {
            let access = calls::access(*kind);
            let unnamed = Resource::new(*kind);
            for call in access.calls.iter().filter(|c| c.ops.contains(&Op::Adopt)) {
                let key = place.key(call, "*", &unnamed, access);
                grouped.entry(key).or_default().extend(call.actions.iter().map(|a| a.to_string()));
            }
        }
    }
    if ops.contains(&Op::Create) || ops.contains(&Op::Update) {
        for (role, services) in passed_roles(stack) {
            let Some(declared) = stack.resources.get(&role) else { continue };
            let arn = place.fill(calls::access(Kind::Role).arn, &role, declared, calls::access(Kind::Role));
            let mut when = BTreeMap::new();
            when.insert("StringEquals".to_string(), BTreeMap::from([("iam:PassedToService".to_string(), services)]));
            grouped.entry((BTreeSet::from([arn]), when, None)).or_default().insert("iam:PassRole".to_string());
        }
    }
    if let Some(Backend::S3 { bucket, key_prefix, region, kms_key_id, .. }) = &stack.backend {
        let objects = format!("arn:{}:s3:::{bucket}/{key_prefix}{}.*", place.partition, stack.name);
        let bucket_arn = format!("arn:{}:s3:::{bucket}", place.partition);
        let mut object_actions = BTreeSet::from(["s3:GetObject".to_string()]);
        if what.writes() {
            object_actions.extend(["s3:PutObject".to_string(), "s3:DeleteObject".to_string()]);
        }
        grouped.entry((BTreeSet::from([objects]), BTreeMap::new(), None)).or_default().extend(object_actions);
        let mut prefix = BTreeMap::new();
        prefix.insert(
            "StringLike".to_string(),
            BTreeMap::from([("s3:prefix".to_string(), vec![format!("{key_prefix}{}.*", stack.name)])]),
        );
        grouped.entry((BTreeSet::from([bucket_arn.clone()]), prefix, None)).or_default().insert("s3:ListBucket".into());
        grouped
            .entry((BTreeSet::from([bucket_arn]), BTreeMap::new(), None))
            .or_default()
            .insert("s3:GetBucketVersioning".into());
        if let Some(key) = kms_key_id {
            // Objects under an SSE-KMS default: reading needs kms:Decrypt, writing
            // kms:GenerateDataKey, on the key ("Using server-side encryption with
            // AWS KMS keys", Permissions:
            // https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html).
            let region = region.as_deref().unwrap_or(&place.region);
            let (resource, conditions) = place.kms_key(key, region);
            let mut actions = BTreeSet::from(["kms:Decrypt".to_string()]);
            if what.writes() {
                actions.insert("kms:GenerateDataKey".to_string());
            }
            grouped.entry((BTreeSet::from([resource]), conditions, None)).or_default().extend(actions);
        }
    }
    // Statements alike but for their resources become one.
    let mut merged: BTreeMap<Merged, BTreeSet<String>> = BTreeMap::new();
    for ((resources, conditions, reason), actions) in grouped {
        merged.entry((actions, conditions, reason)).or_default().extend(resources);
    }
    let statements = merged
        .into_iter()
        .enumerate()
        .map(|(i, ((actions, conditions, reason), resources))| Statement {
            sid: sid(i, &actions, reason.is_some()),
            actions,
            resources,
            conditions,
            reason,
        })
        .collect();
    let has_environment = stack.resources.values().any(|r| r.kind == Kind::EbEnvironment);
    let beside = if what.writes() && has_environment { vec![EB_ON_BEHALF] } else { Vec::new() };
    Policy { statements, beside }
}

/// `Ec2Scoped3`, `IamAnyResource7`: the first action's service, and whether the statement is `*`.
fn sid(i: usize, actions: &BTreeSet<String>, any: bool) -> String {
    let service = actions.iter().next().and_then(|a| a.split(':').next()).unwrap_or("infra");
    let mut word: String = service.chars().filter(char::is_ascii_alphanumeric).collect();
    if let Some(first) = word.get(..1) {
        word = first.to_uppercase() + &word[1..];
    }
    format!("{word}{}{}", if any { "AnyResource" } else { "Scoped" }, i + 1)
}

fn conditions(when: &[Cond], stack: &str) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for cond in when {
        let values = cond.values.iter().map(|v| v.replace("{stack}", stack)).collect();
        out.entry(cond.test.to_string()).or_default().insert(cond.key.to_string(), values);
    }
    out
}

/// Each role of the stack some resource hands to a service, with the
/// services its trust policy lets assume it.
fn passed_roles(stack: &Stack) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for resource in stack.resources.values().filter(|r| calls::passes_roles(r.kind)) {
        for target in resource.props.values().flat_map(referenced) {
            let Some(role) = stack.resources.get(&target).filter(|r| r.kind == Kind::Role) else { continue };
            let services = trusted_services(role);
            if !services.is_empty() {
                out.insert(target, services);
            }
        }
    }
    out
}

/// The resources a value refers to.
fn referenced(value: &Value) -> Vec<String> {
    match value {
        Value::Ref(r) => vec![r.resource.clone()],
        Value::Template(parts) => parts
            .iter()
            .filter_map(|p| match p {
                crate::model::value::Part::Ref(r) => Some(r.resource.clone()),
                _ => None,
            })
            .collect(),
        Value::List(items) => items.iter().flat_map(referenced).collect(),
        Value::Map(map) => map.values().flat_map(referenced).collect(),
        _ => Vec::new(),
    }
}

/// The `*.amazonaws.com` service principals a role's trust policy names.
fn trusted_services(role: &Resource) -> Vec<String> {
    let mut texts = Vec::new();
    if let Some(policy) = role.props.get("assume_role_policy") {
        literal_texts(policy, &mut texts);
    }
    let pieces = texts.iter().flat_map(|t| t.split('"'));
    let services: BTreeSet<String> = pieces
        .filter(|p| p.ends_with(".amazonaws.com") && !p.contains(char::is_whitespace))
        .map(str::to_string)
        .collect();
    services.into_iter().collect()
}

/// Every literal string inside a value (a document's text, or its strings).
fn literal_texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Str(s) => out.push(s.clone()),
        Value::Template(parts) => out.extend(parts.iter().filter_map(|p| match p {
            crate::model::value::Part::Lit(s) => Some(s.clone()),
            _ => None,
        })),
        Value::List(items) => items.iter().for_each(|v| literal_texts(v, out)),
        Value::Map(map) => map.values().for_each(|v| literal_texts(v, out)),
        _ => {}
    }
}

impl Place<'_> {
    /// The ARN a KMS key given by ARN, id or alias is authorised on: an alias
    /// is not a resource of `kms:Decrypt` or `kms:GenerateDataKey`, so it
    /// becomes any key of the account that has it (`kms:ResourceAliases`).
    fn kms_key(&self, key: &str, region: &str) -> (String, Conditions) {
        let keys = format!("arn:{}:kms:{region}:{}:key/", self.partition, self.account);
        if key.starts_with("arn:") && key.contains(":key/") {
            return (key.to_string(), Conditions::new());
        }
        let alias = key
            .rsplit_once(":alias/")
            .map(|(_, a)| format!("alias/{a}"))
            .or_else(|| key.starts_with("alias/").then(|| key.to_string()));
        match alias {
            Some(alias) => (
                format!("{keys}*"),
                BTreeMap::from([(
                    "ForAnyValue:StringEquals".to_string(),
                    BTreeMap::from([("kms:ResourceAliases".to_string(), vec![alias])]),
                )]),
            ),
            None => (format!("{keys}{key}"), Conditions::new()),
        }
    }

    /// A call's resources (filled for one resource), conditions and reason for `*`.
    fn key(&self, call: &calls::Call, name: &str, resource: &Resource, access: &Access) -> Key {
        let reason = call.on.iter().find_map(|on| match on {
            On::Any(reason) => Some((*reason).to_string()),
            _ => None,
        });
        let resources = call
            .on
            .iter()
            .map(|on| match on {
                On::Own => self.fill(access.arn, name, resource, access),
                On::Arn(pattern) => self.fill(pattern, name, resource, access),
                On::Any(_) => "*".to_string(),
            })
            .collect();
        (resources, conditions(call.when, &self.stack.name), reason)
    }

    /// A pattern with its placeholders filled for one resource.
    fn fill(&self, pattern: &str, name: &str, resource: &Resource, access: &Access) -> String {
        let mut out = pattern
            .replace("{partition}", self.partition)
            .replace("{region}", &self.region)
            .replace("{account}", &self.account)
            .replace("{stack}", &self.stack.name);
        if out.contains("{name}") {
            out = out.replace("{name}", &self.name_pattern(name, resource, access.naming, 0));
        }
        while let Some(start) = out.find("{prop:") {
            let Some(len) = out[start..].find('}') else { break };
            let field = out[start + 6..start + len].to_string();
            let value = self.prop_pattern(resource.props.get(&field), 0);
            out.replace_range(start..start + len + 1, &value);
        }
        out
    }

    /// The name (or a pattern of the names) a resource has in AWS.
    fn name_pattern(&self, name: &str, resource: &Resource, naming: Naming, depth: usize) -> String {
        let stack = &self.stack.name;
        let declared = match naming {
            Naming::Bucket => resource.props.get("bucket"),
            Naming::Id | Naming::Label => None,
            _ => resource.props.get("name"),
        };
        if let Some(value) = declared {
            let named = self.prop_pattern(Some(value), depth);
            return match naming {
                Naming::Parameter if !named.starts_with('/') => format!("/{named}"),
                _ => named,
            };
        }
        match naming {
            // Any name the stack would generate (a kind it declares nothing of).
            Naming::Parameter if name == "*" => format!("/{stack}/*"),
            Naming::Declared | Naming::Bucket | Naming::Environment if name == "*" => format!("{stack}-*"),
            Naming::Declared => format!("{stack}-{name}*"),
            Naming::Bucket => format!("{}-*", format!("{stack}-{name}").to_lowercase().replace('_', "-")),
            Naming::Parameter => format!("/{stack}/{name}*"),
            Naming::Environment => {
                let base: String = format!("{stack}-{name}")
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                format!("{}*", base.chars().take(40).collect::<String>())
            }
            Naming::Id | Naming::Label => "*".to_string(),
        }
    }

    /// The name a property gives: a literal, or the name of the resource it refers to.
    fn prop_pattern(&self, value: Option<&Value>, depth: usize) -> String {
        match value {
            Some(Value::Str(s)) => s.clone(),
            Some(Value::Ref(r)) if depth < 8 => match self.stack.resources.get(&r.resource) {
                Some(target) => {
                    let access = calls::access(target.kind);
                    self.name_pattern(&r.resource, target, access.naming, depth + 1)
                }
                None => "*".to_string(),
            },
            _ => "*".to_string(),
        }
    }
}

/// IAM's wildcard matching: `*` any run of characters, `?` any one.
/// Case-sensitive (ARNs); compare actions lower-cased.
pub fn matches(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

impl Policy {
    /// Whether some statement allows `action` on `arn`, conditions aside
    /// (they narrow by tags the caller's request and the resource carry).
    pub fn allows(&self, action: &str, arn: &str) -> bool {
        let action = action.to_lowercase();
        self.statements.iter().any(|s| {
            s.actions.iter().any(|a| matches(&a.to_lowercase(), &action)) && s.resources.iter().any(|r| matches(r, arn))
        })
    }

    /// Whether some statement names `action`, on whatever resource.
    pub fn has_action(&self, action: &str) -> bool {
        let action = action.to_lowercase();
        self.statements.iter().any(|s| s.actions.iter().any(|a| matches(&a.to_lowercase(), &action)))
    }

    /// Every action the policy allows.
    pub fn actions(&self) -> BTreeSet<&str> {
        self.statements.iter().flat_map(|s| s.actions.iter().map(String::as_str)).collect()
    }

    /// The policy document (reasons stay out: a policy has no comments).
    pub fn to_json(&self) -> serde_json::Value {
        let statements: Vec<serde_json::Value> = self
            .statements
            .iter()
            .map(|s| {
                let mut st = serde_json::json!({
                    "Sid": s.sid,
                    "Effect": "Allow",
                    "Action": s.actions,
                    "Resource": if s.resources.len() == 1 {
                        serde_json::json!(s.resources.iter().next())
                    } else {
                        serde_json::json!(s.resources)
                    },
                });
                if !s.conditions.is_empty() {
                    st["Condition"] = serde_json::json!(s.conditions);
                }
                st
            })
            .collect();
        serde_json::json!({ "Version": "2012-10-17", "Statement": statements })
    }

    /// The statements one by one, `*` resources with their reasons as comments.
    pub fn to_text(&self, stack: &str, what: For) -> String {
        let mut out = format!("# The IAM policy `infra {}` needs for stack {stack}.\n", what.name());
        for s in &self.statements {
            out.push('\n');
            if let Some(reason) = &s.reason {
                out.push_str(&format!("# {}: on every resource, because {reason}\n", s.sid));
            } else {
                out.push_str(&format!("# {}\n", s.sid));
            }
            out.push_str("Allow\n");
            for a in &s.actions {
                out.push_str(&format!("  {a}\n"));
            }
            out.push_str("on\n");
            for r in &s.resources {
                out.push_str(&format!("  {r}\n"));
            }
            for (test, keys) in &s.conditions {
                for (key, values) in keys {
                    out.push_str(&format!("when {test} {key} = {}\n", values.join(" | ")));
                }
            }
        }
        for (arn, why) in &self.beside {
            out.push_str(&format!("\n# Beside it, attach the AWS managed policy {arn}:\n# {why}.\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_matches_any_run_and_a_question_mark_one_character() {
        assert!(matches("arn:aws:iam::*:role/dev-build*", "arn:aws:iam::123456789012:role/dev-build_role"));
        assert!(matches("arn:aws:s3:::dev-artifacts-*/*", "arn:aws:s3:::dev-artifacts-1a2b3c4d/app/v1.zip"));
        assert!(matches("ec2:describe?olumes", "ec2:describevolumes"));
        assert!(matches("*", ""));
        assert!(!matches("arn:aws:iam::*:role/dev-*", "arn:aws:iam::1:role/prod-x"));
        assert!(!matches("arn:aws:s3:::dev-a", "arn:aws:s3:::dev-ab"));
        assert!(!matches("a?c", "ac"));
    }

    #[test]
    fn the_partition_follows_the_region() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}
