//! Showing a plan: a Terraform-like view for people (`+`, `~`, `-/+`, `-`,
//! old → new per property, `(known after apply)`, `(sensitive)`) and a
//! documented, stable JSON form for machines. Secrets never appear in
//! either.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use serde_json::Value;

use super::{Action, Change, Plan, Reason};

/// The placeholder shown instead of a secret.
pub const SENSITIVE: &str = "(sensitive)";
const UNKNOWN: &str = "(known after apply)";

/// The plan with every sensitive value replaced by [`SENSITIVE`]: what
/// may be printed or saved. Copied only when it has a sensitive value.
pub fn redacted(plan: &Plan) -> Cow<'_, Plan> {
    if plan.changes.iter().all(|c| c.sensitive.is_empty()) {
        return Cow::Borrowed(plan);
    }
    let mut p = plan.clone();
    for c in &mut p.changes {
        for name in &c.sensitive {
            if let Some(v) = c.after.get_mut(name)
                && v.is_some()
            {
                *v = Some(Value::String(SENSITIVE.into()));
            }
            if c.before.contains_key(name) {
                c.before.insert(name.clone(), Value::String(SENSITIVE.into()));
            }
        }
    }
    Cow::Owned(p)
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) if s == SENSITIVE => SENSITIVE.to_string(),
        other => other.to_string(),
    }
}

fn reason_text(c: &Change) -> Option<String> {
    Some(match c.reason.as_ref()? {
        Reason::Tainted => "tainted: its creation did not finish".into(),
        Reason::DeletedOutside => "deleted outside archkit".into(),
        Reason::Adopted => "found by its tags (state had lost it)".into(),
        Reason::NotInBlueprint => "no longer in the blueprint".into(),
        Reason::Orphan => "tagged with this stack but not tracked".into(),
        Reason::KindChanged => "its type changed".into(),
        Reason::NotReady => "not ready yet: a wait for it did not finish".into(),
        Reason::Discovered => "found by its tag archkit:stack (state did not record it)".into(),
        Reason::Destroy => return None,
    })
}

/// The human view.
pub fn human(plan: &Plan) -> String {
    let plan = redacted(plan);
    let mut out = String::new();
    let changes: Vec<&Change> =
        plan.changes.iter().filter(|c| c.action != Action::NoOp || !c.drift.is_empty()).collect();
    // Waits that are someone else's to end (a connection pending the
    // service owner's acceptance): said, not failed.
    let notes: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::NoOp)
        .filter_map(|c| c.note.as_ref().map(|n| format!("Note: `{}`: {n}.", c.id)))
        .collect();
    if changes.is_empty() {
        let _ = writeln!(
            out,
            "No changes. Stack `{}` matches blueprint `{}`.",
            plan.stack, plan.blueprint
        );
        for n in &notes {
            let _ = writeln!(out, "{n}");
        }
        lookups(&plan, &mut out);
        return out;
    }
    let _ = writeln!(
        out,
        "archkit will make these changes to stack `{}` (blueprint `{}`):\n",
        plan.stack, plan.blueprint
    );
    for c in changes {
        let _ = writeln!(out, "{}", head(c));
        rows(c, &mut out);
        if !c.drift.is_empty() {
            let _ = writeln!(
                out,
                "      ! changed outside archkit since the last apply: {}",
                c.drift.join(", ")
            );
        }
    }
    let _ = writeln!(out, "\n{}", summary(&plan));
    for n in &notes {
        let _ = writeln!(out, "{n}");
    }
    lookups(&plan, &mut out);
    out
}

