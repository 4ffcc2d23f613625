//! What a stack costs a month, from its declaration alone: no AWS call.
//!
//! Each resource is priced from the shipped price table (`prices/prices.json`,
//! or the cache `infra cost --update-prices` writes) for the stack's region,
//! with the basis of each figure (`730 h × $0.0416/h`). Usage-priced resources
//! (CodeBuild minutes, S3 storage) are priced at the stack's `[cost.usage]`
//! assumptions and say so. A plan's cost is the difference between what its
//! steps leave and what they find ([`delta`]); `--compare` prices the managed
//! services of `[cost.managed]` in place of what they replace ([`compare`]).
//! An instance type, volume type or region the table lacks is an error naming
//! it, never a silent $0.

pub mod pricelist;
pub mod prices;
mod settings;

use serde::{Deserialize, Serialize};

pub use prices::{PriceTable, RegionPrices};
pub use settings::{ElastiCache, Managed, OpenSearch, Settings, Usage};

use crate::model::schema::Default as SchemaDefault;
use crate::model::{Kind, Props, Stack, Value};
use crate::plan::{Action, Plan};

/// The hours of a month, as AWS's pricing calculator counts them.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Why a stack could not be priced.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    #[error("no prices for region `{region}` (the price table has {known})")]
    UnknownRegion { region: String, known: String },
    #[error("{resource}: no price for {what} `{key}` in {region} (the price table has {known})")]
    UnknownPrice { resource: String, what: &'static str, key: String, region: String, known: String },
    #[error("{resource}: `{property}` is not known before apply, so it cannot be priced")]
    NotKnown { resource: String, property: String },
    #[error("{path}: not a valid price table: {message}")]
    BadTable { path: String, message: String },
    #[error("stack `{0}` names no region: set [stack] region, or AWS_REGION, to price it")]
    NoRegion(String),
    #[error("stack `{0}` has no [cost.managed] table to compare with (docs/cost.md)")]
    NoManaged(String),
    #[error("[cost.managed] replaces `{0}`, which the stack does not declare")]
    UnknownReplaced(String),
}

/// One priced item: a resource, or a managed service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub resource: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// USD a month.
    pub monthly: f64,
    /// How the figure is made (`730 h × $0.0416/h`), or why it is zero.
    pub basis: String,
    /// Priced at an assumed usage (`[cost.usage]`).
    pub assumption: bool,
}

/// A stack's monthly cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub stack: String,
    pub region: String,
    pub lines: Vec<Line>,
    pub total: f64,
    /// The price table's date and source.
    pub prices_as_of: String,
    pub prices_source: String,
}

/// The cost of a stack, each resource priced in `region`.
pub fn estimate(stack: &Stack, table: &PriceTable, region: &str) -> Result<Estimate, CostError> {
    let prices = table.region(region)?;
    let mut lines = Vec::new();
    for (name, r) in &stack.resources {
        lines.push(price(name, r.kind, &r.props, prices, &stack.cost.usage, region)?);
    }
    let total = lines.iter().map(|l| l.monthly).sum();
    Ok(Estimate {
        stack: stack.name.clone(),
        region: region.to_string(),
        lines,
        total,
        prices_as_of: table.as_of.clone(),
        prices_source: table.source.clone(),
    })
}

/// A property's literal string, or its schema default.
fn text(resource: &str, kind: Kind, props: &Props, name: &str) -> Result<Option<String>, CostError> {
    match props.get(name) {
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(Value::Null) | None => {
            Ok(kind.schema().fields.iter().find(|f| f.name == name).and_then(|f| match f.default {
                SchemaDefault::Str(s) => Some(s.to_string()),
                _ => None,
            }))
        }
        Some(_) => Err(CostError::NotKnown { resource: resource.to_string(), property: name.to_string() }),
    }
}

fn number(resource: &str, kind: Kind, props: &Props, name: &str) -> Result<Option<i64>, CostError> {
    match props.get(name) {
        Some(Value::Int(n)) => Ok(Some(*n)),
        Some(Value::Null) | None => {
            Ok(kind.schema().fields.iter().find(|f| f.name == name).and_then(|f| match f.default {
                SchemaDefault::Int(n) => Some(n),
                _ => None,
            }))
        }
        Some(_) => Err(CostError::NotKnown { resource: resource.to_string(), property: name.to_string() }),
    }
}

