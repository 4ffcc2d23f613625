//! Plans and drift reports as Markdown, for a pull-request comment or a CI job
//! summary.

use std::fmt::Write;

use super::inline;
use crate::engine::DriftReport;
use crate::model::Value;
use crate::plan::{Action, Change, Plan};

fn cell(v: &Option<Value>, secret: bool) -> String {
    match v {
        _ if secret => "`[secret]`".to_string(),
        None => "—".to_string(),
        Some(v) => format!("`{}`", inline(v).replace('|', "\\|").replace('`', "'")),
    }
}

fn change_rows(out: &mut String, name: &str, changes: &[Change], before: &str, after: &str) {
    let _ = writeln!(out, "| resource | property | {before} | {after} |\n| --- | --- | --- | --- |");
    for c in changes {
        let _ =
            writeln!(out, "| `{name}` | `{}` | {} | {} |", c.prop, cell(&c.before, c.secret), cell(&c.after, c.secret));
    }
}

/// A drift report: a summary line, then a table of drifted properties, deleted
/// and unmanaged resources.
pub fn drift_markdown(report: &DriftReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Drift check: stack `{}`\n", report.stack);
    if report.is_clean() {
        let _ = writeln!(out, "No drift: AWS matches the recorded state.");
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
    let _ = writeln!(out, "Put it back with `infra apply`, or accept it with `infra refresh`.");
    out
}

/// A plan: a summary line, then one section per changed resource.
pub fn plan_markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Plan: stack `{}`\n", plan.stack);
    let cost = plan.cost.as_ref().map(|c| {
        let text = c.text();
        let mut lines = text.lines();
        let head = lines.next().unwrap_or_default().trim_start_matches("Cost: ");
        let rest: String = lines.map(|l| format!("- {}\n", l.trim())).collect();
        format!("\n**Cost:** {head}\n\n{rest}")
    });
    if !plan.has_changes() {
        let _ = writeln!(out, "No changes.");
        if let Some(cost) = cost {
            let _ = writeln!(out, "{cost}");
        }
        return out;
    }
    let s = plan.summary();
    let _ = writeln!(
        out,
        "**{} to add, {} to change, {} to replace, {} to destroy**, {} unchanged.\n",
        s.create, s.update, s.replace, s.delete, s.unchanged
    );
    for step in plan.steps.iter().filter(|s| s.action != Action::NoOp) {
        let _ = writeln!(out, "### `{}` {} ({})\n", step.action.symbol(), step.name, step.kind);
        let _ = writeln!(
            out,
            "{}{}\n",
            step.action.verb(),
            step.id.as_deref().map(|i| format!(" `{i}`")).unwrap_or_default()
        );
        if step.deletes_data() {
            let _ = writeln!(out, "**Deletes the data it holds**: snapshot it first to keep it.\n");
        }
        if !step.changes.is_empty() {
            change_rows(&mut out, &step.name, &step.changes, "before", "after");
            out.push('\n');
        }
    }
    if let Some(cost) = cost {
        let _ = writeln!(out, "{}", cost.trim_start());
    }
    out
}
