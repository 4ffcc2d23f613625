//! Rendering plans and outputs: text for people, JSON for programs.
//!
//! Text is a tree: one line per resource with its action symbol (`+ ~ -/+ -`),
//! then its property changes, names aligned; set-like properties show members
//! added and removed; multi-line strings show a unified diff. Styles are ANSI
//! codes always; the CLI writes through `anstream`, which strips them when the
//! output is not a terminal or `NO_COLOR` is set.

mod cost;
mod graph;
mod json;
mod markdown;
pub mod timeline;
mod value;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use crate::model::Value;
use crate::model::schema::Ty;
use crate::plan::{Action, Change, Drift, Foreign, Plan, Reason, Step};

pub use cost::{compare_markdown, compare_text, cost_markdown, cost_text};
pub use graph::{graph_dot, graph_mermaid};
pub use json::{drift_json, outputs_json, plan_json, value as value_json};
pub use markdown::{drift_markdown, plan_markdown};
pub use value::{block, inline};

const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const RED: Style = AnsiColor::Red.on_default();
const MAGENTA: Style = AnsiColor::Magenta.on_default();
const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

fn style_of(action: Action) -> Style {
    match action {
        Action::Create => GREEN,
        Action::Update => YELLOW,
        Action::Replace => MAGENTA,
        Action::Delete => RED,
        Action::NoOp => DIM,
    }
}

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// The plan as a person reads it.
pub fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.drift.is_empty() {
        out.push_str(&drift_text(&plan.drift));
        out.push('\n');
    }
    if plan.refresh_only {
        refresh_only_text(&mut out, plan);
        return out;
    }
    let changed: Vec<&Step> = plan.steps.iter().filter(|s| s.changes_anything()).collect();
    let kept: Vec<&Step> = plan.steps.iter().filter(|s| plan.kept.contains(&s.name)).collect();
    let partial = partial_text(plan);
    if changed.is_empty() {
        let _ = writeln!(
            out,
            "{} Stack `{}` matches its {} resource(s){}.",
            paint(GREEN, "No changes."),
            plan.stack,
            plan.steps.len(),
            if plan.targeted.is_empty() { "" } else { " in this partial plan" }
        );
        if let Some(partial) = partial {
            out.push_str(&partial);
        }
        out.push_str(&foreign_text(&plan.foreign));
        if let Some(cost) = &plan.cost {
            out.push_str(&cost.text());
        }
        return out;
    }
    let _ = writeln!(out, "Stack `{}` plan{}:\n", plan.stack, if plan.targeted.is_empty() { "" } else { " (partial)" });
    let width = changed.iter().chain(&kept).map(|s| s.name.len()).max().unwrap_or(0);
    for step in changed {
        step_text(&mut out, step, width);
    }
    for step in kept {
        let id = step.id.as_deref().map(|i| format!(" ({i})")).unwrap_or_default();
        let why = if step.protected { "protected: kept" } else { "kept: a protected resource depends on it" };
        let _ = writeln!(
            out,
            "{} {}  {}{} {}\n",
            paint(GREEN, "  ="),
            paint(BOLD, &format!("{:width$}", step.name)),
            step.kind,
            paint(DIM, &id),
            paint(GREEN, &format!("[{why}]")),
        );
    }
    let s = plan.summary();
    let mut extra = String::new();
    if s.protection > 0 {
        let _ = write!(extra, ", {} to set or lift", protections(s.protection));
    }
    if !plan.kept.is_empty() {
        let _ = write!(extra, ", {} kept", plan.kept.len());
    }
    if s.adopt > 0 {
        let _ = write!(extra, ", {} to adopt", s.adopt);
    }
    let _ = writeln!(
        out,
        "{} {} to add, {} to change, {} to replace, {} to destroy, {} unchanged{extra}.",
        paint(BOLD, "Plan:"),
        s.create,
        s.update,
        s.replace,
        s.delete,
        s.unchanged
    );
    if let Some(partial) = partial {
        out.push_str(&partial);
    }
    if plan.refusal().is_some() {
        let _ = writeln!(
            out,
            "{}",
            paint(RED, "Refused: this plan deletes or replaces a protected resource (marked above); it cannot run.")
        );
    }
    out.push_str(&foreign_text(&plan.foreign));
    if let Some(cost) = &plan.cost {
        out.push_str(&cost.text());
    }
    out
}

