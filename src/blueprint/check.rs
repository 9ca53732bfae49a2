//! Checks of the values resources will be given, once parameter values
//! are known: AWS's own limits on each property ([`crate::schema::Limit`])
//! and the rules between resources that can be decided before anything
//! exists (a subnet inside its VPC, subnets of one VPC apart, at most seven
//! instances of a spread placement group per zone).
//!
//! `validate` runs these with the values given and `plan`/`apply` with
//! every value, so a value out of range is refused before the first AWS
//! call that changes anything, with the `--var` it came from and the line
//! it reaches. A value known only after apply (another resource's
//! attribute) is not checked here; AWS checks it then.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use miette::SourceSpan;
use serde_json::Value as J;

use super::diagnostic::{Code, Diagnostic, Diagnostics, span};
use super::expr::{Call, Expr, Ref};
use super::known::{Eval, top_calls};
use super::model::{Blueprint, Resource};
use super::params::{Origin, Values};
use super::yaml::{self, Node};
use crate::schema::{Limit, Type};

/// Every value error of the resources for these parameter values, all at
/// once.
pub fn check_values(bp: &Blueprint, values: &Values) -> Result<(), Diagnostics> {
    let mut c = Checker { bp, values, tree: std::cell::OnceCell::new(), diags: Vec::new() };
    for r in bp.resources.values() {
        for (name, e) in &r.properties {
            if let Some(p) = r.schema.property(name) {
                let mut path = vec![Step::Key(name.clone())];
                c.walk(r, &mut path, &p.ty, p.limit, p.sensitive, e);
            }
        }
    }
    c.subnets();
    c.spread_groups();
    if c.diags.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics { file: bp.file.name.clone(), diagnostics: c.diags })
    }
}

/// A zone as written, for a message: `${azs[1]}`, `${element(azs, 2)}`.
fn zone_name(e: &Expr) -> String {
    fn bare(e: &Expr) -> String {
        match e {
            Expr::Ref(r) => {
                let r = r.to_string();
                r.trim_start_matches("${").trim_end_matches('}').to_string()
            }
            Expr::Call(c) => {
                let args: Vec<String> = c.args.iter().map(bare).collect();
                format!("{}({})", c.func.name(), args.join(", "))
            }
            Expr::Str(s) => s.clone(),
            Expr::Int(i) => i.to_string(),
            other => format!("{other:?}"),
        }
    }
    match e {
        Expr::Str(s) => s.clone(),
        other => format!("${{{}}}", bare(other)),
    }
}

/// A step from a resource's `properties` to a nested value.
enum Step {
    Key(String),
    Index(usize),
}

