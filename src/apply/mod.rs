//! The executor: carries out a [`Plan`] and nothing else.
//!
//! It turns the plan's steps into operations (a replace is a delete, then a
//! create), orders them by the dependency graph (creates after what they depend
//! on, deletes after what depends on them), and runs independent ones at once on
//! tokio, at most `parallelism` at a time. Before each mutating call it journals a
//! pending operation in state; after it, the result: an interrupted apply never
//! loses track of a resource. A failed operation fails only what depends on it.

mod graph;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::model::{Props, Ref};
use crate::plan::{Plan, Step};
use crate::provider::{Ctx, Observed, Progress, ProviderError, Providers};
use crate::state::{Pending, PendingOp, Recorded, State, StateError, Store};

pub use graph::{Op, OpKind};

/// How the executor runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// At most this many AWS operations in flight.
    pub parallelism: usize,
    /// At most this many in flight against one AWS service (rate limits are
    /// per service: IAM's are far lower than EC2's).
    pub per_service: usize,
    /// Once set, no new operation starts; those in flight finish and are recorded.
    pub interrupt: Interrupt,
}

impl Default for Options {
    fn default() -> Self {
        Options { parallelism: 10, per_service: 8, interrupt: Interrupt::default() }
    }
}

/// A request to stop starting operations (the first Ctrl-C).
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What the executor tells whoever is watching.
pub trait Reporter: Send + Sync {
    fn started(&self, op: &Op);
    fn status(&self, resource: &str, msg: &str);
    fn finished(&self, op: &Op, elapsed: Duration);
    fn failed(&self, op: &Op, error: &str);
    fn skipped(&self, op: &Op, because: &str);
}

/// One operation that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("{resource}: {op} failed: {source}")]
    Provider { resource: String, op: OpKind, source: ProviderError },
    #[error("{resource}: not run because {because} failed")]
    Skipped { resource: String, because: String },
    #[error("{resource}: `{reference}` is still unknown when the step runs")]
    Unresolved { resource: String, reference: String },
}

/// Why an apply stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("interrupted: {done} of {total} operations finished and are recorded in state; run the command again to continue")]
    Interrupted { done: usize, total: usize },
    #[error("{} of {total} operations failed:\n{}", errors.len(), list(errors))]
    Steps { errors: Vec<StepError>, total: usize },
}

fn list(errors: &[StepError]) -> String {
    errors.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n")
}

/// The outcome of one operation, sent back from its task.
struct Done {
    index: usize,
    result: Result<Option<Observed>, ProviderError>,
    props: Props,
    elapsed: Duration,
}

