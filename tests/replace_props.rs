//! A property test of replacement orders: over generated stacks (random
//! dependency graphs of the kinds, declared or generated names) and random
//! edits (force-new changes, in-place changes, `--replace`), every plan is
//! either refused with the circle of operations named, or runs: walked in an
//! order its operation graph allows, over a model of AWS that refuses what AWS
//! refuses, it never deletes a resource something still keeps in use, never
//! creates one that needs a resource not there, never holds two resources of
//! one unique name at once, and ends with every declared resource there and
//! nothing else; a plan after it is empty. No emulator: the planner is pure.

use std::collections::{BTreeMap, BTreeSet};

use infra::model::{Kind, Observed, Props, Ref, Resource, Stack, Value};
use infra::plan::{Action, OpKind, Plan, PlanError, Refreshed, ReplaceOrder, Request, operations, plan, plan_with};
use infra::state::{Recorded, State};
use proptest::prelude::*;

/// One generated resource: its kind, a declared name or none, and what it
/// refers to (indexes of earlier resources).
#[derive(Clone, Debug)]
struct Gen {
    kind: Kind,
    named: bool,
    refs: Vec<usize>,
}

/// What a round does to one resource.
#[derive(Clone, Copy, Debug)]
enum Edit {
    None,
    /// A property that cannot change in place.
    ForceNew,
    /// A property that changes in place.
    InPlace,
    /// `--replace`.
    Replace,
}

const KINDS: &[Kind] = &[
    Kind::SecurityGroup,
    Kind::Volume,
    Kind::Role,
    Kind::InstanceProfile,
    Kind::Instance,
    Kind::VolumeAttachment,
    Kind::EbApplication,
    Kind::EbEnvironment,
];

fn name(i: usize) -> String {
    format!("r{i}")
}

fn reference(resource: &str, attr: &str) -> Value {
    Value::Ref(Ref { resource: resource.into(), attr: attr.into() })
}

/// The earlier resources of `kind`, as `refs` picks them.
fn of_kind(gens: &[Gen], refs: &[usize], kind: Kind) -> Vec<String> {
    refs.iter().filter(|&&r| gens[r].kind == kind).map(|&r| name(r)).collect()
}

/// A resource of `g`'s kind, declared with its references where the kind can
/// hold them; `None` when a required reference has nothing to point at.
/// `round` varies what a force-new or in-place edit changes.
fn declare(gens: &[Gen], g: &Gen, i: usize, edit: Edit, round: u32) -> Option<Resource> {
    let force = if matches!(edit, Edit::ForceNew) { round } else { 0 };
    let in_place = if matches!(edit, Edit::InPlace) { round } else { 0 };
    let first = |kind| of_kind(gens, &g.refs, kind).into_iter().next();
    let mut r = Resource::new(g.kind);
    match g.kind {
        Kind::SecurityGroup => {
            r = r.prop("description", format!("group {force}"));
            if g.named {
                r = r.prop("name", format!("group-{i}"));
            }
        }
        Kind::Volume => {
            r = r
                .prop("availability_zone", ["us-east-1a", "us-east-1b"][force as usize % 2])
                .prop("size", 10 + in_place as i64);
        }
        Kind::Role => {
            let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
            r = r.prop("assume_role_policy", trust).prop("description", format!("role {in_place}"));
            if g.named || force > 0 {
                r = r.prop("name", format!("role-{i}-{force}"));
            }
        }
        Kind::InstanceProfile => {
            r = r.prop("role", reference(&first(Kind::Role)?, "name"));
            if g.named || force > 0 {
                r = r.prop("name", format!("profile-{i}-{force}"));
            }
        }
        Kind::Instance => {
            let groups: Vec<Value> =
                of_kind(gens, &g.refs, Kind::SecurityGroup).iter().map(|n| reference(n, "id")).collect();
            r = r
                .prop("instance_type", ["t3.small", "t3.medium"][in_place as usize % 2])
                .prop("availability_zone", ["us-east-1a", "us-east-1b"][force as usize % 2])
                .prop("security_group_ids", Value::List(groups));
        }
        Kind::VolumeAttachment => {
            r = r
                .prop("instance_id", reference(&first(Kind::Instance)?, "id"))
                .prop("volume_id", reference(&first(Kind::Volume)?, "id"))
                .prop("device_name", ["/dev/sdf", "/dev/sdg"][force as usize % 2]);
        }
        Kind::EbApplication => {
            r = r.prop("description", format!("app {in_place}"));
            if g.named || force > 0 {
                r = r.prop("name", format!("app-{i}-{force}"));
            }
        }
        Kind::EbEnvironment => {
            r = r.prop("application", reference(&first(Kind::EbApplication)?, "name"));
            r = r.prop("instance_type", ["t3.small", "t3.medium"][in_place as usize % 2]);
            r = r
                .prop("solution_stack_prefix", ["64bit Amazon Linux 2023", "64bit Amazon Linux 2"][force as usize % 2]);
            let groups: Vec<Value> =
                of_kind(gens, &g.refs, Kind::SecurityGroup).iter().map(|n| reference(n, "id")).collect();
            if !groups.is_empty() {
                r = r.prop("security_groups", Value::List(groups));
            }
            if let Some(profile) = first(Kind::InstanceProfile) {
                r = r.prop("instance_profile", reference(&profile, "name"));
            }
            if g.named {
                r = r.prop("name", format!("env-{i}"));
            }
        }
        _ => unreachable!("not generated"),
    }
    Some(r)
}

