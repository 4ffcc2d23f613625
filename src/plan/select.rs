//! The operator's controls over a plan: which resources it acts on
//! (`--target`), which it replaces though nothing forces it (`--replace`),
//! which a destroy keeps (`--exclude-protected`), and the refusal of any step
//! that would delete or replace a protected resource. Pure, like the planner.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{Action, Plan, PlanError, Reason, Step};
use crate::model::{Kind, Stack};
use crate::state::State;

/// What the operator asked of a plan beyond the stack file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// `--target`: only these resources and what they need (for a destroy,
    /// what depends on them). Empty: the whole stack.
    pub targets: Vec<String>,
    /// `--replace`: replace these though nothing forces it.
    pub replace: Vec<String>,
    /// The plan is a destroy: the stack declares nothing and every recorded
    /// resource is deleted.
    pub destroy: bool,
    /// `destroy --exclude-protected`: keep the protected resources, and what
    /// they depend on, instead of refusing the destroy.
    pub exclude_protected: bool,
}

/// Checks the names a request gives against the stack and its state, before
/// anything is read from AWS: a target must be declared or recorded (for a
/// destroy, recorded), and a resource to replace declared and recorded.
pub fn check_request(stack: &Stack, prior: &State, request: &Request) -> Result<(), PlanError> {
    let known: BTreeSet<&str> = if request.destroy {
        prior.resources.keys().map(String::as_str).collect()
    } else {
        stack.resources.keys().chain(prior.resources.keys()).map(String::as_str).collect()
    };
    let list = |names: &BTreeSet<&str>| names.iter().copied().collect::<Vec<_>>().join(", ");
    for name in &request.targets {
        if !known.contains(name.as_str()) {
            let whose = if request.destroy { "state of stack" } else { "stack" };
            let message = if known.is_empty() {
                format!("the {whose} `{}` has no resources", stack.name)
            } else {
                format!("the {whose} `{}` has no resource `{name}` (it has: {})", stack.name, list(&known))
            };
            return Err(PlanError::Request { option: "--target", name: name.clone(), message });
        }
    }
    for name in &request.replace {
        let message = if !stack.resources.contains_key(name) {
            let declared: BTreeSet<&str> = stack.resources.keys().map(String::as_str).collect();
            format!("the stack `{}` declares no resource `{name}` (it declares: {})", stack.name, list(&declared))
        } else if !prior.resources.contains_key(name) {
            format!("`{name}` does not exist yet, so there is nothing to replace; `infra apply` creates it")
        } else {
            continue;
        };
        return Err(PlanError::Request { option: "--replace", name: name.clone(), message });
    }
    Ok(())
}

/// Narrows a computed plan to what `request` asks: the targets' closure, and
/// for a destroy with `exclude_protected`, the protected resources kept.
pub(super) fn select(plan: &mut Plan, request: &Request) {
    if !request.targets.is_empty() {
        let chosen: BTreeSet<String> = closure(&plan.steps, &request.targets).into_iter().map(str::to_string).collect();
        let (kept, left): (Vec<Step>, Vec<Step>) =
            std::mem::take(&mut plan.steps).into_iter().partition(|s| chosen.contains(s.name.as_str()));
        plan.steps = kept;
        plan.left_out = left.iter().filter(|s| s.changes_anything()).map(|s| s.name.clone()).collect();
        plan.targeted = request.targets.clone();
        plan.targeted.sort();
        plan.targeted.dedup();
    }
    if request.destroy && request.exclude_protected {
        keep_protected(plan);
    }
}

/// The targets and, transitively, what each needs: a resource being created,
/// updated or replaced needs its dependencies; one being deleted needs its
/// dependents deleted first.
fn closure<'a>(steps: &'a [Step], targets: &'a [String]) -> BTreeSet<&'a str> {
    let by_name: BTreeMap<&str, &Step> = steps.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut chosen: BTreeSet<&str> = BTreeSet::new();
    let mut todo: Vec<&str> = targets.iter().map(String::as_str).collect();
    while let Some(name) = todo.pop() {
        let Some(step) = by_name.get(name) else { continue };
        if !chosen.insert(step.name.as_str()) {
            continue;
        }
        if step.action == Action::Delete {
            todo.extend(
                steps
                    .iter()
                    .filter(|s| s.action == Action::Delete && s.depends_on.iter().any(|d| d == name))
                    .map(|s| s.name.as_str()),
            );
        } else {
            todo.extend(step.depends_on.iter().map(String::as_str));
        }
    }
    chosen
}

