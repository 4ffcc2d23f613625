//! Watching an environment settle: its status, and its newest events as
//! progress.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use aws_sdk_elasticbeanstalk::Client;
use aws_sdk_elasticbeanstalk::types::{EnvironmentDescription, EnvironmentStatus};
use aws_smithy_types::DateTime;

use crate::provider::{Ctx, ProviderError, aws_error};

/// Now, to whole seconds: where to start reading events (AWS's `StartTime`
/// includes events at that time).
pub fn now() -> DateTime {
    DateTime::from_secs(DateTime::from(SystemTime::now()).secs())
}

pub fn status_of(env: &EnvironmentDescription) -> &str {
    env.status().map(EnvironmentStatus::as_str).unwrap_or("Unknown")
}

/// Launching or Updating: in the middle of an operation.
pub fn in_progress(env: &EnvironmentDescription) -> bool {
    matches!(env.status(), Some(EnvironmentStatus::Launching | EnvironmentStatus::Updating))
}

/// Terminated and terminating environments count as gone.
pub fn live(env: &EnvironmentDescription) -> bool {
    !matches!(env.status(), Some(EnvironmentStatus::Terminated | EnvironmentStatus::Terminating))
}

/// What a wait has reported so far: the last status and the events shown.
pub struct Watch {
    since: Mutex<DateTime>,
    shown: Mutex<BTreeSet<(i64, u32, String)>>,
    status: Mutex<String>,
}

impl Watch {
    pub fn new(since: DateTime) -> Self {
        Watch { since: Mutex::new(since), shown: Mutex::new(BTreeSet::new()), status: Mutex::new(String::new()) }
    }

    /// The environment's events since the last one reported, oldest first.
    pub async fn events(&self, client: &Client, id: &str) -> Result<Vec<(i64, u32, String)>, ProviderError> {
        let since = *self.since.lock().unwrap_or_else(PoisonError::into_inner);
        let out = client
            .describe_events()
            .environment_id(id)
            .start_time(since)
            .send()
            .await
            .map_err(|e| aws_error("DescribeEvents", e))?;
        let mut events: Vec<(i64, u32, String)> = out
            .events()
            .iter()
            .filter_map(|e| {
                let date = e.event_date()?;
                Some((date.secs(), date.subsec_nanos(), e.message()?.to_string()))
            })
            .collect();
        events.sort();
        Ok(events)
    }

    /// Reports the events that came with the end of a wait: the ones asked
    /// beside the describe that saw it may predate it ("... completed
    /// successfully" comes with the change of status).
    pub async fn flush(
        &self,
        client: &Client,
        ctx: &Ctx,
        id: &str,
        env: Option<&EnvironmentDescription>,
    ) -> Result<(), ProviderError> {
        let events = self.events(client, id).await?;
        self.report(ctx, env, events);
        Ok(())
    }

    /// Reports a status change, and each of `events` not reported yet.
    pub fn report(&self, ctx: &Ctx, env: Option<&EnvironmentDescription>, events: Vec<(i64, u32, String)>) {
        let status = env.map(status_of).unwrap_or("Terminated").to_string();
        if *self.status.lock().unwrap_or_else(PoisonError::into_inner) != status {
            ctx.status(&format!("status {status}"));
            *self.status.lock().unwrap_or_else(PoisonError::into_inner) = status.clone();
        }
        let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        for event in events {
            if !shown.contains(&event) {
                ctx.status(&format!("{status}: {}", event.2));
                *self.since.lock().unwrap_or_else(PoisonError::into_inner) = DateTime::from_secs(event.0);
                shown.insert(event);
            }
        }
    }
}