/// The stack of `gens` with `edits` applied (round 0: as first declared).
fn stack(gens: &[Gen], edits: &[Edit], round: u32) -> Stack {
    let mut stack = Stack::new("p");
    for (i, g) in gens.iter().enumerate() {
        if let Some(r) = declare(gens, g, i, edits[i], round) {
            stack = stack.resource(&name(i), r);
        }
    }
    // A resource whose reference has nothing to point at was left out; so is
    // whatever referred to it.
    loop {
        let missing: Vec<String> = stack
            .resources
            .iter()
            .filter(|(_, r)| r.dependencies().iter().any(|d| !stack.resources.contains_key(*d)))
            .map(|(n, _)| n.clone())
            .collect();
        if missing.is_empty() {
            return stack;
        }
        missing.iter().for_each(|n| {
            stack.resources.remove(n);
        });
    }
}

fn gens() -> impl Strategy<Value = Vec<Gen>> {
    prop::collection::vec(
        (0..KINDS.len(), any::<bool>(), prop::collection::vec(any::<prop::sample::Index>(), 0..4)),
        1..9,
    )
    .prop_map(|raw| {
        raw.iter()
            .enumerate()
            .map(|(i, (k, named, refs))| Gen {
                kind: KINDS[*k],
                named: *named,
                refs: if i == 0 { vec![] } else { refs.iter().map(|r| r.index(i)).collect() },
            })
            .collect()
    })
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![Just(Edit::None), Just(Edit::ForceNew), Just(Edit::InPlace), Just(Edit::Replace)]
}

/// The unique name a resource holds in AWS's model: its declared one, or a
/// generated one that differs for every object. `None`: no unique name.
fn unique_name(kind: Kind, props: &Props, object: &str) -> Option<String> {
    use infra::model::schema::Replacement;
    let declared = |field: &str| props.get(field).and_then(Value::as_str).map(|n| format!("{kind}:{n}"));
    match kind.schema().replacement {
        Replacement::CreateFirst { unique_name: Some(field) } => Some(declared(field).unwrap_or(object.to_string())),
        // Delete-first kinds' rule: one at a time, by logical name here.
        Replacement::DeleteFirst => Some(declared("name").unwrap_or(format!("{kind}:{object}"))),
        Replacement::CreateFirst { unique_name: None } => None,
    }
}

