//! A stack's dependency graph (references and `depends_on`) as Graphviz DOT
//! or a mermaid flowchart. An edge runs from a resource to one that depends on
//! it: the order apply creates them in.

use std::fmt::Write;

use crate::model::Stack;

/// The edges: (dependency, dependent), sorted.
fn edges(stack: &Stack) -> Vec<(&str, &str)> {
    let mut edges: Vec<(&str, &str)> = stack
        .resources
        .iter()
        .flat_map(|(name, r)| r.dependencies().into_iter().map(move |dep| (dep, name.as_str())))
        .collect();
    edges.sort();
    edges
}

/// `digraph`, each node labelled with its name and type.
pub fn graph_dot(stack: &Stack) -> String {
    let mut out =
        format!("digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n", stack.name);
    for (name, r) in &stack.resources {
        let _ = writeln!(out, "  \"{name}\" [label=\"{name}\\n{}\"];", r.kind);
    }
    for (from, to) in edges(stack) {
        let _ = writeln!(out, "  \"{from}\" -> \"{to}\";");
    }
    out.push_str("}\n");
    out
}

/// A mermaid `flowchart LR`.
pub fn graph_mermaid(stack: &Stack) -> String {
    let mut out = String::from("flowchart LR\n");
    for (name, r) in &stack.resources {
        let _ = writeln!(out, "  {name}[\"{name}<br/><small>{}</small>\"]", r.kind);
    }
    for (from, to) in edges(stack) {
        let _ = writeln!(out, "  {from} --> {to}");
    }
    out
}
