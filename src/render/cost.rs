//! `infra cost` as text and markdown (JSON is the estimate itself).

use std::fmt::Write;

use crate::cost::{Comparison, Estimate, Line, money};

/// The lines most expensive first, then by name.
fn sorted(lines: &[Line]) -> Vec<&Line> {
    let mut sorted: Vec<&Line> = lines.iter().collect();
    sorted.sort_by(|a, b| b.monthly.total_cmp(&a.monthly).then(a.resource.cmp(&b.resource)));
    sorted
}

fn footer(out: &mut String, e: &Estimate) {
    if e.lines.iter().any(|l| l.assumption) {
        out.push_str("* priced at an assumed usage: set it in [cost.usage] (docs/cost.md)\n");
    }
    let _ = writeln!(out, "Prices for {}, as of {}: {}", e.region, e.prices_as_of, e.prices_source);
}

/// The estimate as aligned text: resource, type, monthly figure, basis.
pub fn cost_text(e: &Estimate) -> String {
    let mut out = format!("Stack `{}` in {}: {}/month\n\n", e.stack, e.region, money(e.total));
    let name_w = e.lines.iter().map(|l| l.resource.len()).max().unwrap_or(0).max(5);
    let kind_w = e.lines.iter().map(|l| l.kind.len()).max().unwrap_or(0);
    let money_w = e.lines.iter().map(|l| money(l.monthly).len()).chain([money(e.total).len()]).max().unwrap_or(0);
    for l in sorted(&e.lines) {
        let mark = if l.assumption { " *" } else { "" };
        let _ = writeln!(
            out,
            "  {:name_w$}  {:kind_w$}  {:>money_w$}  {}{mark}",
            l.resource,
            l.kind,
            money(l.monthly),
            l.basis
        );
    }
    let total = format!("  {:name_w$}  {:kind_w$}  {:>money_w$}", "total", "", money(e.total));
    let _ = writeln!(out, "{}\n", total.trim_end());
    footer(&mut out, e);
    out
}

/// The estimate as a markdown table.
pub fn cost_markdown(e: &Estimate) -> String {
    let mut out = format!("## Cost: stack `{}` in {}\n\n**{}/month**\n\n", e.stack, e.region, money(e.total));
    out.push_str("| resource | type | monthly | basis |\n|---|---|---:|---|\n");
    for l in sorted(&e.lines) {
        let mark = if l.assumption { " \\*" } else { "" };
        let _ = writeln!(out, "| `{}` | {} | {} | {}{mark} |", l.resource, l.kind, money(l.monthly), l.basis);
    }
    let _ = writeln!(out, "| **total** | | **{}** | |\n", money(e.total));
    footer(&mut out, e);
    out
}

/// The comparison's rows: what, monthly, basis.
fn rows(c: &Comparison) -> Vec<(String, f64, String)> {
    let mut rows = vec![("self-hosted: this stack".to_string(), c.stack.total, String::new())];
    rows.extend(c.managed.iter().map(|l| (format!("managed: {}", l.kind), l.monthly, l.basis.clone())));
    rows.push((format!("managed: the stack without {}", c.replaces.join(", ")), c.kept, String::new()));
    rows
}

/// Which side is cheaper.
fn verdict(c: &Comparison) -> &'static str {
    if c.saving_per_month >= 0.0 { "Self-hosting saves" } else { "Managed saves" }
}

/// Self-hosted beside managed, as text.
pub fn compare_text(c: &Comparison) -> String {
    let e = &c.stack;
    let rows = rows(c);
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let mw = rows.iter().map(|r| money(r.1).len()).chain([money(c.managed_total).len()]).max().unwrap_or(0);
    let mut out = format!("Stack `{}` in {}, a month:\n\n", e.stack, e.region);
    for (what, amount, basis) in &rows {
        let line = format!("  {what:w$}  {:>mw$}  {basis}", money(*amount));
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let total = format!("  {:w$}  {:>mw$}", "managed total", money(c.managed_total));
    let _ = writeln!(out, "{}\n", total.trim_end());
    let share = if c.managed_total > 0.0 { e.total / c.managed_total * 100.0 } else { 0.0 };
    let _ = writeln!(
        out,
        "{} {}/month, {}/year: the self-hosted stack costs {share:.0}% of the managed one.\n",
        verdict(c),
        money(c.saving_per_month.abs()),
        money(c.saving_per_year.abs())
    );
    footer(&mut out, e);
    out
}

/// Self-hosted beside managed, as markdown.
pub fn compare_markdown(c: &Comparison) -> String {
    let e = &c.stack;
    let mut out = format!("## Cost: stack `{}` in {}, self-hosted vs managed\n\n", e.stack, e.region);
    out.push_str("| | monthly | basis |\n|---|---:|---|\n");
    for (what, amount, basis) in rows(c) {
        let _ = writeln!(out, "| {what} | {} | {basis} |", money(amount));
    }
    let _ = writeln!(out, "| **managed total** | **{}** | |\n", money(c.managed_total));
    let _ = writeln!(
        out,
        "{} **{}/month**, {}/year.\n",
        verdict(c),
        money(c.saving_per_month.abs()),
        money(c.saving_per_year.abs())
    );
    footer(&mut out, e);
    out
}
