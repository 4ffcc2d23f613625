//! Refresh: what AWS holds for a stack, read in one batched call per kind (per
//! page), all kinds at once, so the cost of a no-change plan grows with the
//! number of kinds, not of resources ([`Provider::read_recorded`]: EC2 kinds
//! search by the stack tag and read by id only what the search missed).
//!
//! Refresh also looks for resources that carry the stack's ownership tags but
//! that state does not record (an interrupted run created them): those with a
//! declared name are adopted rather than created twice. Ownership is the
//! state's lineage, not the stack's name: a resource tagged for the stack and
//! name by another state (another lineage, or none) is reported as foreign,
//! and neither adopted nor deleted. A create interrupted
//! before it could tag what it made (S3 tags a bucket in a second call) is found
//! from the idempotency token journaled with it ([`Provider::find_created`]).
//!
//! [`Provider::find_created`]: crate::provider::Provider::find_created
//! [`Provider::read_recorded`]: crate::provider::Provider::read_recorded

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;

use crate::model::{Kind, Observed, Stack, TAG_LINEAGE};
use crate::plan::{Foreign, Refreshed};
use crate::provider::{ProviderError, Providers, RecordedOutputs};
use crate::state::{PendingOp, Recorded, State, deposed_of};

/// A refresh that could not complete.
#[derive(Debug, thiserror::Error)]
#[error("refreshing {kind} resources: {source}")]
pub struct RefreshError {
    pub kind: Kind,
    #[source]
    pub source: ProviderError,
}

/// What refresh found.
#[derive(Debug, Default)]
pub struct Observation {
    /// Every resource recorded in state: `None` when AWS no longer has it.
    pub resources: Refreshed,
    /// Resources tagged as this stack's, declared, but missing from state.
    pub adoptable: BTreeMap<String, Observed>,
    /// Resources tagged as this stack's that neither state nor the stack file know.
    pub unmanaged: BTreeMap<String, (Kind, Observed)>,
    /// What the interrupted create of a replacement made, beside the old
    /// resource state still records under the same name.
    pub replacements: BTreeMap<String, Observed>,
    /// Resources tagged for this stack and a name, by another state.
    pub foreign: Vec<Foreign>,
    /// The idempotency tokens of interrupted creates that made nothing found,
    /// by resource ([`adopt`] sets them): the create that takes the resource up
    /// again reuses its token, so that a request still in flight when the run
    /// was killed, landing after this run searched, makes the same resource.
    pub retry_tokens: BTreeMap<String, String>,
}

/// The lineage a resource found in AWS is tagged with.
pub fn lineage_tag(o: &Observed) -> Option<&str> {
    o.props.get("tags")?.as_map()?.get(TAG_LINEAGE)?.as_str()
}

/// What a refresh does beyond reading what state records and searching by
/// tag for the kinds of declared resources state lacks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scope {
    /// Search every kind by tag (a drift check's unmanaged resources).
    pub every_kind: bool,
    /// Look up, beside the reads, what the coming creates need
    /// (`Provider::prepare_creates`): an apply's plan.
    pub prepare_creates: bool,
}

