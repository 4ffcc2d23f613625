//! The executor: carries out a [`Plan`] and nothing else.
//!
//! It takes the plan's operations ([`crate::plan::graph`]: a replace is a
//! delete and a create, in the order the plan chose; creates after what they
//! depend on, deletes after what depends on them), and runs independent ones at once on
//! tokio, each as soon as what it comes after is done (or at most `--parallelism`
//! at a time). The AWS requests they make are held to each service's adaptive
//! limit ([`crate::provider::limit`]), so an operation that is only waiting for
//! AWS holds no slot. Before each mutating call it journals a
//! pending operation in state; after it, the result: an interrupted apply never
//! loses track of a resource. A failed operation fails only what depends on it.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::task::JoinSet;

use crate::model::{Props, Ref};
use crate::plan::graph::{self, Op, OpKind};
use crate::plan::{Plan, Step};
use crate::provider::stats::{OpSpan, RESOURCE, TRACE};
use crate::provider::{Ctx, Observed, Progress, Provider, ProviderError, Providers};
use crate::state::{Pending, PendingOp, Recorded, State, StateError, Store, deposed_key, deposed_of};

/// How the executor runs.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// At most this many operations in flight (`--parallelism`); without it,
    /// every operation starts once what it depends on is done, and the AWS
    /// requests they make are held to each service's adaptive limit
    /// ([`crate::provider::limit`]).
    pub parallelism: Option<usize>,
    /// Once set, no new operation starts; those in flight finish and are recorded.
    pub interrupt: Interrupt,
    /// The idempotency token each create takes up again, by resource: an
    /// interrupted run's ([`crate::refresh::Observation::retry_tokens`]).
    pub retry_tokens: BTreeMap<String, String>,
}

impl Options {
    /// At most `parallelism` operations at once.
    pub fn with_parallelism(parallelism: usize) -> Self {
        Options { parallelism: Some(parallelism.max(1)), ..Options::default() }
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
    #[error(
        "interrupted: {done} of {total} operations finished and are recorded in state; run the command again to continue"
    )]
    Interrupted { done: usize, total: usize },
    #[error("{} of {total} operations failed:\n{}", errors.len(), list(errors))]
    Steps { errors: Vec<StepError>, total: usize },
    /// Operations wait for each other, which the planner should have refused.
    #[error(
        "internal error (a bug in infra: please report it): no operation can start and none is running; \
         {done} of {total} operations finished and are recorded in state; still waiting:\n{}",
        waiting.iter().map(|w| format!("  - {w}")).collect::<Vec<_>>().join("\n")
    )]
    Stuck { done: usize, total: usize, waiting: Vec<String> },
}

fn list(errors: &[StepError]) -> String {
    errors.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n")
}

/// The outcome of one operation, sent back from its task.
struct Done {
    index: usize,
    result: Result<Option<Observed>, ProviderError>,
    props: Props,
    started: Instant,
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
    let mut queue = Queue::new(&ops);
    let mut errors = Vec::new();
    let mut running = JoinSet::new();
    let most = options.parallelism.unwrap_or(usize::MAX).max(1);

