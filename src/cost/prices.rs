//! The price table: `prices/prices.json`, shipped in the binary, or the cache
//! `infra cost --update-prices` writes (`$XDG_CACHE_HOME/infra/prices.json`,
//! else `~/.cache/infra/prices.json`), which later runs prefer. Every price
//! belongs to a region; the table says its date and its source.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::CostError;

/// The table shipped with this release.
pub const SHIPPED: &str = include_str!("../../prices/prices.json");

/// The format version of a price table.
pub const FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    pub format: u32,
    /// The day the prices were read.
    pub as_of: String,
    /// Where they were read from.
    pub source: String,
    pub currency: String,
    pub regions: BTreeMap<String, RegionPrices>,
}

/// One region's prices, in USD.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    /// EC2 on-demand, Linux, shared tenancy: per instance-hour.
    pub ec2_instance_hour: BTreeMap<String, f64>,
    /// EBS, per GB-month, by volume type.
    pub ebs_gb_month: BTreeMap<String, f64>,
    /// ElastiCache (Redis OSS) on-demand, per node-hour.
    pub elasticache_node_hour: BTreeMap<String, f64>,
    /// OpenSearch Service on-demand, per instance-hour.
    pub opensearch_instance_hour: BTreeMap<String, f64>,
    /// OpenSearch Service EBS storage, per GB-month, by volume type.
    pub opensearch_storage_gb_month: BTreeMap<String, f64>,
    /// CodeBuild Linux build minutes, by compute type.
    pub codebuild_minute: BTreeMap<String, f64>,
    /// CodePipeline (V1), per active pipeline a month.
    pub codepipeline_pipeline_month: f64,
    /// S3 Standard storage, per GB-month (first 50 TB).
    pub s3_standard_gb_month: f64,
    /// An Application Load Balancer, per hour (capacity units apart).
    pub alb_hour: f64,
}

impl PriceTable {
    /// Reads a table from its JSON text; `path` names it in errors.
    pub fn parse(path: &str, text: &str) -> Result<PriceTable, CostError> {
        let bad = |message: String| CostError::BadTable { path: path.to_string(), message };
        let table: PriceTable = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if table.format != FORMAT {
            return Err(bad(format!("format {} is not the one this infra reads ({FORMAT})", table.format)));
        }
        for (region, prices) in &table.regions {
            let all = [
                &prices.ec2_instance_hour,
                &prices.ebs_gb_month,
                &prices.elasticache_node_hour,
                &prices.opensearch_instance_hour,
                &prices.opensearch_storage_gb_month,
                &prices.codebuild_minute,
            ];
            let flat = [prices.codepipeline_pipeline_month, prices.s3_standard_gb_month, prices.alb_hour];
            if all.iter().flat_map(|m| m.values()).chain(flat.iter()).any(|p| !p.is_finite() || *p < 0.0) {
                return Err(bad(format!("{region}: a price is negative or not a number")));
            }
        }
        Ok(table)
    }

    /// The cached table, if `--update-prices` wrote one, else the shipped one.
    pub fn load() -> Result<PriceTable, CostError> {
        if let Some(path) = cache_path().filter(|p| p.exists()) {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| CostError::BadTable { path: path.display().to_string(), message: e.to_string() })?;
            return PriceTable::parse(&path.display().to_string(), &text);
        }
        PriceTable::shipped()
    }

    /// The table shipped with this release.
    pub fn shipped() -> Result<PriceTable, CostError> {
        PriceTable::parse("prices/prices.json (shipped)", SHIPPED)
    }

    /// A region's prices, or an error naming the regions there are.
    pub fn region(&self, region: &str) -> Result<&RegionPrices, CostError> {
        self.regions.get(region).ok_or_else(|| CostError::UnknownRegion {
            region: region.to_string(),
            known: self.regions.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }
}

/// Where `--update-prices` writes, and later runs read.
pub fn cache_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("infra").join("prices.json"))
}

/// The price of `key` in `table`, or an error naming it and what the table has.
pub fn lookup(
    table: &BTreeMap<String, f64>,
    what: &'static str,
    key: &str,
    resource: &str,
    region: &str,
) -> Result<f64, CostError> {
    table.get(key).copied().ok_or_else(|| CostError::UnknownPrice {
        resource: resource.to_string(),
        what,
        key: key.to_string(),
        region: region.to_string(),
        known: table.keys().cloned().collect::<Vec<_>>().join(", "),
    })
}
