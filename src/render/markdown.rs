//! Plans and drift reports as Markdown, for a pull-request comment or a CI job
//! summary.

use std::fmt::Write;

use super::{Sign, inline, keys, long_text, members, unified};
use crate::engine::DriftReport;
use crate::model::schema::Ty;
use crate::model::{Kind, Value};
use crate::plan::{Action, Change, Plan, Reason};

fn cell(v: &Option<Value>, secret: bool) -> String {
    match v {
        _ if secret => "`[secret]`".to_string(),
        None => "—".to_string(),
        Some(v) => format!("`{}`", inline(v).replace('|', "\\|").replace('`', "'")),
    }
}

fn text_cell(text: Option<&str>) -> String {
    text.map_or_else(|| "—".to_string(), |t| format!("`{}`", t.replace('|', "\\|").replace('`', "'")))
}

/// A table of `changes` to `name`, a row per change, as the text plan shows
/// them: a set's members and a table's keys that changed each get a row; a
/// document or a multi-line string gets a unified diff after the table.
fn change_rows(out: &mut String, name: &str, kind: Kind, changes: &[Change], before: &str, after: &str) {
    let _ = writeln!(out, "| resource | property | {before} | {after} |\n| --- | --- | --- | --- |");
    let mut diffs = Vec::new();
    for c in changes {
        let shown = Change { after: c.preview.clone().or_else(|| c.after.clone()), ..c.clone() };
        let c = &shown;
        let ty = kind.schema().field(&c.prop).map(|f| &f.ty);
        let long = |v: &Option<Value>| v.as_ref().and_then(|v| long_text(ty, v));
        let row = |out: &mut String, prop: &str, b: String, a: String| {
            let _ = writeln!(out, "| `{name}` | `{prop}` | {b} | {a} |");
        };
        match (&c.before, &c.after) {
            _ if c.secret => row(out, &c.prop, cell(&c.before, true), cell(&c.after, true)),
            (b, a) if long(b).is_some() || long(a).is_some() => {
                let side = |v: &Option<Value>| {
                    if long(v).is_some() { "see the diff below".to_string() } else { cell(v, false) }
                };
                row(out, &c.prop, side(b), side(a));
                let diff = unified(&long(b).unwrap_or_default(), &long(a).unwrap_or_default(), "");
                diffs.push((c.prop.clone(), anstream::adapter::strip_str(&diff).to_string()));
            }
            (Some(Value::List(b)), Some(Value::List(a))) if matches!(ty, Some(Ty::Set(_))) => {
                for (sign, member) in members(b, a) {
                    match sign {
                        Sign::Removed => row(out, &c.prop, text_cell(Some(&member)), text_cell(None)),
                        Sign::Added | Sign::Changed => row(out, &c.prop, text_cell(None), text_cell(Some(&member))),
                    }
                }
            }
            (Some(Value::Map(b)), Some(Value::Map(a))) => {
                for (_, key, x, y) in keys(b, a) {
                    let prop = format!("{}.{}", c.prop, crate::model::text::key(key));
                    row(out, &prop, cell(&x.cloned(), false), cell(&y.cloned(), false));
                }
            }
            _ => row(out, &c.prop, cell(&c.before, false), cell(&c.after, false)),
        }
    }
    for (prop, diff) in diffs {
        let _ = writeln!(out, "\n`{prop}` of `{name}`:\n\n```diff\n{}```", diff);
    }
}

