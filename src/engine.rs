//! The engine: the operations a command or a program runs on a stack, wiring the
//! one-way flow together: state is loaded, AWS refreshed, the plan computed
//! (purely), and the plan executed.
//!
//! A Rust program can declare a [`Stack`] in code and drive it through the same
//! [`Engine`] the CLI uses (see `examples/`).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_config::SdkConfig;

use crate::apply::{self, ApplyError, Options, Reporter};
use crate::bundle::{self, BundleError};
use crate::model::{Kind, Stack};
use crate::plan::{self, Action, Drift, Foreign, Plan, PlanError, Refusal, Request};
use crate::provider::{CallStats, Limits, ProviderError, Providers};
use crate::refresh::{self, Observation, RefreshError, Scope};
use crate::state::{Lock, State, StateError, Store};

/// Anything an engine operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Refresh(#[from] RefreshError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error(transparent)]
    Protected(#[from] Refusal),
    #[error(
        "the saved plan is stale: it was made from state serial {plan_serial} (lineage {plan_lineage}), \
         but the state is now at serial {state_serial} (lineage {state_lineage}); make a new plan"
    )]
    Stale { plan_serial: u64, plan_lineage: String, state_serial: u64, state_lineage: String },
    #[error("the saved plan is for stack `{plan}`, not `{stack}`")]
    WrongStack { plan: String, stack: String },
    #[error("{0}")]
    SavedPlan(String),
    #[error("cannot import `{resource}`: {message}")]
    Import { resource: String, message: String },
    #[error("asking AWS which account `${{aws.account_id}}` is: {0}")]
    Account(#[source] ProviderError),
}

/// What a drift check found.
#[derive(Debug, Default)]
pub struct DriftReport {
    pub stack: String,
    /// Recorded resources whose live properties differ, or that are gone.
    pub drift: Vec<Drift>,
    /// Resources tagged as the stack's that its state does not record:
    /// (logical name, kind, cloud id).
    pub unmanaged: Vec<(String, Kind, String)>,
    /// Resources tagged for the stack by another state: not this state's to
    /// manage, so no drift; reported.
    pub foreign: Vec<Foreign>,
}

impl DriftReport {
    pub fn is_clean(&self) -> bool {
        self.drift.is_empty() && self.unmanaged.is_empty()
    }
}

/// What `refresh` would accept into state.
#[derive(Debug)]
pub struct RefreshedState {
    /// Recorded properties AWS holds otherwise, and resources gone.
    pub drift: Vec<Drift>,
    /// The state with the live values and outputs accepted (not yet saved).
    pub state: State,
    /// The resources whose outputs AWS reports changed (an IP, say).
    pub outputs_changed: Vec<String>,
}

/// One stack's state store and the AWS providers.
pub struct Engine {
    pub store: Store,
    /// The project directory, against which local paths in the stack (an
    /// application version's `source_dir`) are read; `.` unless set.
    pub base: PathBuf,
    /// Every AWS call the engine makes, by operation.
    pub stats: CallStats,
    /// How many AWS requests may be in flight at once, per service.
    pub limits: Limits,
    providers: Arc<Providers>,
}

/// A plan and what refresh saw while making it.
pub struct Planned {
    pub plan: Plan,
    /// The state the plan was computed from, with adopted resources.
    pub state: State,
    /// Declared resources found by their tags and adopted into state.
    pub adopted: Vec<String>,
    /// Whether refresh brought news into `state` that no step records: the
    /// pending operations of an interrupted run resolved, or outputs AWS
    /// renewed. An apply whose plan changes nothing still saves them.
    pub refreshed: bool,
    pub observation: Observation,
}

impl Engine {
    pub fn new(config: &SdkConfig, state_dir: &Path, stack: &str) -> Self {
        let stats = CallStats::default();
        let limits = Limits::default();
        let providers = Arc::new(Providers::with(config, &stats, &limits));
        Engine { store: Store::new(state_dir, stack), base: PathBuf::from("."), stats, limits, providers }
    }