/// A change's first line: symbol, id, kind, physical id, what and why.
fn head(c: &Change) -> String {
    let mut head = format!("{:>3} {}  {}", c.symbol(), c.id, c.kind);
    if let Some(pid) = &c.physical_id {
        let _ = write!(head, "  ({pid})");
    }
    let what = match c.action {
        Action::Create => "create".to_string(),
        Action::Update => "update in place".to_string(),
        Action::Replace if c.replace_because.is_empty() => "replace".to_string(),
        Action::Replace => format!(
            "replace: {} forces replacement",
            c.replace_because.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
        ),
        Action::Delete => "delete".to_string(),
        Action::NoOp => "no change".to_string(),
    };
    let _ = write!(head, "  {what}");
    if let Some(note) = &c.note {
        let _ = write!(head, " ({note})");
    }
    if c.delete_first {
        head.push_str(" (delete first)");
    }
    if let Some(r) = reason_text(c) {
        let _ = write!(head, "; {r}");
    }
    head
}

/// The property rows under a change's first line.
fn rows(c: &Change, out: &mut String) {
    let width = c.after.keys().map(|k| k.len()).max().unwrap_or(0);
    match c.action {
        Action::Create => {
            for (k, v) in &c.after {
                if matches!(v, Some(Value::Null)) {
                    continue;
                }
                let v = v.as_ref().map_or(UNKNOWN.to_string(), show);
                let _ = writeln!(out, "      + {k:width$} = {v}");
            }
        }
        Action::Update | Action::Replace => {
            // Nested values (container lists, load balancer
            // attachments) show only the fields that change.
            let mut rows = Vec::new();
            for k in &c.changed {
                let mark =
                    if c.replace_because.contains(k) { "  # forces replacement" } else { "" };
                let new = c.after.get(k);
                match (c.before.get(k), new) {
                    (Some(old), Some(Some(new))) => {
                        let mut leaves = Vec::new();
                        leaf_diffs(k.clone(), old, new, &mut leaves);
                        if leaves.is_empty() {
                            rows.push((k.clone(), show(old), show(new), mark));
                        }
                        for (path, o, n) in leaves {
                            rows.push((path, o, n, mark));
                        }
                    }
                    (old, new) => rows.push((
                        k.clone(),
                        if c.sensitive.contains(k) {
                            SENSITIVE.to_string()
                        } else {
                            old.map_or("null".to_string(), show)
                        },
                        new.map(|v| v.as_ref().map_or(UNKNOWN.to_string(), show))
                            .unwrap_or_else(|| "null".into()),
                        mark,
                    )),
                }
            }
            let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
            for (path, old, new, mark) in rows {
                let _ = writeln!(out, "      ~ {path:width$} = {old} → {new}{mark}");
            }
        }
        _ => {}
    }
}

/// The paths inside two values where they differ, with both sides shown.
/// Objects are compared key by key and equally long lists item by item;
/// anything else that differs is one row.
fn leaf_diffs(path: String, old: &Value, new: &Value, out: &mut Vec<(String, String, String)>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let (x, y) = (a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null));
                leaf_diffs(format!("{path}.{k}"), x, y, out);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() && !a.is_empty() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                leaf_diffs(format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if old != new => out.push((path, show(old), show(new))),
        _ => {}
    }
}

/// `Plan: 2 to add, 1 to change, 0 to replace, 1 to destroy.`
pub fn summary(plan: &Plan) -> String {
    format!(
        "Plan: {} to add, {} to change, {} to replace, {} to destroy.",
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Replace),
        plan.count(Action::Delete)
    )
}

/// The `--json` form (format version 1). Field meanings are documented in
/// the README; new fields may be added, none removed or renamed.
#[derive(Debug, Serialize)]
pub struct PlanJson {
    pub format_version: u32,
    pub stack: String,
    pub blueprint: String,
    pub has_changes: bool,
    pub summary: Summary,
    pub changes: Vec<ChangeJson>,
    /// Systems Manager parameters looked up at plan time, and their values.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub lookups: BTreeMap<String, String>,
    /// The estimated running cost (absent only where no estimate was made).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<super::cost::CostReport>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
}