/// One object in the model of AWS.
struct Object {
    kind: Kind,
    /// The objects its `keeps_in_use` properties refer to.
    keeps: BTreeSet<String>,
    unique: Option<String>,
    /// For delete-first kinds: the logical resource, one object at a time.
    slot: Option<String>,
}

/// Runs the plan's operations, each once all it comes after has run, over a
/// model of AWS, checking what AWS would refuse; returns the state after.
fn run(p: &Plan, prior: &State) -> Result<State, String> {
    let ops = operations(p, prior);
    let steps: BTreeMap<&str, &infra::plan::Step> = p.steps.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut objects: BTreeMap<String, Object> = BTreeMap::new();
    // The object each resource name stands for now.
    let mut current: BTreeMap<String, String> = BTreeMap::new();
    let mut state = prior.clone();
    let keeps_of =
        |kind: Kind, props: &Props, current: &BTreeMap<String, String>| -> Result<BTreeSet<String>, String> {
            let mut keeps = BTreeSet::new();
            for (k, v) in props {
                for r in v.refs() {
                    let object =
                        current.get(&r.resource).ok_or(format!("refers to {} before it exists", r.resource))?;
                    if kind.schema().field(k).is_some_and(|f| f.keeps_in_use) {
                        keeps.insert(object.clone());
                    }
                }
            }
            Ok(keeps)
        };
    for (name, rec) in &prior.resources {
        let decl = steps.get(name.as_str()).map(|s| &s.desired);
        let keeps = keeps_of(rec.kind, decl.unwrap_or(&Props::new()), &current).unwrap_or_default();
        let slot = matches!(rec.kind.schema().replacement, infra::model::schema::Replacement::DeleteFirst)
            .then(|| name.clone());
        objects.insert(
            rec.id.clone(),
            Object { kind: rec.kind, keeps, unique: unique_name(rec.kind, &rec.props, &rec.id), slot },
        );
        current.insert(name.clone(), rec.id.clone());
    }
    // What each prior object kept in use, from its recorded props' references
    // (recorded props are resolved; references came from the stack).
    for (name, rec) in &prior.resources {
        if let Some(step) = steps.get(name.as_str()) {
            let keeps = keeps_of(rec.kind, &step.desired, &current).unwrap_or_default();
            objects.get_mut(&rec.id).unwrap().keeps = keeps;
        }
    }

    let mut waiting: Vec<usize> = ops.iter().map(|o| o.after.len()).collect();
    let mut ready: Vec<usize> = (0..ops.len()).filter(|&i| waiting[i] == 0).collect();
    let mut done = 0;
    while let Some(i) = ready.pop() {
        let op = &ops[i];
        let step = steps[op.resource.as_str()];
        let props = &step.desired;
        match op.kind {
            OpKind::Create => {
                let id = format!("{}@{}", op.resource, state.serial * 100 + i as u64);
                let keeps = keeps_of(step.kind, props, &current).map_err(|e| format!("create {}: {e}", op.resource))?;
                let unique = unique_name(step.kind, props, &id);
                let slot = matches!(step.kind.schema().replacement, infra::model::schema::Replacement::DeleteFirst)
                    .then(|| op.resource.clone());
                for o in objects.values() {
                    if let Some(name) = &unique
                        && o.unique.as_ref() == Some(name)
                    {
                        return Err(format!("create {}: {name} is taken", op.resource));
                    }
                    if slot.is_some() && o.slot == slot && o.kind == step.kind {
                        return Err(format!("create {}: the old one still exists", op.resource));
                    }
                }
                objects.insert(id.clone(), Object { kind: step.kind, keeps, unique, slot });
                current.insert(op.resource.clone(), id.clone());
                record(&mut state, step, &id, props, &current);
            }
            OpKind::Update => {
                let keeps = keeps_of(step.kind, props, &current).map_err(|e| format!("update {}: {e}", op.resource))?;
                let id = current[&op.resource].clone();
                objects.get_mut(&id).unwrap().keeps = keeps;
                record(&mut state, step, &id, props, &current);
            }
            OpKind::Delete => {
                let id = step.id.clone().unwrap();
                if let Some((user, _)) = objects.iter().find(|(_, o)| o.keeps.contains(&id)) {
                    return Err(format!("delete {} ({id}): {user} still keeps it in use", op.resource));
                }
                objects.remove(&id);
                if current.get(&op.resource) == Some(&id) {
                    current.remove(&op.resource);
                }
                if state.resources.get(&op.resource).is_some_and(|r| r.id == id) {
                    state.resources.remove(&op.resource);
                }
            }
        }
        done += 1;
        for &next in &op.before {
            waiting[next] -= 1;
            if waiting[next] == 0 {
                ready.push(next);
            }
        }
    }
    if done != ops.len() {
        return Err(format!("{} of {} operations never became ready", ops.len() - done, ops.len()));
    }
    let live: BTreeSet<&String> = objects.keys().collect();
    let recorded: BTreeSet<&String> = state.resources.values().map(|r| &r.id).collect();
    if live != recorded {
        return Err(format!("AWS holds {live:?}, state records {recorded:?}"));
    }
    state.serial += 1;
    Ok(state)
}

