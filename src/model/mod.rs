//! The model: what a stack declares, independent of where it was declared.
//!
//! A stack file and a Rust program both produce a [`Stack`]; [`Stack::validate`]
//! is the one set of checks both go through (schemas, references, cycles).
//! Errors carry a [`Path`] into the declaration, which the stack-file loader maps
//! to a file, line and column.

pub mod calls;
pub mod checks;
pub mod cost;
pub mod floor;
pub mod kind;
pub mod kinds;
pub mod schema;
pub mod text;
pub mod value;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use kind::Kind;
pub use value::{Part, Props, Ref, Secret, Value, map};

/// Tag keys that mark what a stack owns.
pub const TAG_STACK: &str = "infra:stack";
pub const TAG_NAME: &str = "infra:name";
/// The lineage of the state that made a resource: what makes it this
/// project's, where two projects give their stacks the same name. A
/// resource tagged for the stack and name but with another lineage (or none)
/// is never adopted.
pub const TAG_LINEAGE: &str = "infra:lineage";

/// `${aws.ATTR}`: facts of the account and region a stack is applied in. Not a
/// resource (nothing waits for it): the engine asks AWS once and binds them
/// ([`Stack::bind_aws`]) before it plans; commands that ask AWS nothing
/// (`check`, `graph`, `cost`) leave them unresolved.
pub const AWS: &str = "aws";

/// The attributes `${aws.ATTR}` offers, with what each is.
pub const AWS_ATTRS: &[(&str, &str)] = &[
    ("account_id", "the 12-digit id of the AWS account the stack is applied in (STS GetCallerIdentity)"),
    ("region", "the stack's region"),
    ("partition", "the region's partition, as ARNs name it: aws, aws-cn or aws-us-gov"),
];

/// The account and region that `${aws.*}` stand for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsContext {
    pub account_id: String,
    pub region: String,
}

impl AwsContext {
    /// The partition of the region (ARN's second field).
    pub fn partition(&self) -> &'static str {
        if self.region.starts_with("cn-") {
            "aws-cn"
        } else if self.region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        }
    }

    /// The value of `${aws.<attr>}`.
    pub fn attr(&self, attr: &str) -> Option<String> {
        match attr {
            "account_id" => Some(self.account_id.clone()),
            "region" => Some(self.region.clone()),
            "partition" => Some(self.partition().to_string()),
            _ => None,
        }
    }
}

/// A declared stack: settings and resources by logical name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stack {
    pub name: String,
    /// The AWS region; when absent, the standard AWS chain decides.
    pub region: Option<String>,
    /// Tags every taggable resource carries, beside the `infra:*` ones.
    pub tags: BTreeMap<String, String>,
    pub resources: BTreeMap<String, Resource>,
    /// Named values shown by `infra output`; usually references.
    pub outputs: BTreeMap<String, Value>,
    /// Where the stack's state lives; `None` is the project's `state/` directory.
    pub backend: Option<Backend>,
    /// Usage assumptions and the managed equivalent, for pricing (`[cost]`).
    pub cost: cost::Settings,
}

/// A remote home for a stack's state, shared by a team and its CI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An S3 bucket (see `infra backend bootstrap`): the state, its lock and
    /// its journal are objects under `key_prefix`.
    S3 {
        bucket: String,
        /// Prepended to the object keys, as given (`infra/` puts them in a folder).
        key_prefix: String,
        /// The bucket's region; the stack's region when absent.
        region: Option<String>,
        /// The account that must own the bucket (12 digits): every S3 call
        /// passes it as `ExpectedBucketOwner`. The credentials' account when absent.
        expected_owner: Option<String>,
        /// The KMS key `infra backend bootstrap` sets as the bucket's default
        /// encryption (SSE-KMS with a bucket key); SSE-S3 when absent.
        kms_key_id: Option<String>,
    },
}

/// What AWS holds for one resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub id: String,
    /// Properties in the shape of the kind's schema (normalised by the planner).
    /// A property AWS does not report in a batched read is absent.
    pub props: Props,
    /// Output attributes (`id`, `private_ip`, ...).
    pub outputs: Props,
}

/// One declared resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub kind: Kind,
    pub props: Props,
    /// Dependencies beyond those its references imply.
    pub depends_on: Vec<String>,
    /// Properties whose drift is expected and never acted on.
    pub ignore_changes: Vec<String>,
    /// Policy checks this resource may fail, each with the reason why.
    pub allow: BTreeMap<String, String>,
    /// `protect = true`: no plan may delete or replace it. `None` (not
    /// declared) keeps the protection state records; only an explicit
    /// `protect = false` lifts it.
    pub protect: Option<bool>,
}