    let mut journal = store.begin(state)?;
    let mut starting = Vec::new();
    while !queue.all_done() {
        while running.len() + starting.len() < most && !options.interrupt.is_set() {
            let Some(i) = queue.take_ready() else { break };
            let op = &ops[i];
            if let Some(cause) = queue.failed_dependency(op) {
                reporter.skipped(op, &cause);
                errors.push(StepError::Skipped { resource: op.resource.clone(), because: cause.clone() });
                queue.fail(i, cause);
                continue;
            }
            let step = steps[op.resource.as_str()];
            let props = match resolve(step, state) {
                Ok(p) => p,
                Err(reference) => {
                    errors.push(StepError::Unresolved { resource: op.resource.clone(), reference });
                    queue.fail(i, op.resource.clone());
                    continue;
                }
            };
            let retried = options.retry_tokens.get(&op.resource).filter(|_| op.kind == OpKind::Create);
            let token = retried.cloned().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            state.pending.push(pending(op, step, &token));
            let retry = retried.map(|_| Retry { lineage: state.lineage.clone(), known: ids_of(state, &op.resource) });
            starting.push((i, token, props, retry));
        }
        // One journal line records every operation about to start.
        if !starting.is_empty() {
            let touched: Vec<&str> = starting.iter().map(|(i, ..)| ops[*i].resource.as_str()).collect();
            journal.record(state, &touched)?;
        }
        for (i, token, props, retry) in starting.drain(..) {
            let op = &ops[i];
            let step = steps[op.resource.as_str()];
            reporter.started(op);
            let watcher = reporter.clone();
            let ctx = Ctx {
                stack: plan.stack.clone(),
                name: op.resource.clone(),
                client_token: token,
                replacing: op.coexists,
                progress: Progress::new(move |r, m| watcher.status(r, m)),
            };
            let task = run_op(providers.clone(), ctx, i, op.kind, step.clone(), props, retry);
            let trace = providers.stats().clone();
            running.spawn(RESOURCE.scope(op.resource.clone(), TRACE.scope(trace, task)));
        }

        // After an interrupt nothing new starts: the loop ends once the
        // operations in flight are recorded.
        let Some(joined) = running.join_next().await else { break };
        let mut completed = vec![joined];
        while let Some(more) = running.try_join_next() {
            completed.push(more);
        }
        // Tasks catch their own panics and are never cancelled.
        let completed: Vec<Done> =
            completed.into_iter().map(|joined| joined.expect("an operation task always completes")).collect();
        let mut touched: Vec<String> = completed.iter().map(|done| ops[done.index].resource.clone()).collect();
        for done in completed {
            let op = &ops[done.index];
            let step = steps[op.resource.as_str()];
            let span = OpSpan {
                index: done.index,
                resource: op.resource.clone(),
                op: op.kind.to_string(),
                kind: step.kind.to_string(),
                after: op.after.clone(),
                start_ms: 0.0,
                end_ms: 0.0,
                ok: done.result.is_ok(),
            };
            providers.stats().record_op(span, done.started);
            state.pending.retain(|p| p.resource != op.resource);
            match done.result {
                Ok(observed) => {
                    touched.extend(record(state, step, op, done.props, observed));
                    reporter.finished(op, done.elapsed);
                    queue.complete(done.index);
                }
                Err(source) => {
                    reporter.failed(op, &source.to_string());
                    errors.push(StepError::Provider { resource: op.resource.clone(), op: op.kind, source });
                    queue.fail(done.index, op.resource.clone());
                }
            }
        }
        // One journal line records every operation that has finished.
        journal.record(state, &touched.iter().map(String::as_str).collect::<Vec<_>>())?;
    }
    journal.finish(state)?;

    if !queue.all_done() {
        if options.interrupt.is_set() {
            return Err(ApplyError::Interrupted { done: queue.finished, total: ops.len() });
        }
        return Err(ApplyError::Stuck { done: queue.finished, total: ops.len(), waiting: queue.waiting() });
    }
    if errors.is_empty() { Ok(()) } else { Err(ApplyError::Steps { errors, total: ops.len() }) }
}

/// The journal entry for an operation about to run.
fn pending(op: &Op, step: &Step, token: &str) -> Pending {
    let create = op.kind == OpKind::Create;
    Pending {
        resource: op.resource.clone(),
        kind: step.kind,
        op: match op.kind {
            OpKind::Create => PendingOp::Create,
            OpKind::Update => PendingOp::Update,
            OpKind::Delete => PendingOp::Delete,
        },
        id: if create { None } else { step.id.clone() },
        client_token: create.then(|| token.to_string()),
    }
}

/// Which operations can start: each waits for the operations it comes after;
/// one that failed (or was skipped) makes its dependents skip. Of those ready,
/// the one with the longest chain of operations still to follow it starts
/// first: its requests reach AWS ahead of the others', so what sets the wall
/// time waits least behind what does not (critical-path-first list
/// scheduling).
struct Queue<'a> {
    ops: &'a [Op],
    waiting: Vec<usize>,
    ready: Vec<usize>,
    /// Each operation's chain: itself and the longest line of operations
    /// that wait for it, one after another.
    chain: Vec<usize>,
    /// Failed operations, with the resource whose failure it was.
    failed: BTreeMap<usize, String>,
    /// Which operations have finished (completed, failed or skipped).
    done: Vec<bool>,
    finished: usize,
}