/// Records a created or updated resource as the executor does.
fn record(state: &mut State, step: &infra::plan::Step, id: &str, props: &Props, current: &BTreeMap<String, String>) {
    let resolved: Props = props.iter().map(|(k, v)| (k.clone(), v.resolve(&|r: &Ref| state.attr(r)))).collect();
    let _ = current;
    let mut outputs = Props::new();
    for attr in step.kind.schema().outputs {
        outputs.insert(attr.to_string(), Value::from(format!("{attr}-of-{id}")));
    }
    outputs.insert("id".into(), Value::from(id));
    let rec = Recorded {
        kind: step.kind,
        id: id.to_string(),
        props: step.kind.schema().normalized(&resolved),
        outputs,
        depends_on: step.depends_on.clone(),
        protect: false,
    };
    state.resources.insert(step.name.clone(), rec);
}

fn observe(state: &State) -> Refreshed {
    state
        .resources
        .iter()
        .map(|(n, r)| {
            (n.clone(), Some(Observed { id: r.id.clone(), props: r.props.clone(), outputs: r.outputs.clone() }))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_plan_of_replacements_runs_in_an_order_aws_accepts_or_is_refused_naming_its_circle(
        gens in gens(),
        edits in prop::collection::vec(edit(), 8),
    ) {
        let none = vec![Edit::None; gens.len()];
        let first = stack(&gens, &none, 0);
        let created = plan(&first, &State::default(), &Refreshed::new()).unwrap();
        let state = run(&created, &State::default()).map_err(|e| TestCaseError::fail(format!("first apply: {e}")))?;

        let edits: Vec<Edit> = (0..gens.len()).map(|i| edits[i % edits.len()]).collect();
        let edited = stack(&gens, &edits, 1);
        // The same resources: an edit never removes one.
        prop_assume!(edited.resources.keys().eq(first.resources.keys()));
        let replace: Vec<String> = edits
            .iter()
            .enumerate()
            .filter(|(i, e)| matches!(e, Edit::Replace) && edited.resources.contains_key(&name(*i)))
            .map(|(i, _)| name(i))
            .collect();
        let request = Request { replace, ..Request::default() };
        match plan_with(&edited, &state, &observe(&state), &request) {
            Err(PlanError::Cycle(cycle)) => {
                // Refused: the circle is named, each operation waiting for the next.
                prop_assert!(cycle.ops.len() >= 2, "{cycle}");
                prop_assert!(cycle.to_string().contains("waits for"), "{cycle}");
            }
            Err(other) => return Err(TestCaseError::fail(format!("plan failed: {other}"))),
            Ok(p) => {
                for s in p.steps.iter().filter(|s| s.action == Action::Replace) {
                    prop_assert!(s.order.is_some(), "{}: a replacement without an order", s.name);
                    if s.order == Some(ReplaceOrder::CreateFirst) {
                        prop_assert!(
                            !matches!(s.kind.schema().replacement, infra::model::schema::Replacement::DeleteFirst),
                            "{}: created first though its kind deletes first", s.name
                        );
                    }
                }
                let after = run(&p, &state).map_err(|e| TestCaseError::fail(format!("{e}\nplan:\n{}", infra::render::plan_text(&p))))?;
                let again = plan(&edited, &after, &observe(&after)).unwrap();
                prop_assert!(!again.has_changes(), "not converged:\n{}", infra::render::plan_text(&again));
            }
        }
    }
}

mod common;

/// What the executor tells: nothing, here.
struct Silent;
impl infra::apply::Reporter for Silent {
    fn started(&self, _: &infra::plan::Op) {}
    fn status(&self, _: &str, _: &str) {}
    fn finished(&self, _: &infra::plan::Op, _: std::time::Duration) {}
    fn failed(&self, _: &infra::plan::Op, _: &str) {}
    fn skipped(&self, _: &infra::plan::Op, _: &str) {}
}

/// Plans `stack` with `request` and applies it on the emulator, in process.
async fn apply(engine: &infra::engine::Engine, stack: &Stack, request: &Request) -> Plan {
    let mut planned = engine.plan(stack, request).await.unwrap_or_else(|e| panic!("plan: {e}"));
    let options = infra::apply::Options::default();
    let text = infra::render::plan_text(&planned.plan);
    engine.apply(&mut planned, &options, std::sync::Arc::new(Silent)).await.unwrap_or_else(|e| panic!("{e}\n{text}"));
    planned.plan
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sample_of_generated_stacks_and_edits_applies_on_the_emulator_and_plans_empty_after() {
    use proptest::strategy::ValueTree;
    let emu = common::Emulator::start();
    let config = emu.sdk_config().await;
    // The same sample on every run: generated stacks whose edit replaces
    // something, taken in the order a fixed seed gives them.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut applied = 0;
    let mut orders = BTreeSet::new();
    while applied < 4 {
        let gens = gens().new_tree(&mut runner).unwrap().current();
        let edits: Vec<Edit> = (0..gens.len()).map(|_| edit().new_tree(&mut runner).unwrap().current()).collect();
        let first = stack(&gens, &vec![Edit::None; gens.len()], 0);
        let edited = stack(&gens, &edits, 1);
        let replace: Vec<String> = (0..gens.len())
            .filter(|&i| matches!(edits[i], Edit::Replace) && edited.resources.contains_key(&name(i)))
            .map(name)
            .collect();
        let request = Request { replace, ..Request::default() };
        // Planned in memory first: only samples with a replacement, whose plan runs.
        let state = run(&plan(&first, &State::default(), &Refreshed::new()).unwrap(), &State::default()).unwrap();
        let Ok(p) = plan_with(&edited, &state, &observe(&state), &request) else { continue };
        if !edited.resources.keys().eq(first.resources.keys()) || !p.steps.iter().any(|s| s.action == Action::Replace) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let engine = infra::engine::Engine::new(&config, dir.path(), "p");
        apply(&engine, &first, &Request::default()).await;
        let replaced = apply(&engine, &edited, &request).await;
        orders.extend(replaced.steps.iter().filter_map(|s| s.order));
        let again = engine.plan(&edited, &Request::default()).await.unwrap().plan;
        assert!(!again.has_changes(), "not converged:\n{}", infra::render::plan_text(&again));
        let destroy = Request { destroy: true, ..Request::default() };
        apply(&engine, &edited, &destroy).await;
        applied += 1;
    }
    assert_eq!(orders.len(), 2, "the sample replaces in both orders: {orders:?}");
}