impl Resource {
    pub fn new(kind: Kind) -> Self {
        Resource {
            kind,
            props: Props::new(),
            depends_on: Vec::new(),
            ignore_changes: Vec::new(),
            allow: BTreeMap::new(),
            protect: None,
        }
    }

    /// Sets a property (builder style).
    pub fn prop(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.props.insert(name.to_string(), value.into());
        self
    }

    /// Every resource this one depends on, by references or explicitly.
    pub fn dependencies(&self) -> BTreeSet<&str> {
        let mut deps: BTreeSet<&str> = self.depends_on.iter().map(String::as_str).collect();
        for v in self.props.values() {
            deps.extend(v.refs().into_iter().map(|r| r.resource.as_str()).filter(|r| *r != AWS));
        }
        deps
    }
}

impl Stack {
    pub fn new(name: impl Into<String>) -> Self {
        Stack { name: name.into(), ..Stack::default() }
    }

    /// Adds a resource (builder style).
    pub fn resource(mut self, name: &str, resource: Resource) -> Self {
        self.resources.insert(name.to_string(), resource);
        self
    }

    /// Adds an output (builder style).
    pub fn output(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.outputs.insert(name.to_string(), value.into());
        self
    }

    /// Whether any property or output holds a secret, or any resource declares
    /// a property its schema calls secret (an `ssm.parameter`'s value, even
    /// written out in the file): state then needs a key.
    pub fn has_secrets(&self) -> bool {
        let secret_field = self.resources.values().any(|r| {
            let schema = r.kind.schema();
            r.props.iter().any(|(k, v)| !matches!(v, Value::Null) && schema.field(k).is_some_and(|f| f.secret))
        });
        secret_field
            || self
                .resources
                .values()
                .flat_map(|r| r.props.values())
                .chain(self.outputs.values())
                .any(Value::contains_secret)
    }

    /// Whether a property or output refers to `${aws.*}` (binding it then
    /// needs AWS's answer).
    pub fn uses_aws(&self) -> bool {
        self.resources
            .values()
            .flat_map(|r| r.props.values())
            .chain(self.outputs.values())
            .any(|v| v.refs().iter().any(|r| r.resource == AWS))
    }

    /// The stack with every `${aws.ATTR}` replaced by its value in `aws`.
    pub fn bind_aws(&self, aws: &AwsContext) -> Stack {
        let lookup = |r: &Ref| if r.resource == AWS { aws.attr(&r.attr) } else { None };
        let mut bound = self.clone();
        for res in bound.resources.values_mut() {
            for v in res.props.values_mut() {
                *v = v.bind(&lookup);
            }
        }
        for v in bound.outputs.values_mut() {
            *v = v.bind(&lookup);
        }
        bound
    }