impl<'a> Queue<'a> {
    fn new(ops: &'a [Op]) -> Self {
        let waiting: Vec<usize> = ops.iter().map(|op| op.after.len()).collect();
        let ready = (0..ops.len()).filter(|i| waiting[*i] == 0).collect();
        let chain = chains(ops);
        Queue { ops, waiting, ready, chain, failed: BTreeMap::new(), done: vec![false; ops.len()], finished: 0 }
    }

    fn all_done(&self) -> bool {
        self.finished == self.ops.len()
    }

    /// Each operation not yet finished, and what it still waits for.
    fn waiting(&self) -> Vec<String> {
        (0..self.ops.len())
            .filter(|&i| self.waiting[i] > 0)
            .map(|i| {
                let op = &self.ops[i];
                let on: Vec<String> =
                    op.after.iter().filter(|&&a| !self.done[a]).map(|&a| self.ops[a].to_string()).collect();
                format!("{op} waits for {}", on.join(", "))
            })
            .collect()
    }

    /// The next ready operation, taken off the queue: the longest chain
    /// first, then the plan's order.
    fn take_ready(&mut self) -> Option<usize> {
        let next = (0..self.ready.len()).max_by_key(|&k| (self.chain[self.ready[k]], Reverse(self.ready[k])))?;
        Some(self.ready.swap_remove(next))
    }

    /// The resource whose failure stops `op`, if any of its predecessors failed.
    fn failed_dependency(&self, op: &Op) -> Option<String> {
        op.after.iter().find_map(|d| self.failed.get(d)).cloned()
    }

    fn fail(&mut self, i: usize, cause: String) {
        self.failed.insert(i, cause);
        self.complete(i);
    }

    /// Marks `i` done: operations waiting only on it become ready.
    fn complete(&mut self, i: usize) {
        self.finished += 1;
        self.done[i] = true;
        for &next in &self.ops[i].before {
            self.waiting[next] -= 1;
            if self.waiting[next] == 0 {
                self.ready.push(next);
            }
        }
    }
}

/// For each operation, the length of the longest line of operations that
/// starts with it and follows `before` (what waits for it), each computed once,
/// dependents first. The planner refuses cycles; should one reach here anyway,
/// the edge that closes it is not followed (the executor then reports the
/// operations that wait forever).
fn chains(ops: &[Op]) -> Vec<usize> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done(usize),
    }
    let mut mark = vec![Mark::New; ops.len()];
    for start in 0..ops.len() {
        // Depth-first, without recursion: a node is done once all it leads to are.
        let mut stack = vec![start];
        while let Some(&i) = stack.last() {
            match mark[i] {
                Mark::Done(_) => {
                    stack.pop();
                }
                Mark::New => {
                    mark[i] = Mark::Open;
                    stack.extend(ops[i].before.iter().copied().filter(|&n| mark[n] == Mark::New));
                }
                Mark::Open => {
                    let longest = ops[i]
                        .before
                        .iter()
                        .filter_map(|&n| match mark[n] {
                            Mark::Done(c) => Some(c),
                            _ => None,
                        })
                        .max()
                        .unwrap_or(0);
                    mark[i] = Mark::Done(1 + longest);
                    stack.pop();
                }
            }
        }
    }
    mark.into_iter().map(|m| if let Mark::Done(c) = m { c } else { 1 }).collect()
}

/// A create that takes up an interrupted run's token ([`Options::retry_tokens`]).
struct Retry {
    /// The state's lineage, which what that run made is tagged with.
    lineage: Option<String>,
    /// The ids state records for the resource (the old one of a replacement):
    /// not what that run made.
    known: Vec<String>,
}

/// The ids state records under `name` and its deposed keys.
fn ids_of(state: &State, name: &str) -> Vec<String> {
    state
        .resources
        .iter()
        .filter(|(key, _)| key.as_str() == name || deposed_of(key) == Some(name))
        .map(|(_, r)| r.id.clone())
        .collect()
}

