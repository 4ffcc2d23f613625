//! The engine: the operations a command or a program runs on a stack, wiring the
//! one-way flow together: state is loaded, AWS refreshed, the plan computed
//! (purely), and the plan executed.
//!
//! A Rust program can declare a [`Stack`] in code and drive it through the same
//! [`Engine`] the CLI uses (see `examples/`).

use std::path::Path;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig};

use crate::apply::{self, ApplyError, Options, Reporter};
use crate::model::Stack;
use crate::plan::{self, Plan, PlanError};
use crate::provider::Providers;
use crate::refresh::{self, Observation, RefreshError};
use crate::state::{Lock, State, StateError, Store};

/// Anything an engine operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Refresh(#[from] RefreshError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

/// Loads the AWS configuration from the standard chain (environment, profile,
/// SSO, instance role), with the stack's region when it sets one. Throttling and
/// server errors are retried with backoff by the SDK's adaptive mode.
pub async fn aws_config(region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::adaptive().with_max_attempts(8));
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    loader.load().await
}

/// One stack's state store and the AWS providers.
pub struct Engine {
    pub store: Store,
    providers: Arc<Providers>,
}

/// A plan and what refresh saw while making it.
pub struct Planned {
    pub plan: Plan,
    /// The state the plan was computed from, with adopted resources.
    pub state: State,
    /// Declared resources found by their tags and adopted into state.
    pub adopted: Vec<String>,
    pub observation: Observation,
}

impl Engine {
    pub fn new(config: &SdkConfig, state_dir: &Path, stack: &str) -> Self {
        Engine { store: Store::new(state_dir, stack), providers: Arc::new(Providers::new(config)) }
    }

    /// Takes the stack's lock for a mutating command.
    pub fn lock(&self, command: &str) -> Result<Lock, EngineError> {
        Ok(self.store.lock(command)?)
    }

    /// Refreshes and plans `stack` against recorded state. With `destroy`, plans
    /// the deletion of everything state records instead.
    pub async fn plan(&self, stack: &Stack, destroy: bool) -> Result<Planned, EngineError> {
        let mut state = self.store.load()?;
        let target = if destroy { Stack { resources: Default::default(), outputs: Default::default(), ..stack.clone() } } else { stack.clone() };
        let mut observation = refresh::refresh(&self.providers, &target, &state, false).await?;
        let adopted = refresh::adopt(&mut state, &target, &mut observation);
        let plan = plan::plan(&target, &state, &observation.resources)?;
        Ok(Planned { plan, state, adopted, observation })
    }

    /// Executes a plan, writing state after every step.
    pub async fn apply(
        &self,
        planned: &mut Planned,
        options: &Options,
        reporter: Arc<dyn Reporter>,
    ) -> Result<(), EngineError> {
        apply::apply(&planned.plan, self.providers.clone(), &self.store, &mut planned.state, options, reporter).await?;
        Ok(())
    }
}