    /// All checks that need no AWS: names, schemas, references and cycles.
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (name, res) in &self.resources {
            let at = Path::root().key("resources").key(name);
            if !valid_name(name) || name == AWS {
                return Err(ValidationError::new(at, format!("invalid resource name `{name}`"))
                    .hint("use letters, digits, `_` and `-`, starting with a letter; `aws` is taken by `${aws.*}`"));
            }
            res.kind.schema().validate(&res.props, &at)?;
            for (prop, v) in &res.props {
                for r in v.refs() {
                    self.check_ref(r, Some(name), &at.key(prop))?;
                }
            }
            for (i, dep) in res.depends_on.iter().enumerate() {
                if !self.resources.contains_key(dep) {
                    return Err(ValidationError::new(
                        at.key("depends_on").index(i),
                        format!("`depends_on` names `{dep}`, which is not a resource of this stack"),
                    ));
                }
            }
            for (i, prop) in res.ignore_changes.iter().enumerate() {
                if res.kind.schema().field(prop).is_none() {
                    return Err(ValidationError::new(
                        at.key("ignore_changes").index(i),
                        format!("`ignore_changes` names `{prop}`, which is not a property of {}", res.kind),
                    ));
                }
            }
        }
        for (name, res) in &self.resources {
            for (check, reason) in &res.allow {
                let at = Path::root().key("resources").key(name).key("allow").key(check);
                if !checks::CHECKS.iter().any(|c| c.name == check) {
                    let names: Vec<&str> = checks::CHECKS.iter().map(|c| c.name).collect();
                    return Err(ValidationError::new(at, format!("unknown policy check `{check}`"))
                        .hint(format!("checks: {}", names.join(", "))));
                }
                if reason.trim().is_empty() {
                    return Err(ValidationError::new(at, format!("allowing `{check}` needs a reason"))
                        .hint("say why, for the next person who reads the stack"));
                }
            }
        }
        for (name, v) in &self.outputs {
            for r in v.refs() {
                self.check_ref(r, None, &Path::root().key("outputs").key(name))?;
            }
        }
        self.order().map(|_| ())
    }

    fn check_ref(&self, r: &Ref, from: Option<&str>, at: &Path) -> Result<(), ValidationError> {
        if r.resource == AWS {
            if AWS_ATTRS.iter().any(|(a, _)| *a == r.attr) {
                return Ok(());
            }
            let attrs: Vec<&str> = AWS_ATTRS.iter().map(|(a, _)| *a).collect();
            return Err(ValidationError::new(at.clone(), format!("`${{{r}}}`: `aws` has no attribute `{}`", r.attr))
                .hint(format!("attributes: {}", attrs.join(", "))));
        }
        let Some(target) = self.resources.get(&r.resource) else {
            let names: Vec<&str> = self.resources.keys().map(String::as_str).collect();
            return Err(ValidationError::new(
                at.clone(),
                format!("`${{{r}}}` refers to `{}`, which is not a resource of this stack", r.resource),
            )
            .hint(format!("resources: {}", names.join(", "))));
        };
        if Some(r.resource.as_str()) == from {
            return Err(ValidationError::new(at.clone(), format!("`${{{r}}}` refers to its own resource")));
        }
        let schema = target.kind.schema();
        if !schema.has_attr(&r.attr) {
            let mut attrs = vec!["id"];
            attrs.extend(schema.outputs.iter().copied().filter(|a| *a != "id"));
            return Err(ValidationError::new(
                at.clone(),
                format!("`${{{r}}}`: {} has no attribute `{}`", target.kind, r.attr),
            )
            .hint(format!("attributes: {}", attrs.join(", "))));
        }
        Ok(())
    }

    /// Resource names in dependency order (dependencies first, ties by name),
    /// or the error naming a cycle.
    pub fn order(&self) -> Result<Vec<String>, ValidationError> {
        let deps: BTreeMap<&str, BTreeSet<&str>> =
            self.resources.iter().map(|(n, r)| (n.as_str(), r.dependencies())).collect();
        topo_order(&deps).map_err(|cycle| {
            let first = cycle[0].to_string();
            let shown = cycle.iter().chain(std::iter::once(&cycle[0])).copied().collect::<Vec<_>>();
            ValidationError::new(
                Path::root().key("resources").key(&first),
                format!("dependency cycle: {}", shown.join(" -> ")),
            )
            .hint("a resource cannot depend on itself, directly or through others")
        })
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Kahn's algorithm over a name -> dependencies map, smallest name first among
/// the ready ones, so the order is deterministic. Dependencies that are not keys
/// are ignored. On a cycle, returns the names on it.
pub fn topo_order<'a>(deps: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Result<Vec<String>, Vec<&'a str>> {
    let mut remaining: BTreeMap<&str, BTreeSet<&str>> =
        deps.iter().map(|(n, d)| (*n, d.iter().copied().filter(|x| deps.contains_key(x)).collect())).collect();
    let mut order = Vec::with_capacity(deps.len());
    while !remaining.is_empty() {
        let ready: Vec<&str> = remaining.iter().filter(|(_, d)| d.is_empty()).map(|(n, _)| *n).collect();
        if ready.is_empty() {
            return Err(find_cycle(&remaining));
        }
        for n in &ready {
            remaining.remove(n);
        }
        for d in remaining.values_mut() {
            for n in &ready {
                d.remove(n);
            }
        }
        order.extend(ready.into_iter().map(str::to_string));
    }
    Ok(order)
}

fn find_cycle<'a>(remaining: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<&'a str> {
    // Every remaining node has a remaining dependency: walk until a node repeats.
    let mut path: Vec<&str> = Vec::new();
    let mut node = *remaining.keys().next().expect("a cycle has nodes");
    loop {
        if let Some(pos) = path.iter().position(|n| *n == node) {
            return path[pos..].to_vec();
        }
        path.push(node);
        node = remaining[node].iter().next().copied().expect("each node on a cycle has a dependency");
    }
}

/// A place in a stack declaration: `resources.web_sg.ingress[2].ports`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(pub Vec<Seg>);

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl Path {
    pub fn root() -> Path {
        Path(Vec::new())
    }
    pub fn key(&self, k: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }
    pub fn index(&self, i: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A declaration that cannot be planned: where, what, and how to fix it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ValidationError {
    pub path: Path,
    pub message: String,
    pub hint: Option<String>,
}

impl ValidationError {
    pub fn new(path: Path, message: impl Into<String>) -> Self {
        ValidationError { path, message: message.into(), hint: None }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Re-roots a path that was relative to `at`.
    pub fn under(mut self, at: &Path) -> Self {
        let mut p = at.clone();
        p.0.extend(self.path.0);
        self.path = p;
        self
    }
}
