//! How many AWS requests are in flight at once: an adaptive limit per AWS
//! service, under an optional hard cap (`--parallelism`).
//!
//! Every request a provider sends passes through [`Limits::http_client`], an
//! HTTP client wrapped around the SDK's own. It holds one of its service's
//! slots only while the request is on the wire, so an operation that is
//! sleeping between two polls for readiness holds none: the slots go to work
//! AWS can do.
//!
//! Each service's limit starts generous ([`Settings::initial`]) and moves by
//! additive increase, multiplicative decrease, as TCP's congestion window does:
//! - every time the limit's worth of requests have succeeded while the limit
//!   was reached, it grows by one, up to [`Settings::max`];
//! - a request AWS throttles (a throttling error code, as the SDKs classify
//!   them, or HTTP 429) halves it, down to 1. Requests sent before that cut
//!   that come back throttled do not cut it again: one burst that overran the
//!   bucket counts once.
//!
//! The SDK's adaptive retry mode, set in [`crate::provider::aws_config`], retries
//! the throttled request after a backoff and paces the client; the limit here
//! decides how many requests may be waiting on AWS at once. Against real AWS,
//! a small stack is then bound by latency (everything at once) and a large one
//! by the service's request rate (see docs/performance.md, "The round-trip model").

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The bounds of each service's adaptive limit.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Requests in flight per service before any feedback.
    pub initial: usize,
    /// The most the limit grows to.
    pub max: usize,
}

impl Default for Settings {
    /// 50 at first, up to 500: about the burst an EC2 API's token bucket
    /// takes at once (100 to 200 tokens for most), and far below what a
    /// service's front door handles.
    fn default() -> Self {
        Settings { initial: 50, max: 500 }
    }
}

/// The limits of every AWS service one command talks to. Cloning shares them.
#[derive(Clone, Debug, Default)]
pub struct Limits(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    settings: Settings,
    services: Mutex<BTreeMap<&'static str, Arc<ServiceLimit>>>,
    /// At most this many requests in flight across all services.
    cap: Mutex<Option<Arc<Semaphore>>>,
}

impl Limits {
    pub fn new(settings: Settings) -> Self {
        Limits(Arc::new(Shared { settings, ..Shared::default() }))
    }

    /// Allows at most `n` requests in flight at once, across all services
    /// (`--parallelism`), whatever the adaptive limits allow.
    pub fn set_cap(&self, n: usize) {
        *lock(&self.0.cap) = Some(Arc::new(Semaphore::new(n.max(1))));
    }

    /// `inner` (or, without one, the SDK's default HTTPS client), with each
    /// request made through it holding a slot of `service`'s limit (and of the
    /// cap) until its response has arrived.
    pub fn http_client(&self, service: &'static str, inner: Option<SharedHttpClient>) -> SharedHttpClient {
        let inner = inner.unwrap_or_else(default_https_client);
        let limit = lock(&self.0.services)
            .entry(service)
            .or_insert_with(|| Arc::new(ServiceLimit::new(self.0.settings)))
            .clone();
        SharedHttpClient::new(LimitedClient { inner, limit, limits: self.clone() })
    }

    /// What each service's limit did, by service.
    pub fn report(&self) -> BTreeMap<&'static str, LimitReport> {
        lock(&self.0.services).iter().map(|(name, limit)| (*name, limit.report())).collect()
    }

    fn cap(&self) -> Option<Arc<Semaphore>> {
        lock(&self.0.cap).clone()
    }
}

/// What one service's limit did over a command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LimitReport {
    pub initial: usize,
    pub lowest: usize,
    pub highest: usize,
    #[serde(rename = "final")]
    pub last: usize,
    /// Requests sent.
    pub requests: u64,
    /// Responses that were throttling errors.
    pub throttled: u64,
    /// The most requests that were in flight at once.
    pub peak_in_flight: usize,
}

/// One service's adaptive limit: a fair semaphore whose size follows the
/// AIMD rule.
#[derive(Debug)]
struct ServiceLimit {
    slots: Arc<Semaphore>,
    state: Mutex<Window>,
    max: usize,
}

#[derive(Debug)]
struct Window {
    limit: usize,
    in_flight: usize,
    /// Slots still to take out of circulation after a cut (they were in use).
    debt: usize,
    /// Successes since the limit last grew.
    successes: usize,
    /// Whether every slot was in use since the limit last grew.
    saturated: bool,
    /// Bumped by every cut: a throttle of a request sent before it is old news.
    epoch: u64,
    report: LimitReport,
}