fn flag(kind: Kind, props: &Props, name: &str) -> bool {
    match props.get(name) {
        Some(Value::Bool(b)) => *b,
        _ => kind.schema().fields.iter().any(|f| f.name == name && matches!(f.default, SchemaDefault::Bool(true))),
    }
}

/// `$0.0416`, with the digits a price needs.
pub fn usd(amount: f64) -> String {
    let text = format!("{amount:.4}");
    let trimmed = text.trim_end_matches('0');
    let decimals = trimmed.split_once('.').map_or(0, |(_, d)| d.len()).max(2);
    format!("${amount:.decimals$}")
}

/// A monthly figure: `$30.37`, `-$1,204.50`.
pub fn money(amount: f64) -> String {
    let cents = (amount.abs() * 100.0).round() as u64;
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if amount < 0.0 && cents > 0 { "-" } else { "" };
    format!("{sign}${grouped}.{:02}", cents % 100)
}

fn zero(resource: &str, kind: Kind, why: &str) -> Line {
    Line {
        resource: resource.to_string(),
        kind: kind.type_name().to_string(),
        monthly: 0.0,
        basis: why.into(),
        assumption: false,
    }
}

/// Prices one resource from its (normalised or declared) properties.
pub fn price(
    resource: &str,
    kind: Kind,
    props: &Props,
    prices: &RegionPrices,
    usage: &Usage,
    region: &str,
) -> Result<Line, CostError> {
    let line = |monthly: f64, basis: String, assumption: bool| Line {
        resource: resource.to_string(),
        kind: kind.type_name().to_string(),
        monthly,
        basis,
        assumption,
    };
    let lookup = |what: &'static str, table: &std::collections::BTreeMap<String, f64>, key: &str| {
        prices::lookup(table, what, key, resource, region)
    };
    Ok(match kind {
        Kind::SecurityGroup => zero(resource, kind, "security groups are free"),
        Kind::VolumeAttachment => zero(resource, kind, "attaching a volume is free"),
        Kind::Role | Kind::InstanceProfile => zero(resource, kind, "IAM is free"),
        Kind::EbApplication => {
            zero(resource, kind, "Elastic Beanstalk is free; its environments' instances are priced")
        }
        Kind::EbVersion => zero(resource, kind, "a source bundle in the artifact bucket, priced with the bucket"),
        Kind::Volume => {
            let ty = text(resource, kind, props, "volume_type")?.unwrap_or_else(|| "gp3".into());
            let size = number(resource, kind, props, "size")?.unwrap_or(0);
            let rate = lookup("volume type", &prices.ebs_gb_month, &ty)?;
            line(size as f64 * rate, format!("{size} GB-month × {}/GB ({ty})", usd(rate)), false)
        }
        Kind::Instance => {
            let ty = text(resource, kind, props, "instance_type")?.unwrap_or_default();
            let hourly = lookup("instance type", &prices.ec2_instance_hour, &ty)?;
            let root = number(resource, kind, props, "root_volume_size")?.unwrap_or(8);
            let gp3 = lookup("volume type", &prices.ebs_gb_month, "gp3")?;
            let monthly = HOURS_PER_MONTH * hourly + root as f64 * gp3;
            line(
                monthly,
                format!("730 h × {}/h ({ty}) + {root} GB-month × {}/GB (root, gp3)", usd(hourly), usd(gp3)),
                false,
            )
        }
        Kind::EbEnvironment => {
            let ty = text(resource, kind, props, "instance_type")?.unwrap_or_else(|| "t3.medium".into());
            let hourly = lookup("instance type", &prices.ec2_instance_hour, &ty)?;
            let mut monthly = HOURS_PER_MONTH * hourly;
            let mut basis = format!("730 h × {}/h (its {ty} instance)", usd(hourly));
            if !flag(kind, props, "single_instance") {
                monthly += HOURS_PER_MONTH * prices.alb_hour;
                basis.push_str(&format!(
                    " + 730 h × {}/h (its load balancer, capacity units not priced)",
                    usd(prices.alb_hour)
                ));
            }
            line(monthly, basis, false)
        }
        Kind::Bucket => {
            let gb = usage.s3_gb;
            let rate = prices.s3_standard_gb_month;
            line(gb * rate, format!("{gb} GB-month × {}/GB (assumed: [cost.usage] s3_gb)", usd(rate)), true)
        }
        Kind::BuildProject => {
            let ty = text(resource, kind, props, "compute_type")?.unwrap_or_else(|| "BUILD_GENERAL1_SMALL".into());
            let rate = lookup("build compute type", &prices.codebuild_minute, &ty)?;
            let minutes = usage.build_minutes;
            line(
                minutes * rate,
                format!("{minutes} min × {}/min (assumed: [cost.usage] build_minutes)", usd(rate)),
                true,
            )
        }
        Kind::Pipeline => {
            let rate = prices.codepipeline_pipeline_month;
            line(rate, format!("1 active pipeline × {}/month", usd(rate)), false)
        }
    })
}