/// Turns a destroy's deletions of protected resources, and of everything
/// they depend on (deleting a dependency would break what is kept), into
/// no-ops, and records them as kept.
fn keep_protected(plan: &mut Plan) {
    let by_name: BTreeMap<String, Vec<String>> =
        plan.steps.iter().map(|s| (s.name.clone(), s.depends_on.clone())).collect();
    let mut kept: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = plan.steps.iter().filter(|s| s.refused()).map(|s| s.name.clone()).collect();
    while let Some(name) = todo.pop() {
        if let Some(deps) = by_name.get(&name)
            && kept.insert(name)
        {
            todo.extend(deps.iter().cloned());
        }
    }
    for step in plan.steps.iter_mut().filter(|s| kept.contains(&s.name)) {
        step.action = Action::NoOp;
        step.reason = None;
    }
    plan.kept = kept.into_iter().collect();
}

/// Why a plan cannot run: the steps that would delete or replace a protected
/// resource. Nothing has been changed when it is reported.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct Refusal {
    /// What the plan would do to each: (name, kind, id, why).
    pub steps: Vec<(String, Kind, Option<String>, String)>,
    /// The plan is a destroy (`--exclude-protected` would keep them).
    pub destroy: bool,
}

impl Refusal {
    /// The refusal of `plan`, if any step deletes or replaces a protected resource.
    pub fn of(plan: &Plan) -> Option<Refusal> {
        let steps: Vec<_> = plan
            .steps
            .iter()
            .filter(|s| s.refused())
            .map(|s| (s.name.clone(), s.kind, s.id.clone(), what_it_would_do(s)))
            .collect();
        let destroy = plan.steps.iter().all(|s| s.action == Action::Delete && s.reason.is_none());
        (!steps.is_empty()).then_some(Refusal { steps, destroy })
    }
}

/// "destroy would delete it", "--replace would replace it", ...
fn what_it_would_do(step: &Step) -> String {
    let data = if step.deletes_data() { ", and the data it holds" } else { "" };
    match (&step.action, &step.reason) {
        (Action::Delete, Some(Reason::RemovedFromStack)) => {
            format!("its block left the stack file, so this plan would delete it{data}")
        }
        (Action::Delete, _) => format!("destroy would delete it{data}"),
        (_, Some(Reason::ForcedBy(props))) => {
            format!("{} cannot change in place, so this plan would replace it{data}", props.join(", "))
        }
        (_, _) if step.replace_requested => format!("--replace would replace it{data}"),
        _ => format!("this plan would replace it{data}"),
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |(name, kind, id, _): &(String, Kind, Option<String>, String)| match id {
            Some(id) => format!("`{name}` ({kind} {id})"),
            None => format!("`{name}` ({kind})"),
        };
        match self.steps.as_slice() {
            [one] => writeln!(f, "{} is protected: {}. Nothing was changed.", shown(one), one.3)?,
            many => {
                writeln!(f, "{} protected resources would be deleted or replaced. Nothing was changed.", many.len())?;
                for step in many {
                    writeln!(f, "  - {}: {}", shown(step), step.3)?;
                }
            }
        }
        let removed = self.steps.iter().any(|s| s.3.starts_with("its block left"));
        write!(
            f,
            "  To lift the protection: set `protect = false` on the resource in the stack file and run `infra apply`{}",
            if removed {
                " (put a removed resource's block back to do so, or `infra state rm` it to keep it in AWS unmanaged)"
            } else {
                ""
            }
        )?;
        if self.destroy {
            write!(f, ", then destroy.\n  To delete everything else and keep it: `infra destroy --exclude-protected`.")
        } else {
            write!(f, ", then plan again.")
        }
    }
}
