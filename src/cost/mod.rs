//! What a stack costs a month, from its declaration alone: no AWS call.
//!
//! Each resource is priced from the shipped price table (`prices/prices.json`,
//! or the cache `infra cost --update-prices` writes) for the stack's region,
//! with the basis of each figure (`730 h × $0.0416/h`). Usage-priced resources
//! (CodeBuild minutes, S3 storage) are priced at the stack's `[cost.usage]`
//! assumptions and say so. A plan's cost ([`Delta`]) is priced above the
//! planner (`plan::cost`), with [`price`]; `--compare` prices the managed
//! services of `[cost.managed]` in place of what they replace ([`compare`]).
//! An instance type, volume type or region the table lacks is an error naming
//! it, never a silent $0.

pub mod pricelist;
pub mod prices;

use serde::{Deserialize, Serialize};

pub use crate::model::cost::{ElastiCache, Managed, OpenSearch, Settings, Usage};
pub use prices::{PriceTable, RegionPrices};

use crate::model::{Kind, Props, Stack, Value};

/// The hours of a month, as AWS's pricing calculator counts them.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// An advanced Parameter Store parameter, a month: AWS's list price in
/// us-east-1 (https://aws.amazon.com/systems-manager/pricing/), used for every
/// region, since the per-region price table has no Parameter Store entry.
pub const SSM_ADVANCED_PARAMETER_MONTH: f64 = 0.05;

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

/// A property's literal string (of properties with their defaults filled in).
fn text(resource: &str, props: &Props, name: &str) -> Result<Option<String>, CostError> {
    match props.get(name) {
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(Value::Null) | None => Ok(None),
        Some(_) => Err(CostError::NotKnown { resource: resource.to_string(), property: name.to_string() }),
    }
}

