//! The validated, span-free blueprint model that the graph and the planner
//! consume. Spans kept here (`span`, `Dep::span`) serve diagnostics only and
//! never take part in comparisons of desired values.

use std::collections::BTreeMap;
use std::path::PathBuf;

use indexmap::IndexMap;
use miette::SourceSpan;

use super::diagnostic::{Code, Diagnostic, Diagnostics, SourceFile};
use super::expr::{Condition, Expr, Ref};
pub use crate::graph::{Dep, DepVia};
use crate::graph::{Graph, GraphError};
use crate::schema::Schema;

/// A blueprint that passed validation.
#[derive(Debug, Clone)]
pub struct Blueprint {
    pub name: String,
    pub description: String,
    /// The URL of the post the blueprint reproduces.
    pub source_url: Option<String>,
    pub parameters: IndexMap<String, Parameter>,
    /// Resources in file order.
    pub resources: IndexMap<String, Resource>,
    pub outputs: IndexMap<String, Output>,
    pub file: SourceFile,
    /// The blueprint's directory (function code lives beside the YAML);
    /// `None` for a blueprint read from a string.
    pub dir: Option<PathBuf>,
    /// The resources' dependency graph, built when the blueprint is
    /// loaded (and again by [`Blueprint::select`], which drops edges).
    pub graph: Graph,
    /// Packaged function code, by the digest its property now holds.
    pub assets: crate::provider::Assets,
}

/// The type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Number,
    /// A whole number (a count, a port).
    Integer,
    Bool,
    List,
    /// An IPv4 network address with its prefix (`10.0.0.0/16`): a string
    /// checked as one, host bits included.
    Cidr,
}

impl ParamType {
    pub fn parse(s: &str) -> Option<ParamType> {
        Some(match s {
            "string" => ParamType::String,
            "number" => ParamType::Number,
            "integer" => ParamType::Integer,
            "bool" => ParamType::Bool,
            "list" => ParamType::List,
            "cidr" => ParamType::Cidr,
            _ => return None,
        })
    }

    pub const NAMES: &'static [&'static str] =
        &["string", "number", "integer", "bool", "list", "cidr"];

    pub fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Number => "number",
            ParamType::Integer => "integer",
            ParamType::Bool => "bool",
            ParamType::List => "list",
            ParamType::Cidr => "cidr",
        }
    }

    /// Its name with an article, for messages: "an integer".
    pub fn a(self) -> String {
        match self {
            ParamType::Integer => "an integer".into(),
            other => format!("a {}", other.name()),
        }
    }

    /// Whether its values are numbers.
    pub fn numeric(self) -> bool {
        matches!(self, ParamType::Number | ParamType::Integer)
    }

    /// Whether its values are strings.
    pub fn textual(self) -> bool {
        matches!(self, ParamType::String | ParamType::Cidr)
    }
}

/// A blueprint parameter (`parameters:` entry).
#[derive(Debug, Clone)]
pub struct Parameter {
    pub name: String,
    pub ty: ParamType,
    pub default: Option<Expr>,
    pub description: String,
    /// When non-empty, the value must be one of these.
    pub allowed: Vec<Expr>,
    pub pattern: Option<regex::Regex>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    /// For numbers: the smallest and largest values allowed.
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Never printed, logged or stored in plain text.
    pub secret: bool,
    /// The parameter's name in the file.
    pub span: SourceSpan,
}

/// A resource of the blueprint.
#[derive(Debug, Clone)]
pub struct Resource {
    pub id: String,
    pub schema: &'static Schema,
    /// Desired properties, schema defaults filled in.
    pub properties: BTreeMap<String, Expr>,
    pub deps: Vec<Dep>,
    /// The resource id in the file.
    pub span: SourceSpan,
    /// `when:`: the resource exists only while this holds.
    pub when: Option<Condition>,
    /// `for_each: ${params.list}`: one instance per item, `id[item]`.
    pub for_each: Option<ForEach>,
    /// `ignore_changes: [desired_count]`: properties set at create and
    /// then left as they are live (something else manages them, such as
    /// an autoscaler), as Terraform's `lifecycle.ignore_changes`.
    pub ignore_changes: Vec<String>,
}

/// The list parameter a `for_each` resource is made once per item of.
#[derive(Debug, Clone)]
pub struct ForEach {
    pub param: String,
    pub span: SourceSpan,
}

impl Resource {
    pub fn kind(&self) -> &'static str {
        self.schema.kind
    }
}

/// A value the blueprint reports after apply.
#[derive(Debug, Clone)]
pub struct Output {
    pub name: String,
    pub value: Expr,
    pub description: String,
    pub sensitive: bool,
    pub span: SourceSpan,
}

