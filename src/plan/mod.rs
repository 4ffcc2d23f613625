//! The planner: a pure, synchronous function from (desired stack, recorded state,
//! refreshed observation) to a typed [`Plan`]. No I/O, no async, deterministic.

mod diff;
mod saved;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Kind, Props, Value};

pub use diff::{PlanError, Refreshed, mark_secrets, plan};
pub use saved::{from_saved, to_saved};

/// What a step does to a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    /// Delete, then create (a property that cannot change in place changed).
    Replace,
    Delete,
}

impl Action {
    /// The symbol shown before the resource in a rendered plan.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Action::NoOp => "unchanged",
            Action::Create => "create",
            Action::Update => "update in place",
            Action::Replace => "replace",
            Action::Delete => "delete",
        }
    }
}

/// One property's change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub prop: String,
    /// `None`: not set before (or the resource is new).
    pub before: Option<Value>,
    /// `None`: removed (or the resource is deleted). May be `Unknown`.
    pub after: Option<Value>,
    /// This change alone would force a replacement.
    pub forces_replace: bool,
    /// The property is secret: renderers show `[secret]`.
    pub secret: bool,
    /// The change puts back what the stack declares after a change made
    /// outside infra (drift), rather than carrying out an edit of the stack file.
    #[serde(default)]
    pub reverts_drift: bool,
}

/// Why a step exists beyond its property changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Not in state: new in the stack file.
    New,
    /// In state, but AWS no longer has it.
    DeletedOutOfBand,
    /// In state, but no longer in the stack file.
    RemovedFromStack,
    /// Properties that cannot change in place changed.
    ForcedBy(Vec<String>),
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub kind: Kind,
    pub action: Action,
    /// The cloud id the step acts on (none for a create).
    pub id: Option<String>,
    pub reason: Option<Reason>,
    pub changes: Vec<Change>,
    /// Resources this one depends on (creation order; reversed for deletion).
    pub depends_on: Vec<String>,
    /// The desired properties, normalised, with references still unresolved:
    /// the executor resolves them from the outputs of the steps before.
    pub desired: Props,
    /// The properties as recorded in state (for update and delete).
    pub prior: Option<Props>,
}

impl Step {
    /// The step deletes the resource, and with it data nothing else keeps.
    pub fn deletes_data(&self) -> bool {
        matches!(self.action, Action::Delete | Action::Replace) && self.kind.schema().holds_data
    }
}

/// A property that AWS holds differently from what state recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub name: String,
    pub kind: Kind,
    pub changes: Vec<Change>,
    /// AWS no longer has the resource at all.
    pub deleted: bool,
}

/// A whole plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub stack: String,
    /// Every resource, in dependency order (deletions last, dependents first).
    pub steps: Vec<Step>,
    pub drift: Vec<Drift>,
    /// The stack's outputs as far as they are known now.
    pub outputs: BTreeMap<String, Value>,
    /// The state this plan was computed from.
    pub serial: u64,
    pub lineage: Option<String>,
    /// What the plan does to the monthly bill: priced by the caller
    /// ([`crate::cost::delta`]), never by the planner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::Delta>,
}

/// Counts of steps by action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for step in &self.steps {
            match step.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::NoOp => s.unchanged += 1,
            }
        }
        s
    }

    /// Whether applying would change anything.
    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|s| s.action != Action::NoOp)
    }

    /// Whether any value in the plan is a secret.
    pub fn has_secrets(&self) -> bool {
        let changes = |cs: &'_ [Change]| {
            cs.iter().flat_map(|c| c.before.iter().chain(c.after.iter())).any(Value::contains_secret)
        };
        self.steps.iter().any(|s| {
            s.desired.values().chain(s.prior.iter().flat_map(|p| p.values())).any(Value::contains_secret)
                || changes(&s.changes)
        }) || self.drift.iter().any(|d| changes(&d.changes))
            || self.outputs.values().any(Value::contains_secret)
    }

    /// Replaces the content of every secret in the plan with what `f` makes of it.
    pub fn try_map_secrets<E>(&mut self, f: &mut dyn FnMut(&Value) -> Result<Value, E>) -> Result<(), E> {
        let changes = |changes: &mut Vec<Change>, f: &mut dyn FnMut(&Value) -> Result<Value, E>| {
            changes
                .iter_mut()
                .flat_map(|c| c.before.iter_mut().chain(c.after.iter_mut()))
                .try_for_each(|v| v.try_map_secrets(f))
        };
        for step in &mut self.steps {
            step.desired
                .values_mut()
                .chain(step.prior.iter_mut().flat_map(|p| p.values_mut()))
                .try_for_each(|v| v.try_map_secrets(f))?;
            changes(&mut step.changes, f)?;
        }
        for d in &mut self.drift {
            changes(&mut d.changes, f)?;
        }
        self.outputs.values_mut().try_for_each(|v| v.try_map_secrets(f))
    }
}