    /// Records the existing AWS resource `id` in state as the declared resource
    /// `name` (`infra import`): read by its kind's provider, recorded as an
    /// adopted one is, so the next plan shows only how it differs from the
    /// declaration. Refuses an undeclared name, one already recorded, and an id
    /// its kind cannot find (a resource of another type included). The caller
    /// holds the lock.
    pub async fn import(&self, stack: &Stack, name: &str, id: &str) -> Result<crate::state::Recorded, EngineError> {
        let refuse = |message: String| EngineError::Import { resource: name.to_string(), message };
        let Some(declared) = stack.resources.get(name) else {
            return Err(refuse(format!("stack `{}` declares no resource by that name", stack.name)));
        };
        let mut state = self.store.load()?;
        if let Some(rec) = state.resources.get(name) {
            return Err(refuse(format!("state already records it, as {} {}", rec.kind, rec.id)));
        }
        if stack.has_secrets() {
            self.store.require_key()?;
        }
        // Checked before any AWS call; then `${aws.*}` bound, as a plan binds them.
        let bound = self.bound(stack).await?;
        let decl = bound.resources.get(name).unwrap_or(declared);
        let mut found = self
            .providers
            .get(decl.kind)
            .read_many(&[id.to_string()])
            .await
            .map_err(|e| refuse(format!("reading {} {id}: {e}", decl.kind)))?;
        let Some(observed) = found.remove(id) else {
            return Err(refuse(format!("AWS has no {} with the id `{id}`", decl.kind)));
        };
        let recorded = refresh::recorded_as_declared(decl, &observed);
        state.resources.insert(name.to_string(), recorded.clone());
        self.store.save(&mut state)?;
        Ok(recorded)
    }