/// A slot held by one request in flight.
struct Slot {
    permit: OwnedSemaphorePermit,
    epoch: u64,
    _cap: Option<OwnedSemaphorePermit>,
}

impl ServiceLimit {
    fn new(settings: Settings) -> Self {
        let initial = settings.initial.clamp(1, settings.max.max(1));
        let report =
            LimitReport { initial, lowest: initial, highest: initial, last: initial, ..LimitReport::default() };
        ServiceLimit {
            slots: Arc::new(Semaphore::new(initial)),
            state: Mutex::new(Window {
                limit: initial,
                in_flight: 0,
                debt: 0,
                successes: 0,
                saturated: false,
                epoch: 0,
                report,
            }),
            max: settings.max.max(initial),
        }
    }

    async fn acquire(&self, cap: Option<Arc<Semaphore>>) -> Slot {
        let permit = self.slots.clone().acquire_owned().await.expect("the semaphore is never closed");
        // The hard cap is taken second, so a service waiting on its own limit
        // never holds a slot of the cap that another service could use.
        let cap = match cap {
            Some(cap) => Some(cap.acquire_owned().await.expect("the semaphore is never closed")),
            None => None,
        };
        let mut w = lock(&self.state);
        w.in_flight += 1;
        w.report.requests += 1;
        w.report.peak_in_flight = w.report.peak_in_flight.max(w.in_flight);
        if self.slots.available_permits() == 0 {
            w.saturated = true;
        }
        Slot { permit, epoch: w.epoch, _cap: cap }
    }

    /// Returns `slot`, adjusting the limit by what its request's response said.
    fn release(&self, slot: Slot, throttled: bool) {
        let mut w = lock(&self.state);
        w.in_flight -= 1;
        if throttled {
            w.report.throttled += 1;
            if slot.epoch == w.epoch {
                let cut = w.limit - (w.limit / 2).max(1);
                w.limit -= cut;
                w.epoch += 1;
                w.successes = 0;
                w.saturated = false;
                let removed = self.slots.forget_permits(cut);
                w.debt += cut - removed;
            }
        } else {
            w.successes += 1;
            if w.saturated && w.successes >= w.limit && w.limit < self.max {
                w.limit += 1;
                w.successes = 0;
                w.saturated = false;
                if w.debt > 0 {
                    w.debt -= 1;
                } else {
                    self.slots.add_permits(1);
                }
            }
        }
        if w.debt > 0 {
            w.debt -= 1;
            slot.permit.forget();
        }
        let limit = w.limit;
        let r = &mut w.report;
        r.lowest = r.lowest.min(limit);
        r.highest = r.highest.max(limit);
        r.last = limit;
    }

    fn report(&self) -> LimitReport {
        lock(&self.state).report
    }
}

/// What the SDK builds when a client is given none (aws-smithy-runtime's
/// default for this behavior version, which is not public): hyper 1 with
/// rustls on aws-lc, and the proxy the environment names (HTTPS_PROXY,
/// NO_PROXY).
fn default_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut builder =
            aws_smithy_http_client::ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.set_proxy_config(Some(ProxyConfig::from_env()));
        builder.build()
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent counters.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Debug)]
struct LimitedClient {
    inner: SharedHttpClient,
    limit: Arc<ServiceLimit>,
    limits: Limits,
}

impl HttpClient for LimitedClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(LimitedConnector {
            inner: self.inner.http_connector(settings, components),
            limit: self.limit.clone(),
            limits: self.limits.clone(),
        })
    }
}

#[derive(Debug)]
struct LimitedConnector {
    inner: SharedHttpConnector,
    limit: Arc<ServiceLimit>,
    limits: Limits,
}

impl HttpConnector for LimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let limit = self.limit.clone();
        let cap = self.limits.cap();
        HttpConnectorFuture::new(async move {
            let slot = limit.acquire(cap).await;
            let result = inner.call(request).await;
            let (result, throttled) = match result {
                Ok(mut response) if !response.status().is_success() => {
                    // An error's body is small: read it here, to know whether
                    // it says "slow down", and hand it on as it came.
                    let body = ByteStream::new(response.take_body()).collect().await;
                    match body {
                        Ok(bytes) => {
                            let bytes = bytes.into_bytes();
                            let throttled = is_throttling(response.status().as_u16(), &bytes);
                            *response.body_mut() = SdkBody::from(bytes);
                            (Ok(response), throttled)
                        }
                        Err(e) => (Err(aws_smithy_runtime_api::client::result::ConnectorError::io(e.into())), false),
                    }
                }
                other => (other, false),
            };
            limit.release(slot, throttled);
            result
        })
    }
}

