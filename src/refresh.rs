//! Refresh: what AWS holds for a stack, read in one batched call per kind, all
//! kinds at once, so the cost of a no-change plan grows with the number of
//! kinds, not of resources.
//!
//! Refresh also looks for resources that carry the stack's ownership tags but
//! that state does not record (an interrupted run created them): those with a
//! declared name are adopted rather than created twice.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;

use crate::model::{Kind, Observed, Stack};
use crate::plan::Refreshed;
use crate::provider::{ProviderError, Providers};
use crate::state::{Recorded, State};

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
}

/// Reads every recorded resource of the stack, and searches by tag for declared
/// resources missing from state (or for everything, with `search_all`).
pub async fn refresh(
    providers: &Providers,
    stack: &Stack,
    state: &State,
    search_all: bool,
) -> Result<Observation, RefreshError> {
    let mut by_kind: BTreeMap<Kind, Vec<(&str, &str)>> = BTreeMap::new();
    for (name, rec) in &state.resources {
        by_kind.entry(rec.kind).or_default().push((name, &rec.id));
    }
    // Kinds with declared resources missing from state (or pending), searched by tag.
    let mut missing: BTreeSet<Kind> = stack
        .resources
        .iter()
        .filter(|(name, _)| !state.resources.contains_key(*name))
        .map(|(_, r)| r.kind)
        .collect();
    missing.extend(state.pending.iter().map(|p| p.kind));
    if search_all {
        missing.extend(Kind::ALL.iter().copied());
    }

    let reads = by_kind.iter().map(|(kind, entries)| async move {
        let ids: Vec<String> = entries.iter().map(|(_, id)| id.to_string()).collect();
        let found = providers.get(*kind).read_many(&ids).await.map_err(|source| RefreshError { kind: *kind, source })?;
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
    let (reads, searches) = tokio::join!(join_all(reads), join_all(searches));

    let mut obs = Observation::default();
    for read in reads {
        let (_, entries, mut found) = read?;
        for (name, id) in entries {
            obs.resources.insert(name.to_string(), found.remove(*id));
        }
    }
    for search in searches {
        let (kind, found) = search?;
        for (name, o) in found {
            if state.resources.get(&name).is_some_and(|r| r.id == o.id) {
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
    Ok(obs)
}

/// Records adoptable resources in `state` as if they had been created by it, so
/// the planner compares them instead of creating duplicates, and resolves the
/// pending operations an interrupted run left. Adopted resources' recorded
/// properties are what AWS reports.
pub fn adopt(state: &mut State, stack: &Stack, obs: &mut Observation) -> Vec<String> {
    let mut adopted = Vec::new();
    for (name, o) in std::mem::take(&mut obs.adoptable) {
        let Some(decl) = stack.resources.get(&name) else { continue };
        let schema = decl.kind.schema();
        let mut props = schema.canonical(&o.props);
        // Record only what the stack manages (AWS reports every option setting).
        if let Some(trim) = schema.trim_observed {
            trim(&schema.normalized(&decl.props), &mut props);
        }
        state.resources.insert(
            name.clone(),
            Recorded {
                kind: decl.kind,
                id: o.id.clone(),
                props,
                outputs: o.outputs.clone(),
                depends_on: decl.dependencies().into_iter().map(str::to_string).collect(),
            },
        );
        state.pending.retain(|p| p.resource != name);
        obs.resources.insert(name.clone(), Some(o));
        adopted.push(name);
    }
    // Every pending operation is now resolved: a pending create was searched for
    // by its tags (adopted above, or proved absent), and a pending update or
    // delete acted on a recorded resource, which refresh has just read.
    state.pending.clear();
    adopted
}