/// Executes `plan`, recording state in `store` after every operation.
pub async fn apply(
    plan: &Plan,
    providers: Arc<Providers>,
    store: &Store,
    state: &mut State,
    options: &Options,
    reporter: Arc<dyn Reporter>,
) -> Result<(), ApplyError> {
    let ops = graph::operations(plan, state);
    let steps: BTreeMap<&str, &Step> = plan.steps.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut waiting: Vec<usize> = ops.iter().map(|op| op.after.len()).collect();
    let mut ready: Vec<usize> = (0..ops.len()).filter(|i| waiting[*i] == 0).rev().collect();
    let mut failed: BTreeMap<usize, String> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut running = JoinSet::new();
    let mut busy: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut finished = 0;

    while finished < ops.len() {
        while running.len() < options.parallelism.max(1) && !options.interrupt.is_set() {
            let has_room = |i: &usize| busy.get(steps[ops[*i].resource.as_str()].kind.service()).copied().unwrap_or(0) < options.per_service.max(1);
            let Some(pos) = ready.iter().rposition(has_room) else { break };
            let i = ready.remove(pos);
            let op = &ops[i];
            if let Some(cause) = op.after.iter().find_map(|d| failed.get(d)) {
                let cause = cause.clone();
                reporter.skipped(op, &cause);
                errors.push(StepError::Skipped { resource: op.resource.clone(), because: cause.clone() });
                failed.insert(i, cause);
                finished += 1;
                release(&ops, i, &mut waiting, &mut ready);
                continue;
            }
            let step = steps[op.resource.as_str()];
            let props = match resolve(step, state) {
                Ok(p) => p,
                Err(reference) => {
                    errors.push(StepError::Unresolved { resource: op.resource.clone(), reference });
                    failed.insert(i, op.resource.clone());
                    finished += 1;
                    release(&ops, i, &mut waiting, &mut ready);
                    continue;
                }
            };
            let token = uuid::Uuid::new_v4().to_string();
            state.pending.push(Pending {
                resource: op.resource.clone(),
                kind: step.kind,
                op: match op.kind {
                    OpKind::Create => PendingOp::Create,
                    OpKind::Update => PendingOp::Update,
                    OpKind::Delete => PendingOp::Delete,
                },
                id: if op.kind == OpKind::Create { None } else { step.id.clone() },
                client_token: (op.kind == OpKind::Create).then(|| token.clone()),
            });
            store.save(state)?;
            reporter.started(op);
            let reporter2 = reporter.clone();
            let ctx = Ctx {
                stack: plan.stack.clone(),
                name: op.resource.clone(),
                client_token: token,
                progress: Progress::new(move |r, m| reporter2.status(r, m)),
            };
            *busy.entry(step.kind.service()).or_insert(0) += 1;
            running.spawn(run_op(providers.clone(), ctx, i, op.kind, step.clone(), props));
        }

        let Some(joined) = running.join_next().await else { break };
        // (An interrupt leaves the ready ones unstarted; the loop ends once the
        // operations in flight are recorded.)
        let done = joined.expect("an operation task never panics");
        let op = &ops[done.index];
        let step = steps[op.resource.as_str()];
        if let Some(n) = busy.get_mut(step.kind.service()) {
            *n -= 1;
        }
        state.pending.retain(|p| p.resource != op.resource);
        match done.result {
            Ok(observed) => {
                record(state, step, op.kind, done.props, observed);
                reporter.finished(op, done.elapsed);
            }
            Err(source) => {
                reporter.failed(op, &source.to_string());
                failed.insert(done.index, op.resource.clone());
                errors.push(StepError::Provider { resource: op.resource.clone(), op: op.kind, source });
            }
        }
        store.save(state)?;
        finished += 1;
        release(&ops, done.index, &mut waiting, &mut ready);
    }

    if options.interrupt.is_set() && finished < ops.len() {
        return Err(ApplyError::Interrupted { done: finished, total: ops.len() });
    }
    if errors.is_empty() { Ok(()) } else { Err(ApplyError::Steps { errors, total: ops.len() }) }
}

/// Marks `i` done: operations waiting only on it become ready.
fn release(ops: &[Op], i: usize, waiting: &mut [usize], ready: &mut Vec<usize>) {
    for &next in &ops[i].before {
        waiting[next] -= 1;
        if waiting[next] == 0 {
            ready.push(next);
        }
    }
}

async fn run_op(providers: Arc<Providers>, ctx: Ctx, index: usize, kind: OpKind, step: Step, props: Props) -> Done {
    let start = Instant::now();
    let provider = providers.get(step.kind);
    let id = step.id.clone().unwrap_or_default();
    let result = match kind {
        OpKind::Create => provider.create(&ctx, &props).await.map(Some),
        OpKind::Update => {
            let before = step.prior.clone().unwrap_or_default();
            provider.update(&ctx, &id, &before, &props).await.map(Some)
        }
        OpKind::Delete => {
            let before = step.prior.clone().unwrap_or_default();
            provider.delete(&ctx, &id, &before).await.map(|()| None)
        }
    };
    Done { index, result, props, elapsed: start.elapsed() }
}

/// The step's desired properties with references replaced by what state now
/// records of the resources they name; the name of a reference still unknown.
fn resolve(step: &Step, state: &State) -> Result<Props, String> {
    let lookup = |r: &Ref| state.attr(r);
    let mut props = Props::new();
    for (k, v) in &step.desired {
        let resolved = v.resolve(&lookup);
        if !resolved.is_known() {
            let reference = v.refs().first().map(|r| format!("${{{r}}}")).unwrap_or_else(|| k.clone());
            return Err(reference);
        }
        props.insert(k.clone(), resolved);
    }
    Ok(step.kind.schema().normalized(&props))
}

/// Records a completed operation in state.
fn record(state: &mut State, step: &Step, op: OpKind, props: Props, observed: Option<Observed>) {
    match (op, observed) {
        (OpKind::Delete, _) => {
            // A create-before-delete replacement has already recorded the new one.
            if state.resources.get(&step.name).is_some_and(|r| Some(&r.id) == step.id.as_ref()) {
                state.resources.remove(&step.name);
            }
        }
        (_, Some(obs)) => {
            state.resources.insert(
                step.name.clone(),
                Recorded {
                    kind: step.kind,
                    id: obs.id,
                    props,
                    outputs: obs.outputs,
                    depends_on: step.depends_on.clone(),
                },
            );
        }
        (_, None) => {}
    }
}
