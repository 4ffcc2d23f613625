//! Counting AWS API calls by operation, and when each ran and for which
//! resource: an SDK interceptor shared by every client (`infra plan --stats`,
//! `--stats-json`, and `make bench`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde::Serialize;

tokio::task_local! {
    /// The resource whose operation the current task runs (set by the
    /// executor), so that each call can be told to belong to it.
    pub static RESOURCE: String;
}

/// Calls made, by `service:Operation`, and each call's span. Cloning shares them.
#[derive(Clone, Debug)]
pub struct CallStats(Arc<Mutex<Calls>>);

#[derive(Debug)]
struct Calls {
    counts: BTreeMap<String, u64>,
    trace: Vec<Call>,
    origin: Instant,
}

/// One AWS call (an operation with its retries), in milliseconds since the
/// stats began.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Call {
    /// The resource whose operation made the call; none for refresh's reads.
    pub resource: Option<String>,
    /// `service:Operation`.
    pub operation: String,
    pub start_ms: f64,
    pub end_ms: f64,
}

impl Default for CallStats {
    fn default() -> Self {
        CallStats(Arc::new(Mutex::new(Calls { counts: BTreeMap::new(), trace: Vec::new(), origin: Instant::now() })))
    }
}

impl CallStats {
    /// The counts so far.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|m| m.counts.clone()).unwrap_or_default()
    }

    /// Every call that has completed, in the order they completed.
    pub fn trace(&self) -> Vec<Call> {
        self.0.lock().map(|m| m.trace.clone()).unwrap_or_default()
    }
}

/// Whether an operation only reads (by AWS's naming conventions).
pub fn is_read(operation: &str) -> bool {
    let op = operation.rsplit(':').next().unwrap_or(operation);
    ["Describe", "Get", "List", "BatchGet", "Head"].iter().any(|p| op.starts_with(p))
}

/// When the call in this config bag began.
#[derive(Clone, Debug)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

fn operation(cfg: &ConfigBag) -> Option<String> {
    cfg.load::<Metadata>().map(|m| format!("{}:{}", m.service().to_lowercase(), m.name()))
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
        if let Some(op) = operation(cfg)
            && let Ok(mut m) = self.0.lock()
        {
            *m.counts.entry(op).or_insert(0) += 1;
        }
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (Some(operation), Some(Started(start))) = (operation(cfg), cfg.load::<Started>().cloned()) else {
            return Ok(());
        };
        let resource = RESOURCE.try_with(|r| r.clone()).ok();
        if let Ok(mut m) = self.0.lock() {
            let ms = |t: Instant| t.saturating_duration_since(m.origin).as_secs_f64() * 1000.0;
            let call = Call { resource, operation, start_ms: ms(start), end_ms: ms(Instant::now()) };
            m.trace.push(call);
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
