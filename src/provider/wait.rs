//! Waiting for AWS to reach a state: polls that start fast and back off.
//!
//! The first poll comes 25 ms after the call that started the change, so a
//! resource that is ready at once (or nearly) is not paid for as a long sleep;
//! the interval then grows by half each time (past a second from the eleventh
//! poll on), up to 15 s, until the timeout. [`retrying`] makes its first
//! attempt at once, for a call that usually succeeds straight away but may meet
//! EC2's eventual consistency (a group just created, not yet visible).
//!
//! A wait holds no concurrency slot while it sleeps: slots are taken per AWS
//! request ([`super::limit`]).

use std::future::Future;
use std::time::{Duration, Instant};

use super::{Ctx, ProviderError};

/// How a wait polls.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub timeout: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { first: Duration::from_millis(25), max: Duration::from_secs(15), timeout: Duration::from_secs(900) }
    }
}

impl Backoff {
    /// The intervals between polls, without the timeout applied.
    pub fn intervals(self) -> impl Iterator<Item = Duration> {
        std::iter::successors(Some(self.first), move |d| Some((d.mul_f64(1.5)).min(self.max)))
    }
}

/// How long a call is retried while IAM has not yet shown a new role or
/// instance profile to the service that uses it. IAM is eventually
/// consistent: "changes are not always immediately visible", usually within
/// seconds ("Troubleshooting IAM: changes I make are not always immediately
/// visible", IAM User Guide).
pub const IAM_PROPAGATION: Duration = Duration::from_secs(120);

/// `call`, retried with backoff while it fails with an error `unseen`
/// recognises (the service cannot see a role or instance profile IAM has just
/// made), for at most [`IAM_PROPAGATION`]; then that error is returned.
pub async fn through_iam_propagation<T, F, Fut>(
    ctx: &Ctx,
    unseen: fn(&ProviderError) -> bool,
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let start = Instant::now();
    let mut intervals = Backoff::default().intervals();
    loop {
        match call().await {
            Err(e) if unseen(&e) && start.elapsed() < IAM_PROPAGATION => {
                super::stats::record_not_yet();
                ctx.status(&format!(
                    "waiting for IAM to show a new role or profile ({}s): {e}",
                    start.elapsed().as_secs()
                ));
                let slept = Instant::now();
                tokio::time::sleep(intervals.next().unwrap_or(Backoff::default().max)).await;
                super::stats::record_sleep(slept);
            }
            other => return other,
        }
    }
}

/// Polls `check` until it returns `Some`, reporting `what` with the elapsed time.
/// `check` returns `Ok(None)` for "not yet".
pub async fn until<T, F, Fut>(ctx: &Ctx, what: &str, backoff: Backoff, check: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    poll(ctx, what, backoff, false, check).await
}

/// Like [`until`], but the first attempt is made at once.
pub async fn retrying<T, F, Fut>(ctx: &Ctx, what: &str, backoff: Backoff, check: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    poll(ctx, what, backoff, true, check).await
}

async fn poll<T, F, Fut>(ctx: &Ctx, what: &str, backoff: Backoff, now: bool, mut check: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    let start = Instant::now();
    let first = now.then_some(Duration::ZERO);
    for interval in first.into_iter().chain(backoff.intervals()) {
        if !interval.is_zero() {
            let slept = Instant::now();
            tokio::time::sleep(interval).await;
            super::stats::record_sleep(slept);
        }
        if let Some(done) = check().await? {
            return Ok(done);
        }
        super::stats::record_not_yet();
        let elapsed = start.elapsed();
        if elapsed >= backoff.timeout {
            return Err(ProviderError::Timeout { what: what.to_string(), secs: elapsed.as_secs() });
        }
        ctx.status(&format!("waiting for {what} ({}s)", elapsed.as_secs()));
    }
    unreachable!("intervals never end")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_start_at_25ms_and_back_off_to_15s() {
        let got: Vec<Duration> = Backoff::default().intervals().take(24).collect();
        assert_eq!(got[0], Duration::from_millis(25));
        assert_eq!(got[1], Duration::from_micros(37_500));
        assert!(got[9] < Duration::from_secs(1) && got[10] > Duration::from_secs(1), "{got:?}");
        assert!(got.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*got.last().unwrap(), Duration::from_secs(15));
    }
}