fn number(resource: &str, props: &Props, name: &str) -> Result<Option<i64>, CostError> {
    match props.get(name) {
        Some(Value::Int(n)) => Ok(Some(*n)),
        Some(Value::Null) | None => Ok(None),
        Some(_) => Err(CostError::NotKnown { resource: resource.to_string(), property: name.to_string() }),
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
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
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

/// Prices one resource from its declared (or recorded) properties, its
/// schema's defaults filled in.
pub fn price(
    resource: &str,
    kind: Kind,
    props: &Props,
    prices: &RegionPrices,
    usage: &Usage,
    region: &str,
) -> Result<Line, CostError> {
    // Normalised only for the kinds that read them: most kinds are free.
    let props = std::cell::LazyCell::new(|| kind.schema().normalized(props));
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
        // "All state change events published by AWS services by default are
        // free" (https://aws.amazon.com/eventbridge/pricing/): a rule on the
        // default bus, and its delivery of S3's events to a target, cost nothing.
        Kind::EventRule => zero(resource, kind, "rules matching AWS services' events on the default bus are free"),
        Kind::EbApplication => {
            zero(resource, kind, "Elastic Beanstalk is free; its environments' instances are priced")
        }
        // "Standard parameters: No additional charge"; "Advanced parameters:
        // $0.05 per advanced parameter per month (prorated hourly)"
        // (https://aws.amazon.com/systems-manager/pricing/, Parameter Store).
        // Standard-throughput API calls are free too; the AWS managed key
        // aws/ssm has no monthly fee.
        Kind::SsmParameter => match text(resource, &props, "tier")?.as_deref() {
            Some("Advanced") => line(
                SSM_ADVANCED_PARAMETER_MONTH,
                format!("1 advanced parameter × {}/month", usd(SSM_ADVANCED_PARAMETER_MONTH)),
                false,
            ),
            _ => zero(resource, kind, "standard Parameter Store parameters are free"),
        },
        Kind::EbVersion => zero(resource, kind, "a source bundle in the artifact bucket, priced with the bucket"),
        Kind::Volume => {
            let ty = text(resource, &props, "volume_type")?.unwrap_or_else(|| "gp3".into());
            let size = number(resource, &props, "size")?.unwrap_or(0);
            let rate = lookup("volume type", &prices.ebs_gb_month, &ty)?;
            line(size as f64 * rate, format!("{size} GB-month × {}/GB ({ty})", usd(rate)), false)
        }
        Kind::Instance => {
            let ty = text(resource, &props, "instance_type")?.unwrap_or_default();
            let hourly = lookup("instance type", &prices.ec2_instance_hour, &ty)?;
            let root = number(resource, &props, "root_volume_size")?.unwrap_or(8);
            let gp3 = lookup("volume type", &prices.ebs_gb_month, "gp3")?;
            let monthly = HOURS_PER_MONTH * hourly + root as f64 * gp3;
            line(
                monthly,
                format!("730 h × {}/h ({ty}) + {root} GB-month × {}/GB (root, gp3)", usd(hourly), usd(gp3)),
                false,
            )
        }
        Kind::EbEnvironment => {
            let ty = text(resource, &props, "instance_type")?.unwrap_or_else(|| "t3.medium".into());
            let hourly = lookup("instance type", &prices.ec2_instance_hour, &ty)?;
            let mut monthly = HOURS_PER_MONTH * hourly;
            let mut basis = format!("730 h × {}/h (its {ty} instance)", usd(hourly));
            if props.get("single_instance") != Some(&Value::Bool(true)) {
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
            let ty = text(resource, &props, "compute_type")?.unwrap_or_else(|| "BUILD_GENERAL1_SMALL".into());
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
    /// The stack's resources the managed services replace.
    pub replaces: Vec<String>,
    /// The managed services, priced.
    pub managed: Vec<Line>,
    /// What the rest of the stack costs beside them.
    pub kept: f64,
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
        replaces: managed.replaces.clone(),
        managed: lines,
        kept,
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

    /// `Cost: +$30.37/month (host: instance_type "t3.medium" → "t3.large"), $64.66/month in all`;
    /// several changes one per line below the total, the largest first.
    pub fn text(&self) -> String {
        let signed = |amount: f64| format!("{}{}", if amount < 0.0 { "-" } else { "+" }, money(amount.abs()));
        let mut out = match self.changes.as_slice() {
            [] => format!("Cost: no change ({}/month)\n", money(self.after)),
            [c] => format!(
                "Cost: {}/month ({}: {}), {}/month in all\n",
                signed(self.monthly()),
                c.resource,
                c.why,
                money(self.after)
            ),
            many => {
                let mut sorted: Vec<&Change> = many.iter().collect();
                sorted.sort_by(|a, b| {
                    (b.after - b.before).abs().total_cmp(&(a.after - a.before).abs()).then(a.resource.cmp(&b.resource))
                });
                let name_w = sorted.iter().map(|c| c.resource.len()).max().unwrap_or(0);
                let amounts: Vec<String> = sorted.iter().map(|c| signed(c.after - c.before)).collect();
                let money_w = amounts.iter().map(String::len).max().unwrap_or(0);
                let mut text = format!("Cost: {}/month, {}/month in all\n", signed(self.monthly()), money(self.after));
                for (c, amount) in sorted.iter().zip(&amounts) {
                    text.push_str(&format!("  {:name_w$}  {amount:>money_w$}  {}\n", c.resource, c.why));
                }
                text
            }
        };
        for u in &self.unpriced {
            out.push_str(&format!("  not priced: {u}\n"));
        }
        out
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Resource;

    fn table() -> PriceTable {
        PriceTable::shipped().unwrap()
    }

    fn stack(resources: Vec<(&str, Resource)>) -> Stack {
        let mut stack = Stack::new("dev");
        stack.region = Some("us-east-1".into());
        for (name, r) in resources {
            stack.resources.insert(name.into(), r);
        }
        stack
    }

    fn one(r: Resource) -> Line {
        estimate(&stack(vec![("r", r)]), &table(), "us-east-1").unwrap().lines.remove(0)
    }

    #[test]
    fn an_instance_costs_730_hours_at_its_hourly_price_and_its_root_volume() {
        let line = one(Resource::new(Kind::Instance).prop("instance_type", "t3.medium").prop("root_volume_size", 16));
        // 730 × 0.0416 = 30.368; 16 × 0.08 = 1.28.
        assert!((line.monthly - 31.648).abs() < 1e-9, "{}", line.monthly);
        assert_eq!(line.basis, "730 h × $0.0416/h (t3.medium) + 16 GB-month × $0.08/GB (root, gp3)");
    }

    #[test]
    fn a_volume_costs_its_gb_months_at_its_type_s_price() {
        let line = one(Resource::new(Kind::Volume).prop("size", 30).prop("volume_type", "gp2"));
        assert!((line.monthly - 3.0).abs() < 1e-9, "30 × 0.10: {}", line.monthly);
        // gp3 is the default type.
        let line = one(Resource::new(Kind::Volume).prop("size", 30));
        assert!((line.monthly - 2.4).abs() < 1e-9, "30 × 0.08: {}", line.monthly);
        assert_eq!(line.basis, "30 GB-month × $0.08/GB (gp3)");
    }

    #[test]
    fn an_environment_costs_its_instance_and_a_load_balanced_one_its_load_balancer_too() {
        let single = one(Resource::new(Kind::EbEnvironment).prop("instance_type", "t3.large"));
        assert!((single.monthly - 60.736).abs() < 1e-9, "730 × 0.0832: {}", single.monthly);
        let balanced =
            one(Resource::new(Kind::EbEnvironment).prop("instance_type", "t3.large").prop("single_instance", false));
        // + 730 × 0.0225 = 16.425
        assert!((balanced.monthly - 77.161).abs() < 1e-9, "{}", balanced.monthly);
        assert!(balanced.basis.contains("its load balancer"), "{}", balanced.basis);
    }

    #[test]
    fn free_resources_say_why_and_usage_priced_ones_say_they_are_assumptions() {
        let role = one(Resource::new(Kind::Role));
        assert_eq!((role.monthly, role.basis.as_str(), role.assumption), (0.0, "IAM is free", false));
        let build = one(Resource::new(Kind::BuildProject));
        assert!((build.monthly - 0.5).abs() < 1e-9 && build.assumption, "100 min × 0.005: {build:?}");
        assert!(build.basis.contains("assumed: [cost.usage] build_minutes"), "{}", build.basis);
    }

    #[test]
    fn a_standard_parameter_is_free_and_an_advanced_one_costs_five_cents_a_month() {
        let standard = one(Resource::new(Kind::SsmParameter).prop("value", Value::secret("pw")));
        assert_eq!(
            (standard.monthly, standard.basis.as_str(), standard.assumption),
            (0.0, "standard Parameter Store parameters are free", false)
        );
        let advanced = one(Resource::new(Kind::SsmParameter).prop("tier", "Advanced"));
        assert!((advanced.monthly - 0.05).abs() < 1e-9, "{advanced:?}");
        assert_eq!(advanced.basis, "1 advanced parameter × $0.05/month");
    }

    #[test]
    fn an_unknown_instance_type_or_region_is_named_never_priced_at_zero() {
        let s = stack(vec![("host", Resource::new(Kind::Instance).prop("instance_type", "t9.huge"))]);
        let err = estimate(&s, &table(), "us-east-1").unwrap_err().to_string();
        assert!(
            err.starts_with("host: no price for instance type `t9.huge` in us-east-1 (the price table has "),
            "{err}"
        );
        let err = estimate(&s, &table(), "eu-west-9").unwrap_err().to_string();
        assert_eq!(err, "no prices for region `eu-west-9` (the price table has ap-northeast-2, us-east-1)");
    }

    #[test]
    fn a_malformed_price_table_is_refused_naming_it() {
        let err = PriceTable::parse("cache.json", "{").unwrap_err().to_string();
        assert!(err.starts_with("cache.json: not a valid price table: "), "{err}");
        let negative = prices::SHIPPED.replacen("\"t3.medium\": 0.0416", "\"t3.medium\": -1", 1);
        let err = PriceTable::parse("cache.json", &negative).unwrap_err().to_string();
        assert!(err.contains("a price is negative"), "{err}");
    }

    #[test]
    fn the_managed_comparison_prices_the_services_in_place_of_what_they_replace() {
        let mut s = stack(vec![
            ("host", Resource::new(Kind::EbEnvironment).prop("instance_type", "t3.medium")),
            ("data", Resource::new(Kind::Volume).prop("size", 30)),
            ("pipeline", Resource::new(Kind::Pipeline)),
        ]);
        s.cost.managed = Some(Managed {
            replaces: vec!["host".into(), "data".into()],
            elasticache: Some(ElastiCache { node_type: "cache.t3.medium".into(), shards: 3, replicas: 0 }),
            opensearch: Some(OpenSearch {
                instance_type: "t3.medium.search".into(),
                instances: 1,
                storage_gb: 30,
                storage_type: "gp3".into(),
            }),
        });
        let c = compare(&s, &table(), "us-east-1").unwrap();
        // Self-hosted: 30.368 + 2.40 + 1.00 = 33.768.
        assert!((c.stack.total - 33.768).abs() < 1e-9, "{}", c.stack.total);
        // Managed: 3 × 730 × 0.068 = 148.92; 730 × 0.073 + 30 × 0.122 = 56.95; the pipeline stays: 1.00.
        assert!((c.managed_total - 206.87).abs() < 1e-9, "{}", c.managed_total);
        assert!((c.saving_per_month - 173.102).abs() < 1e-9 && (c.saving_per_year - 2077.224).abs() < 1e-9, "{c:?}");
        s.cost.managed.as_mut().unwrap().replaces.push("nope".into());
        assert_eq!(
            compare(&s, &table(), "us-east-1").unwrap_err().to_string(),
            "[cost.managed] replaces `nope`, which the stack does not declare"
        );
    }
}
