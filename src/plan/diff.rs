//! The diff itself: desired against recorded-and-observed, resource by resource
//! in dependency order, so a resource that will be created or replaced makes the
//! attributes others take from it unknown until apply.

use std::collections::{BTreeMap, BTreeSet};

use super::graph::{self, Cycle};
use super::select::{Request, check_request, select};
use super::{Action, Change, Drift, Plan, Reason, ReplaceOrder, Step};
use crate::model::schema::{Replacement, Schema};
use crate::model::{
    Kind, Observed, Props, Ref, Stack, TAG_LINEAGE, TAG_NAME, TAG_STACK, ValidationError, Value, topo_order,
};
use crate::state::{State, deposed_of};

/// What refresh found, by logical name: `Some` for a resource AWS has, `None`
/// for one recorded in state that AWS no longer has. Names not read are absent.
pub type Refreshed = BTreeMap<String, Option<Observed>>;

/// A stack that cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("{resource}: {message}")]
    Refused { resource: String, message: String },
    #[error("`{option} {name}`: {message}")]
    Request { option: &'static str, name: String, message: String },
    #[error(transparent)]
    Cycle(#[from] Cycle),
}

/// A resource's attributes as far as they are known at plan time: what AWS
/// reports of it, and what the plan gives it. A resource the plan creates has
/// no id or outputs yet, but the properties it declares are known.
struct Known {
    id: Option<String>,
    props: Props,
    outputs: Props,
}

/// Computes the plan of the whole stack. Pure: the same inputs always give the same plan.
pub fn plan(stack: &Stack, prior: &State, refreshed: &Refreshed) -> Result<Plan, PlanError> {
    plan_with(stack, prior, refreshed, &Request::default())
}

/// Computes the plan `request` asks for: targeted, with replacements
/// requested, or a destroy (`stack` then declares nothing). Steps that would
/// delete or replace a protected resource stay in it, marked; see
/// [`Plan::refusal`].
pub fn plan_with(stack: &Stack, prior: &State, refreshed: &Refreshed, request: &Request) -> Result<Plan, PlanError> {
    check_request(stack, prior, request)?;
    let order = stack.order()?;
    // Attributes known now, by resource; absent means "known after apply".
    let mut known: BTreeMap<&str, Known> = BTreeMap::new();
    let mut steps = Vec::new();
    let mut drift = Vec::new();
    // Resources replaced by deleting the old one first.
    let mut deleted_first: BTreeSet<&str> = BTreeSet::new();

    for name in &order {
        let res = &stack.resources[name];
        let schema = res.kind.schema();
        let declared = schema.normalize_props(with_tags(stack, prior, name, res.kind, &res.props));
        // Only references change in resolving: a declaration without any is
        // its own resolution, normalised already.
        let mut resolved = if declared.values().all(Value::is_known) {
            declared.clone()
        } else {
            let lookup = |r: &Ref| lookup(&known, r);
            schema.normalize_props(declared.iter().map(|(k, v)| (k.clone(), v.resolve(&lookup))).collect())
        };

        let recorded = prior.resources.get(name);
        if let Some(rec) = recorded
            && rec.kind != res.kind
        {
            return Err(PlanError::Refused {
                resource: name.clone(),
                message: format!(
                    "its type changed from {} to {}; give the new resource another name",
                    rec.kind, res.kind
                ),
            });
        }
        let observed = refreshed.get(name.as_str());
        let mut step = Step {
            name: name.clone(),
            kind: res.kind,
            action: Action::Create,
            id: None,
            reason: None,
            changes: Vec::new(),
            depends_on: res.dependencies().into_iter().map(str::to_string).collect(),
            desired: declared,
            prior: None,
            protected: res.protect.unwrap_or(recorded.is_some_and(|r| r.protect)),
            protection_changed: false,
            replace_requested: request.replace.iter().any(|r| r == name),
            order: None,
            adopted: None,
            name_taken: false,
        };
        step.protection_changed = recorded.is_some_and(|r| r.protect != step.protected);

        let current = match (recorded, observed) {
            (None, _) => {
                step.reason = Some(Reason::New);
                None
            }
            (Some(_), Some(None)) => {
                step.reason = Some(Reason::DeletedOutOfBand);
                drift.push(Drift { name: name.clone(), kind: res.kind, changes: Vec::new(), deleted: true });
                None
            }
            (Some(rec), obs) => {
                let obs = obs.and_then(Option::as_ref);
                let live = obs.map(|o| {
                    let mut live = schema.canonical(&o.props);
                    if let Some(trim) = schema.trim_observed {
                        trim(&rec.props, &mut live);
                    }
                    mark_secrets(&rec.props, &mut live);
                    schema.canonicalize(live)
                });
                let mut current = rec.props.clone();
                if let Some(live) = &live {
                    let changes = diff_props(schema, &rec.props, live, &res.ignore_changes, true);
                    if !changes.is_empty() {
                        drift.push(Drift { name: name.clone(), kind: res.kind, changes, deleted: false });
                    }
                    current.extend(live.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                let outputs = match obs {
                    Some(o) => schema.merged_outputs(&rec.outputs, &o.outputs),
                    None => rec.outputs.clone(),
                };
                Some((rec.id.clone(), current, outputs))
            }
        };

        match current {
            None => {
                step.changes = resolved.iter().map(|(k, v)| change(schema, k, None, Some(v.clone()), false)).collect();
            }
            Some((id, current, outputs)) => {
                // As declared, for a replacement, which makes a new resource.
                let declared = (!res.ignore_changes.is_empty()).then(|| (resolved.clone(), step.desired.clone()));
                // Ignored properties keep what AWS has, unless they refer to a resource
                // this plan replaces (known only after apply), or one whose old copy an
                // interrupted replacement left for this plan to delete: the old one is
                // about to go, so they follow the new one.
                let ignored: Vec<String> = res
                    .ignore_changes
                    .iter()
                    .filter(|prop| resolved.get(prop.as_str()).is_none_or(Value::is_known))
                    .filter(|prop| !holds_deposed(schema, prior, &known, &res.props, prop, &current))
                    .cloned()
                    .collect();
                for prop in &ignored {
                    match current.get(prop) {
                        Some(v) => {
                            resolved.insert(prop.clone(), v.clone());
                            step.desired.insert(prop.clone(), v.clone());
                        }
                        None => {
                            resolved.remove(prop);
                            step.desired.remove(prop);
                        }
                    }
                }
                let mut changes = diff_props(schema, &current, &resolved, &ignored, false);
                if let Some(d) = drift.iter().find(|d| &d.name == name) {
                    for c in &mut changes {
                        c.reverts_drift = d.changes.iter().any(|dc| dc.prop == c.prop && dc.before == c.after);
                    }
                }
                let forced: Vec<String> = changes.iter().filter(|c| c.forces_replace).map(|c| c.prop.clone()).collect();
                step.action = if !forced.is_empty() {
                    step.reason = Some(Reason::ForcedBy(forced));
                    Action::Replace
                } else if step.replace_requested {
                    step.reason = Some(Reason::ReplaceRequested);
                    Action::Replace
                } else if !changes.is_empty() {
                    if let Some(check) = schema.check_update {
                        check(&current, &resolved)
                            .map_err(|message| PlanError::Refused { resource: name.clone(), message })?;
                    }
                    Action::Update
                } else {
                    Action::NoOp
                };
                step.changes = changes;
                step.id = Some(id.clone());
                step.prior = Some(current.clone());
                if step.action == Action::Update
                    && let Some(dep) = kept_in_use(schema, &step, &deleted_first)
                {
                    step.action = Action::Replace;
                    step.reason = Some(Reason::DependencyReplacedFirst(dep));
                }
                if step.action == Action::Replace
                    && let Some((declared, declared_desired)) = declared
                {
                    // ignore_changes keeps what AWS has only in place: a replacement is
                    // made as declared (as Terraform's lifecycle ignore_changes does).
                    resolved = declared;
                    step.desired = declared_desired;
                    step.changes = diff_props(schema, &current, &resolved, &[], false);
                }
                if step.action == Action::Replace {
                    let order = replace_order(schema, &step, &deleted_first);
                    if order == ReplaceOrder::DeleteFirst {
                        deleted_first.insert(name.as_str());
                    }
                    step.order = Some(order);
                }
                if matches!(step.action, Action::NoOp | Action::Update) {
                    let mut outputs = outputs;
                    let mut props = current;
                    if step.action == Action::Update {
                        if (schema.update_renews_outputs)(&props, &resolved) {
                            outputs.retain(|k, _| !schema.volatile_outputs.contains(&k.as_str()));
                        }
                        // What the update sets, where the plan knows it; an output
                        // that mirrors a changed property is the new value too.
                        for c in &step.changes {
                            outputs.remove(&c.prop);
                            match resolved.get(&c.prop).filter(|v| v.is_known()) {
                                Some(v) => props.insert(c.prop.clone(), v.clone()),
                                None => props.remove(&c.prop),
                            };
                        }
                    }
                    known.insert(name, Known { id: Some(id), props, outputs });
                }
            }
        }
        // An unknown made of known text and unknown references shows the text.
        for c in step.changes.iter_mut().filter(|c| c.after.as_ref().is_some_and(|v| !v.is_known())) {
            let Some(value) = res.props.get(&c.prop) else { continue };
            let marked = value.resolve_marked(&|r: &Ref| self::lookup(&known, r));
            let marked = schema.normalized(&Props::from([(c.prop.clone(), marked)])).remove(&c.prop);
            c.preview = marked.filter(|m| Some(m) != c.after.as_ref());
        }
        if step.action == Action::Create {
            // A new resource: its id and outputs are AWS's to give, what it
            // declares is known now. (A replacement stays unknown whole: it is
            // another resource, which what holds the old one must follow, and a
            // create beside another resource may take another name or label.)
            let reported = |k: &str| step.name_taken && schema.outputs.contains(&k);
            let props = resolved.into_iter().filter(|(k, v)| v.is_known() && !reported(k)).collect();
            known.insert(name, Known { id: None, props, outputs: Props::new() });
        }
        steps.push(step);
    }

    steps.extend(deletions(stack, prior));
    if request.destroy {
        // Every step is a deletion; "no longer in the stack" would mislead.
        steps.iter_mut().for_each(|s| s.reason = None);
    }

    let outputs = stack.outputs.iter().map(|(k, v)| (k.clone(), v.resolve(&|r: &Ref| lookup(&known, r)))).collect();
    let mut plan =
        Plan { steps, drift, outputs, ..Plan::new(stack.name.as_str(), prior.serial, prior.lineage.clone()) };
    select(&mut plan, request);
    graph::check(&plan, prior)?;
    Ok(plan)
}

/// Whether `prop` still holds what the old copy of a resource it refers to gave
/// it, an old copy that an interrupted replacement left in state for this plan
/// to delete: `prop` declared, resolved with the old copies' attributes in place
/// of the new ones', is what AWS has.
fn holds_deposed(
    schema: &Schema,
    prior: &State,
    known: &BTreeMap<&str, Known>,
    declared: &Props,
    prop: &str,
    current: &Props,
) -> bool {
    let Some(value) = declared.get(prop) else { return false };
    let old = |name: &str| prior.resources.iter().find(|(key, _)| deposed_of(key) == Some(name)).map(|(_, r)| r);
    if !value.refs().iter().any(|r| old(&r.resource).is_some()) {
        return false;
    }
    let before = value.resolve(&|r: &Ref| match old(&r.resource) {
        Some(rec) if r.attr == "id" => Value::Str(rec.id.clone()),
        Some(rec) => rec.outputs.get(&r.attr).or_else(|| rec.props.get(&r.attr)).cloned().unwrap_or(Value::Unknown),
        None => lookup(known, r),
    });
    let before = schema.normalized(&Props::from([(prop.to_string(), before)]));
    before.get(prop).is_some_and(Value::is_known) && before.get(prop) == current.get(prop)
}

/// A replacement creates the new resource first where the two can coexist
/// (the kind's [`Replacement`] rule: no unique name, a generated one, or a
/// declared one that changes), and deletes the old one first otherwise, or
/// when it depends on a resource deleted first (its new self needs the new
/// one, whose create waits for the old one's delete, which waits for this
/// one's delete).
fn replace_order(schema: &Schema, step: &Step, deleted_first: &BTreeSet<&str>) -> ReplaceOrder {
    if step.depends_on.iter().any(|d| deleted_first.contains(d.as_str())) {
        return ReplaceOrder::DeleteFirst;
    }
    match schema.replacement {
        Replacement::DeleteFirst => ReplaceOrder::DeleteFirst,
        Replacement::CreateFirst { unique_name: Some(field) }
            if step.desired.contains_key(field) && !step.changes.iter().any(|c| c.prop == field) =>
        {
            ReplaceOrder::DeleteFirst
        }
        Replacement::CreateFirst { .. } => ReplaceOrder::CreateFirst,
    }
}

/// The resource deleted first that a changing property of `step` keeps in
/// use ([`crate::model::schema::Field::keeps_in_use`]), if any.
fn kept_in_use(schema: &Schema, step: &Step, deleted_first: &BTreeSet<&str>) -> Option<String> {
    step.changes
        .iter()
        .filter(|c| schema.field(&c.prop).is_some_and(|f| f.keeps_in_use))
        .filter_map(|c| step.desired.get(&c.prop))
        .flat_map(Value::refs)
        .find(|r| deleted_first.contains(r.resource.as_str()))
        .map(|r| r.resource.clone())
}

/// What `infra refresh` would accept, as a plan with no steps (`plan
/// --refresh-only`): the drift (live values recorded, resources gone from
/// AWS forgotten) and the resources whose outputs AWS reports anew.
pub fn refresh_only(stack: &Stack, prior: &State, refreshed: &Refreshed) -> Result<Plan, PlanError> {
    let mut plan = plan(stack, prior, refreshed)?;
    plan.steps.clear();
    plan.refresh_only = true;
    plan.outputs_renewed = prior
        .resources
        .iter()
        .filter(|(name, rec)| match refreshed.get(name.as_str()) {
            Some(Some(o)) => rec.kind.schema().merged_outputs(&rec.outputs, &o.outputs) != rec.outputs,
            _ => false,
        })
        .map(|(name, _)| name.clone())
        .collect();
    Ok(plan)
}

/// AWS reports secrets in plain text (an option setting's value): what it
/// reports where `recorded` holds a secret is marked secret too, so that it
/// compares equal, and never shows or reaches state in plain text.
pub fn mark_secrets(recorded: &Props, live: &mut Props) {
    for (k, v) in live.iter_mut() {
        if let Some(r) = recorded.get(k) {
            v.mark_secrets_like(r);
        }
    }
}

/// The stack's tags, the resource's own, and the ownership tags, for a
/// taggable kind: the stack, the resource's name, and the lineage of the
/// state that owns it.
fn with_tags(stack: &Stack, prior: &State, name: &str, kind: Kind, props: &Props) -> Props {
    let mut props = props.clone();
    if !kind.schema().taggable {
        return props;
    }
    let mut tags: BTreeMap<String, Value> =
        stack.tags.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
    if let Some(Value::Map(own)) = props.get("tags") {
        tags.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    tags.insert(TAG_STACK.to_string(), Value::from(stack.name.as_str()));
    tags.insert(TAG_NAME.to_string(), Value::from(name));
    if let Some(lineage) = &prior.lineage {
        tags.insert(TAG_LINEAGE.to_string(), Value::from(lineage.as_str()));
    }
    props.insert("tags".to_string(), Value::Map(tags));
    props
}

fn lookup(known: &BTreeMap<&str, Known>, r: &Ref) -> Value {
    let Some(k) = known.get(r.resource.as_str()) else { return Value::Unknown };
    if r.attr == "id" {
        return k.id.clone().map_or(Value::Unknown, Value::Str);
    }
    k.outputs.get(&r.attr).or_else(|| k.props.get(&r.attr)).cloned().unwrap_or(Value::Unknown)
}

fn change(
    schema: &crate::model::schema::Schema,
    prop: &str,
    before: Option<Value>,
    after: Option<Value>,
    forces: bool,
) -> Change {
    let secret = schema.field(prop).is_some_and(|f| f.secret);
    Change {
        prop: prop.to_string(),
        before,
        after,
        preview: None,
        forces_replace: forces,
        secret,
        reverts_drift: false,
    }
}

/// The properties that differ between `before` and `after`. For drift
/// (`only_shared`), only properties both sides know are compared, since a batched
/// read does not report every property.
fn diff_props(
    schema: &crate::model::schema::Schema,
    before: &Props,
    after: &Props,
    ignore: &[String],
    only_shared: bool,
) -> Vec<Change> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        if ignore.contains(k) {
            continue;
        }
        let (b, a) = (before.get(k), after.get(k));
        if only_shared && (b.is_none() || a.is_none()) {
            continue;
        }
        // A property no longer declared, with no default, is left as AWS has it.
        if a.is_none() && !only_shared {
            continue;
        }
        let differs = match a {
            Some(Value::Unknown) => true,
            Some(a) if !a.is_known() => true,
            _ => a != b,
        };
        if differs {
            let forces = !only_shared && schema.field(k).is_some_and(|f| f.force_new);
            out.push(change(schema, k, b.cloned(), a.cloned(), forces));
        }
    }
    out
}

/// Resources recorded in state but no longer declared: deleted, dependents first.
fn deletions(stack: &Stack, prior: &State) -> Vec<Step> {
    let gone: BTreeMap<&str, BTreeSet<&str>> = prior
        .resources
        .iter()
        .filter(|(n, _)| !stack.resources.contains_key(*n))
        .map(|(n, r)| (n.as_str(), r.depends_on.iter().map(String::as_str).collect()))
        .collect();
    let order = topo_order(&gone).unwrap_or_else(|_| gone.keys().map(|s| s.to_string()).collect());
    order
        .into_iter()
        .rev()
        .map(|name| {
            let rec = &prior.resources[&name];
            Step {
                kind: rec.kind,
                action: Action::Delete,
                id: Some(rec.id.clone()),
                reason: Some(if deposed_of(&name).is_some() { Reason::Deposed } else { Reason::RemovedFromStack }),
                changes: Vec::new(),
                depends_on: rec.depends_on.clone(),
                desired: Props::new(),
                prior: Some(rec.props.clone()),
                protected: rec.protect,
                protection_changed: false,
                replace_requested: false,
                order: None,
                adopted: None,
                name_taken: false,
                name,
            }
        })
        .collect()
}