/// Whether an error response says the caller is sending too fast: HTTP 429,
/// or one of the error codes the AWS SDKs classify as throttling, in any of
/// the protocols' shapes (`<Code>X</Code>`, `"__type":"X"` or `"…#X"`).
pub fn is_throttling(status: u16, body: &[u8]) -> bool {
    if status == 429 {
        return true;
    }
    let body = String::from_utf8_lossy(body);
    aws_runtime::retries::classifiers::THROTTLING_ERRORS.iter().any(|code| {
        body.contains(&format!("<Code>{code}</Code>"))
            || body.contains(&format!("\"{code}\""))
            || body.contains(&format!("#{code}\""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(initial: usize, max: usize) -> Settings {
        Settings { initial, max }
    }

    #[test]
    fn throttling_is_told_by_its_code_in_every_protocol() {
        let ec2 = b"<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>";
        let query = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code></Error></ErrorResponse>";
        let json = br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
        let json_namespaced = br#"{"__type":"com.amazonaws.codebuild#ThrottlingException"}"#;
        let s3 = b"<Error><Code>SlowDown</Code></Error>";
        for body in [&ec2[..], &query[..], &json[..], &json_namespaced[..], &s3[..]] {
            assert!(is_throttling(400, body), "{}", String::from_utf8_lossy(body));
        }
        assert!(is_throttling(429, b""));
        assert!(!is_throttling(400, b"<Error><Code>InvalidGroup.NotFound</Code></Error>"));
        assert!(!is_throttling(500, br#"{"__type":"InternalFailure"}"#));
    }

    #[tokio::test]
    async fn a_throttle_halves_the_limit_once_per_burst() {
        let limit = ServiceLimit::new(settings(40, 100));
        let slots: Vec<Slot> = futures::future::join_all((0..10).map(|_| limit.acquire(None))).await;
        // Ten requests of the same burst come back throttled: one cut.
        for slot in slots {
            limit.release(slot, true);
        }
        let r = limit.report();
        assert_eq!((r.last, r.throttled, r.requests), (20, 10, 10));
        // A throttle of a request sent after the cut cuts again.
        let slot = limit.acquire(None).await;
        limit.release(slot, true);
        assert_eq!(limit.report().last, 10);
        assert_eq!(limit.slots.available_permits(), 10);
    }

    #[tokio::test]
    async fn a_cut_takes_slots_in_use_out_of_circulation_as_they_come_back() {
        let limit = ServiceLimit::new(settings(4, 10));
        let mut slots: Vec<Slot> = futures::future::join_all((0..4).map(|_| limit.acquire(None))).await;
        assert_eq!(limit.slots.available_permits(), 0);
        limit.release(slots.pop().unwrap(), true);
        // The limit is 2; three requests are still in flight.
        for slot in slots {
            limit.release(slot, false);
        }
        assert_eq!(limit.report().last, 2);
        assert_eq!(limit.slots.available_permits(), 2);
    }

    #[tokio::test]
    async fn the_limit_grows_by_one_per_full_window_of_successes_only_while_it_binds() {
        let limit = ServiceLimit::new(settings(2, 3));
        // One at a time: the limit never binds, so it does not grow.
        for _ in 0..10 {
            let slot = limit.acquire(None).await;
            limit.release(slot, false);
        }
        assert_eq!(limit.report().last, 2);
        // Two at a time fill it: after two successes it grows, and stops at the max.
        for _ in 0..10 {
            let (a, b) = tokio::join!(limit.acquire(None), limit.acquire(None));
            limit.release(a, false);
            limit.release(b, false);
        }
        let r = limit.report();
        assert_eq!((r.last, r.highest, r.peak_in_flight), (3, 3, 2));
        assert_eq!(limit.slots.available_permits(), 3);
    }

    #[tokio::test]
    async fn the_cap_bounds_requests_across_services() {
        let limits = Limits::new(settings(10, 10));
        limits.set_cap(1);
        let a = Arc::new(ServiceLimit::new(limits.0.settings));
        let first = a.acquire(limits.cap()).await;
        let second = tokio::time::timeout(std::time::Duration::from_millis(50), a.acquire(limits.cap())).await;
        assert!(second.is_err(), "a second request waits for the cap");
        a.release(first, false);
        let second = a.acquire(limits.cap()).await;
        a.release(second, false);
    }
}
