//! Graph export: Graphviz DOT and Mermaid (which GitHub renders).
//! Arrows run from a resource to the resources that depend on it, which is
//! the order of creation; `depends_on` edges are dashed.

use std::fmt::Write;

use petgraph::visit::EdgeRef;

use super::DepVia;
use super::Graph;

/// Sorted edges (from, to, explicit) for stable output.
fn edges(g: &Graph) -> Vec<(&str, &str, bool)> {
    let mut v: Vec<_> = g
        .inner
        .edge_references()
        .map(|e| {
            (
                g.inner[e.source()].as_str(),
                g.inner[e.target()].as_str(),
                *e.weight() == DepVia::DependsOn,
            )
        })
        .collect();
    v.sort_unstable();
    v
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// DOT of the graph `g` named `name`, each node labelled with its kind.
pub fn dot<'a>(
    name: &str,
    kinds: impl IntoIterator<Item = (&'a str, &'a str)>,
    g: &Graph,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(name));
    out.push_str("  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    for (id, kind) in kinds {
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{}\\n{}\"];",
            dot_escape(id),
            dot_escape(id),
            dot_escape(kind)
        );
    }
    for (from, to, explicit) in edges(g) {
        let style = if explicit { " [style=dashed]" } else { "" };
        let _ = writeln!(out, "  \"{}\" -> \"{}\"{style};", dot_escape(from), dot_escape(to));
    }
    out.push_str("}\n");
    out
}

/// Mermaid node ids allow only a safe alphabet; ids are mapped to `n<i>`
/// so no resource name can break the diagram.
pub fn mermaid<'a>(kinds: impl IntoIterator<Item = (&'a str, &'a str)>, g: &Graph) -> String {
    let kinds: Vec<(&str, &str)> = kinds.into_iter().collect();
    let ids: std::collections::HashMap<&str, usize> =
        kinds.iter().enumerate().map(|(i, (k, _))| (*k, i)).collect();
    let mut out = String::from("flowchart LR\n");
    for (id, kind) in &kinds {
        let _ = writeln!(
            out,
            "  n{}[\"{}<br/><small>{}</small>\"]",
            ids[id],
            mermaid_escape(id),
            mermaid_escape(kind)
        );
    }
    for (from, to, explicit) in edges(g) {
        let arrow = if explicit { "-.->" } else { "-->" };
        let _ = writeln!(out, "  n{} {arrow} n{}", ids[from], ids[to]);
    }
    out
}

/// Text safe inside a quoted Mermaid label.
pub fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;")
}