/// Reads every recorded resource of the stack, and searches by tag for declared
/// resources missing from state; `scope` says what more.
pub async fn refresh(
    providers: &Providers,
    stack: &Stack,
    state: &State,
    scope: Scope,
) -> Result<Observation, RefreshError> {
    let mut by_kind: BTreeMap<Kind, Vec<(&str, &str)>> = BTreeMap::new();
    let mut outputs: BTreeMap<Kind, RecordedOutputs> = BTreeMap::new();
    for (name, rec) in &state.resources {
        by_kind.entry(rec.kind).or_default().push((name, &rec.id));
        outputs.entry(rec.kind).or_default().insert(rec.id.clone(), rec.outputs.clone());
    }
    let outputs = &outputs;
    // Resources recorded under a name whose create is pending: a replacement
    // created first, interrupted before its create was recorded.
    let replacing: BTreeSet<&str> = state
        .pending
        .iter()
        .filter(|p| p.op == PendingOp::Create && state.resources.get(&p.resource).is_some_and(|r| r.kind == p.kind))
        .map(|p| p.resource.as_str())
        .collect();
    let replacing = &replacing;
    // Kinds with declared resources missing from state (or pending), searched by tag.
    let mut missing: BTreeSet<Kind> =
        stack.resources.iter().filter(|(name, _)| !state.resources.contains_key(*name)).map(|(_, r)| r.kind).collect();
    missing.extend(state.pending.iter().map(|p| p.kind));
    if scope.every_kind {
        missing.extend(Kind::ALL.iter().copied());
    }

    let reads = by_kind.iter().map(|(kind, entries)| async move {
        let ids: Vec<String> = entries.iter().map(|(_, id)| id.to_string()).collect();
        let found = providers
            .get(*kind)
            .read_recorded(&stack.name, &ids, &outputs[kind])
            .await
            .map_err(|source| RefreshError { kind: *kind, source })?;
        Ok::<_, RefreshError>((kind, entries, found))
    });
    let searches = missing.iter().map(|kind| async move {
        let found = providers
            .get(*kind)
            .find_tagged(&stack.name)
            .await
            .map_err(|source| RefreshError { kind: *kind, source })?;
        Ok::<_, RefreshError>((*kind, found))
    });
    // What interrupted creates made, by the token each was given.
    let interrupted = state.pending.iter().filter_map(|p| {
        let token = p.client_token.as_deref()?;
        (p.op == PendingOp::Create && (!state.resources.contains_key(&p.resource) || replacing.contains(&*p.resource)))
            .then_some((p, token))
    });
    let lookups = interrupted.map(|(p, token)| async move {
        let found = providers
            .get(p.kind)
            .find_created(&stack.name, &p.resource, token)
            .await
            .map_err(|source| RefreshError { kind: p.kind, source })?;
        Ok::<_, RefreshError>((p.resource.clone(), p.kind, found))
    });
    // What the coming creates will look up, looked up now, beside the reads,
    // when they are about to run (an apply's plan).
    let mut to_create: BTreeMap<Kind, Vec<&crate::model::Props>> = BTreeMap::new();
    if scope.prepare_creates {
        for (name, r) in &stack.resources {
            if !state.resources.contains_key(name) {
                to_create.entry(r.kind).or_default().push(&r.props);
            }
        }
    }
    let prepares = to_create.iter().map(|(kind, declared)| providers.get(*kind).prepare_creates(declared));
    let (reads, searches, lookups, _) =
        tokio::join!(join_all(reads), join_all(searches), join_all(lookups), join_all(prepares));

    let mut obs = Observation::default();
    for read in reads {
        let (_, entries, mut found) = read?;
        for (name, id) in entries {
            obs.resources.insert(name.to_string(), found.remove(*id));
        }
    }
    // The old resources of replacements, by name and id.
    let deposed: BTreeSet<(&str, &str)> =
        state.resources.iter().filter_map(|(key, r)| Some((deposed_of(key)?, r.id.as_str()))).collect();
    // Recorded resources an interrupted run left an operation pending on.
    let unsettled: BTreeSet<&str> = state.pending.iter().map(|p| p.resource.as_str()).collect();
    for search in searches {
        let (kind, found) = search?;
        for (name, o) in found {
            if state.resources.get(&name).is_some_and(|r| r.id == o.id) {
                // The search waits for what is still in progress to settle (an
                // update an interrupted run sent), so what it found is newer than
                // the read made at the same time.
                if unsettled.contains(name.as_str()) {
                    obs.resources.insert(name, Some(o));
                }
                continue;
            }
            if deposed.contains(&(&*name, &*o.id)) {
                continue;
            }
            // Recorded resources are ours by state; any other is ours only by
            // this state's lineage.
            let lineage = lineage_tag(&o);
            if lineage.is_none() || lineage != state.lineage.as_deref() {
                let lineage = lineage.map(str::to_string);
                obs.foreign.push(Foreign { name, kind, id: o.id, lineage });
                continue;
            }
            if replacing.contains(name.as_str()) && state.resources[&name].kind == kind {
                obs.replacements.insert(name, o);
                continue;
            }
            match stack.resources.get(&name) {
                Some(decl) if decl.kind == kind && !state.resources.contains_key(&name) => {
                    obs.adoptable.insert(name, o);
                }
                _ => {
                    obs.unmanaged.insert(name, (kind, o));
                }
            }
        }
    }
    for lookup in lookups {
        // (One also found by its tags, tagged before the run stopped, is the same.)
        let (name, kind, Some(o)) = lookup? else { continue };
        if let Some(rec) = state.resources.get(&name) {
            if rec.id != o.id {
                obs.replacements.entry(name).or_insert(o);
            }
            continue;
        }
        match stack.resources.get(&name) {
            Some(decl) if decl.kind == kind => {
                obs.adoptable.entry(name).or_insert(o);
            }
            _ => {
                obs.unmanaged.entry(name).or_insert((kind, o));
            }
        }
    }
    Ok(obs)
}

/// What state records for a resource found in AWS (adopted, or imported) as
/// the declaration `decl`: only the properties the stack manages (AWS reports
/// every option setting), and what AWS reports where the stack declares a
/// secret recorded as one.
pub fn recorded_as_declared(decl: &crate::model::Resource, o: &Observed) -> Recorded {
    let schema = decl.kind.schema();
    let mut props = schema.canonical(&o.props);
    let declared = schema.normalized(&decl.props);
    if let Some(trim) = schema.trim_observed {
        trim(&declared, &mut props);
    }
    crate::plan::mark_secrets(&declared, &mut props);
    Recorded {
        kind: decl.kind,
        id: o.id.clone(),
        props: schema.canonical(&props),
        outputs: o.outputs.clone(),
        depends_on: decl.dependencies().into_iter().map(str::to_string).collect(),
        protect: decl.protect.unwrap_or(false),
    }
}