/// Resources another state's tags claim for this stack: never adopted.
fn foreign_text(foreign: &[Foreign]) -> String {
    let mut out = String::new();
    if foreign.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\n{}", paint(YELLOW, "Not this state's, and left alone:"));
    for f in foreign {
        let _ = writeln!(out, "  {} {}", paint(YELLOW, "!"), f.words());
    }
    out
}

/// What a partial (`--target`) plan covers and leaves out; `None` for a whole one.
fn partial_text(plan: &Plan) -> Option<String> {
    if plan.targeted.is_empty() {
        return None;
    }
    let mut out = format!(
        "{} only {} and what {} on (--target).\n",
        paint(YELLOW, "Partial plan:"),
        plan.targeted.join(", "),
        if plan.targeted.len() == 1 { "it depends" } else { "they depend" },
    );
    if !plan.left_out.is_empty() {
        let _ =
            writeln!(out, "Left out, with changes: {} (a plan without --target shows them).", plan.left_out.join(", "));
    }
    Some(out)
}

/// A refresh-only plan: what `infra refresh` would accept, after the drift.
fn refresh_only_text(out: &mut String, plan: &Plan) {
    if plan.drift.is_empty() && plan.outputs_renewed.is_empty() {
        let _ = writeln!(
            out,
            "{} The state of stack `{}` matches AWS: `infra refresh` would accept nothing.",
            paint(GREEN, "No drift."),
            plan.stack
        );
        return;
    }
    let gone = plan.drift.iter().filter(|d| d.deleted).count();
    let _ = writeln!(
        out,
        "{} `infra refresh` would accept into the state of stack `{}`: {} resource(s) with live values, {} gone from AWS (forgotten).",
        paint(BOLD, "Refresh-only plan:"),
        plan.stack,
        plan.drift.len() - gone,
        gone
    );
    if !plan.outputs_renewed.is_empty() {
        let _ = writeln!(out, "Outputs read anew from AWS: {}.", plan.outputs_renewed.join(", "));
    }
    let _ = writeln!(out, "Nothing in AWS changes.");
}

fn step_text(out: &mut String, step: &Step, width: usize) {
    let (symbol, style) = match step.action {
        Action::NoOp => ("~", YELLOW),
        action => (action.symbol(), style_of(action)),
    };
    let id = step.id.as_deref().map(|i| format!(" ({i})")).unwrap_or_default();
    let mut why = match &step.reason {
        Some(Reason::DeletedOutOfBand) => " [deleted outside infra]".to_string(),
        Some(Reason::RemovedFromStack) => " [no longer in the stack]".to_string(),
        Some(Reason::ForcedBy(props)) => format!(" [replace: {} cannot change in place]", props.join(", ")),
        Some(Reason::ReplaceRequested) => " [replace requested]".to_string(),
        Some(Reason::DependencyReplacedFirst(dep)) => format!(" [replaced because {dep} is replaced first]"),
        Some(Reason::Deposed) => " [the old one of a replacement]".to_string(),
        _ => String::new(),
    };
    if step.replace_requested && !matches!(step.reason, Some(Reason::ReplaceRequested)) {
        why.push_str(" [replace requested]");
    }
    if let Some(order) = step.order {
        why.push_str(&format!(" [{}]", order.words()));
    }
    if step.protection_changed {
        why.push_str(if step.protected { " [protection set]" } else { " [protection lifted]" });
    }
    if step.adopted.is_some() {
        why.push_str(" [adopt: found in AWS by its tags, made by an earlier run; state will record it]");
    }
    if step.name_taken {
        why.push_str(" [another state's resource holds its name: it gets a suffixed one]");
    }
    let refused = if step.refused() {
        format!(" {}", paint(RED.bold(), "[protected: refused]"))
    } else if step.protected && !step.protection_changed {
        format!(" {}", paint(DIM, "[protected]"))
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{} {}  {}{}{}{refused}",
        paint(style, &format!("{symbol:>3}")),
        paint(BOLD, &format!("{:width$}", step.name)),
        step.kind,
        paint(DIM, &id),
        paint(style, &why),
    );
    if step.refused() {
        let _ = writeln!(
            out,
            "      {}",
            paint(RED, "! protected: no plan may delete or replace it; set `protect = false` and apply to lift that")
        );
    } else if step.deletes_data() {
        let _ = writeln!(out, "      {}", paint(RED, "! deletes the data it holds: snapshot it first to keep it"));
    }
    let pwidth = step.changes.iter().map(|c| c.prop.len()).max().unwrap_or(0);
    for c in &step.changes {
        change_text(out, step, c, pwidth);
    }
    out.push('\n');
}