struct Checker<'a> {
    bp: &'a Blueprint,
    values: &'a Values,
    /// The file again, for the span of each property value (the model
    /// keeps only each resource's).
    /// Parsed only to report an error: most runs have none, and a large
    /// blueprint's tree is tens of megabytes.
    tree: std::cell::OnceCell<Option<Node>>,
    diags: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    fn tree(&self) -> Option<&Node> {
        self.tree.get_or_init(|| yaml::parse(&self.bp.file.text).ok()).as_ref()
    }

    fn eval(&self) -> Eval<'a> {
        Eval { values: self.values }
    }

    #[allow(clippy::too_many_arguments)]
    fn walk(
        &mut self,
        r: &Resource,
        path: &mut Vec<Step>,
        ty: &Type,
        limit: Limit,
        sensitive: bool,
        e: &Expr,
    ) {
        match (ty, e) {
            (Type::Object(props), Expr::Map(m)) => {
                for (k, sub) in m {
                    if let Some(p) = props.iter().find(|p| p.name == k) {
                        path.push(Step::Key(k.clone()));
                        self.walk(r, path, &p.ty, p.limit, sensitive || p.sensitive, sub);
                        path.pop();
                    }
                }
            }
            (Type::List(inner), Expr::List(items)) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Step::Index(i));
                    self.walk(r, path, inner, limit, sensitive, item);
                    path.pop();
                }
            }
            _ => {
                if self.call_errors(r, path, sensitive, e) {
                    return;
                }
                let Some(v) = self.eval().known(e) else { return };
                if let Err(crate::schema::Refusal { message: msg, help }) = limit.check(ty, &v) {
                    let params = params_of(e);
                    let secret = sensitive
                        || params.iter().any(|p| self.values.get(p).is_some_and(|v| v.secret));
                    let msg = if secret {
                        "has a value AWS does not accept (not shown: it is secret)".to_string()
                    } else {
                        msg
                    };
                    let from = self.origins(&params);
                    let at = self.span(r, path);
                    let label = if from.is_empty() { "here".to_string() } else { from.clone() };
                    let from = if from.is_empty() { String::new() } else { format!(" ({from})") };
                    self.diags.push(
                        Diagnostic::new(
                            Code::InvalidValue,
                            format!("`{}.{}` {msg}{from}", r.id, path_text(path)),
                        )
                        .in_file(&self.bp.file)
                        .label(at, label)
                        .help(help),
                    );
                }
            }
        }
    }

    /// Reports every failing call in a value, at the argument at fault;
    /// true when one failed.
    fn call_errors(&mut self, r: &Resource, path: &[Step], sensitive: bool, e: &Expr) -> bool {
        let mut calls = Vec::new();
        top_calls(e, &mut calls);
        let mut failed = false;
        for c in calls {
            let Err((bad, err)) = self.eval().call(c) else { continue };
            failed = true;
            let params = params_of(e);
            let secret =
                sensitive || params.iter().any(|p| self.values.get(p).is_some_and(|v| v.secret));
            let msg = if secret {
                "refuses its arguments (not shown: they are secret)".to_string()
            } else {
                err.message.clone()
            };
            let from = self.from(e);
            let arg = bad.func.params().get(err.arg).copied().unwrap_or("argument");
            let at = self.arg_span(r, path, bad, err.arg);
            self.diags.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("`{}.{}`: {}: {msg}{from}", r.id, path_text(path), bad.func.name()),
                )
                .in_file(&self.bp.file)
                .label(at, format!("this {arg}"))
                .help(err.help),
            );
        }
        failed
    }

    /// The span of a call's argument when the value's text maps one to one
    /// onto the file, else of the value.
    fn arg_span(&self, r: &Resource, path: &[Step], c: &Call, arg: usize) -> SourceSpan {
        let whole = self.span(r, path);
        let node = self.node(r, path);
        let base = node.and_then(|n| match &n.value {
            yaml::Value::Str(s) => super::validate::content_offset(&self.bp.file.text, n, s),
            _ => None,
        });
        match (base, c.at.0.get(arg)) {
            (Some(b), Some(range)) => span(b + range.start, range.len()),
            _ => whole,
        }
    }

    /// Where the parameters came from, for the message: "from --var
    /// vpc_cidr".
    fn origins(&self, params: &[String]) -> String {
        let from: Vec<String> = params
            .iter()
            .filter_map(|p| {
                Some(match &self.values.get(p)?.origin {
                    Origin::Cli => format!("from `--var {p}`"),
                    Origin::Env(var) => format!("from `{var}`"),
                    Origin::File(f) => format!("from `{p}` in {f}"),
                    Origin::Default => format!("the default of `{p}`"),
                    Origin::Prompt => format!("`{p}` as typed at the prompt"),
                })
            })
            .collect();
        from.join(", ")
    }

    /// The span of the value at `path` of resource `r`, or of the nearest
    /// enclosing value found.
    fn span(&self, r: &Resource, path: &[Step]) -> SourceSpan {
        self.node(r, path).map_or(r.span, |n| n.span)
    }

    /// The node of the value at `path` of resource `r`, or of the nearest
    /// enclosing value found.
    fn node(&self, r: &Resource, path: &[Step]) -> Option<&Node> {
        let base = r.id.split('[').next().unwrap_or(&r.id);
        let mut node = self
            .tree()
            .and_then(|t| entry(t, "resources"))
            .and_then(|n| entry(n, base))
            .and_then(|n| entry(n, "properties"))?;
        for step in path {
            let next = match step {
                Step::Key(k) => entry(node, k),
                Step::Index(i) => match &node.value {
                    yaml::Value::Seq(items) => items.get(*i),
                    _ => None,
                },
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        Some(node)
    }

    /// Each subnet whose VPC is a resource of this blueprint lies inside
    /// the VPC's range, apart from the VPC's other subnets.
    fn subnets(&mut self) {
        let mut by_vpc: BTreeMap<String, Vec<(&Resource, Ipv4Net)>> = BTreeMap::new();
        for r in self.bp.resources.values().filter(|r| r.kind() == "aws.ec2.subnet") {
            let Some(Expr::Ref(Ref::Attr { resource, attr })) = r.properties.get("vpc_id") else {
                continue;
            };
            let Some(net) = r.properties.get("cidr_block").and_then(|e| self.net(e)) else {
                continue;
            };
            if attr == "id" {
                by_vpc.entry(resource.clone()).or_default().push((r, net));
            }
        }
        for (vpc_id, subnets) in by_vpc {
            let Some(vpc) = self.bp.resources.get(&vpc_id) else { continue };
            if vpc.kind() != "aws.ec2.vpc" {
                continue;
            }
            let vpc_net = vpc.properties.get("cidr_block").and_then(|e| self.net(e));
            for (i, (r, net)) in subnets.iter().enumerate() {
                // Spans only for errors: finding one parses the file again.
                let cidr = [Step::Key("cidr_block".into())];
                if let Some(v) = vpc_net
                    && !v.contains(net)
                {
                    let from = self.from(&r.properties["cidr_block"]);
                    self.diags.push(
                        Diagnostic::new(
                            Code::InvalidValue,
                            format!(
                                "subnet `{}` ({net}) is outside its VPC `{vpc_id}` ({v}){from}",
                                r.id
                            ),
                        )
                        .in_file(&self.bp.file)
                        .label(self.span(r, &cidr), "outside the VPC's range")
                        .help(format!(
                            "choose a range inside {v} ({} to {})",
                            v.network(),
                            v.broadcast()
                        )),
                    );
                    continue;
                }
                for (other, onet) in &subnets[..i] {
                    if net.contains(&onet.network()) || onet.contains(&net.network()) {
                        let from = self.from(&r.properties["cidr_block"]);
                        let first = self.span(other, &[Step::Key("cidr_block".into())]);
                        self.diags.push(
                            Diagnostic::new(
                                Code::InvalidValue,
                                format!(
                                    "subnets `{}` ({onet}) and `{}` ({net}) of VPC `{vpc_id}` overlap{from}",
                                    other.id, r.id
                                ),
                            )
                            .in_file(&self.bp.file)
                            .label(first, "this range")
                            .label(self.span(r, &cidr), "overlaps this one")
                            .help("give each subnet of a VPC its own range"),
                        );
                    }
                }
            }
        }
    }

    /// A spread placement group (rack level) holds at most seven running
    /// instances per Availability Zone: count the blueprint's instances
    /// per group and zone, the zone as its subnet gives it before apply
    /// (`${azs[0]}`, `${element(azs, each.value)}` or a name; two
    /// expressions of one zone count apart, so this errs on the side of
    /// letting AWS decide).
    fn spread_groups(&mut self) {
        const PER_ZONE: usize = 7;
        let bp = self.bp;
        let target = |r: &Resource, prop: &str| match r.properties.get(prop) {
            Some(Expr::Ref(Ref::Attr { resource, .. })) => bp.resources.get(resource),
            _ => None,
        };
        let mut per: BTreeMap<(String, String), Vec<&Resource>> = BTreeMap::new();
        for r in bp.resources.values().filter(|r| r.kind() == "aws.ec2.instance") {
            let Some(group) = target(r, "launch_template_id")
                .filter(|t| t.kind() == "aws.ec2.launch_template")
                .and_then(|t| target(t, "placement_group"))
                .filter(|g| g.kind() == "aws.ec2.placement_group")
            else {
                continue;
            };
            let known = |p: &str| group.properties.get(p).and_then(|e| self.eval().known(e));
            let spread = known("strategy").is_none_or(|s| s == "spread")
                && known("spread_level").is_none_or(|l| l == "rack");
            if !spread {
                continue;
            }
            let zone = match target(r, "subnet_id").filter(|s| s.kind() == "aws.ec2.subnet") {
                Some(subnet) => match subnet.properties.get("availability_zone") {
                    Some(e) => match self.eval().known(e) {
                        Some(J::String(z)) => z,
                        _ => format!("the zone of `{}` ({})", subnet.id, zone_name(e)),
                    },
                    None => continue,
                },
                None => match r.properties.get("subnet_id") {
                    Some(e) => format!("the zone of subnet {}", zone_name(e)),
                    None => "the default subnet's zone".into(),
                },
            };
            per.entry((group.id.clone(), zone)).or_default().push(r);
        }
        for ((group, zone), instances) in per.into_iter().filter(|(_, v)| v.len() > PER_ZONE) {
            let first = instances[0];
            let base = first.id.split('[').next().unwrap_or(&first.id);
            let from = self.count_origin(base);
            self.diags.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!(
                        "{} instances of spread placement group `{group}` in {zone}{}, but a spread group holds at most {PER_ZONE} per zone",
                        instances.len(),
                        from.map_or_else(String::new, |f| format!(" ({f})")),
                    ),
                )
                .in_file(&bp.file)
                .label(first.span, format!("{} in one zone", instances.len()))
                .help(format!(
                    "spread the instances over more zones (subnets in other zones), or launch at most {PER_ZONE} per zone"
                )),
            );
        }
    }

    /// Where the count of a `for_each` resource came from (`--var ...`).
    fn count_origin(&self, base: &str) -> Option<String> {
        let from = self.tree().and_then(|t| entry(t, "resources")).and_then(|n| entry(n, base))?;
        let fe = entry(from, "for_each")?;
        let yaml::Value::Str(text) = &fe.value else { return None };
        let (e, _) = super::expr::parse_string(text).ok()?;
        let origins = self.origins(&params_of(&e));
        (!origins.is_empty()).then_some(origins)
    }

    fn net(&self, e: &Expr) -> Option<Ipv4Net> {
        match self.eval().known(e)? {
            J::String(s) => s.parse::<Ipv4Net>().ok().filter(|n| n.trunc() == *n),
            _ => None,
        }
    }

    fn from(&self, e: &Expr) -> String {
        let from = self.origins(&params_of(e));
        if from.is_empty() { from } else { format!(" ({from})") }
    }
}