/// A drift report: a summary line, then a table of drifted properties, deleted
/// and unmanaged resources.
pub fn drift_markdown(report: &DriftReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Drift check: stack `{}`\n", report.stack);
    if report.is_clean() {
        let _ = writeln!(out, "No drift: AWS matches the recorded state.");
        foreign_markdown(&mut out, &report.foreign);
        return out;
    }
    let changed: Vec<_> = report.drift.iter().filter(|d| !d.deleted).collect();
    let deleted: Vec<_> = report.drift.iter().filter(|d| d.deleted).collect();
    let _ = writeln!(
        out,
        "**Drift found:** {} resource(s) changed, {} deleted, {} unmanaged.\n",
        changed.len(),
        deleted.len(),
        report.unmanaged.len()
    );
    if !changed.is_empty() {
        let _ = writeln!(out, "### Changed outside infra\n");
        let _ = writeln!(out, "| resource | type | property | recorded | live |\n| --- | --- | --- | --- | --- |");
        for d in &changed {
            for c in &d.changes {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | `{}` | {} | {} |",
                    d.name,
                    d.kind,
                    c.prop,
                    cell(&c.before, c.secret),
                    cell(&c.after, c.secret)
                );
            }
        }
        out.push('\n');
    }
    if !deleted.is_empty() {
        let _ = writeln!(out, "### Deleted outside infra\n");
        for d in &deleted {
            let _ = writeln!(out, "- `{}` ({})", d.name, d.kind);
        }
        out.push('\n');
    }
    if !report.unmanaged.is_empty() {
        let _ = writeln!(out, "### Tagged for this stack but not in its state\n");
        for (name, kind, id) in &report.unmanaged {
            let _ = writeln!(out, "- `{name}` ({kind}): `{id}`");
        }
        out.push('\n');
    }
    foreign_markdown(&mut out, &report.foreign);
    let _ = writeln!(out, "Put it back with `infra apply`, or accept it with `infra refresh`.");
    out
}

/// A plan: a summary line, then one section per changed resource.
pub fn plan_markdown(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.refresh_only {
        refresh_only_markdown(&mut out, plan);
        return out;
    }
    let _ = writeln!(out, "## Plan: stack `{}`\n", plan.stack);
    if !plan.targeted.is_empty() {
        let names: Vec<String> = plan.targeted.iter().map(|t| format!("`{t}`")).collect();
        let they = if names.len() == 1 { "it depends" } else { "they depend" };
        let _ = writeln!(out, "> **Partial plan** (`--target`): only {} and what {they} on.", names.join(", "));
        if !plan.left_out.is_empty() {
            let names: Vec<String> = plan.left_out.iter().map(|t| format!("`{t}`")).collect();
            let _ = writeln!(out, "> Left out, with changes: {}.", names.join(", "));
        }
        out.push('\n');
    }
    let cost = plan.cost.as_ref().map(|c| {
        let text = c.text();
        let mut lines = text.lines();
        let head = lines.next().unwrap_or_default().trim_start_matches("Cost: ");
        let rest: String = lines.map(|l| format!("- {}\n", l.trim())).collect();
        format!("\n**Cost:** {head}\n\n{rest}")
    });
    if !plan.has_changes() {
        let _ = writeln!(out, "No changes.");
        foreign_markdown(&mut out, &plan.foreign);
        if let Some(cost) = cost {
            let _ = writeln!(out, "{cost}");
        }
        return out;
    }
    let s = plan.summary();
    let mut protections = match s.protection {
        0 => String::new(),
        n => format!(", {} to set or lift", super::protections(n)),
    };
    if s.adopt > 0 {
        protections.push_str(&format!(", {} to adopt", s.adopt));
    }
    let _ = writeln!(
        out,
        "**{} to add, {} to change, {} to replace, {} to destroy**, {} unchanged{protections}.\n",
        s.create, s.update, s.replace, s.delete, s.unchanged
    );
    if plan.refusal().is_some() {
        let _ = writeln!(
            out,
            "**Refused:** this plan deletes or replaces a protected resource; it cannot run. \
             To lift a protection, set `protect = false` on the resource and apply.\n"
        );
    }
    for step in plan.steps.iter().filter(|s| s.changes_anything()) {
        let symbol = if step.action == Action::NoOp { "~" } else { step.action.symbol() };
        let _ = writeln!(out, "### `{symbol}` {} ({})\n", step.name, step.kind);
        let verb = match step.action {
            Action::NoOp if step.adopted.is_some() => "adopt only",
            Action::NoOp => "protection only",
            action => action.verb(),
        };
        let order = step.order.map(|o| format!(" ({})", o.words())).unwrap_or_default();
        let _ = writeln!(out, "{verb}{order}{}\n", step.id.as_deref().map(|i| format!(" `{i}`")).unwrap_or_default());
        if let Some(Reason::DependencyReplacedFirst(dep)) = &step.reason {
            let _ = writeln!(
                out,
                "Replaced because `{dep}` is replaced first: it is deleted before its replacement exists, \
                 and this resource cannot point at nothing meanwhile.\n"
            );
        }
        if step.refused() {
            let _ = writeln!(
                out,
                "**Protected: refused.** No plan may delete or replace it; set `protect = false` and apply to lift that.\n"
            );
        } else if step.deletes_data() {
            let _ = writeln!(out, "**Deletes the data it holds**: snapshot it first to keep it.\n");
        }
        if step.replace_requested {
            let _ = writeln!(out, "Replace requested (`--replace`).\n");
        }
        if let Some(id) = &step.adopted {
            let _ = writeln!(
                out,
                "**Adopted:** `{id}` was found in AWS by its tags (this stack, this name, this state's lineage): \
                 an earlier run made it. State will record it.\n"
            );
        }
        if step.name_taken {
            let _ = writeln!(out, "Another state's resource holds its name: it is created with a suffixed one.\n");
        }
        if step.protection_changed {
            let _ = writeln!(
                out,
                "Protection {} (recorded in state; no AWS call).\n",
                if step.protected { "set" } else { "lifted" }
            );
        }
        if !step.changes.is_empty() {
            change_rows(&mut out, &step.name, step.kind, &step.changes, "before", "after");
            out.push('\n');
        }
    }
    if !plan.kept.is_empty() {
        let _ = writeln!(out, "### Kept\n");
        for step in plan.steps.iter().filter(|s| plan.kept.contains(&s.name)) {
            let why = if step.protected { "protected" } else { "a protected resource depends on it" };
            let _ = writeln!(out, "- `{}` ({}): {why}", step.name, step.kind);
        }
        out.push('\n');
    }
    foreign_markdown(&mut out, &plan.foreign);
    if let Some(cost) = cost {
        let _ = writeln!(out, "{}", cost.trim_start());
    }
    out
}