/// What state records for a resource of `kind` found in AWS that the stack
/// does not declare: what AWS reports, so that the plan deletes it.
fn recorded_as_found(kind: Kind, o: &Observed) -> Recorded {
    Recorded {
        kind,
        id: o.id.clone(),
        props: kind.schema().canonical(&o.props),
        outputs: o.outputs.clone(),
        depends_on: Vec::new(),
        protect: false,
    }
}

/// Takes into `state` the outputs AWS reports anew for the recorded resources
/// refresh read: outputs are AWS's to change (an instance Elastic Beanstalk
/// replaced has another id and address), so an apply records them whatever
/// its steps. Returns the names whose recorded outputs changed.
pub fn renew_outputs(state: &mut State, refreshed: &Refreshed) -> Vec<String> {
    let mut renewed = Vec::new();
    for (name, rec) in &mut state.resources {
        let Some(Some(o)) = refreshed.get(name) else { continue };
        let merged = rec.kind.schema().merged_outputs(&rec.outputs, &o.outputs);
        if merged != rec.outputs {
            rec.outputs = merged;
            renewed.push(name.clone());
        }
    }
    renewed
}

/// Records adoptable resources in `state` as if they had been created by it, so
/// the planner compares them instead of creating duplicates, and resolves the
/// pending operations an interrupted run left. Adopted resources' recorded
/// properties are what AWS reports.
///
/// What a pending create made for a resource the stack does not declare (a
/// destroy declares nothing; or the stack file dropped it since) is recorded
/// too, so that the plan deletes it instead of forgetting it with the pending
/// record.
pub fn adopt(state: &mut State, stack: &Stack, obs: &mut Observation) -> Vec<String> {
    let mut adopted = Vec::new();
    let orphans: Vec<String> = obs
        .unmanaged
        .iter()
        .filter(|(name, (kind, _))| {
            !state.resources.contains_key(*name)
                && state.pending.iter().any(|p| p.op == PendingOp::Create && &p.resource == *name && p.kind == *kind)
        })
        .map(|(name, _)| name.clone())
        .collect();
    for name in orphans {
        let Some((kind, o)) = obs.unmanaged.remove(&name) else { continue };
        state.resources.insert(name.clone(), recorded_as_found(kind, &o));
        obs.resources.insert(name.clone(), Some(o));
        adopted.push(name);
    }
    // A replacement's interrupted create: the new resource takes the name,
    // and the old one is kept under its deposed key until the plan deletes it.
    for (name, o) in std::mem::take(&mut obs.replacements) {
        let Some(rec) = state.resources.get(&name) else { continue };
        let (kind, old_id) = (rec.kind, rec.id.clone());
        if let Some(key) = state.depose(&name, &old_id)
            && let Some(old) = obs.resources.remove(&name)
        {
            obs.resources.insert(key, old);
        }
        let recorded = match stack.resources.get(&name) {
            Some(decl) => recorded_as_declared(decl, &o),
            None => recorded_as_found(kind, &o),
        };
        state.resources.insert(name.clone(), recorded);
        obs.resources.insert(name.clone(), Some(o));
        adopted.push(name);
    }
    for (name, o) in std::mem::take(&mut obs.adoptable) {
        let Some(decl) = stack.resources.get(&name) else { continue };
        state.resources.insert(name.clone(), recorded_as_declared(decl, &o));
        state.pending.retain(|p| p.resource != name);
        obs.resources.insert(name.clone(), Some(o));
        adopted.push(name);
    }
    // Every pending operation is now resolved: a pending create was searched for
    // by its tags (adopted above, or proved absent), and a pending update or
    // delete acted on a recorded resource, which refresh has just read.
    obs.retry_tokens = state
        .pending
        .iter()
        .filter(|p| p.op == PendingOp::Create && !adopted.contains(&p.resource))
        .filter_map(|p| Some((p.resource.clone(), p.client_token.clone()?)))
        .collect();
    state.pending.clear();
    adopted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Props, Value};
    use crate::state::Pending;

    fn bucket(id: &str) -> Observed {
        let props: Props = [("bucket".to_string(), Value::from(id))].into();
        Observed { id: id.into(), props, outputs: Props::new() }
    }

    fn pending_create(resource: &str, kind: Kind) -> Pending {
        Pending { resource: resource.into(), kind, op: PendingOp::Create, id: None, client_token: Some("t".into()) }
    }

    #[test]
    fn what_a_pending_create_made_is_recorded_even_when_the_stack_no_longer_declares_it() {
        let stack = Stack { name: "dev".into(), ..Stack::default() };
        let mut state = State { pending: vec![pending_create("artifacts", Kind::Bucket)], ..State::default() };
        let mut obs = Observation::default();
        obs.unmanaged.insert("artifacts".into(), (Kind::Bucket, bucket("dev-artifacts-1")));
        obs.unmanaged.insert("stray".into(), (Kind::Bucket, bucket("dev-stray-2")));

        let adopted = adopt(&mut state, &stack, &mut obs);

        assert_eq!(adopted, ["artifacts"]);
        assert_eq!(state.resources["artifacts"].id, "dev-artifacts-1");
        assert_eq!(state.resources["artifacts"].kind, Kind::Bucket);
        assert!(state.pending.is_empty());
        assert!(obs.unmanaged.contains_key("stray"), "no pending create made it: still unmanaged");
        assert!(!state.resources.contains_key("stray"));
    }

    #[test]
    fn what_an_interrupted_replacement_made_takes_the_name_and_the_old_one_is_kept_deposed() {
        use crate::model::Resource;
        let stack = Stack::new("dev").resource("artifacts", Resource::new(Kind::Bucket));
        let old = Recorded {
            kind: Kind::Bucket,
            id: "dev-artifacts-old".into(),
            props: Props::new(),
            outputs: Props::new(),
            depends_on: vec![],
            protect: false,
        };
        let mut state = State { pending: vec![pending_create("artifacts", Kind::Bucket)], ..State::default() };
        state.resources.insert("artifacts".into(), old.clone());
        let mut obs = Observation::default();
        obs.resources.insert("artifacts".into(), Some(bucket("dev-artifacts-old")));
        obs.replacements.insert("artifacts".into(), bucket("dev-artifacts-new"));

        assert_eq!(adopt(&mut state, &stack, &mut obs), ["artifacts"]);

        let key = crate::state::deposed_key("artifacts", "dev-artifacts-old");
        assert_eq!(state.resources["artifacts"].id, "dev-artifacts-new");
        assert_eq!(state.resources[&key], old, "the old one is recorded under its deposed key");
        assert_eq!(obs.resources[&key].as_ref().map(|o| o.id.as_str()), Some("dev-artifacts-old"));
        assert_eq!(obs.resources["artifacts"].as_ref().map(|o| o.id.as_str()), Some("dev-artifacts-new"));
        assert!(state.pending.is_empty());
        // The plan deletes the old one, and keeps the new one (tagging it as
        // declared: this fixture's bucket reports no tags).
        let plan = crate::plan::plan(&stack, &state, &obs.resources).unwrap();
        let steps: Vec<(&str, crate::plan::Action)> = plan.steps.iter().map(|s| (s.name.as_str(), s.action)).collect();
        assert_eq!(steps, [("artifacts", crate::plan::Action::Update), (key.as_str(), crate::plan::Action::Delete)]);
        assert_eq!(plan.steps[1].reason, Some(crate::plan::Reason::Deposed));
    }

    #[test]
    fn a_pending_create_of_another_kind_adopts_nothing() {
        let stack = Stack { name: "dev".into(), ..Stack::default() };
        let mut state = State { pending: vec![pending_create("artifacts", Kind::Role)], ..State::default() };
        let mut obs = Observation::default();
        obs.unmanaged.insert("artifacts".into(), (Kind::Bucket, bucket("dev-artifacts-1")));
        assert!(adopt(&mut state, &stack, &mut obs).is_empty());
        assert!(state.resources.is_empty());
    }

    #[test]
    fn an_adopted_resource_records_what_aws_reports_for_a_declared_secret_as_a_secret() {
        use crate::model::{Resource, map};
        let setting =
            |value: Value| map([("namespace", Value::from("ns")), ("name", Value::from("PW")), ("value", value)]);
        let env = Resource::new(Kind::EbEnvironment)
            .prop("application", "app")
            .prop("option_settings", Value::List(vec![setting(Value::secret("hunter2"))]));
        let stack = Stack::new("dev").resource("app_env", env);
        let mut state = State::default();
        let mut obs = Observation::default();
        // AWS reports the option setting's value in plain text.
        let props: Props = [("option_settings".to_string(), Value::List(vec![setting(Value::from("hunter2"))]))].into();
        obs.adoptable.insert("app_env".into(), Observed { id: "e-1".into(), props, outputs: Props::new() });
        assert_eq!(adopt(&mut state, &stack, &mut obs), ["app_env"]);
        assert_eq!(
            state.resources["app_env"].props["option_settings"],
            Value::List(vec![setting(Value::secret("hunter2"))])
        );
    }
}
