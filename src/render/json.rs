//! Plans and outputs as JSON, for programs. Unknown values are `{"unknown": true}`;
//! secrets are the string `"[secret]"`. A step's `deletes_data` is true when it
//! deletes (or replaces) a resource holding data nothing else keeps (a volume).
//!
//! The operator's controls appear only where they apply, so a plain plan reads
//! as before: a step has `"protected": true` (and `"refused": true` when the
//! plan would delete or replace it, so the plan cannot run),
//! `"protection_changed": true`, `"replace_requested": true`; a replacement has
//! `"order": "create_first"` or `"delete_first"`; a plan has
//! `"refused": true`, `"targeted": [...]` and `"left_out": [...]` (partial),
//! `"kept": [...]` (`destroy --exclude-protected`), `"refresh_only": true`
//! and `"outputs_renewed": [...]`. A step found in AWS by its tags and
//! adopted has `"adopted": {"id": ...}`, and a create beside another state's
//! resource of its name `"name_taken": true`; resources another state's tags
//! claim for the stack are `"foreign": [...]` in a plan and a drift report.

use std::collections::BTreeMap;

use serde_json::{Value as J, json};

use crate::engine::DriftReport;
use crate::model::Value;
use crate::plan::{Change, Foreign, Plan, Reason, Step};

/// The format version of `--json` plan output.
pub const FORMAT_VERSION: u32 = 1;

/// A value as JSON: unknowns as `{"unknown": true}`, secrets as `"[secret]"`.
pub fn value(v: &Value) -> J {
    match v {
        Value::Secret(_) => J::String("[secret]".into()),
        Value::Unknown => json!({ "unknown": true }),
        Value::List(items) => J::Array(items.iter().map(value).collect()),
        Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), value(v))).collect()),
        other => other.to_json(),
    }
}

fn change(c: &Change) -> J {
    let show = |v: &Option<Value>| match v {
        None => J::Null,
        Some(_) if c.secret => J::String("[secret]".into()),
        Some(v) => value(v),
    };
    let mut out = json!({
        "property": c.prop,
        "before": show(&c.before),
        "after": show(&c.after),
        "forces_replace": c.forces_replace,
        "cause": if c.reverts_drift { "drift" } else { "stack" },
    });
    if let Some(preview) = c.preview.as_ref().filter(|_| !c.secret) {
        out["after_preview"] = value(preview);
    }
    out
}

fn reason(r: &Option<Reason>) -> J {
    match r {
        None => J::Null,
        Some(Reason::ForcedBy(props)) => json!({ "replace_forced_by": props }),
        Some(other) => serde_json::to_value(other).unwrap_or(J::Null),
    }
}

/// A step, with the controls that apply to it.
fn step(s: &Step) -> J {
    let mut out = json!({
        "resource": s.name,
        "type": s.kind.type_name(),
        "action": s.action,
        "id": s.id,
        "reason": reason(&s.reason),
        "deletes_data": s.deletes_data(),
        "depends_on": s.depends_on,
        "changes": s.changes.iter().map(change).collect::<Vec<_>>(),
    });
    if let Some(order) = s.order {
        out["order"] = json!(order);
    }
    if let Some(id) = &s.adopted {
        out["adopted"] = json!({ "id": id });
    }
    for (key, set) in [
        ("protected", s.protected),
        ("refused", s.refused()),
        ("protection_changed", s.protection_changed),
        ("replace_requested", s.replace_requested),
        ("name_taken", s.name_taken),
    ] {
        if set {
            out[key] = J::Bool(true);
        }
    }
    out
}

/// The whole plan as JSON.
pub fn plan_json(plan: &Plan) -> J {
    let mut doc = plan_json_without_cost(plan);
    if let (Some(cost), J::Object(map)) = (&plan.cost, &mut doc) {
        map.insert("cost".into(), cost_json(cost));
    }
    doc
}