/// What the interrupted create whose token `ctx` took up made, found now: the
/// killed run's request may land after this run searched for it (refresh), and
/// then this create fails on the name it took, or the parameters changed since.
async fn made_meanwhile(provider: &dyn Provider, ctx: &Ctx, retry: &Retry) -> Result<Option<Observed>, ProviderError> {
    let ours = |o: &Observed| {
        !retry.known.contains(&o.id) && crate::refresh::lineage_tag(o).map(str::to_string) == retry.lineage
    };
    if let Some(o) = provider.find_created(&ctx.stack, &ctx.name, &ctx.client_token).await?
        && !retry.known.contains(&o.id)
    {
        return Ok(Some(o));
    }
    let tagged = provider.find_tagged(&ctx.stack).await?;
    Ok(tagged.into_iter().find(|(name, o)| name == &ctx.name && ours(o)).map(|(_, o)| o))
}

async fn run_op(
    providers: Arc<Providers>,
    mut ctx: Ctx,
    index: usize,
    kind: OpKind,
    step: Step,
    props: Props,
    retry: Option<Retry>,
) -> Done {
    let start = Instant::now();
    let provider = providers.get(step.kind);
    let id = step.id.clone().unwrap_or_default();
    // The one place secrets are revealed: providers get plain values for the
    // AWS call; state records `props`, secrets still marked.
    let reveal = |p: &Props| -> Props { p.iter().map(|(k, v)| (k.clone(), v.reveal())).collect() };
    let after = reveal(&props);
    let before = reveal(&step.prior.clone().unwrap_or_default());
    let call = async {
        match kind {
            OpKind::Create => match (provider.create(&ctx, &after).await, &retry) {
                (Ok(created), _) => Ok(Some(created)),
                (Err(e), None) => Err(e),
                // The interrupted run's create, made meanwhile; or else nothing
                // was made and this create tries again with a token of its own.
                (Err(e), Some(retry)) => match made_meanwhile(provider, &ctx, retry).await? {
                    Some(made) => Ok(Some(made)),
                    None => {
                        ctx.status(&format!("create failed with the interrupted run's token ({e}); trying a new one"));
                        ctx.client_token = uuid::Uuid::new_v4().to_string();
                        provider.create(&ctx, &after).await.map(Some)
                    }
                },
            },
            OpKind::Update => provider.update(&ctx, &id, &before, &after).await.map(Some),
            OpKind::Delete => provider.delete(&ctx, &id, &before).await.map(|()| None),
        }
    };
    // A bug in a provider fails its step like any error, and the apply goes on
    // recording state, instead of taking the process down.
    let result = AssertUnwindSafe(call).catch_unwind().await.unwrap_or_else(|_| {
        Err(ProviderError::Invalid(format!("internal error in the {} provider (a bug: please report it)", step.kind)))
    });
    Done { index, result, props, started: start, elapsed: start.elapsed() }
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

/// Records a completed operation in state; returns the deposed key it
/// touched besides the step's own.
fn record(state: &mut State, step: &Step, op: &Op, props: Props, observed: Option<Observed>) -> Option<String> {
    let old_id = step.id.as_deref().unwrap_or_default();
    match (op.kind, observed) {
        (OpKind::Delete, _) => {
            if state.resources.get(&step.name).is_some_and(|r| r.id == old_id) {
                state.resources.remove(&step.name);
                return None;
            }
            // A replacement created first recorded the new one in its place,
            // and the old one under its deposed key.
            let key = deposed_key(&step.name, old_id);
            state.resources.remove(&key).map(|_| key)
        }
        (_, Some(obs)) => {
            // The old one of a replacement created first stays recorded until
            // it is deleted.
            let deposed = if op.coexists { state.depose(&step.name, old_id) } else { None };
            state.resources.insert(
                step.name.clone(),
                Recorded {
                    kind: step.kind,
                    id: obs.id,
                    props,
                    outputs: obs.outputs,
                    depends_on: step.depends_on.clone(),
                    protect: step.protected,
                },
            );
            deposed
        }
        (_, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;
    use crate::plan::{Action, ReplaceOrder};

    fn op(resource: &str, after: Vec<usize>, before: Vec<usize>) -> Op {
        Op {
            resource: resource.into(),
            kind: crate::plan::OpKind::Delete,
            after,
            before,
            replace: false,
            coexists: false,
        }
    }

    #[test]
    fn of_the_operations_ready_the_one_with_the_longest_chain_after_it_starts_first() {
        // A destroy: volumes 0 and 1 stand alone; the instance (2) goes before
        // its group (3), which goes before the VPC that holds it (4).
        let ops = vec![
            op("v0", vec![], vec![]),
            op("v1", vec![], vec![]),
            op("host", vec![], vec![3]),
            op("sg", vec![2], vec![4]),
            op("vpc", vec![3], vec![]),
        ];
        assert_eq!(chains(&ops), [1, 1, 3, 2, 1]);
        let mut queue = Queue::new(&ops);
        assert_eq!(queue.take_ready(), Some(2), "the instance heads the longest chain");
        assert_eq!(queue.take_ready(), Some(0), "then the plan's order");
        assert_eq!(queue.take_ready(), Some(1));
        assert_eq!(queue.take_ready(), None);
        queue.complete(2);
        assert_eq!(queue.take_ready(), Some(3));
        // A cycle (which the planner refuses) still ends.
        let cycle = vec![op("a", vec![1], vec![1]), op("b", vec![0], vec![0])];
        assert_eq!(chains(&cycle), [2, 1]);
    }

    struct Silent;
    impl Reporter for Silent {
        fn started(&self, _: &Op) {}
        fn status(&self, _: &str, _: &str) {}
        fn finished(&self, _: &Op, _: Duration) {}
        fn failed(&self, _: &Op, _: &str) {}
        fn skipped(&self, _: &Op, _: &str) {}
    }

    fn replace(name: &str, order: ReplaceOrder, deps: &[&str]) -> Step {
        Step {
            name: name.into(),
            kind: Kind::SecurityGroup,
            action: Action::Replace,
            id: Some(format!("sg-{name}")),
            reason: None,
            changes: vec![],
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            desired: Props::new(),
            prior: Some(Props::new()),
            protected: false,
            protection_changed: false,
            replace_requested: true,
            order: Some(order),
            adopted: None,
            name_taken: false,
        }
    }

    #[tokio::test]
    async fn a_graph_that_cannot_run_is_reported_as_a_bug_naming_what_waits_never_as_an_interruption() {
        // `a` deletes first; `b` depends on it but creates first: b's create
        // waits for a's create, which waits for a's delete, which waits for
        // b's delete, which waits for b's create. The planner never makes this.
        let plan = Plan {
            steps: vec![replace("a", ReplaceOrder::DeleteFirst, &[]), replace("b", ReplaceOrder::CreateFirst, &["a"])],
            ..Plan::new("t", 0, None)
        };
        let mut state = State::default();
        for (name, deps) in [("a", vec![]), ("b", vec!["a".to_string()])] {
            let rec = Recorded {
                kind: Kind::SecurityGroup,
                id: format!("sg-{name}"),
                props: Props::new(),
                outputs: Props::new(),
                depends_on: deps,
                protect: false,
            };
            state.resources.insert(name.into(), rec);
        }
        let before = state.clone();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::with_keys(dir.path(), "t", Err(crate::secret::SecretError::NoKey));
        let providers = Arc::new(Providers::new(
            &aws_config::SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build(),
        ));

        let err = apply(&plan, providers, &store, &mut state, &Options::default(), Arc::new(Silent)).await.unwrap_err();

        let text = err.to_string();
        assert!(matches!(err, ApplyError::Stuck { done: 0, total: 4, .. }), "{text}");
        assert!(text.contains("a bug in infra"), "{text}");
        assert!(text.contains("create b waits for create a"), "{text}");
        assert!(text.contains("delete a waits for delete b"), "{text}");
        assert!(!text.contains("interrupted"), "{text}");
        assert_eq!(state.resources, before.resources, "state is intact");
        assert!(state.pending.is_empty());
    }
}