fn change_text(out: &mut String, step: &Step, c: &Change, width: usize) {
    // What the plan can show of a value not yet known stands in for it.
    let (before, after) = (c.before.as_ref(), c.preview.as_ref().or(c.after.as_ref()));
    let indent = "      ";
    let mut forces = if c.forces_replace { paint(MAGENTA, "  # forces replacement") } else { String::new() };
    if c.reverts_drift {
        forces.push_str(&paint(YELLOW, "  # reverts drift"));
    }
    let show = |v: &Value| if c.secret { "[secret]".to_string() } else { block(v, indent, 110) };
    let ty = step.kind.schema().field(&c.prop).map(|f| &f.ty);
    let (sign, style) = match (before, after) {
        (None, _) => ("+", GREEN),
        (_, None) => ("-", RED),
        _ => ("~", YELLOW),
    };
    if c.secret {
        let _ = writeln!(out, "{indent}{} {:width$} = [secret]{forces}", paint(style, sign), c.prop);
        return;
    }
    // Documents and multi-line strings: a unified diff.
    let text = |v: Option<&Value>| v.and_then(|v| long_text(ty, v));
    let (long_before, long_after) = (text(before), text(after));
    if long_before.is_some() || long_after.is_some() {
        let (before, after) = (long_before.unwrap_or_default(), long_after.unwrap_or_default());
        let _ = writeln!(out, "{indent}{} {}{forces}", paint(style, sign), c.prop);
        out.push_str(&unified(&before, &after, &format!("{indent}    ")));
        return;
    }
    match (before, after) {
        (None, Some(after)) => {
            let _ = writeln!(out, "{indent}{} {:width$} = {}{forces}", paint(GREEN, "+"), c.prop, show(after));
        }
        (Some(before), None) => {
            let _ = writeln!(out, "{indent}{} {:width$} = {}{forces}", paint(RED, "-"), c.prop, show(before));
        }
        (Some(before), Some(after)) => {
            let is_set = matches!(ty, Some(Ty::Set(_)));
            if let (true, Some(b), Some(a)) = (is_set, before.as_list(), after.as_list()) {
                let _ = writeln!(out, "{indent}{} {}{forces}", paint(YELLOW, "~"), c.prop);
                for (sign, member) in members(b, a) {
                    let _ = writeln!(out, "{indent}    {} {member}", sign.paint());
                }
            } else if let (Some(b), Some(a)) = (before.as_map(), after.as_map()) {
                let _ = writeln!(out, "{indent}{} {}{forces}", paint(YELLOW, "~"), c.prop);
                for (sign, k, x, y) in keys(b, a) {
                    let shown = match (x, y) {
                        (Some(x), Some(y)) => format!("{} -> {}", inline(x), inline(y)),
                        (Some(v), None) | (None, Some(v)) => inline(v),
                        (None, None) => continue,
                    };
                    let _ = writeln!(out, "{indent}    {} {k} = {shown}", sign.paint());
                }
            } else {
                let _ = writeln!(
                    out,
                    "{indent}{} {:width$} = {} -> {}{forces}",
                    paint(YELLOW, "~"),
                    c.prop,
                    show(before),
                    show(after)
                );
            }
        }
        (None, None) => {}
    }
}

/// The text of a value best shown as lines: a multi-line string, a JSON
/// document (pretty-printed), or a table of documents.
fn long_text(ty: Option<&Ty>, v: &Value) -> Option<String> {
    let pretty =
        |s: &str| serde_json::from_str::<serde_json::Value>(s).ok().and_then(|j| serde_json::to_string_pretty(&j).ok());
    match (ty, v) {
        (Some(Ty::Json), Value::Str(s)) => pretty(s).map(|p| p + "\n"),
        (Some(Ty::Map(Ty::Json)), Value::Map(m)) => Some(
            m.iter()
                .map(|(k, v)| {
                    let doc = v.as_str().and_then(pretty).unwrap_or_else(|| inline(v));
                    format!("# {k}\n{doc}\n")
                })
                .collect(),
        ),
        (_, Value::Str(s)) if s.contains('\n') => Some(s.clone()),
        _ => None,
    }
}

