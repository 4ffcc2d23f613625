//! Counting AWS API calls by operation: an SDK interceptor shared by every
//! client (`infra plan --stats`, and `make bench`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Calls made, by `service:Operation`. Cloning shares the counts.
#[derive(Clone, Debug, Default)]
pub struct CallStats(Arc<Mutex<BTreeMap<String, u64>>>);

impl CallStats {
    /// The counts so far.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn count(&self, key: String) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(key).or_insert(0) += 1;
        }
    }
}

/// Whether an operation only reads (by AWS's naming conventions).
pub fn is_read(operation: &str) -> bool {
    let op = operation.rsplit(':').next().unwrap_or(operation);
    ["Describe", "Get", "List", "BatchGet", "Head"].iter().any(|p| op.starts_with(p))
}

impl Intercept for CallStats {
    fn name(&self) -> &'static str {
        "CallStats"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            self.count(format!("{}:{}", m.service().to_lowercase(), m.name()));
        }
        Ok(())
    }
}

/// The peak resident memory of this program so far, in KiB: `VmHWM` from
/// /proc/self/status (getrusage's ru_maxrss would also count the parent
/// process the program was forked from); 0 where /proc is not there.
pub fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_memory_of_a_running_program_is_known() {
        assert!(peak_rss_kib() > 0);
    }

    #[test]
    fn reads_are_told_from_mutations_by_name() {
        assert!(is_read("ec2:DescribeInstances"));
        assert!(is_read("codebuild:BatchGetProjects"));
        assert!(!is_read("ec2:RunInstances"));
        assert!(!is_read("ec2:AuthorizeSecurityGroupIngress"));
    }
}