#[derive(Debug, Serialize)]
pub struct ChangeJson {
    pub id: String,
    pub kind: String,
    pub action: Action,
    pub physical_id: Option<String>,
    pub reason: Option<Reason>,
    pub changed: Vec<String>,
    pub replace_because: Vec<String>,
    pub drift: Vec<String>,
    pub before: serde_json::Map<String, Value>,
    pub after: serde_json::Map<String, Value>,
    /// Properties known only after apply.
    pub after_unknown: Vec<String>,
    /// What an update entails beyond the change ("the broker reboots to
    /// apply it"); absent when nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub fn json(plan: &Plan) -> PlanJson {
    let plan = redacted(plan);
    PlanJson {
        format_version: 1,
        stack: plan.stack.clone(),
        blueprint: plan.blueprint.clone(),
        has_changes: plan.has_changes(),
        summary: Summary {
            add: plan.count(Action::Create),
            change: plan.count(Action::Update),
            replace: plan.count(Action::Replace),
            destroy: plan.count(Action::Delete),
        },
        changes: plan
            .changes
            .iter()
            .map(|c| ChangeJson {
                id: c.id.clone(),
                kind: c.kind.clone(),
                action: c.action,
                physical_id: c.physical_id.clone(),
                reason: c.reason.clone(),
                changed: c.changed.clone(),
                replace_because: c.replace_because.clone(),
                drift: c.drift.clone(),
                before: c.before.clone(),
                after: c.after.iter().filter_map(|(k, v)| Some((k.clone(), v.clone()?))).collect(),
                after_unknown: c
                    .after
                    .iter()
                    .filter(|(_, v)| v.is_none())
                    .map(|(k, _)| k.clone())
                    .collect(),
                note: c.note.clone(),
            })
            .collect(),
        lookups: plan.lookups.clone(),
        cost: None,
    }
}

/// The lines saying what was looked up at plan time.
fn lookups(plan: &Plan, out: &mut String) {
    if plan.lookups.is_empty() {
        return;
    }
    let _ = writeln!(out, "Looked up at plan time:");
    for (name, value) in &plan.lookups {
        let _ = writeln!(out, "  ssm:{name} = {value}");
    }
}

/// Dollars: cents for a month, four decimals (tenths of a cent) for an
/// hour, a sign when asked.
fn usd(x: f64, hourly: bool, sign: bool) -> String {
    let s = if hourly { format!("${:.4}", x.abs()) } else { format!("${:.2}", x.abs()) };
    match (sign, x < 0.0) {
        (_, true) => format!("-{s}"),
        (true, false) => format!("+{s}"),
        (false, false) => s,
    }
}

/// Which cost lines a view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostView {
    /// A plan with changes: its resources, the stack after it, the change.
    Changes,
    /// A plan without changes: the stack's running cost.
    Unchanged,
    /// A destroy: the cost it stops.
    Destroy,
}

/// The cost lines shown under a plan: each resource that costs something
/// (or whose cost is unknown), the stack's total, what the plan changes,
/// and the usage-based prices not in the totals.
pub fn cost(report: &super::cost::CostReport, view: CostView) -> String {
    let mut out = String::new();
    let Some(src) = &report.prices else {
        let _ = writeln!(out, "Cost: no prices for {}.", report.region);
        return out;
    };
    let _ = writeln!(
        out,
        "Estimated running cost ({} on-demand list prices of {}; usage-based charges not included):",
        report.region, src.date
    );
    let width = report.resources.iter().map(|r| r.id.len()).max().unwrap_or(0);
    for r in &report.resources {
        match (r.hourly, &r.unknown_because) {
            (Some(h), _) if h > 0.0 => {
                let what: Vec<&str> = r.charges.iter().map(|c| c.what.as_str()).collect();
                let _ = writeln!(
                    out,
                    "  {:>3} {:<width$}  {:>9}/h  {:>9}/month  {}",
                    r.symbol,
                    r.id,
                    usd(h, true, false),
                    usd(r.monthly.unwrap_or_default(), false, false),
                    what.join(", ")
                );
            }
            (None, Some(why)) => {
                let _ = writeln!(out, "  {:>3} {:<width$}  unknown: {why}", r.symbol, r.id);
            }
            _ => {}
        }
    }
    let unknown = if report.unknown.is_empty() {
        String::new()
    } else {
        format!(
            ", not counting {} of unknown cost ({})",
            report.unknown.len(),
            report.unknown.join(", ")
        )
    };
    let (h, m) = (report.hourly.unwrap_or_default(), report.monthly.unwrap_or_default());
    match view {
        CostView::Destroy => {
            let stopped = -report.change.hourly.unwrap_or_default();
            let _ = writeln!(
                out,
                "Destroying stops {}/h ({}/month){unknown}.",
                usd(stopped, true, false),
                usd(-report.change.monthly.unwrap_or_default(), false, false)
            );
            return out;
        }
        CostView::Unchanged | CostView::Changes => {
            let label = if view == CostView::Changes { "Stack after apply" } else { "Stack" };
            let (h, m) = (usd(h, true, false), usd(m, false, false));
            let _ = writeln!(out, "{label}: {h}/h, {m}/month{unknown}.");
        }
    }
    if view == CostView::Changes {
        let _ = writeln!(
            out,
            "This plan: {}/h, {}/month.",
            usd(report.change.hourly.unwrap_or_default(), true, true),
            usd(report.change.monthly.unwrap_or_default(), false, true)
        );
    }
    if !report.usage.is_empty() {
        let u: Vec<String> =
            report.usage.iter().map(|u| format!("{} ${}/{}", u.what, u.price, u.unit)).collect();
        let _ = writeln!(out, "Usage-based, not included: {}.", u.join("; "));
    }
    out
}

