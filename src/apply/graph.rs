//! From plan steps to the operations the executor runs, and their order.

use std::collections::BTreeMap;
use std::fmt;

use crate::plan::{Action, Plan};
use crate::state::State;

/// A mutating operation on one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpKind {
    Create,
    Update,
    Delete,
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpKind::Create => "create",
            OpKind::Update => "update",
            OpKind::Delete => "delete",
        })
    }
}

/// One operation and its place in the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub resource: String,
    pub kind: OpKind,
    /// Operations that must finish first (indexes into the list).
    pub after: Vec<usize>,
    /// Operations waiting for this one.
    pub before: Vec<usize>,
    /// Part of a replacement.
    pub replace: bool,
}

/// The operations of a plan with their ordering:
/// - a create or update runs after the creates and updates of what it depends on;
/// - a delete runs after the deletes and updates of what depended on it (as state
///   records), so nothing is deleted while still in use;
/// - a replacement's create runs after its delete, or before it for kinds that
///   create before deleting.
pub fn operations(plan: &Plan, state: &State) -> Vec<Op> {
    let mut ops: Vec<Op> = Vec::new();
    let mut index: BTreeMap<(&str, OpKind), usize> = BTreeMap::new();
    let push = |ops: &mut Vec<Op>, resource: &str, kind: OpKind, replace: bool| {
        ops.push(Op { resource: resource.to_string(), kind, after: vec![], before: vec![], replace });
        ops.len() - 1
    };
    for step in &plan.steps {
        let kinds: &[OpKind] = match step.action {
            Action::NoOp => &[],
            Action::Create => &[OpKind::Create],
            Action::Update => &[OpKind::Update],
            Action::Delete => &[OpKind::Delete],
            Action::Replace => &[OpKind::Delete, OpKind::Create],
        };
        for &k in kinds {
            let i = push(&mut ops, &step.name, k, step.action == Action::Replace);
            index.insert((step.name.as_str(), k), i);
        }
    }

    let mut edges: Vec<(usize, usize)> = Vec::new();
    for step in &plan.steps {
        let name = step.name.as_str();
        for dep in &step.depends_on {
            for k in [OpKind::Create, OpKind::Update] {
                if let (Some(&d), Some(&me)) = (index.get(&(dep.as_str(), k)), index.get(&(name, OpKind::Create))) {
                    edges.push((d, me));
                }
                if let (Some(&d), Some(&me)) = (index.get(&(dep.as_str(), k)), index.get(&(name, OpKind::Update))) {
                    edges.push((d, me));
                }
            }
        }
        if let (Some(&del), Some(&create)) = (index.get(&(name, OpKind::Delete)), index.get(&(name, OpKind::Create))) {
            if step.kind.schema().create_before_delete {
                edges.push((create, del));
            } else {
                edges.push((del, create));
            }
        }
    }
    // Deletes wait for whatever depended on the resource, by what state recorded.
    for (user, rec) in &state.resources {
        for used in &rec.depends_on {
            let Some(&del) = index.get(&(used.as_str(), OpKind::Delete)) else { continue };
            for k in [OpKind::Delete, OpKind::Update] {
                if let Some(&first) = index.get(&(user.as_str(), k)) {
                    edges.push((first, del));
                }
            }
        }
    }
    edges.sort();
    edges.dedup();
    for (from, to) in edges {
        ops[to].after.push(from);
        ops[from].before.push(to);
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Props};
    use crate::plan::Step;
    use crate::state::Recorded;

    fn step(name: &str, action: Action, deps: &[&str]) -> Step {
        Step {
            name: name.into(),
            kind: Kind::Volume,
            action,
            id: Some(format!("id-{name}")),
            reason: None,
            changes: vec![],
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            desired: Props::new(),
            prior: None,
            protected: false,
            protection_changed: false,
            replace_requested: false,
        }
    }

    fn recorded(deps: &[&str]) -> Recorded {
        Recorded {
            kind: Kind::Volume,
            id: "x".into(),
            props: Props::new(),
            outputs: Props::new(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            protect: false,
        }
    }

    fn plan(steps: Vec<Step>) -> Plan {
        Plan { steps, ..Plan::new("t", 0, None) }
    }

    fn names(ops: &[Op], list: &[usize]) -> Vec<String> {
        list.iter().map(|&i| format!("{} {}", ops[i].kind, ops[i].resource)).collect()
    }

    #[test]
    fn a_create_waits_for_the_creates_of_its_dependencies() {
        let ops = operations(
            &plan(vec![step("sg", Action::Create, &[]), step("host", Action::Create, &["sg"])]),
            &State::default(),
        );
        assert_eq!(names(&ops, &ops[1].after), vec!["create sg"]);
        assert!(ops[0].after.is_empty());
    }

    #[test]
    fn a_replacement_deletes_dependents_first_and_recreates_them_after() {
        let mut state = State::default();
        state.resources.insert("host".into(), recorded(&[]));
        state.resources.insert("attach".into(), recorded(&["host"]));
        let p = plan(vec![step("host", Action::Replace, &[]), step("attach", Action::Replace, &["host"])]);
        let ops = operations(&p, &state);
        let find = |r: &str, k: OpKind| ops.iter().position(|o| o.resource == r && o.kind == k).unwrap();
        let (host_del, host_new) = (find("host", OpKind::Delete), find("host", OpKind::Create));
        let (att_del, att_new) = (find("attach", OpKind::Delete), find("attach", OpKind::Create));
        assert!(ops[host_del].after.contains(&att_del), "the attachment goes before the host");
        assert!(ops[host_new].after.contains(&host_del));
        assert!(ops[att_new].after.contains(&host_new), "the new attachment waits for the new host");
        assert!(ops[att_new].after.contains(&att_del));
    }

    #[test]
    fn destroy_order_follows_recorded_dependencies_in_reverse() {
        let mut state = State::default();
        state.resources.insert("sg".into(), recorded(&[]));
        state.resources.insert("host".into(), recorded(&["sg"]));
        let ops =
            operations(&plan(vec![step("host", Action::Delete, &["sg"]), step("sg", Action::Delete, &[])]), &state);
        assert_eq!(names(&ops, &ops[1].after), vec!["delete host"]);
    }
}