    /// The stack with `${aws.*}` bound to the account and region the
    /// providers act in; AWS is asked only when the stack uses them.
    async fn bound<'a>(&self, stack: &'a Stack) -> Result<Cow<'a, Stack>, EngineError> {
        if !stack.uses_aws() {
            return Ok(Cow::Borrowed(stack));
        }
        let aws = self.providers.aws_context().await.map_err(EngineError::Account)?;
        Ok(Cow::Owned(stack.bind_aws(&aws)))
    }

    /// Takes the stack's lock for a mutating command.
    pub fn lock(&self, command: &str) -> Result<Lock, EngineError> {
        Ok(self.store.lock(command)?)
    }

    /// Refreshes and plans `stack` against recorded state, as `request` asks
    /// (targets, replacements; with `request.destroy`, the deletion of
    /// everything state records instead). A plan that would delete or replace
    /// a protected resource is returned, marked, for showing; [`Engine::apply`]
    /// refuses it.
    pub async fn plan(&self, stack: &Stack, request: &Request) -> Result<Planned, EngineError> {
        let show: Show<()> = Arc::new(|_| ());
        Ok(self.plan_then(Arc::new(stack.clone()), request, false, show).await?.0)
    }

    /// [`Engine::plan`], and what `show` makes of the plan (its cost, its
    /// text), on a stack the caller shares instead of copying. For a stack
    /// state records nothing of, both are made while refresh's round trip is
    /// in flight ([`early_plan`]).
    pub async fn plan_shown<T: Send + 'static>(
        &self,
        stack: Arc<Stack>,
        request: &Request,
        show: Show<T>,
    ) -> Result<(Planned, T), EngineError> {
        self.plan_then(stack, request, false, show).await
    }

    /// [`Engine::plan_shown`] for an apply that follows at once: what the
    /// plan's creates need (the default VPC, the newest platform, an AMI) is
    /// looked up in refresh's round, beside its reads, instead of on the
    /// creates' path.
    pub async fn plan_to_apply<T: Send + 'static>(
        &self,
        stack: Arc<Stack>,
        request: &Request,
        show: Show<T>,
    ) -> Result<(Planned, T), EngineError> {
        self.plan_then(stack, request, true, show).await
    }

    async fn plan_then<T: Send + 'static>(
        &self,
        stack: Arc<Stack>,
        request: &Request,
        prepare: bool,
        show: Show<T>,
    ) -> Result<(Planned, T), EngineError> {
        if stack.has_secrets() {
            // State will hold them, only encrypted: no key, no AWS call.
            self.store.require_key()?;
        }
        let mut state = self.store.load()?;
        // What this plan creates is tagged with the state's lineage: a state
        // never written gets it now, and keeps it when the apply writes it.
        state.ensure_lineage();
        // Names the request gives are checked before any AWS call.
        let mut unbound = if request.destroy {
            Arc::new(Stack { resources: Default::default(), outputs: Default::default(), ..(*stack).clone() })
        } else {
            stack
        };
        plan::check_request(&unbound, &state, request)?;
        // So are the bundles: one that would take a file it must not fails here.
        // (Only a stack with application versions is copied to label them.)
        if unbound.resources.values().any(|r| r.kind == Kind::EbVersion) {
            bundle::prepare(Arc::make_mut(&mut unbound), &self.base)?;
        }
        let early = early_plan(&unbound, &state, request, &show);
        // The account is asked beside refresh's round: refresh reads what state
        // records and searches by the stack's names and kinds, which binding
        // `${aws.*}` does not change.
        let (bound, observation) = tokio::join!(
            self.bound(&unbound),
            refresh::refresh(&self.providers, &unbound, &state, Scope { prepare_creates: prepare, ..Scope::default() })
        );
        let target = &*bound?;
        let mut observation = observation?;
        let resolved = !state.pending.is_empty();
        let adopted = refresh::adopt(&mut state, target, &mut observation);
        let renewed = refresh::renew_outputs(&mut state, &observation.resources);
        let refreshed = resolved || !renewed.is_empty();
        // The early plan stands when this one would be made from what it
        // assumed: the same stack (it was made only for one with nothing to
        // bind), the same state, nothing refreshed, nothing adopted, no name
        // another state holds. (From a state that records nothing, an
        // unchanged state already implies the middle two.)
        if let Some(early) = early
            && early.state == state
            && observation.resources.is_empty()
            && adopted.is_empty()
            && observation.foreign.is_empty()
        {
            match early.made.await {
                Ok(made) => {
                    let (plan, shown) = made?;
                    return Ok((Planned { plan, state, adopted, refreshed, observation }, shown));
                }
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => {} // cancelled, as the runtime shuts down: plan here
            }
        }
        let mut plan = plan::plan_with(target, &state, &observation.resources, request)?;
        mark_ownership(&mut plan, &state, &adopted, &observation);
        let shown = show(&mut plan);
        Ok((Planned { plan, state, adopted, refreshed, observation }, shown))
    }

    /// What `infra refresh` would accept, as a plan with no steps (`plan --refresh-only`).
    pub async fn refresh_only_plan(&self, stack: &Stack) -> Result<Plan, EngineError> {
        let state = self.store.load()?;
        let stack = &*self.bound(stack).await?;
        let observation = refresh::refresh(&self.providers, stack, &state, Scope::default()).await?;
        Ok(plan::refresh_only(stack, &state, &observation.resources)?)
    }

    /// Executes a plan, writing state after every step. A plan that would
    /// delete or replace a protected resource is refused before any AWS call.
    /// Protections the plan sets or lifts are recorded first (they need no
    /// AWS call; the executor's first write holds them).
    pub async fn apply(
        &self,
        planned: &mut Planned,
        options: &Options,
        reporter: Arc<dyn Reporter>,
    ) -> Result<(), EngineError> {
        if let Some(refusal) = planned.plan.refusal() {
            return Err(refusal.into());
        }
        for step in planned.plan.steps.iter().filter(|s| s.protection_changed) {
            if let Some(rec) = planned.state.resources.get_mut(&step.name) {
                rec.protect = step.protected;
            }
        }
        let options = Options { retry_tokens: planned.observation.retry_tokens.clone(), ..options.clone() };
        apply::apply(&planned.plan, self.providers.clone(), &self.store, &mut planned.state, &options, reporter)
            .await?;
        Ok(())
    }

    /// Compares live AWS with recorded state: drifted properties, resources
    /// deleted out of band, and tagged resources state does not know.
    pub async fn drift(&self, stack: &Stack) -> Result<DriftReport, EngineError> {
        let state = self.store.load()?;
        // The account is asked beside refresh's round, as for a plan.
        let (bound, observation) = tokio::join!(
            self.bound(stack),
            refresh::refresh(&self.providers, stack, &state, Scope { every_kind: true, ..Scope::default() })
        );
        let (stack, observation) = (&*bound?, observation?);
        let plan = plan::plan(stack, &state, &observation.resources)?;
        let mut unmanaged: Vec<(String, Kind, String)> =
            observation.unmanaged.iter().map(|(n, (k, o))| (n.clone(), *k, o.id.clone())).collect();
        for (name, o) in &observation.adoptable {
            if let Some(decl) = stack.resources.get(name) {
                unmanaged.push((name.clone(), decl.kind, o.id.clone()));
            }
        }
        unmanaged.sort();
        Ok(DriftReport { stack: stack.name.clone(), drift: plan.drift, unmanaged, foreign: observation.foreign })
    }

    /// Accepts live values into state: drifted properties take their live
    /// values, resources deleted out of band leave state. Returns what changed
    /// and the new state (not yet saved).
    pub async fn refreshed_state(&self, stack: &Stack) -> Result<RefreshedState, EngineError> {
        let mut state = self.store.load()?;
        let stack = &*self.bound(stack).await?;
        let observation = refresh::refresh(&self.providers, stack, &state, Scope::default()).await?;
        let plan = plan::refresh_only(stack, &state, &observation.resources)?;
        for d in &plan.drift {
            if d.deleted {
                state.resources.remove(&d.name);
                continue;
            }
            let Some(rec) = state.resources.get_mut(&d.name) else { continue };
            for c in &d.changes {
                if let Some(live) = &c.after {
                    rec.props.insert(c.prop.clone(), live.clone());
                }
            }
        }
        // Outputs are AWS's to change (an instance Elastic Beanstalk replaced has
        // another address): every resource's are read anew, drift or not.
        refresh::renew_outputs(&mut state, &observation.resources);
        Ok(RefreshedState { drift: plan.drift, state, outputs_changed: plan.outputs_renewed })
    }

    /// The plan as a saved-plan document (`plan --out`), its secrets sealed
    /// with the state's key, and with a key set, carrying a MAC under it.
    pub fn saved_plan(&self, plan: &Plan) -> Result<String, EngineError> {
        let sealer = if plan.has_secrets() || self.store.keyed() { Some(self.store.sealer()?) } else { None };
        plan::to_saved(plan, sealer.as_deref()).map_err(|e| EngineError::SavedPlan(e.to_string()))
    }

    /// Reads a saved-plan document, checking its MAC and opening its secrets
    /// with the state's key.
    pub fn read_saved_plan(&self, text: &str) -> Result<Plan, EngineError> {
        let open = |header: &crate::secret::Header| match self.store.sealer_for(header) {
            Ok(sealer) => Ok(sealer),
            Err(StateError::Secret { source, .. }) => Err(source.to_string()),
            Err(e) => Err(e.to_string()),
        };
        plan::from_saved(text, &open, self.store.keyed()).map_err(EngineError::SavedPlan)
    }

    /// Prepares a saved plan for execution: refused when state has moved on
    /// since the plan was made. What the file says of ids and protection is
    /// not trusted: a step on an existing resource acts on the id state
    /// records, and every step is protected as the stack file declares, else
    /// as state records (as the planner decides). A step on a resource that
    /// neither the stack declares nor state records is refused.
    pub fn load_saved(&self, stack: &Stack, mut plan: Plan) -> Result<Planned, EngineError> {
        if plan.stack != stack.name {
            return Err(EngineError::WrongStack { plan: plan.stack, stack: stack.name.clone() });
        }
        let mut state = self.store.load()?;
        // A first apply: the plan gave the state its lineage, and what it
        // creates is tagged with it.
        if state.lineage.is_none() && state.serial == 0 && plan.serial == 0 {
            state.lineage.clone_from(&plan.lineage);
        }
        if state.serial != plan.serial || state.lineage != plan.lineage {
            let none = || "none".to_string();
            return Err(EngineError::Stale {
                plan_serial: plan.serial,
                plan_lineage: plan.lineage.clone().unwrap_or_else(none),
                state_serial: state.serial,
                state_lineage: state.lineage.clone().unwrap_or_else(none),
            });
        }
        for step in &mut plan.steps {
            let refuse = |what: String| EngineError::SavedPlan(format!("the saved plan {what}; nothing was applied"));
            let recorded = state.resources.get(&step.name);
            let declared = stack.resources.get(&step.name);
            if let Some(rec) = recorded.filter(|r| r.kind != step.kind) {
                return Err(refuse(format!("calls `{}` a {}, but state records a {}", step.name, step.kind, rec.kind)));
            }
            if step.id.is_some() {
                let rec =
                    recorded.ok_or_else(|| refuse(format!("acts on `{}`, which state does not record", step.name)))?;
                step.id = Some(rec.id.clone());
            }
            if declared.is_none() && matches!(step.action, Action::Create | Action::Update | Action::Replace) {
                return Err(refuse(format!("makes `{}`, which the stack does not declare", step.name)));
            }
            step.protected = declared.and_then(|d| d.protect).unwrap_or(recorded.is_some_and(|r| r.protect));
            step.protection_changed = recorded.is_some_and(|r| r.protect != step.protected);
            // A saved plan adopts nothing (`plan --out` refuses one that would).
            step.adopted = None;
        }
        Ok(Planned { plan, state, adopted: Vec::new(), refreshed: false, observation: Observation::default() })
    }
}