/// `plan --format markdown`: a summary for a pull request comment or a CI
/// step summary. The change table (property names, never values, so no
/// secret can show), the cost lines, and a Mermaid diagram of the
/// resources that change, coloured by action (GitHub renders Mermaid).
pub fn markdown(plan: &Plan, cost: Option<&super::cost::CostReport>) -> String {
    let plan = redacted(plan);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### archkit plan: stack `{}` (blueprint `{}`)\n",
        plan.stack, plan.blueprint
    );
    let changes: Vec<&Change> =
        plan.changes.iter().filter(|c| c.action != Action::NoOp || !c.drift.is_empty()).collect();
    if changes.is_empty() {
        let _ = writeln!(out, "**No changes.** The stack matches its blueprint.\n");
    } else {
        let _ = writeln!(out, "**{}**\n", summary(&plan));
        let _ = writeln!(out, "| | Resource | Type | Action | Properties | Why |");
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for c in &changes {
            let what = match c.action {
                Action::Create => "create",
                Action::Update => "update in place",
                Action::Replace => "replace",
                Action::Delete => "delete",
                Action::NoOp => "no change",
            };
            let props = if c.action == Action::Replace && !c.replace_because.is_empty() {
                let p = c.replace_because.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>();
                format!("{} (forces replacement)", p.join(", "))
            } else {
                c.changed.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
            };
            let mut why = reason_text(c).unwrap_or_default();
            if !c.drift.is_empty() {
                let drift = format!("changed outside archkit: {}", c.drift.join(", "));
                why = if why.is_empty() { drift } else { format!("{why}; {drift}") };
            }
            let _ = writeln!(
                out,
                "| {} | `{}` | `{}` | {what} | {} | {} |",
                symbol_cell(c.symbol()),
                cell(&c.id),
                cell(&c.kind),
                cell(&props),
                cell(&why)
            );
        }
        let _ = writeln!(out);
    }
    if let Some(report) = cost {
        let view = if plan.destroy {
            CostView::Destroy
        } else if changes.is_empty() {
            CostView::Unchanged
        } else {
            CostView::Changes
        };
        cost_markdown(report, view, &mut out);
    }
    if !changes.is_empty() {
        let shown: std::collections::BTreeSet<&str> =
            changes.iter().map(|c| c.id.as_str()).collect();
        let index: BTreeMap<&str, usize> =
            changes.iter().enumerate().map(|(i, c)| (c.id.as_str(), i)).collect();
        let _ = writeln!(out, "```mermaid\nflowchart LR");
        for (i, c) in changes.iter().enumerate() {
            let class = match c.action {
                Action::Create => "create",
                Action::Update => "update",
                Action::Replace => "replace",
                Action::Delete => "delete",
                Action::NoOp => "drift",
            };
            let _ = writeln!(
                out,
                "  n{i}[\"{}<br/><small>{}</small>\"]:::{class}",
                crate::graph::export::mermaid_escape(&c.id),
                crate::graph::export::mermaid_escape(&c.kind)
            );
        }
        // Dependency first: the order apply creates them in.
        for c in &changes {
            for d in c.depends_on.iter().filter(|d| shown.contains(d.as_str())) {
                let _ = writeln!(out, "  n{} --> n{}", index[d.as_str()], index[c.id.as_str()]);
            }
        }
        for (class, fill, stroke) in [
            ("create", "#dafbe1", "#1a7f37"),
            ("update", "#fff8c5", "#9a6700"),
            ("replace", "#ffe7d1", "#bc4c00"),
            ("delete", "#ffebe9", "#cf222e"),
            ("drift", "#ddf4ff", "#0969da"),
        ] {
            let _ = writeln!(out, "  classDef {class} fill:{fill},stroke:{stroke},color:#1f2328");
        }
        let _ = writeln!(out, "```");
    }
    out
}