impl Blueprint {
    /// The dependency graph of the resources as they are now.
    pub fn build_graph(&self) -> Result<Graph, Vec<GraphError>> {
        Graph::build(self.resources.iter().map(|(id, r)| (id.as_str(), r.deps.as_slice())))
    }

    /// The blueprint for given parameter values: resources whose `when:`
    /// does not hold are left out, and every `${c ? a : b}` is replaced by
    /// the branch `c` selects, so the graph, the planner and the engine see
    /// only what will exist. A resource or output that still refers to a
    /// left-out resource is an error.
    pub fn select(
        mut self,
        value: impl Fn(&str) -> Option<Expr>,
    ) -> Result<Blueprint, Diagnostics> {
        let off: std::collections::BTreeSet<String> = self
            .resources
            .values()
            .filter(|r| r.when.as_ref().is_some_and(|c| !c.holds(&value)))
            .map(|r| r.id.clone())
            .collect();
        let mut diags = Vec::new();
        self.resources.retain(|id, _| !off.contains(id));
        for r in self.resources.values_mut() {
            for e in r.properties.values_mut() {
                *e = e.select(&value);
            }
            let mut live = std::collections::BTreeSet::new();
            for e in r.properties.values() {
                e.visit_refs(&mut |rf| {
                    if let Some((resource, attr)) = rf.reads() {
                        live.insert((resource.to_string(), attr.to_string()));
                    }
                });
            }
            r.deps.retain(|d| match &d.via {
                DepVia::DependsOn => !off.contains(&d.target),
                DepVia::Reference { attr } => live.contains(&(d.target.clone(), attr.clone())),
            });
            for d in r.deps.iter().filter(|d| off.contains(&d.target)) {
                diags.push(disabled(&self.file, &r.id, &d.target, d.span));
            }
        }
        for o in self.outputs.values_mut() {
            o.value = o.value.select(&value);
            let mut bad = Vec::new();
            o.value.visit_refs(&mut |rf| {
                if let Some((resource, _)) = rf.reads()
                    && off.contains(resource)
                {
                    bad.push(resource.to_string());
                }
            });
            for target in bad {
                diags.push(disabled(&self.file, &format!("output {}", o.name), &target, o.span));
            }
        }
        self.expand_for_each(&value, &mut diags);
        if diags.is_empty() {
            // Removing resources and branches removes edges, never adds
            // any; instances of a `for_each` resource have its edges, and
            // an edge to one of them was an edge to the resource: the
            // graph has no cycle either.
            self.graph = self.build_graph().expect("a subgraph of an acyclic graph");
            Ok(self)
        } else {
            Err(Diagnostics { file: self.file.name.clone(), diagnostics: diags })
        }
    }
}

impl Blueprint {
    /// The Systems Manager parameters the resources and outputs read
    /// (`${ssm:NAME}`, or `${ssm:params.P}` naming it by a string
    /// parameter's value): for each reference as written, the parameter
    /// name and the first resource or output that uses it.
    pub fn lookups(
        &self,
        param: impl Fn(&str) -> Option<String>,
    ) -> BTreeMap<String, (String, String)> {
        let mut found = BTreeMap::new();
        let mut note = |e: &Expr, user: &str| {
            e.visit_refs(&mut |r| {
                if let Ref::Ssm(key) = r {
                    let name = match key.strip_prefix("params.") {
                        Some(p) => param(p).unwrap_or_default(),
                        None => key.clone(),
                    };
                    found.entry(key.clone()).or_insert_with(|| (name, user.to_string()));
                }
            })
        };
        for r in self.resources.values() {
            r.properties.values().for_each(|e| note(e, &r.id));
        }
        for o in self.outputs.values() {
            note(&o.value, &format!("output {}", o.name));
        }
        found
    }

    /// The blueprint with every `${ssm:...}` replaced by its looked-up
    /// value (`values` by reference as written), so the plan, the engine
    /// and saved plans see the value itself.
    pub fn with_lookups(mut self, values: &BTreeMap<String, String>) -> Blueprint {
        for r in self.resources.values_mut() {
            for e in r.properties.values_mut() {
                *e = e.with_lookups(values);
            }
        }
        for o in self.outputs.values_mut() {
            o.value = o.value.with_lookups(values);
        }
        self
    }