/// Says in the plan what refresh found by ownership: the steps of resources
/// it adopted (with the id found), the resources another state's tags claim,
/// and the creates that must not take such a resource's generated name.
fn mark_ownership(plan: &mut Plan, state: &State, adopted: &[String], observation: &Observation) {
    for step in &mut plan.steps {
        if adopted.contains(&step.name) {
            step.adopted = state.resources.get(&step.name).map(|r| r.id.clone());
        }
        step.name_taken = step.action == Action::Create
            && observation.foreign.iter().any(|f| f.name == step.name && f.kind == step.kind);
    }
    plan.foreign.clone_from(&observation.foreign);
}

/// What a command makes of a plan to show it (its cost, its text), run on
/// the plan [`Engine::plan_shown`] returns.
pub type Show<T> = Arc<dyn Fn(&mut Plan) -> T + Send + Sync>;

/// A plan made before refresh answers, and the state it was made from.
struct EarlyPlan<T> {
    state: State,
    made: tokio::task::JoinHandle<Result<(Plan, T), PlanError>>,
}

/// For a stack that state records nothing of (its first plan), with nothing
/// pending and nothing to bind: refresh can then only search by tag, and
/// when it finds nothing, as it does for a stack never applied, the plan is
/// the stack's creates whatever AWS answers. That plan, and what `show` makes
/// of it, are made on another thread while the search's round trip is in
/// flight, so that a large first plan's CPU time is not added to it. The
/// stack is shared with that thread, not copied. A plan not kept (the search
/// found resources this state lost track of, or a name another state holds)
/// is left to finish there, unused.
fn early_plan<T: Send + 'static>(
    stack: &Arc<Stack>,
    state: &State,
    request: &Request,
    show: &Show<T>,
) -> Option<EarlyPlan<T>> {
    if !state.resources.is_empty() || !state.pending.is_empty() || stack.uses_aws() {
        return None;
    }
    let (stack, state, request, show) = (stack.clone(), state.clone(), request.clone(), show.clone());
    Some(EarlyPlan {
        state: state.clone(),
        made: tokio::task::spawn_blocking(move || {
            let mut plan = plan::plan_with(&stack, &state, &Default::default(), &request)?;
            mark_ownership(&mut plan, &state, &[], &Observation::default());
            let shown = show(&mut plan);
            Ok((plan, shown))
        }),
    })
}

/// `stack` as a saved plan would make it: each declared resource the plan
/// creates, changes or keeps with the properties the plan holds for it, so
/// that the policy checks judge what the plan would do, not the stack file.
pub fn declared_by_plan(stack: &Stack, plan: &Plan) -> Stack {
    let mut stack = stack.clone();
    for step in plan.steps.iter().filter(|s| s.action != Action::Delete) {
        if let Some(res) = stack.resources.get_mut(&step.name) {
            res.props = step.desired.clone();
        }
    }
    stack
}