/// How a member of a set or a key of a table changed.
#[derive(Clone, Copy)]
enum Sign {
    Added,
    Removed,
    Changed,
}

impl Sign {
    fn paint(self) -> String {
        match self {
            Sign::Added => paint(GREEN, "+"),
            Sign::Removed => paint(RED, "-"),
            Sign::Changed => paint(YELLOW, "~"),
        }
    }
    fn past(self) -> &'static str {
        match self {
            Sign::Added => "added",
            Sign::Removed => "removed",
            Sign::Changed => "changed",
        }
    }
}

/// Members of a set removed, then added, as shown. A removed and an added
/// member that differ only in secrets (an option setting whose secret value
/// changed) are one member changed: `{ name = "PW", value = [secret] -> [secret] }`.
fn members(before: &[Value], after: &[Value]) -> Vec<(Sign, String)> {
    let removed: Vec<&Value> = before.iter().filter(|v| !after.contains(v)).collect();
    let mut added: Vec<Option<&Value>> = after.iter().filter(|v| !before.contains(v)).map(Some).collect();
    let mut out = Vec::new();
    let mut gone = Vec::new();
    for b in removed {
        let pair = added.iter_mut().find(|a| a.is_some_and(|a| differ_only_in_secrets(b, a)));
        match pair.and_then(Option::take) {
            Some(a) => out.push((Sign::Changed, inline_changed(b, a))),
            None => gone.push((Sign::Removed, inline(b))),
        }
    }
    gone.into_iter().chain(out).chain(added.into_iter().flatten().map(|a| (Sign::Added, inline(a)))).collect()
}

/// Two tables with the same keys whose differing values are all secrets.
fn differ_only_in_secrets(b: &Value, a: &Value) -> bool {
    let (Some(b), Some(a)) = (b.as_map(), a.as_map()) else { return false };
    b.keys().eq(a.keys())
        && b.iter()
            .zip(a.values())
            .all(|((_, x), y)| x == y || matches!(x, Value::Secret(_)) || matches!(y, Value::Secret(_)))
}

/// A table member, its changed values shown `before -> after`.
fn inline_changed(b: &Value, a: &Value) -> String {
    let (Some(b), Some(a)) = (b.as_map(), a.as_map()) else { return inline(a) };
    let parts: Vec<String> = b
        .iter()
        .zip(a.values())
        .map(|((k, x), y)| {
            let k = crate::model::text::key(k);
            if x == y { format!("{k} = {}", inline(x)) } else { format!("{k} = {} -> {}", inline(x), inline(y)) }
        })
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

/// Keys of a table that changed, with their values before and after.
fn keys<'a>(
    before: &'a BTreeMap<String, Value>,
    after: &'a BTreeMap<String, Value>,
) -> Vec<(Sign, &'a str, Option<&'a Value>, Option<&'a Value>)> {
    let all: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    all.into_iter()
        .filter_map(|k| match (before.get(k), after.get(k)) {
            (Some(x), Some(y)) if x != y => Some((Sign::Changed, k.as_str(), Some(x), Some(y))),
            (Some(x), None) => Some((Sign::Removed, k.as_str(), Some(x), None)),
            (None, Some(y)) => Some((Sign::Added, k.as_str(), None, Some(y))),
            _ => None,
        })
        .collect()
}

/// A unified diff of two texts, each line indented.
pub fn unified(before: &str, after: &str, indent: &str) -> String {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut out = String::new();
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        let _ = writeln!(out, "{indent}{}", paint(DIM, &hunk.header().to_string()));
        for change in hunk.iter_changes() {
            let (sign, style) = match change.tag() {
                similar::ChangeTag::Delete => ("-", RED),
                similar::ChangeTag::Insert => ("+", GREEN),
                similar::ChangeTag::Equal => (" ", Style::new()),
            };
            let line = change.to_string_lossy();
            let _ = writeln!(out, "{indent}{}", paint(style, &format!("{sign}{}", line.trim_end_matches('\n'))));
        }
    }
    out
}