/// The parameters a value refers to, in order.
fn params_of(e: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    e.visit_refs(&mut |r| {
        if let Ref::Param(p) = r
            && !out.contains(p)
        {
            out.push(p.clone());
        }
    });
    out
}

fn entry<'n>(n: &'n Node, key: &str) -> Option<&'n Node> {
    n.as_map()?.iter().find(|(k, _)| k.name == key).map(|(_, v)| v)
}

/// `containers[0].port_mappings[1].container_port`.
fn path_text(path: &[Step]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::params::{Inputs, Require, resolve};

    /// `src` for these `--var`s, as plan sees it: parameters resolved,
    /// `when:` and `for_each` applied.
    fn selected(src: &str, vars: &[(&str, &str)]) -> (Blueprint, Values) {
        let bp = crate::blueprint::load_bytes("c.yaml", src.as_bytes(), &crate::aws::registry())
            .expect("loads");
        let inputs = Inputs {
            cli: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Inputs::default()
        };
        let values = resolve(&bp, &inputs, Require::Given, &mut |_| None).expect("values");
        (bp.select(|p| values.value(p)).expect("selects"), values)
    }

    fn check(src: &str, vars: &[(&str, &str)]) -> Result<(), Diagnostics> {
        let (bp, values) = selected(src, vars);
        check_values(&bp, &values)
    }

    const NET: &str = "name: n\nparameters:\n  vpc_cidr: {default: 10.0.0.0/16}\n  a: {default: 10.0.0.0/24}\n  b: {default: 10.0.1.0/24}\nresources:\n  vpc:\n    type: aws.ec2.vpc\n    properties:\n      cidr_block: ${params.vpc_cidr}\n  one:\n    type: aws.ec2.subnet\n    properties:\n      vpc_id: ${vpc.id}\n      cidr_block: ${params.a}\n      availability_zone: us-east-1a\n  two:\n    type: aws.ec2.subnet\n    properties:\n      vpc_id: ${vpc.id}\n      cidr_block: ${params.b}\n      availability_zone: us-east-1a\n";

    #[test]
    fn a_vpc_range_outside_aws_limits_names_its_var_and_line() {
        assert!(check(NET, &[]).is_ok());
        let err = check(NET, &[("vpc_cidr", "10.0.0.0/8")]).unwrap_err();
        assert_eq!(err.codes(), ["archkit::blueprint::invalid_value"]);
        let d = &err.diagnostics[0];
        assert!(
            d.message.contains("vpc.cidr_block") && d.message.contains("--var vpc_cidr"),
            "{d:?}"
        );
        assert!(d.help.as_deref().unwrap().contains("/16"), "{d:?}");
        // The label is on the property's line (10), not the resource's.
        assert_eq!(d.line_col(d.offset()).0, 10);
    }

    #[test]
    fn subnets_outside_their_vpc_or_overlapping_are_refused() {
        let err = check(NET, &[("a", "10.1.0.0/24")]).unwrap_err();
        assert!(err.diagnostics[0].message.contains("outside its VPC"), "{err:?}");
        let err = check(NET, &[("b", "10.0.0.0/23")]).unwrap_err();
        assert!(err.diagnostics[0].message.contains("overlap"), "{err:?}");
        // Both at once: every problem is reported.
        let err = check(NET, &[("vpc_cidr", "10.0.0.0/8"), ("b", "10.0.0.128/25")]).unwrap_err();
        assert_eq!(err.diagnostics.len(), 2, "{err:?}");
    }

    #[test]
    fn nested_values_and_whole_numbers_are_checked() {
        let src = "name: t\nparameters:\n  port: {type: number, default: 80}\nresources:\n  td:\n    type: aws.ecs.task_definition\n    properties:\n      family: web\n      containers:\n        - name: web\n          image: nginx\n          port_mappings:\n            - container_port: ${params.port}\n";
        assert!(check(src, &[]).is_ok());
        let err = check(src, &[("port", "70000")]).unwrap_err();
        let d = &err.diagnostics[0];
        assert!(d.message.contains("containers[0].port_mappings[0].container_port"), "{d:?}");
        assert!(d.help.as_deref().unwrap().contains("1 to 65535"), "{d:?}");
        let err = check(src, &[("port", "80.5")]).unwrap_err();
        assert!(err.diagnostics[0].message.contains("not a whole number"), "{err:?}");
    }

    const DERIVED: &str = "name: n\nparameters:\n  vpc_cidr: {type: cidr, default: 10.0.0.0/16}\n  bits: {type: integer, default: 8}\nresources:\n  vpc:\n    type: aws.ec2.vpc\n    properties:\n      cidr_block: ${params.vpc_cidr}\n  one:\n    type: aws.ec2.subnet\n    properties:\n      vpc_id: ${vpc.id}\n      cidr_block: ${cidrsubnet(params.vpc_cidr, params.bits, 1)}\n      availability_zone: us-east-1a\n  two:\n    type: aws.ec2.subnet\n    properties:\n      vpc_id: ${vpc.id}\n      cidr_block: \"${cidrsubnet(\\\"10.0.0.0/16\\\", 8, 2)}\"\n      availability_zone: us-east-1a\n";

    #[test]
    fn a_call_that_cannot_be_made_names_its_argument_line_and_column() {
        assert!(check(DERIVED, &[]).is_ok());
        // 256 subnets of a /16 extended by 8 bits, so netnum 1 fits, but
        // bits 17 go past /32: the error is at `params.bits`, line 14.
        let err = check(DERIVED, &[("bits", "17")]).unwrap_err();
        assert_eq!(err.codes(), ["archkit::blueprint::invalid_value"], "{err:?}");
        let d = &err.diagnostics[0];
        assert!(d.message.contains("one.cidr_block") && d.message.contains("cidrsubnet"), "{d:?}");
        assert!(d.message.contains("--var bits"), "{d:?}");
        let at = d.offset();
        assert_eq!(&DERIVED[at..at + "params.bits".len()], "params.bits");
        assert_eq!(d.line_col(at).0, 14);
        assert!(d.help.as_deref().unwrap().contains("0 to 16"), "{d:?}");
    }

    const ELEMENT: &str = "name: t\nparameters:\n  names: {type: list, default: []}\nresources:\n  logs:\n    type: aws.logs.log_group\n    properties:\n      name: ${element(params.names, 1)}\n";

    #[test]
    fn element_of_a_known_list_is_checked_at_plan_time() {
        // An empty list has no element: the list argument is at fault.
        let err = check(ELEMENT, &[]).unwrap_err();
        assert_eq!(err.codes(), ["archkit::blueprint::invalid_value"], "{err:?}");
        let d = &err.diagnostics[0];
        assert!(d.message.contains("element: the list is empty"), "{d:?}");
        let at = d.offset();
        assert_eq!(&ELEMENT[at..at + "params.names".len()], "params.names");
        assert_eq!(d.line_col(at).0, 8);
        // Given an item, index 1 wraps to it.
        assert!(check(ELEMENT, &[("names", "[app]")]).is_ok());
    }

    #[test]
    fn derived_subnets_are_checked_against_their_vpc() {
        // A VPC moved by --var: a fixed subnet no longer lies inside it,
        // the derived one moves with it.
        let err = check(DERIVED, &[("vpc_cidr", "10.50.0.0/16")]).unwrap_err();
        assert_eq!(err.diagnostics.len(), 1, "{err:?}");
        let d = &err.diagnostics[0];
        assert!(d.message.contains("subnet `two` (10.0.2.0/24) is outside"), "{d:?}");
        // Two calls giving one range overlap.
        let err = check(DERIVED, &[("bits", "7")]).unwrap_err();
        assert!(err.diagnostics[0].message.contains("overlap"), "{err:?}");
    }

    const SPREAD: &str = "name: s\nparameters:\n  zones: {type: integer, default: 1}\n  count: {type: integer, default: 7}\nresources:\n  vpc:\n    type: aws.ec2.vpc\n    properties: {cidr_block: 10.0.0.0/16}\n  subnet:\n    type: aws.ec2.subnet\n    for_each: ${params.zones}\n    properties:\n      vpc_id: ${vpc.id}\n      cidr_block: ${cidrsubnet(\"10.0.0.0/16\", 8, each.value)}\n      availability_zone: ${element(azs, each.value)}\n  spread:\n    type: aws.ec2.placement_group\n  template:\n    type: aws.ec2.launch_template\n    properties:\n      image_id: ami-1\n      instance_type: m5.large\n      placement_group: ${spread.name}\n  instance:\n    type: aws.ec2.instance\n    for_each: ${params.count}\n    properties:\n      launch_template_id: ${template.id}\n      launch_template_version: ${template.default_version}\n      subnet_id: ${element(subnet[*].id, each.value)}\n";

    #[test]
    fn a_spread_group_holds_at_most_seven_instances_per_zone() {
        assert!(check(SPREAD, &[]).is_ok());
        let err = check(SPREAD, &[("count", "8")]).unwrap_err();
        assert_eq!(err.codes(), ["archkit::blueprint::invalid_value"], "{err:?}");
        let d = &err.diagnostics[0];
        assert!(
            d.message.contains(
                "8 instances of spread placement group `spread` in the zone of `subnet[1]` (${element(azs, 1)})"
            )
                && d.message.contains("from `--var count`")
                && d.message.contains("at most 7 per zone"),
            "{d:?}"
        );
        // Dealt over two zones, 14 fit and 15 do not (8 land in one).
        assert!(check(SPREAD, &[("zones", "2"), ("count", "14")]).is_ok());
        let err = check(SPREAD, &[("zones", "2"), ("count", "15")]).unwrap_err();
        assert!(err.diagnostics[0].message.starts_with("8 instances"), "{err:?}");
        // A cluster group has no such limit.
        let cluster = SPREAD.replace(
            "type: aws.ec2.placement_group",
            "type: aws.ec2.placement_group\n    properties: {strategy: cluster}",
        );
        assert!(check(&cluster, &[("count", "9")]).is_ok());
    }

    #[test]
    fn an_instance_depends_only_on_the_instance_of_a_splat_it_picks() {
        let (bp, _) = selected(SPREAD, &[("zones", "2"), ("count", "3")]);
        let targets = |id: &str| -> Vec<String> {
            let mut t: Vec<String> =
                bp.resources[id].deps.iter().map(|d| d.target.clone()).collect();
            t.sort();
            t
        };
        // Items count from 1; `element` wraps: 1 -> subnet[2], 2 -> subnet[1].
        assert_eq!(targets("instance[1]"), ["subnet[2]", "template", "template"]);
        assert_eq!(targets("instance[2]"), ["subnet[1]", "template", "template"]);
        assert_eq!(targets("instance[3]"), ["subnet[2]", "template", "template"]);
        assert!(bp.graph.dependencies("instance[2]").contains(&"subnet[1]"));
    }
}