    /// Replaces each `for_each` resource by one instance per item of its
    /// list parameter, `id[item]`, with `${each.value}` the item; then
    /// every reference to its instances (`${id[*].attr}`,
    /// `${id[each.value].attr}`) by references to the instances, and each
    /// edge to it by edges to the instances used (all of them for
    /// `depends_on`).
    fn expand_for_each(
        &mut self,
        value: &impl Fn(&str) -> Option<Expr>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let instances = self.make_instances(value, diags);
        if instances.is_empty() {
            return;
        }
        for r in self.resources.values_mut() {
            for e in r.properties.values_mut() {
                *e = e.with_instances(&instances);
            }
            let mut used = Vec::new();
            for e in r.properties.values() {
                e.visit_refs(&mut |rf| {
                    if let Ref::Attr { resource, attr } = rf {
                        used.push((resource.clone(), attr.clone()));
                    }
                });
            }
            let deps = std::mem::take(&mut r.deps);
            for d in deps {
                let Some(ids) = instances.get(&d.target) else {
                    r.deps.push(d);
                    continue;
                };
                // `depends_on` a `for_each` resource: on all its instances;
                // a reference: on the instances it names.
                for id in ids {
                    let named = match &d.via {
                        DepVia::DependsOn => true,
                        DepVia::Reference { attr } => used.contains(&(id.clone(), attr.clone())),
                    };
                    if named && !r.deps.iter().any(|o| o.target == *id && o.via == d.via) {
                        r.deps.push(Dep { target: id.clone(), via: d.via.clone(), span: d.span });
                    }
                }
            }
        }
        for o in self.outputs.values_mut() {
            o.value = o.value.with_instances(&instances);
        }
    }

    /// The instances of each `for_each` resource, in item order, by the
    /// resource's id.
    fn make_instances(
        &mut self,
        value: &impl Fn(&str) -> Option<Expr>,
        diags: &mut Vec<Diagnostic>,
    ) -> BTreeMap<String, Vec<String>> {
        let mut instances = BTreeMap::new();
        let multi: Vec<String> = self
            .resources
            .values()
            .filter(|r| r.for_each.is_some())
            .map(|r| r.id.clone())
            .collect();
        for id in multi {
            let made: &mut Vec<String> = instances.entry(id.clone()).or_default();
            let r = self.resources.shift_remove(&id).expect("listed above");
            let fe = r.for_each.clone().expect("filtered above");
            let items = match value(&fe.param) {
                Some(Expr::List(items)) => items,
                // A count: instances `id[1]` to `id[N]`.
                Some(Expr::Int(n)) if n >= 0 => (1..=n).map(Expr::Int).collect(),
                Some(n @ (Expr::Int(_) | Expr::Float(_))) => {
                    let n = match n {
                        Expr::Int(i) => i.to_string(),
                        Expr::Float(f) => f.to_string(),
                        _ => unreachable!("matched above"),
                    };
                    diags.push(
                        Diagnostic::new(
                            Code::ForEach,
                            format!("`{id}`: `for_each` over {n} instances"),
                        )
                        .label(fe.span, "one instance per number from 1 to this")
                        .help(format!("give `{}` a number from 0 up", fe.param))
                        .in_file(&self.file),
                    );
                    Vec::new()
                }
                _ => Vec::new(),
            };
            let mut seen = std::collections::BTreeSet::new();
            for item in items {
                let item = match item {
                    Expr::Str(s) => s,
                    Expr::Int(i) => i.to_string(),
                    other => {
                        diags.push(
                            Diagnostic::new(
                                Code::ForEach,
                                format!(
                                    "`{id}`: a `for_each` item must be a string, not {other:?}"
                                ),
                            )
                            .label(fe.span, "one instance per item")
                            .help(format!("give `{}` a list of strings", fe.param))
                            .in_file(&self.file),
                        );
                        continue;
                    }
                };
                if !seen.insert(item.clone()) {
                    diags.push(
                        Diagnostic::new(Code::ForEach, format!("`{id}`: `{item}` is listed twice"))
                            .label(fe.span, "one instance per item")
                            .help(format!("list each item of `{}` once", fe.param))
                            .in_file(&self.file),
                    );
                    continue;
                }
                let mut one = r.clone();
                one.id = format!("{id}[{item}]");
                one.for_each = None;
                for e in one.properties.values_mut() {
                    *e = e.with_each(&item);
                }
                made.push(one.id.clone());
                self.resources.insert(one.id.clone(), one);
            }
        }
        instances
    }
}

fn disabled(file: &SourceFile, owner: &str, target: &str, at: SourceSpan) -> Diagnostic {
    Diagnostic::new(
        Code::DisabledResource,
        format!("`{owner}` refers to `{target}`, which `when:` leaves out with these values"),
    )
    .label(at, "refers to a left-out resource")
    .help(format!(
        "give `{owner}` the same `when:` as `{target}`, or choose with `${{params.flag ? {target}.id : other.id}}`"
    ))
    .in_file(file)
}
