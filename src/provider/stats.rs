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
    /// Where the current task's waits are recorded (set by the executor).
    pub static TRACE: CallStats;
}

/// Calls made, by `service:Operation`, and each call's span. Cloning shares them.
#[derive(Clone, Debug)]
pub struct CallStats(Arc<Mutex<Calls>>);

#[derive(Debug)]
struct Calls {
    counts: BTreeMap<String, u64>,
    trace: Vec<Call>,
    sleeps: Vec<Sleep>,
    not_yet: Vec<NotYet>,
    ops: Vec<OpSpan>,
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
    /// Attempts the SDK made: more than one when AWS throttled the call or
    /// failed it in a way worth retrying.
    pub attempts: u32,
}

/// A pause between polls of something AWS is still doing ([`super::wait`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sleep {
    pub resource: Option<String>,
    pub start_ms: f64,
    pub end_ms: f64,
}

/// An answer by which AWS said "not yet": a poll that found the resource still
/// on its way, or a call refused until IAM shows a new role. Each one is a
/// round trip AWS forced (`render::timeline::floor`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NotYet {
    pub resource: Option<String>,
    pub at_ms: f64,
}

/// One operation of an apply, as the executor ran it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OpSpan {
    /// Its index in the apply's list of operations.
    pub index: usize,
    pub resource: String,
    /// `create`, `update` or `delete`.
    pub op: String,
    /// The kind's type name (`ec2.volume`).
    pub kind: String,
    /// The operations it waited for (indexes).
    pub after: Vec<usize>,
    pub start_ms: f64,
    pub end_ms: f64,
    pub ok: bool,
}

/// Everything recorded of a run: its calls, its waits and its operations.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Trace {
    pub calls: Vec<Call>,
    pub sleeps: Vec<Sleep>,
    pub not_yet: Vec<NotYet>,
    pub ops: Vec<OpSpan>,
}

impl Default for CallStats {
    fn default() -> Self {
        let calls = Calls {
            counts: BTreeMap::new(),
            trace: Vec::new(),
            sleeps: Vec::new(),
            not_yet: Vec::new(),
            ops: Vec::new(),
            origin: Instant::now(),
        };
        CallStats(Arc::new(Mutex::new(calls)))
    }
}

impl CallStats {
    /// The counts so far.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|m| m.counts.clone()).unwrap_or_default()
    }

    /// The calls (in the order they completed), waits and operations so far.
    pub fn timeline(&self) -> Trace {
        self.0
            .lock()
            .map(|m| Trace {
                calls: m.trace.clone(),
                sleeps: m.sleeps.clone(),
                not_yet: m.not_yet.clone(),
                ops: m.ops.clone(),
            })
            .unwrap_or_default()
    }

    /// Milliseconds from the start of the stats to `t`.
    fn ms(m: &Calls, t: Instant) -> f64 {
        t.saturating_duration_since(m.origin).as_secs_f64() * 1000.0
    }

    /// Records a pause from `start` until now.
    pub fn record_sleep(&self, resource: Option<String>, start: Instant) {
        if let Ok(mut m) = self.0.lock() {
            let sleep = Sleep { resource, start_ms: Self::ms(&m, start), end_ms: Self::ms(&m, Instant::now()) };
            m.sleeps.push(sleep);
        }
    }

    /// Records a "not yet" answer, now.
    pub fn record_not_yet(&self, resource: Option<String>) {
        if let Ok(mut m) = self.0.lock() {
            let at_ms = Self::ms(&m, Instant::now());
            m.not_yet.push(NotYet { resource, at_ms });
        }
    }

    /// Records an operation that ran from `start` until now.
    pub fn record_op(&self, op: OpSpan, start: Instant) {
        if let Ok(mut m) = self.0.lock() {
            let span = OpSpan { start_ms: Self::ms(&m, start), end_ms: Self::ms(&m, Instant::now()), ..op };
            m.ops.push(span);
        }
    }
}

/// Records, for the task's resource, a pause from `start` until now, when the
/// task runs under the executor ([`TRACE`]).
pub fn record_sleep(start: Instant) {
    let resource = RESOURCE.try_with(|r| r.clone()).ok();
    let _ = TRACE.try_with(|t| t.record_sleep(resource, start));
}

/// Records, for the task's resource, a "not yet" answer from AWS, when the
/// task runs under the executor ([`TRACE`]).
pub fn record_not_yet() {
    let resource = RESOURCE.try_with(|r| r.clone()).ok();
    let _ = TRACE.try_with(|t| t.record_not_yet(resource));
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

/// How many attempts the call in this config bag has made.
#[derive(Clone, Debug)]
struct Attempts(u32);

impl Storable for Attempts {
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

    fn read_before_attempt(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Attempts(n) = cfg.load::<Attempts>().cloned().unwrap_or(Attempts(0));
        cfg.interceptor_state().store_put(Attempts(n + 1));
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
            let attempts = cfg.load::<Attempts>().map_or(1, |a| a.0.max(1));
            let call = Call { resource, operation, start_ms: ms(start), end_ms: ms(Instant::now()), attempts };
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