/// A plan's cost: the monthly figures before and after, and what changes.
fn cost_json(cost: &crate::cost::Delta) -> J {
    json!({
        "region": cost.region,
        "monthly_before": round(cost.before),
        "monthly_after": round(cost.after),
        "monthly_delta": round(cost.monthly()),
        "changes": cost.changes.iter().map(|c| json!({
            "resource": c.resource,
            "monthly_before": round(c.before),
            "monthly_after": round(c.after),
            "why": c.why,
        })).collect::<Vec<_>>(),
        "unpriced": cost.unpriced,
    })
}

/// Cents, as bills show them.
fn round(usd: f64) -> f64 {
    (usd * 100.0).round() / 100.0
}

fn plan_json_without_cost(plan: &Plan) -> J {
    let mut doc = json!({
        "format_version": FORMAT_VERSION,
        "stack": plan.stack,
        "serial": plan.serial,
        "lineage": plan.lineage,
        "has_changes": plan.has_changes(),
        "summary": plan.summary(),
        "steps": plan.steps.iter().map(step).collect::<Vec<_>>(),
        "drift": plan.drift.iter().map(|d| json!({
            "resource": d.name,
            "type": d.kind.type_name(),
            "deleted": d.deleted,
            "changes": d.changes.iter().map(change).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "outputs": outputs_json(&plan.outputs),
    });
    if plan.refusal().is_some() {
        doc["refused"] = J::Bool(true);
    }
    for (key, names) in [
        ("targeted", &plan.targeted),
        ("left_out", &plan.left_out),
        ("kept", &plan.kept),
        ("outputs_renewed", &plan.outputs_renewed),
    ] {
        if !names.is_empty() || (key == "left_out" && !plan.targeted.is_empty()) {
            doc[key] = json!(names);
        }
    }
    if plan.refresh_only {
        doc["refresh_only"] = J::Bool(true);
    }
    if !plan.foreign.is_empty() {
        doc["foreign"] = foreign(&plan.foreign);
    }
    doc
}

/// Resources another state's tags claim for the stack.
fn foreign(foreign: &[Foreign]) -> J {
    J::Array(
        foreign
            .iter()
            .map(|f| json!({ "resource": f.name, "type": f.kind.type_name(), "id": f.id, "lineage": f.lineage }))
            .collect(),
    )
}

/// Outputs as a JSON object.
pub fn outputs_json(outputs: &BTreeMap<String, Value>) -> J {
    J::Object(outputs.iter().map(|(k, v)| (k.clone(), value(v))).collect())
}

/// A drift report as JSON.
pub fn drift_json(report: &DriftReport) -> J {
    json!({
        "format_version": FORMAT_VERSION,
        "stack": report.stack,
        "drifted": !report.is_clean(),
        "drift": report.drift.iter().map(|d| json!({
            "resource": d.name,
            "type": d.kind.type_name(),
            "deleted": d.deleted,
            "changes": d.changes.iter().map(drift_change).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "unmanaged": report.unmanaged.iter().map(|(name, kind, id)| json!({
            "resource": name, "type": kind.type_name(), "id": id,
        })).collect::<Vec<_>>(),
        "foreign": foreign(&report.foreign),
    })
}

/// One drifted property; for lists, also the members added and removed.
fn drift_change(c: &Change) -> J {
    let show = |v: &Option<Value>| match v {
        None => J::Null,
        Some(_) if c.secret => J::String("[secret]".into()),
        Some(v) => value(v),
    };
    let mut out = json!({ "property": c.prop, "recorded": show(&c.before), "live": show(&c.after) });
    if let (Some(Value::List(b)), Some(Value::List(a)), false) = (&c.before, &c.after, c.secret) {
        out["added"] = J::Array(a.iter().filter(|v| !b.contains(v)).map(value).collect());
        out["removed"] = J::Array(b.iter().filter(|v| !a.contains(v)).map(value).collect());
    }
    out
}