/// The stack's self-hosted cost beside its managed equivalent
/// (`[cost.managed]`): the resources it replaces give way to the managed
/// services, the rest stays.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub stack: Estimate,
    /// The managed services, priced.
    pub managed: Vec<Line>,
    /// What the managed setup costs: the stack without what it replaces, and the services.
    pub managed_total: f64,
    /// `managed_total - stack.total`: what self-hosting saves a month.
    pub saving_per_month: f64,
    pub saving_per_year: f64,
}

/// [`estimate`], beside the managed services of `[cost.managed]`.
pub fn compare(stack: &Stack, table: &PriceTable, region: &str) -> Result<Comparison, CostError> {
    let managed = stack.cost.managed.as_ref().ok_or_else(|| CostError::NoManaged(stack.name.clone()))?;
    for name in &managed.replaces {
        if !stack.resources.contains_key(name) {
            return Err(CostError::UnknownReplaced(name.clone()));
        }
    }
    let own = estimate(stack, table, region)?;
    let prices = table.region(region)?;
    let mut lines = Vec::new();
    if let Some(ec) = &managed.elasticache {
        let hourly = prices::lookup(&prices.elasticache_node_hour, "node type", &ec.node_type, "elasticache", region)?;
        let nodes = ec.shards * (1 + ec.replicas);
        lines.push(Line {
            resource: "elasticache".into(),
            kind: "ElastiCache (Redis OSS)".into(),
            monthly: nodes as f64 * HOURS_PER_MONTH * hourly,
            basis: format!(
                "{nodes} nodes ({} shards × {} per shard) × 730 h × {}/h ({})",
                ec.shards,
                1 + ec.replicas,
                usd(hourly),
                ec.node_type
            ),
            assumption: false,
        });
    }
    if let Some(os) = &managed.opensearch {
        let hourly =
            prices::lookup(&prices.opensearch_instance_hour, "instance type", &os.instance_type, "opensearch", region)?;
        let storage = prices::lookup(
            &prices.opensearch_storage_gb_month,
            "storage type",
            &os.storage_type,
            "opensearch",
            region,
        )?;
        let gb = os.instances * os.storage_gb;
        lines.push(Line {
            resource: "opensearch".into(),
            kind: "OpenSearch Service".into(),
            monthly: os.instances as f64 * HOURS_PER_MONTH * hourly + gb as f64 * storage,
            basis: format!(
                "{} × 730 h × {}/h ({}) + {gb} GB-month × {}/GB ({})",
                os.instances,
                usd(hourly),
                os.instance_type,
                usd(storage),
                os.storage_type
            ),
            assumption: false,
        });
    }
    let kept: f64 = own.lines.iter().filter(|l| !managed.replaces.contains(&l.resource)).map(|l| l.monthly).sum();
    let managed_total = kept + lines.iter().map(|l| l.monthly).sum::<f64>();
    let saving = managed_total - own.total;
    Ok(Comparison {
        stack: own,
        managed: lines,
        managed_total,
        saving_per_month: saving,
        saving_per_year: saving * 12.0,
    })
}