/// Resources another state's tags claim for the stack: never adopted.
fn foreign_markdown(out: &mut String, foreign: &[crate::plan::Foreign]) {
    if foreign.is_empty() {
        return;
    }
    let _ = writeln!(out, "### Not this state's, and left alone\n");
    for f in foreign {
        let _ = writeln!(out, "- `{}`: {}", f.name, f.words());
    }
    out.push('\n');
}

/// A refresh-only plan: the live values `infra refresh` would accept.
fn refresh_only_markdown(out: &mut String, plan: &Plan) {
    let _ = writeln!(out, "## Refresh-only plan: stack `{}`\n", plan.stack);
    if !plan.has_changes() {
        let _ = writeln!(out, "No drift: `infra refresh` would accept nothing.");
        return;
    }
    let _ = writeln!(out, "`infra refresh` would accept into state (nothing in AWS changes):\n");
    for d in plan.drift.iter().filter(|d| !d.deleted) {
        change_rows(out, &d.name, d.kind, &d.changes, "recorded", "live");
        out.push('\n');
    }
    for d in plan.drift.iter().filter(|d| d.deleted) {
        let _ = writeln!(out, "- `{}` ({}): gone from AWS; state forgets it", d.name, d.kind);
    }
    if !plan.outputs_renewed.is_empty() {
        let names: Vec<String> = plan.outputs_renewed.iter().map(|t| format!("`{t}`")).collect();
        let _ = writeln!(out, "\nOutputs read anew from AWS: {}.", names.join(", "));
    }
}