/// The cost lines of [`cost`], the resources as a table.
fn cost_markdown(report: &super::cost::CostReport, view: CostView, out: &mut String) {
    let text = cost(report, view);
    let mut lines = text.lines();
    let Some(title) = lines.next() else { return };
    let _ = writeln!(out, "**{}**\n", title.trim_end_matches(':'));
    let costly: Vec<_> = report
        .resources
        .iter()
        .filter(|r| r.hourly.is_some_and(|h| h > 0.0) || r.unknown_because.is_some())
        .collect();
    if !costly.is_empty() {
        let _ = writeln!(out, "| | Resource | $/hour | $/month | For |");
        let _ = writeln!(out, "|---|---|--:|--:|---|");
        for r in costly {
            let (h, m, what) = match (r.hourly, &r.unknown_because) {
                (Some(h), _) => (
                    usd(h, true, false),
                    usd(r.monthly.unwrap_or_default(), false, false),
                    r.charges.iter().map(|c| c.what.as_str()).collect::<Vec<_>>().join(", "),
                ),
                (None, why) => {
                    ("unknown".into(), "unknown".into(), why.clone().unwrap_or_default())
                }
            };
            let _ = writeln!(
                out,
                "| {} | `{}` | {h} | {m} | {} |",
                symbol_cell(r.symbol),
                cell(&r.id),
                cell(&what)
            );
        }
        let _ = writeln!(out);
    }
    // The totals and usage lines, as the terminal shows them.
    for line in lines.filter(|l| !l.starts_with("  ")) {
        let _ = writeln!(out, "{line}  ");
    }
    let _ = writeln!(out);
}

/// The action's symbol as code, or nothing for no change.
fn symbol_cell(symbol: &str) -> String {
    match symbol.trim() {
        "" => String::new(),
        s => format!("`{s}`"),
    }
}

/// Text safe in a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;

    /// A wait that is someone else's to end is said in the plan, also
    /// when nothing changes, and the plan still counts no change.
    #[test]
    fn notes_of_unchanged_resources_are_shown_without_a_change() {
        let mut c = Change::empty("consumer_endpoint", "aws.ec2.vpc_endpoint");
        c.action = Action::NoOp;
        c.note = Some("pending acceptance: the owner must accept".into());
        let plan = Plan {
            stack: "s".into(),
            blueprint: "b".into(),
            lineage: String::new(),
            serial: 1,
            destroy: false,
            expires_at: None,
            changes: vec![c],
            forget: Vec::new(),
            lookups: BTreeMap::new(),
        };
        let out = human(&plan);
        assert!(out.starts_with("No changes."), "{out}");
        assert!(
            out.contains("Note: `consumer_endpoint`: pending acceptance: the owner must accept."),
            "{out}"
        );
    }
}