/// What a plan does to the monthly bill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub region: String,
    /// USD a month before and after the plan, for what could be priced.
    pub before: f64,
    pub after: f64,
    /// Each resource whose cost changes: (resource, before, after, why).
    pub changes: Vec<Change>,
    /// What could not be priced, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unpriced: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub resource: String,
    pub before: f64,
    pub after: f64,
    pub why: String,
}

impl Delta {
    pub fn monthly(&self) -> f64 {
        self.after - self.before
    }

    /// `Cost: +$30.37/month (host: t3.medium → t3.large)`.
    pub fn text(&self) -> String {
        let delta = self.monthly();
        let mut line = if self.changes.is_empty() {
            format!("Cost: no change ({}/month)", money(self.after))
        } else {
            let sign = if delta < 0.0 { "-" } else { "+" };
            let why: Vec<String> = self.changes.iter().map(|c| format!("{}: {}", c.resource, c.why)).collect();
            format!("Cost: {sign}{}/month ({}), {}/month in all", money(delta.abs()), why.join("; "), money(self.after))
        };
        for u in &self.unpriced {
            line.push_str(&format!("\n  not priced: {u}"));
        }
        line.push('\n');
        line
    }
}

/// The cost difference `plan` makes, each side priced from the properties
/// its steps find (recorded) and leave (desired).
pub fn delta(plan: &Plan, usage: &Usage, table: &PriceTable, region: &str) -> Result<Delta, CostError> {
    let prices = table.region(region)?;
    let mut delta =
        Delta { region: region.to_string(), before: 0.0, after: 0.0, changes: Vec::new(), unpriced: Vec::new() };
    for step in &plan.steps {
        let kind = step.kind;
        let before = match (&step.prior, step.action) {
            (Some(prior), a) if a != Action::Create => Some(price(&step.name, kind, prior, prices, usage, region)),
            _ => None,
        };
        let after = match step.action {
            Action::Delete => None,
            _ => Some(price(&step.name, kind, &step.desired, prices, usage, region)),
        };
        let (b, a) = match (before.transpose(), after.transpose()) {
            (Ok(b), Ok(a)) => (b, a),
            (Err(e), _) | (_, Err(e)) => {
                delta.unpriced.push(e.to_string());
                continue;
            }
        };
        let (bm, am) = (b.as_ref().map_or(0.0, |l| l.monthly), a.as_ref().map_or(0.0, |l| l.monthly));
        delta.before += bm;
        delta.after += am;
        if (am - bm).abs() < 0.005 {
            continue;
        }
        let why = match (step.action, &b, &a) {
            (Action::Create, _, Some(a)) => format!("new, {}", a.basis),
            (Action::Delete, _, _) => "removed".to_string(),
            _ => changed_inputs(kind, step.prior.as_ref(), &step.desired),
        };
        delta.changes.push(Change { resource: step.name.clone(), before: bm, after: am, why });
    }
    Ok(delta)
}

/// `t3.medium → t3.large`, for the priced properties that differ.
fn changed_inputs(kind: Kind, prior: Option<&Props>, desired: &Props) -> String {
    let priced = ["instance_type", "size", "volume_type", "compute_type", "single_instance", "root_volume_size"];
    let show = |v: Option<&Value>| v.map_or("default".to_string(), crate::render::inline);
    let mut parts = Vec::new();
    for name in priced {
        if !kind.schema().fields.iter().any(|f| f.name == name) {
            continue;
        }
        let (b, a) = (prior.and_then(|p| p.get(name)), desired.get(name));
        if b != a {
            parts.push(format!("{name} {} → {}", show(b), show(a)));
        }
    }
    if parts.is_empty() { "changed".into() } else { parts.join(", ") }
}

/// The stack's region for pricing: its own, else the environment's.
pub fn region_of(stack: &Stack) -> Result<String, CostError> {
    stack
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .ok_or_else(|| CostError::NoRegion(stack.name.clone()))
}
