//! From plan steps to the operations the executor runs, and their order:
//! the graph the planner checks before any plan is shown, and the executor
//! walks. Pure, like the planner.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{Action, Plan, ReplaceOrder};
use crate::state::{State, deposed_of};

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
    /// A create while another resource holds the name it would be
    /// generated: the create half of a replacement that runs while the old
    /// resource still exists ([`ReplaceOrder::CreateFirst`]), or a create
    /// beside another state's resource ([`super::Step::name_taken`]).
    pub coexists: bool,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.resource)
    }
}

/// The operations of a plan with their ordering:
/// - a create or update runs after the creates and updates of what it depends on;
/// - a delete runs after the deletes and updates of what depended on it (as state
///   records), so nothing is deleted while still in use; but not after the
///   update of a dependent that needs the resource's replacement, when the
///   replacement deletes first (the planner replaced the dependents that
///   cannot point at nothing meanwhile);
/// - a replacement's create runs before or after its delete, as the plan's
///   [`ReplaceOrder`] says.
pub fn operations(plan: &Plan, state: &State) -> Vec<Op> {
    let mut ops: Vec<Op> = Vec::new();
    let mut index: BTreeMap<(&str, OpKind), usize> = BTreeMap::new();
    for step in &plan.steps {
        let kinds: &[OpKind] = match step.action {
            Action::NoOp => &[],
            Action::Create => &[OpKind::Create],
            Action::Update => &[OpKind::Update],
            Action::Delete => &[OpKind::Delete],
            Action::Replace => &[OpKind::Delete, OpKind::Create],
        };
        let replace = step.action == Action::Replace;
        let create_first = replace && step.order != Some(ReplaceOrder::DeleteFirst);
        for &kind in kinds {
            ops.push(Op {
                resource: step.name.clone(),
                kind,
                after: vec![],
                before: vec![],
                replace,
                // A create beside another state's resource of the same name
                // needs a name of its own, as a replacement's does.
                coexists: (create_first || step.name_taken) && kind == OpKind::Create,
            });
            index.insert((step.name.as_str(), kind), ops.len() - 1);
        }
    }

    let mut edges: Vec<(usize, usize)> = Vec::new();
    // The replacements that delete first, and the resources each step needs anew.
    let mut deleted_first: BTreeSet<&str> = BTreeSet::new();
    let mut needs: BTreeMap<&str, &[String]> = BTreeMap::new();
    for step in &plan.steps {
        let name = step.name.as_str();
        needs.insert(name, &step.depends_on);
        for dep in &step.depends_on {
            for k in [OpKind::Create, OpKind::Update] {
                let Some(&d) = index.get(&(dep.as_str(), k)) else { continue };
                for mine in [OpKind::Create, OpKind::Update] {
                    if let Some(&me) = index.get(&(name, mine)) {
                        edges.push((d, me));
                    }
                }
            }
        }
        if let (Some(&del), Some(&create)) = (index.get(&(name, OpKind::Delete)), index.get(&(name, OpKind::Create))) {
            if step.order == Some(ReplaceOrder::DeleteFirst) {
                deleted_first.insert(name);
                edges.push((del, create));
            } else {
                edges.push((create, del));
            }
        }
    }
    // The deletes of old resources that replacements left ([`deposed_of`]),
    // by the resource each belonged to: what used it moves to the new one first.
    let mut deposed: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for ((key, kind), &i) in &index {
        if let (Some(name), OpKind::Delete) = (deposed_of(key), kind) {
            deposed.entry(name).or_default().push(i);
        }
    }
    // Deletes wait for whatever depended on the resource, by what state recorded.
    for (user, rec) in &state.resources {
        for used in &rec.depends_on {
            for &del in deposed.get(used.as_str()).into_iter().flatten() {
                for k in [OpKind::Update, OpKind::Delete] {
                    if let Some(&first) = index.get(&(user.as_str(), k)) {
                        edges.push((first, del));
                    }
                }
            }
            let Some(&del) = index.get(&(used.as_str(), OpKind::Delete)) else { continue };
            if let Some(&first) = index.get(&(user.as_str(), OpKind::Delete)) {
                edges.push((first, del));
            }
            let needs_new = needs.get(user.as_str()).is_some_and(|deps| deps.iter().any(|d| d == used));
            if let Some(&first) = index.get(&(user.as_str(), OpKind::Update))
                && !(deleted_first.contains(used.as_str()) && needs_new)
            {
                edges.push((first, del));
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

/// Operations of a plan that wait for each other in a circle: such a plan
/// can never run, so the planner refuses it rather than show it.
#[derive(Debug, thiserror::Error)]
#[error(
    "the plan cannot run: its operations wait for each other in a circle:\n{}\n\
     hint: give the resources generated names (declare no `name`), so that a replacement can be \
     created before the old one is deleted, or replace what depends on it too (`--replace`)",
    self.describe()
)]
pub struct Cycle {
    /// Each operation, and the one it waits for (the last waits for the first).
    pub ops: Vec<String>,
}

impl Cycle {
    fn describe(&self) -> String {
        let n = self.ops.len();
        (0..n).map(|i| format!("  {} waits for {}", self.ops[i], self.ops[(i + 1) % n])).collect::<Vec<_>>().join("\n")
    }
}

/// Checks that the plan's operations can run in some order.
pub fn check(plan: &Plan, state: &State) -> Result<(), Cycle> {
    match find_cycle(&operations(plan, state)) {
        Some(cycle) => Err(Cycle { ops: cycle }),
        None => Ok(()),
    }
}

/// A circle of operations that wait for each other, each followed by the one
/// it waits for; `None` when every operation can run.
pub fn find_cycle(ops: &[Op]) -> Option<Vec<String>> {
    // Kahn's algorithm: what never becomes ready is on a circle or after one.
    let mut waiting: Vec<usize> = ops.iter().map(|op| op.after.len()).collect();
    let mut ready: Vec<usize> = (0..ops.len()).filter(|&i| waiting[i] == 0).collect();
    while let Some(i) = ready.pop() {
        for &next in &ops[i].before {
            waiting[next] -= 1;
            if waiting[next] == 0 {
                ready.push(next);
            }
        }
    }
    let start = (0..ops.len()).find(|&i| waiting[i] > 0)?;
    // Walk back along unfinished predecessors until an operation repeats.
    let mut path = vec![start];
    loop {
        let last = *path.last()?;
        let prev = *ops[last].after.iter().find(|&&p| waiting[p] > 0)?;
        if let Some(pos) = path.iter().position(|&p| p == prev) {
            return Some(path[pos..].iter().map(|&i| ops[i].to_string()).collect());
        }
        path.push(prev);
    }
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
            order: None,
            adopted: None,
            name_taken: false,
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

    fn replace(name: &str, order: ReplaceOrder, deps: &[&str]) -> Step {
        Step { order: Some(order), ..step(name, Action::Replace, deps) }
    }

    fn find(ops: &[Op], resource: &str, kind: OpKind) -> usize {
        ops.iter().position(|o| o.resource == resource && o.kind == kind).unwrap()
    }

    #[test]
    fn a_replacement_deleted_first_deletes_dependents_first_and_recreates_them_after() {
        let mut state = State::default();
        state.resources.insert("host".into(), recorded(&[]));
        state.resources.insert("attach".into(), recorded(&["host"]));
        let p = plan(vec![
            replace("host", ReplaceOrder::DeleteFirst, &[]),
            replace("attach", ReplaceOrder::DeleteFirst, &["host"]),
        ]);
        let ops = operations(&p, &state);
        let (host_del, host_new) = (find(&ops, "host", OpKind::Delete), find(&ops, "host", OpKind::Create));
        let (att_del, att_new) = (find(&ops, "attach", OpKind::Delete), find(&ops, "attach", OpKind::Create));
        assert!(ops[host_del].after.contains(&att_del), "the attachment goes before the host");
        assert!(ops[host_new].after.contains(&host_del));
        assert!(ops[att_new].after.contains(&host_new), "the new attachment waits for the new host");
        assert!(ops[att_new].after.contains(&att_del));
        assert!(!ops[host_new].coexists && !ops[att_new].coexists);
        assert_eq!(find_cycle(&ops), None);
    }

    #[test]
    fn a_replacement_created_first_moves_its_dependents_before_the_old_one_goes() {
        let mut state = State::default();
        state.resources.insert("sg".into(), recorded(&[]));
        state.resources.insert("env".into(), recorded(&["sg"]));
        let p = plan(vec![replace("sg", ReplaceOrder::CreateFirst, &[]), step("env", Action::Update, &["sg"])]);
        let ops = operations(&p, &state);
        let (sg_del, sg_new, env) =
            (find(&ops, "sg", OpKind::Delete), find(&ops, "sg", OpKind::Create), find(&ops, "env", OpKind::Update));
        assert!(ops[sg_new].coexists, "the provider is told the old one still holds its name");
        assert_eq!(names(&ops, &ops[env].after), vec!["create sg"]);
        assert_eq!(names(&ops, &ops[sg_del].after), vec!["create sg", "update env"]);
        assert!(ops[sg_new].after.is_empty());
    }

    #[test]
    fn a_dependent_that_needs_a_replacement_deleted_first_is_updated_after_the_create_and_not_waited_for() {
        let mut state = State::default();
        state.resources.insert("env".into(), recorded(&[]));
        state.resources.insert("pipeline".into(), recorded(&["env"]));
        let p = plan(vec![replace("env", ReplaceOrder::DeleteFirst, &[]), step("pipeline", Action::Update, &["env"])]);
        let ops = operations(&p, &state);
        let (del, new, update) = (
            find(&ops, "env", OpKind::Delete),
            find(&ops, "env", OpKind::Create),
            find(&ops, "pipeline", OpKind::Update),
        );
        assert!(ops[del].after.is_empty(), "{:?}", names(&ops, &ops[del].after));
        assert_eq!(names(&ops, &ops[new].after), vec!["delete env"]);
        assert_eq!(names(&ops, &ops[update].after), vec!["create env"]);
        assert_eq!(find_cycle(&ops), None);
    }

    #[test]
    fn a_dependent_that_lets_go_of_a_deleted_resource_is_updated_before_the_delete() {
        let mut state = State::default();
        state.resources.insert("sg".into(), recorded(&[]));
        state.resources.insert("env".into(), recorded(&["sg"]));
        // The stack no longer declares sg, and env no longer refers to it.
        let p = plan(vec![step("env", Action::Update, &[]), step("sg", Action::Delete, &[])]);
        let ops = operations(&p, &state);
        assert_eq!(names(&ops, &ops[find(&ops, "sg", OpKind::Delete)].after), vec!["update env"]);
    }

    #[test]
    fn a_circle_of_operations_is_named_each_waiting_for_the_next() {
        let mut state = State::default();
        state.resources.insert("a".into(), recorded(&[]));
        state.resources.insert("b".into(), recorded(&["a"]));
        // The planner never makes this: b depends on a, which deletes first,
        // yet b creates first.
        let p =
            plan(vec![replace("a", ReplaceOrder::DeleteFirst, &[]), replace("b", ReplaceOrder::CreateFirst, &["a"])]);
        let err = check(&p, &state).unwrap_err();
        let mut circle = err.ops.clone();
        // The same circle, whichever operation it starts from.
        let start = circle.iter().position(|o| o == "create a").unwrap();
        circle.rotate_left(start);
        assert_eq!(circle, ["create a", "delete a", "delete b", "create b"]);
        let text = err.to_string();
        assert!(text.contains("create b waits for create a"), "{text}");
        assert!(text.contains("hint:"), "{text}");
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
