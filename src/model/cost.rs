//! What a stack file says about its cost (`[cost]`): the usage its
//! usage-priced resources are priced at, and the managed services that would
//! replace what it self-hosts (`infra cost --compare`).
//!
//! ```toml
//! [cost.usage]                 # assumptions; these are the defaults
//! build_minutes = 100          # CodeBuild minutes a month, per project
//! s3_gb = 1                    # GB stored, per bucket
//!
//! [cost.managed]               # the managed equivalent, for --compare
//! replaces = ["app_env", "data"]
//! elasticache = { node_type = "cache.t3.medium", shards = 3, replicas = 0 }
//! opensearch = { instance_type = "t3.medium.search", instances = 1, storage_gb = 30 }
//! ```

use serde::Deserialize;

/// `[cost]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub usage: Usage,
    #[serde(default)]
    pub managed: Option<Managed>,
}

/// `[cost.usage]`: the usage assumed for usage-priced resources.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Usage {
    /// CodeBuild build minutes a month, per project.
    pub build_minutes: f64,
    /// GB stored in S3 Standard, per bucket.
    pub s3_gb: f64,
}

impl Default for Usage {
    fn default() -> Self {
        Usage { build_minutes: 100.0, s3_gb: 1.0 }
    }
}

/// `[cost.managed]`: the managed services that would do what `replaces` does.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Managed {
    /// The stack's resources the managed services make unnecessary.
    pub replaces: Vec<String>,
    #[serde(default)]
    pub elasticache: Option<ElastiCache>,
    #[serde(default)]
    pub opensearch: Option<OpenSearch>,
}

/// An ElastiCache (Redis OSS) cluster: `shards` node groups of one primary
/// and `replicas` replicas each.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ElastiCache {
    pub node_type: String,
    pub shards: u32,
    #[serde(default)]
    pub replicas: u32,
}

/// An OpenSearch Service domain: data instances and their EBS storage.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenSearch {
    pub instance_type: String,
    #[serde(default = "one")]
    pub instances: u32,
    /// GB of EBS storage per instance.
    pub storage_gb: u32,
    #[serde(default = "gp3")]
    pub storage_type: String,
}

fn one() -> u32 {
    1
}

fn gp3() -> String {
    "gp3".into()
}
