//! The planner: a pure, synchronous function from (desired stack, recorded state,
//! refreshed observation) to a typed [`Plan`]. No I/O, no async, deterministic.
//!
//! It also owns the operator's controls over a plan ([`Request`], `select.rs`):
//! protection (a step that would delete or replace a protected resource is
//! kept in the plan, marked, and [`Plan::refusal`] says why it cannot run),
//! `--target` (a partial plan), `--replace`, `--exclude-protected`, and the
//! refresh-only plan.

pub mod cost;
mod diff;
pub mod graph;
mod saved;
mod select;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Kind, Props, Value};

pub use diff::{PlanError, Refreshed, mark_secrets, plan, plan_with, refresh_only};
pub use graph::{Op, OpKind, operations};
pub use saved::{from_saved, to_saved};
pub use select::{Refusal, Request, check_request};

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
    /// What the plan knows of an `after` that is not all known: the value
    /// with each reference still unknown inside a string marked in place
    /// ([`Value::resolve_marked`]), for people to read; `after` stays unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<Value>,
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
    /// `--replace`: replaced though nothing forces it.
    ReplaceRequested,
    /// A property keeps the named resource in use, and that resource is
    /// deleted before its replacement exists: this one cannot point at
    /// nothing in the meantime, so it is replaced too, after it.
    DependencyReplacedFirst(String),
    /// The old resource of a replacement that created the new one first,
    /// not yet deleted (the apply stopped, or its delete failed).
    Deposed,
}

/// The order of a replacement's two halves, chosen by the planner from the
/// kind's naming rules ([`crate::model::schema::Replacement`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplaceOrder {
    /// The new resource is created, what depends on it moves to it, and then
    /// the old one is deleted.
    CreateFirst,
    /// What depends on the old resource lets go of it (or is deleted), the old
    /// one is deleted, and then the new one is created.
    DeleteFirst,
}

impl ReplaceOrder {
    pub fn words(self) -> &'static str {
        match self {
            ReplaceOrder::CreateFirst => "create first",
            ReplaceOrder::DeleteFirst => "delete first",
        }
    }
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
    /// Protected: no plan may delete or replace it. Declared `protect`, or
    /// else what state records; what state records once this plan is applied.
    #[serde(default, skip_serializing_if = "is_false")]
    pub protected: bool,
    /// This plan sets or lifts the protection state records (no AWS call).
    #[serde(default, skip_serializing_if = "is_false")]
    pub protection_changed: bool,
    /// `--replace` named it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub replace_requested: bool,
    /// For a replacement: which half comes first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<ReplaceOrder>,
    /// Found in AWS by its ownership tags (stack, name and this state's
    /// lineage) though state does not record it, under this id: an earlier
    /// run made it. Applying records it in state, then makes the step's change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted: Option<String>,
    /// Another state's resource carries this one's stack and name tags (see
    /// [`Plan::foreign`]): the create gives it a name of its own, with a
    /// suffix, where it would otherwise take the same generated name.
    #[serde(default, skip_serializing_if = "is_false")]
    pub name_taken: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Step {
    /// The step deletes the resource, and with it data nothing else keeps.
    pub fn deletes_data(&self) -> bool {
        matches!(self.action, Action::Delete | Action::Replace) && self.kind.schema().holds_data
    }

    /// The step would delete or replace a protected resource: the plan cannot run.
    pub fn refused(&self) -> bool {
        self.protected && matches!(self.action, Action::Delete | Action::Replace)
    }

    /// Applying the step changes something: in AWS, the recorded protection,
    /// or what state records (an adoption).
    pub fn changes_anything(&self) -> bool {
        self.action != Action::NoOp || self.protection_changed || self.adopted.is_some()
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
    /// ([`cost::delta`]), never by the planner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::Delta>,
    /// `--target`: a partial plan of these resources and what they need (for
    /// a destroy, what depends on them); empty for a plan of the whole stack.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targeted: Vec<String>,
    /// Resources with changes that a partial plan leaves out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
    /// Kept by `destroy --exclude-protected`: the protected resources and
    /// what they depend on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
    /// `plan --refresh-only`: no steps; the drift `infra refresh` would accept.
    #[serde(default, skip_serializing_if = "is_false")]
    pub refresh_only: bool,
    /// Resources whose outputs AWS reports anew (refresh-only plans).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs_renewed: Vec<String>,
    /// Resources tagged for this stack by another state (another lineage, or
    /// none): never adopted, never deleted, only reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign: Vec<Foreign>,
}

/// A resource in AWS that carries this stack's and a resource's name tags but
/// not this state's lineage: another project's stack of the same name (or a
/// resource made before lineage tags, which `infra import` takes over).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Foreign {
    /// The logical name its `infra:name` tag gives.
    pub name: String,
    pub kind: Kind,
    /// Its cloud id.
    pub id: String,
    /// The lineage it is tagged with; `None` when it has no lineage tag.
    pub lineage: Option<String>,
}

impl Foreign {
    /// The sentence every renderer says it with.
    pub fn words(&self) -> String {
        let by = match &self.lineage {
            Some(lineage) => format!("by another state, lineage {lineage}"),
            None => "without a lineage (by another state, or before lineage tags)".to_string(),
        };
        format!(
            "{} {} is tagged for this stack as `{}` {by}; it is not adopted (use `infra import {} {}` if it is yours)",
            self.kind, self.id, self.name, self.name, self.id
        )
    }
}

/// Counts of steps by action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
    /// Protections set or lifted (no AWS call).
    #[serde(skip_serializing_if = "is_zero")]
    pub protection: usize,
    /// Resources found by their tags that applying records in state.
    #[serde(skip_serializing_if = "is_zero")]
    pub adopt: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Plan {
    /// A plan of no steps for `stack`, computed from the state at `serial` and `lineage`.
    pub fn new(stack: impl Into<String>, serial: u64, lineage: Option<String>) -> Plan {
        Plan {
            stack: stack.into(),
            steps: Vec::new(),
            drift: Vec::new(),
            outputs: BTreeMap::new(),
            serial,
            lineage,
            cost: None,
            targeted: Vec::new(),
            left_out: Vec::new(),
            kept: Vec::new(),
            refresh_only: false,
            outputs_renewed: Vec::new(),
            foreign: Vec::new(),
        }
    }

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
            s.protection += usize::from(step.protection_changed);
            s.adopt += usize::from(step.adopted.is_some());
        }
        s
    }

    /// Whether applying would change anything (for a refresh-only plan:
    /// whether refresh would accept anything).
    pub fn has_changes(&self) -> bool {
        if self.refresh_only {
            return !self.drift.is_empty() || !self.outputs_renewed.is_empty();
        }
        self.steps.iter().any(Step::changes_anything)
    }

    /// Why the plan cannot run: the steps that would delete or replace a
    /// protected resource. `None` when it can.
    pub fn refusal(&self) -> Option<Refusal> {
        Refusal::of(self)
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