/// Drift: what AWS holds differently from what state recorded.
pub fn drift_text(drift: &[Drift]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", paint(YELLOW, "Drift: AWS differs from the recorded state:"));
    let width = drift.iter().map(|d| d.name.len()).max().unwrap_or(0);
    for d in drift {
        if d.deleted {
            let _ = writeln!(
                out,
                "  {} {}  {}  deleted outside infra",
                paint(RED, "!"),
                paint(BOLD, &format!("{:width$}", d.name)),
                d.kind
            );
            continue;
        }
        let _ = writeln!(out, "  {} {}  {}", paint(YELLOW, "!"), paint(BOLD, &format!("{:width$}", d.name)), d.kind);
        let pwidth = d.changes.iter().map(|c| c.prop.len()).max().unwrap_or(0);
        for c in &d.changes {
            drift_change_text(&mut out, d.kind, c, pwidth);
        }
    }
    out
}

/// One drifted property: set members and table keys added and removed, or the
/// recorded and live values.
fn drift_change_text(out: &mut String, kind: crate::model::Kind, c: &Change, width: usize) {
    let indent = "      ";
    if c.secret {
        let _ = writeln!(out, "{indent}{:width$}  recorded [secret], live [secret]", c.prop);
        return;
    }
    let ty = kind.schema().field(&c.prop).map(|f| &f.ty);
    match (ty, &c.before, &c.after) {
        (Some(Ty::Set(_)), Some(Value::List(b)), Some(Value::List(a))) => {
            let _ = writeln!(out, "{indent}{}", c.prop);
            for (sign, member) in members(b, a) {
                let _ = writeln!(out, "{indent}  {} {member}  ({} outside infra)", sign.paint(), sign.past());
            }
        }
        (_, Some(Value::Map(b)), Some(Value::Map(a))) => {
            let _ = writeln!(out, "{indent}{}", c.prop);
            for (sign, k, x, y) in keys(b, a) {
                let line = match (x, y) {
                    (Some(x), Some(y)) => format!("{k}: recorded {}, live {}", inline(x), inline(y)),
                    (Some(v), None) | (None, Some(v)) => {
                        format!("{k} = {}  ({} outside infra)", inline(v), sign.past())
                    }
                    (None, None) => continue,
                };
                let _ = writeln!(out, "{indent}  {} {line}", sign.paint());
            }
        }
        _ => {
            let show = |v: &Option<Value>| v.as_ref().map(inline).unwrap_or_else(|| "(none)".to_string());
            let _ = writeln!(out, "{indent}{:width$}  recorded {}, live {}", c.prop, show(&c.before), show(&c.after));
        }
    }
}

/// Outputs as aligned `name = value` lines.
pub fn outputs_text(outputs: &BTreeMap<String, Value>) -> String {
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in outputs {
        let _ = writeln!(out, "{k:width$} = {}", inline(v));
    }
    out
}

/// A drift report for people: drift, then unmanaged resources.
pub fn drift_report_text(report: &crate::engine::DriftReport) -> String {
    if report.is_clean() {
        let clean = format!("{} Stack `{}` matches its recorded state.\n", paint(GREEN, "No drift."), report.stack);
        return clean + &foreign_text(&report.foreign);
    }
    let mut out = if report.drift.is_empty() { String::new() } else { drift_text(&report.drift) };
    if !report.unmanaged.is_empty() {
        let _ = writeln!(out, "\n{}\n", paint(YELLOW, "Unmanaged: tagged for this stack but not in its state:"));
        let width = report.unmanaged.iter().map(|(n, _, _)| n.len()).max().unwrap_or(0);
        for (name, kind, id) in &report.unmanaged {
            let _ = writeln!(out, "  {} {}  {kind}  {id}", paint(YELLOW, "?"), paint(BOLD, &format!("{name:width$}")));
        }
    }
    out.push_str(&foreign_text(&report.foreign));
    out
}

/// "1 protection", "2 protections".
pub fn protections(n: usize) -> String {
    if n == 1 { "1 protection".to_string() } else { format!("{n} protections") }
}
