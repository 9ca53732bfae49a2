//! Turns a spanned YAML tree into a [`Blueprint`], checking it against the
//! resource schemas and collecting every problem instead of stopping at the
//! first (as kdl-rs does).

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;
use miette::SourceSpan;

use super::diagnostic::{Code, Diagnostic, SourceFile, span};
use super::expr::{self, Condition, Expr, Ref};
use super::model::{Blueprint, Dep, DepVia, ForEach, Output, ParamType, Parameter, Resource};
use super::yaml::{Key, Node, Value};
use crate::graph::Graph;
use crate::provider::Registry;
use crate::schema::{self, Prop, Schema, Type, did_you_mean, quote_list};

/// Names that cannot be resource ids because references use them.
const RESERVED_IDS: &[&str] = &["params", "stack", "region", "azs"];

const TOP_KEYS: &[&str] = &["name", "description", "source", "parameters", "resources", "outputs"];
const RESOURCE_KEYS: &[&str] =
    &["type", "properties", "depends_on", "description", "when", "for_each", "ignore_changes"];
const PARAM_KEYS: &[&str] = &[
    "type",
    "default",
    "description",
    "allowed",
    "pattern",
    "min_length",
    "max_length",
    "min",
    "max",
    "secret",
];
const OUTPUT_KEYS: &[&str] = &["value", "description", "sensitive"];

pub(crate) struct Validator<'a> {
    file: &'a SourceFile,
    registry: &'a Registry,
    /// Parameter types, known once `parameters:` is read.
    param_types: HashMap<String, ParamType>,
    /// Each string parameter's `allowed` values, for conditions.
    param_allowed: HashMap<String, Vec<String>>,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Validator<'a> {
    pub fn new(file: &'a SourceFile, registry: &'a Registry) -> Self {
        Validator {
            file,
            registry,
            param_types: HashMap::new(),
            param_allowed: HashMap::new(),
            diags: Vec::new(),
        }
    }

    fn err(
        &mut self,
        code: Code,
        message: impl Into<String>,
        at: SourceSpan,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        self.diags.push(
            Diagnostic::new(code, message).in_file(self.file).label(at, label).help_opt(help),
        );
    }

    /// Validates the whole document.
    pub fn blueprint(&mut self, root: &Node) -> Blueprint {
        let mut bp = Blueprint {
            name: String::new(),
            description: String::new(),
            source_url: None,
            parameters: IndexMap::new(),
            resources: IndexMap::new(),
            outputs: IndexMap::new(),
            file: self.file.clone(),
            dir: None,
            graph: Graph::default(),
            assets: Default::default(),
        };
        let entries = match &root.value {
            Value::Map(m) => m.as_slice(),
            Value::Null => {
                self.diags.push(
                    Diagnostic::new(Code::Empty, "the blueprint is empty")
                        .in_file(self.file)
                        .label(span(0, 0), "nothing here")
                        .help(
                            "a blueprint needs at least `name` and `resources`; \
                             run `archkit init <blueprint>` for a starting point",
                        ),
                );
                return bp;
            }
            _ => {
                self.err(
                    Code::WrongType,
                    format!("a blueprint must be a mapping, found {}", root.type_name()),
                    root.span,
                    "expected `name:`, `resources:` and so on",
                    Some("start the file with `name: my-blueprint`".into()),
                );
                return bp;
            }
        };
        self.unknown_keys(entries, TOP_KEYS, "blueprint");
        match find(entries, "name") {
            Some((_, n)) => {
                if let Some(s) = self.string(n, "`name`") {
                    bp.name = s;
                }
            }
            None => self.err(
                Code::MissingKey,
                "the blueprint has no `name`",
                span(0, 0),
                "expected `name:` here",
                Some("add `name: my-blueprint` at the top of the file".into()),
            ),
        }
        if let Some((_, n)) = find(entries, "description") {
            bp.description = self.string(n, "`description`").unwrap_or_default();
        }
        if let Some((_, n)) = find(entries, "source") {
            bp.source_url = self.string(n, "`source`");
        }
        if let Some((_, n)) = find(entries, "parameters") {
            bp.parameters = self.parameters(n);
        }
        self.param_types = bp.parameters.iter().map(|(k, p)| (k.clone(), p.ty)).collect();
        self.param_allowed = bp
            .parameters
            .iter()
            .map(|(k, p)| {
                let texts = p.allowed.iter().filter_map(|a| match a {
                    Expr::Str(s) => Some(s.clone()),
                    _ => None,
                });
                (k.clone(), texts.collect())
            })
            .collect();
        let resources = match find(entries, "resources") {
            Some((_, n)) => match &n.value {
                Value::Map(m) => m.as_slice(),
                Value::Null => &[],
                _ => {
                    self.type_error(n, "`resources`", "a mapping of resource ids to resources");
                    &[]
                }
            },
            None => {
                self.err(
                    Code::MissingKey,
                    "the blueprint has no `resources`",
                    span(0, 0),
                    "expected `resources:` in this file",
                    Some("add `resources:` with at least one resource".into()),
                );
                &[]
            }
        };
        // Learn every id and kind first, so references may point forwards.
        let mut kinds: IndexMap<&str, Option<&'static Schema>> = IndexMap::new();
        for (key, body) in resources {
            if !expr::is_ident(&key.name) || RESERVED_IDS.contains(&key.name.as_str()) {
                let help = if RESERVED_IDS.contains(&key.name.as_str()) {
                    format!("`{}` is reserved for references; pick another id", key.name)
                } else {
                    "ids start with a letter and use letters, digits, `_` and `-`".into()
                };
                self.err(
                    Code::InvalidId,
                    format!("`{}` is not a valid resource id", key.name),
                    key.span,
                    "invalid id",
                    Some(help),
                );
            }
            kinds.insert(&key.name, self.resource_kind(body));
        }
        let ctx = RefContext { params: &bp.parameters, kinds: &kinds };
        for (key, body) in resources {
            if let Some(Some(schema)) = kinds.get(key.name.as_str())
                && let Some(r) = self.resource(key, body, schema, &ctx)
            {
                bp.resources.insert(r.id.clone(), r);
            }
        }
        if let Some((_, n)) = find(entries, "outputs") {
            bp.outputs = self.outputs(n, &ctx);
        }
        self.no_refs_to_for_each(&bp);
        self.requirements(&bp);
        bp
    }

    /// A `for_each` resource is several resources: a reference names
    /// every instance (`${r[*].id}`, a list) or, from a `for_each` resource
    /// over the same parameter, the instance of the same item
    /// (`${r[each.value].id}`); never one as if there were one. Outputs
    /// may take the list; `depends_on` waits for every instance.
    fn no_refs_to_for_each(&mut self, bp: &Blueprint) {
        let multi = |id: &str| bp.resources.get(id).and_then(|t| t.for_each.as_ref());
        for r in bp.resources.values() {
            let (mut one, mut all, mut item) = (Vec::new(), Vec::new(), Vec::new());
            for e in r.properties.values() {
                e.visit_refs(&mut |rf| match rf {
                    Ref::Attr { resource, attr } => one.push((resource.clone(), attr.clone())),
                    Ref::All { resource, attr } => all.push((resource.clone(), attr.clone())),
                    Ref::Item { resource, attr } => item.push((resource.clone(), attr.clone())),
                    _ => {}
                });
            }
            for d in &r.deps {
                let t = &d.target;
                // `depends_on` a `for_each` resource waits for all of it.
                let DepVia::Reference { attr } = &d.via else { continue };
                let key = (t.clone(), attr.clone());
                let (by_all, by_item) = (all.contains(&key), item.contains(&key));
                match multi(t) {
                    Some(_) if one.contains(&key) => self.err(
                        Code::ForEach,
                        format!("`{}` refers to `{t}`, which `for_each` makes several of", r.id),
                        d.span,
                        "several resources",
                        Some(format!(
                            "name every instance, `${{{t}[*].{attr}}}` (a list, e.g. for \
                             `${{element({t}[*].{attr}, each.value)}}`), or, in a `for_each` \
                             resource over the same values, `${{{t}[each.value].{attr}}}`"
                        )),
                    ),
                    Some(fe) if by_item && r.for_each.as_ref().is_none_or(|own| own.param != fe.param) => {
                        self.err(
                            Code::ForEach,
                            format!(
                                "`{}` refers to `{t}[each.value]`, but is not made for each item of `{}`",
                                r.id, fe.param
                            ),
                            d.span,
                            "no such item here",
                            Some(format!(
                                "give `{}` `for_each: ${{params.{}}}`, or name every instance: `${{{t}[*].{attr}}}`",
                                r.id, fe.param
                            )),
                        )
                    }
                    None if by_all || by_item => self.err(
                        Code::ForEach,
                        format!("`{}` indexes `{t}`, which is one resource", r.id),
                        d.span,
                        "not a `for_each` resource",
                        Some(format!("refer to it as `${{{t}.{attr}}}`")),
                    ),
                    _ => {}
                }
            }
        }
        for o in bp.outputs.values() {
            let mut bad = Vec::new();
            o.value.visit_refs(&mut |r| match r {
                Ref::Attr { resource, attr } if multi(resource).is_some() => bad.push((
                    format!("`{resource}`, which `for_each` makes several of"),
                    format!("an output may list every instance: `${{{resource}[*].{attr}}}`"),
                )),
                Ref::Item { resource, attr } => bad.push((
                    format!("`{resource}[each.value]`, which only a `for_each` resource has"),
                    format!("an output may list every instance: `${{{resource}[*].{attr}}}`"),
                )),
                Ref::All { resource, attr } if multi(resource).is_none() => bad.push((
                    format!("`{resource}[*]`, but `{resource}` is one resource"),
                    format!("refer to it as `${{{resource}.{attr}}}`"),
                )),
                Ref::Each => bad.push((
                    "`${each.value}`, which only a `for_each` resource has".into(),
                    "outputs name one value: refer to a resource without `for_each`".into(),
                )),
                _ => {}
            });
            for (what, help) in bad {
                self.err(
                    Code::ForEach,
                    format!("output `{}` refers to {what}", o.name),
                    o.span,
                    "in this output",
                    Some(help),
                );
            }
        }
    }

    /// The schemas' [`crate::schema::Requires`] rules, on literal values:
    /// a setting that needs something of the resource it refers to.
    fn requirements(&mut self, bp: &Blueprint) {
        for r in bp.resources.values() {
            for q in r.schema.requires {
                if r.properties.get(q.when) != Some(&Expr::Bool(q.value)) {
                    continue;
                }
                let Some(Expr::Ref(Ref::Attr { resource, .. })) = r.properties.get(q.via) else {
                    continue;
                };
                let Some(target) = bp.resources.get(resource).filter(|t| t.kind() == q.kind) else {
                    continue;
                };
                let off: Vec<&str> = q
                    .props
                    .iter()
                    .copied()
                    .filter(|p| target.properties.get(*p) == Some(&Expr::Bool(false)))
                    .collect();
                if off.is_empty() {
                    continue;
                }
                let at = r.deps.iter().find(|d| &d.target == resource).map_or(r.span, |d| d.span);
                self.err(
                    Code::InvalidValue,
                    format!(
                        "`{}` sets `{}: {}`, but `{resource}` has {} off",
                        r.id,
                        q.when,
                        q.value,
                        off.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(" and ")
                    ),
                    at,
                    format!("`{resource}` ({})", q.kind),
                    Some(q.help.to_string()),
                );
            }
        }
    }

    fn unknown_keys(&mut self, entries: &[(Key, Node)], allowed: &[&str], what: &str) {
        for (key, _) in entries {
            if !allowed.contains(&key.name.as_str()) {
                let help = match did_you_mean(&key.name, allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("a {what} may have {}", quote_list(allowed)),
                };
                self.err(
                    Code::UnknownKey,
                    format!("unknown key `{}` in {what}", key.name),
                    key.span,
                    "not a known key",
                    Some(help),
                );
            }
        }
    }

    fn type_error(&mut self, node: &Node, what: &str, expected: &str) {
        self.err(
            Code::WrongType,
            format!("{what} must be {expected}, found {}", node.type_name()),
            node.span,
            format!("expected {expected}"),
            Some(format!("write {expected} here")),
        );
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            _ => {
                self.type_error(node, what, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            _ => {
                self.type_error(node, what, "`true` or `false`");
                None
            }
        }
    }

    fn parameters(&mut self, node: &Node) -> IndexMap<String, Parameter> {
        let mut out = IndexMap::new();
        let mut derived = Vec::new();
        let Some(entries) = node.as_map() else {
            if !matches!(node.value, Value::Null) {
                self.type_error(node, "`parameters`", "a mapping of names to parameters");
            }
            return out;
        };
        for (key, body) in entries {
            if !expr::is_ident(&key.name) {
                self.err(
                    Code::InvalidId,
                    format!("`{}` is not a valid parameter name", key.name),
                    key.span,
                    "invalid name",
                    Some("names start with a letter and use letters, digits, `_` and `-`".into()),
                );
                continue;
            }
            if let Some(p) = self.parameter(key, body, &mut derived) {
                out.insert(p.name.clone(), p);
            }
        }
        self.derived_defaults(&out, &derived);
        out
    }

    /// A default made from other parameters (`${cidrsubnet(params.vpc_cidr,
    /// 8, 0)}`) may use only parameters that exist, are not secret (a
    /// default is shown in plans) and whose own default is a literal, so
    /// there is no order to find and no cycle.
    fn derived_defaults(
        &mut self,
        params: &IndexMap<String, Parameter>,
        derived: &[(String, Vec<(Ref, SourceSpan)>)],
    ) {
        let is_derived = |n: &str| derived.iter().any(|(d, _)| d == n);
        for (name, refs) in derived {
            for (r, at) in refs {
                let Ref::Param(q) = r else { continue };
                let Some(target) = params.get(q) else {
                    let help = match did_you_mean(q, params.keys().map(|s| s.as_str())) {
                        Some(s) => format!("did you mean `params.{s}`?"),
                        None => format!("declare it under `parameters:` as `{q}:`"),
                    };
                    self.err(
                        Code::UnknownParameter,
                        format!("the default of `{name}` refers to unknown parameter `{q}`"),
                        *at,
                        "no such parameter",
                        Some(help),
                    );
                    continue;
                };
                if q == name {
                    self.err(
                        Code::SelfReference,
                        format!("the default of `{name}` refers to itself"),
                        *at,
                        "itself",
                        Some("derive it from another parameter, or give a literal".into()),
                    );
                } else if target.secret {
                    self.err(
                        Code::SecretDefault,
                        format!("the default of `{name}` uses secret parameter `{q}`"),
                        *at,
                        "secret",
                        Some(format!(
                            "`{name}` is not secret, so its value is shown in plans; \
                             derive it from a parameter that is not secret"
                        )),
                    );
                } else if is_derived(q) {
                    self.err(
                        Code::BadReference,
                        format!("the default of `{name}` uses `{q}`, whose default is derived too"),
                        *at,
                        "derived default",
                        Some(format!("derive `{name}` from the parameter `{q}` is derived from")),
                    );
                }
            }
        }
    }

    fn parameter(
        &mut self,
        key: &Key,
        body: &Node,
        derived: &mut Vec<(String, Vec<(Ref, SourceSpan)>)>,
    ) -> Option<Parameter> {
        let mut p = Parameter {
            name: key.name.clone(),
            ty: ParamType::String,
            default: None,
            description: String::new(),
            allowed: Vec::new(),
            pattern: None,
            min_length: None,
            max_length: None,
            min: None,
            max: None,
            secret: false,
            span: key.span,
        };
        let entries = match &body.value {
            Value::Map(m) => m.as_slice(),
            Value::Null => return Some(p),
            _ => {
                self.type_error(
                    body,
                    &format!("parameter `{}`", key.name),
                    "a mapping (`type:`, `default:`, ...)",
                );
                return None;
            }
        };
        self.unknown_keys(entries, PARAM_KEYS, "parameter");
        if let Some((_, n)) = find(entries, "type")
            && let Some(t) = self.string(n, "`type`")
        {
            match ParamType::parse(&t) {
                Some(ty) => p.ty = ty,
                None => self.err(
                    Code::InvalidValue,
                    format!("`{t}` is not a parameter type"),
                    n.span,
                    "unknown type",
                    Some(format!("use one of {}", quote_list(ParamType::NAMES))),
                ),
            }
        }
        if let Some((_, n)) = find(entries, "description") {
            p.description = self.string(n, "`description`").unwrap_or_default();
        }
        if let Some((_, n)) = find(entries, "secret") {
            p.secret = self.boolean(n, "`secret`").unwrap_or(false);
        }
        for (name, slot) in [("min_length", &mut p.min_length), ("max_length", &mut p.max_length)] {
            if let Some((_, n)) = find(entries, name) {
                match n.value {
                    Value::Int(i) if i >= 0 => *slot = Some(i as usize),
                    _ => self.type_error(n, &format!("`{name}`"), "a non-negative integer"),
                }
            }
        }
        for (name, slot) in [("min", &mut p.min), ("max", &mut p.max)] {
            if let Some((_, n)) = find(entries, name) {
                match n.value {
                    Value::Int(i) => *slot = Some(i as f64),
                    Value::Float(f) => *slot = Some(f),
                    _ => self.type_error(n, &format!("`{name}`"), "a number"),
                }
                if !p.ty.numeric() {
                    self.err(
                        Code::InvalidValue,
                        format!("`{name}` of `{}` needs a number parameter", p.name),
                        n.span,
                        "for numbers only",
                        Some(format!(
                            "add `type: integer` or `type: number`, or use `{name}_length` for a string's length"
                        )),
                    );
                }
            }
        }
        if let (Some(lo), Some(hi)) = (p.min, p.max)
            && lo > hi
            && let Some((_, n)) = find(entries, "max")
        {
            self.err(
                Code::InvalidValue,
                format!("`max` of `{}` is below its `min`", p.name),
                n.span,
                "below min",
                Some(format!("give a `max` of {lo} or more")),
            );
        }
        if let Some((_, n)) = find(entries, "pattern")
            && let Some(pat) = self.string(n, "`pattern`")
        {
            // Anchored: a pattern describes the whole value.
            match regex::Regex::new(&format!("^(?:{pat})$")) {
                Ok(re) => p.pattern = Some(re),
                Err(e) => self.err(
                    Code::BadPattern,
                    format!("`pattern` of `{}` is not a valid regular expression", p.name),
                    n.span,
                    "invalid pattern",
                    Some(first_line(&e.to_string())),
                ),
            }
        }
        if let Some((_, n)) = find(entries, "allowed") {
            match &n.value {
                Value::Seq(items) => {
                    for item in items {
                        if let Some(v) = self.param_literal(item, p.ty, &p.name) {
                            p.allowed.push(v);
                        }
                    }
                }
                _ => self.type_error(n, "`allowed`", "a list of values"),
            }
        }
        if let Some((key, n)) = find(entries, "default") {
            if p.secret {
                self.err(
                    Code::SecretDefault,
                    format!("secret parameter `{}` has a default", p.name),
                    key.span,
                    "secrets cannot have defaults",
                    Some(format!(
                        "remove the default and pass the value with `ARCHKIT_VAR_{}` \
                         or `--var {}=...`; a default would live in plain text in the blueprint",
                        p.name, p.name
                    )),
                );
            } else if let Value::Str(s) = &n.value
                && s.contains("${")
                && matches!(p.ty, ParamType::String | ParamType::Cidr)
            {
                // Checked against the parameter's type once the parameters
                // it uses have values (`params::resolve`).
                let mut refs = Vec::new();
                if let Some(e) = self.string_expr(n, s, &mut refs) {
                    for (r, at) in &refs {
                        if !matches!(r, Ref::Param(_)) {
                            self.err(
                                Code::BadReference,
                                format!("the default of `{}` uses more than parameters", p.name),
                                *at,
                                "not a parameter",
                                Some(
                                    "a default may use `${params.NAME}` and functions such as \
                                     `cidrsubnet`; other values are known only later"
                                        .into(),
                                ),
                            );
                        }
                    }
                    derived.push((p.name.clone(), refs));
                    p.default = Some(e);
                }
            } else if let Some(v) = self.param_literal(n, p.ty, &p.name) {
                if let Err((msg, help)) = check_param_value(&p, &v) {
                    self.err(
                        Code::InvalidValue,
                        format!("default of `{}` {msg}", p.name),
                        n.span,
                        "invalid default",
                        Some(help),
                    );
                }
                p.default = Some(v);
            }
        }
        Some(p)
    }

    /// A literal parameter value (default or allowed entry) of type `ty`.
    fn param_literal(&mut self, node: &Node, ty: ParamType, name: &str) -> Option<Expr> {
        let v = match (&node.value, ty) {
            (Value::Str(s), ParamType::String | ParamType::Cidr) => Expr::Str(s.clone()),
            (Value::Int(i), ParamType::String) => Expr::Str(i.to_string()),
            (Value::Int(i), ParamType::Number | ParamType::Integer) => Expr::Int(*i),
            (Value::Float(f), ParamType::Number | ParamType::Integer) => Expr::Float(*f),
            (Value::Bool(b), ParamType::Bool) => Expr::Bool(*b),
            (Value::Seq(items), ParamType::List) => {
                let mut out = Vec::new();
                for i in items {
                    match &i.value {
                        Value::Str(s) => out.push(Expr::Str(s.clone())),
                        Value::Int(n) => out.push(Expr::Str(n.to_string())),
                        _ => {
                            self.type_error(i, "a list parameter's item", "a string");
                            return None;
                        }
                    }
                }
                Expr::List(out)
            }
            _ => {
                self.type_error(node, &format!("a value of `{name}`"), &ty.a());
                return None;
            }
        };
        Some(v)
    }

    /// Reads `type:` of a resource body, reporting unknown types.
    fn resource_kind(&mut self, body: &Node) -> Option<&'static Schema> {
        let entries = body.as_map()?;
        let (_, n) = find(entries, "type")?;
        let kind = n.as_str()?;
        match self.registry.schema(kind) {
            Some(s) => Some(s),
            None => {
                // Compared without the shared `aws.` prefix, which would
                // make every kind look alike (`aws.sqs.queue` is not
                // `aws.ecs.cluster`).
                let strip = |k: &'static str| k.strip_prefix("aws.").unwrap_or(k);
                let wanted = kind.strip_prefix("aws.").unwrap_or(kind);
                let suggestion = did_you_mean(wanted, self.registry.kinds().map(strip))
                    .and_then(|m| self.registry.kinds().find(|k| strip(k) == m));
                let help = match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "run `archkit blueprints --kinds` to list the resource types".into(),
                };
                self.err(
                    Code::UnknownType,
                    format!("unknown resource type `{kind}`"),
                    n.span,
                    "not a known resource type",
                    Some(help),
                );
                None
            }
        }
    }

    fn resource(
        &mut self,
        key: &Key,
        body: &Node,
        schema: &'static Schema,
        ctx: &RefContext,
    ) -> Option<Resource> {
        let Some(entries) = body.as_map() else {
            self.type_error(body, &format!("resource `{}`", key.name), "a mapping");
            return None;
        };
        self.unknown_keys(entries, RESOURCE_KEYS, "resource");
        let mut res = Resource {
            id: key.name.clone(),
            schema,
            properties: BTreeMap::new(),
            deps: Vec::new(),
            span: key.span,
            when: None,
            for_each: None,
            ignore_changes: Vec::new(),
        };
        if let Some((_, n)) = find(entries, "ignore_changes") {
            res.ignore_changes = self.ignore_changes(n, schema, &key.name);
        }
        if let Some((_, n)) = find(entries, "when") {
            res.when = self.when(n);
        }
        if let Some((_, n)) = find(entries, "for_each") {
            res.for_each = self.for_each(n);
        }
        let empty = Node { value: Value::Map(Vec::new()), span: key.span };
        let props = match find(entries, "properties") {
            Some((_, n)) if matches!(n.value, Value::Null) => &empty,
            Some((_, n)) => n,
            None => &empty,
        };
        let mut refs = Vec::new();
        if let Some(Expr::Map(m)) = self.object(
            props,
            schema.properties,
            schema,
            Owner { name: &key.name, top: true, anchor: key.span },
            &mut refs,
        ) {
            res.properties = m;
        }
        self.check_refs(&refs, ctx, &mut res.deps);
        // (An invalid `for_each` is reported once, by itself.)
        if find(entries, "for_each").is_none() {
            for (r, at) in &refs {
                if *r == Ref::Each {
                    self.err(
                        Code::ForEach,
                        "`${each.value}` outside a `for_each` resource",
                        *at,
                        "no `for_each` here",
                        Some(format!(
                            "give `{}` a `for_each: ${{params.list}}`, or write the value out",
                            key.name
                        )),
                    );
                }
            }
        }
        if let Some((_, n)) = find(entries, "depends_on") {
            let items: Vec<&Node> = match &n.value {
                Value::Seq(items) => items.iter().collect(),
                Value::Str(_) => vec![n],
                _ => {
                    self.type_error(n, "`depends_on`", "a list of resource ids");
                    vec![]
                }
            };
            for item in items {
                let Some(target) = self.string(item, "a `depends_on` entry") else {
                    continue;
                };
                if ctx.kinds.contains_key(target.as_str()) {
                    res.deps.push(Dep { target, via: DepVia::DependsOn, span: item.span });
                } else {
                    self.unknown_resource(&target, item.span, ctx);
                }
            }
        }
        Some(res)
    }

    /// `ignore_changes: [name, ...]`: properties of the resource's own
    /// schema, left to whatever else changes them once created.
    fn ignore_changes(&mut self, node: &Node, schema: &'static Schema, id: &str) -> Vec<String> {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Str(_) => vec![node],
            _ => {
                self.type_error(node, "`ignore_changes`", "a list of property names");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for item in items {
            let Some(name) = self.string(item, "an `ignore_changes` entry") else { continue };
            if schema.property(&name).is_some_and(|p| p.name != "tags") {
                out.push(name);
                continue;
            }
            let names = schema.property_names().filter(|n| *n != "tags");
            let help = match did_you_mean(&name, names) {
                Some(m) => format!("did you mean `{m}`?"),
                None => {
                    format!("name a property of {} (`archkit blueprints --kinds`)", schema.kind)
                }
            };
            self.err(
                Code::UnknownProperty,
                format!(
                    "`ignore_changes` of `{id}` names `{name}`, not a property of {}",
                    schema.kind
                ),
                item.span,
                "no such property",
                Some(help),
            );
        }
        out
    }

    /// `for_each: ${params.list}`, with a list parameter, or
    /// `for_each: ${params.count}`, with a number parameter (instances 1 to
    /// N, `${each.value}` the number).
    fn for_each(&mut self, node: &Node) -> Option<ForEach> {
        let param = whole_ref(node).and_then(|r| r.strip_prefix("params.")).map(str::to_string);
        let Some(param) = param else {
            self.err(
                Code::ForEach,
                "`for_each` must name a list parameter",
                node.span,
                "not `${params.name}`",
                Some("write `for_each: ${params.name}` with a `type: list` parameter".into()),
            );
            return None;
        };
        match self.param_types.get(&param) {
            Some(ParamType::List | ParamType::Number | ParamType::Integer) => {
                Some(ForEach { param, span: node.span })
            }
            Some(_) => {
                self.err(
                    Code::ForEach,
                    format!("`for_each` needs a list or number parameter; `{param}` is neither"),
                    node.span,
                    "not a list or a number",
                    Some(format!("declare `{param}` with `type: list` or `type: number`")),
                );
                None
            }
            None => {
                self.err(
                    Code::UnknownParameter,
                    format!("reference to unknown parameter `{param}`"),
                    node.span,
                    "no such parameter",
                    Some(format!("declare it under `parameters:` as `{param}:` with `type: list`")),
                );
                None
            }
        }
    }

    /// `when: ${params.flag}`, `${!params.flag}`, `${params.name == "text"}`,
    /// terms joined by `&&`.
    fn when(&mut self, node: &Node) -> Option<Condition> {
        let help = "write `when: ${params.flag}`, `when: ${!params.flag}` (a bool parameter) \
                    or `when: ${params.name == \"text\"}`, terms joined by `&&`";
        let cond = whole_ref(node).and_then(Condition::parse);
        let Some(cond) = cond else {
            self.err(
                Code::BadReference,
                "`when` must be a condition on parameters",
                node.span,
                "not a condition",
                Some(help.into()),
            );
            return None;
        };
        let mut known = true;
        for p in cond.params() {
            if !self.param_types.contains_key(p) {
                self.err(
                    Code::UnknownParameter,
                    format!("reference to unknown parameter `{p}`"),
                    node.span,
                    "no such parameter",
                    Some(format!("declare it under `parameters:` as `{p}:`")),
                );
                known = false;
            }
        }
        (known && self.condition_type(&cond, node.span)).then_some(cond)
    }

    /// Checks each term: a bare parameter is a bool, a compared one a
    /// string whose `allowed` values (if any) include the text.
    fn condition_type(&mut self, cond: &Condition, at: SourceSpan) -> bool {
        let mut ok = true;
        for t in &cond.terms {
            // An unknown parameter is reported with the other references.
            let Some(ty) = self.param_types.get(&t.param).copied() else { continue };
            match (&t.equals, ty) {
                (None, ParamType::Bool) | (Some(_), ParamType::String | ParamType::Cidr) => {}
                (None, other) => {
                    self.err(
                        Code::WrongType,
                        format!(
                            "a condition needs a bool parameter, but `{}` is a {}",
                            t.param,
                            other.name()
                        ),
                        at,
                        "not a bool",
                        Some(format!(
                            "declare the parameter with `type: bool`, or compare it: \
                             `params.{} == \"text\"`",
                            t.param
                        )),
                    );
                    ok = false;
                }
                (Some(_), other) => {
                    self.err(
                        Code::WrongType,
                        format!(
                            "`params.{}` is compared with a text, but it is a {}",
                            t.param,
                            other.name()
                        ),
                        at,
                        "not a string",
                        Some("compare a string parameter; use a bool parameter bare".into()),
                    );
                    ok = false;
                }
            }
            if let Some(text) = &t.equals
                && let Some(allowed) = self.param_allowed.get(&t.param)
                && !allowed.is_empty()
                && !allowed.contains(text)
            {
                let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
                self.err(
                    Code::InvalidValue,
                    format!("`params.{}` is never {text:?}: it is one of its `allowed`", t.param),
                    at,
                    "never true",
                    Some(format!("compare with one of {}", quote_list(&allowed))),
                );
                ok = false;
            }
        }
        ok
    }

    /// Validates a mapping against `props`. `at.top` marks a resource's own
    /// properties (where `tags` is implicit).
    fn object(
        &mut self,
        node: &Node,
        props: &'static [Prop],
        schema: &'static Schema,
        at: Owner<'_>,
        refs: &mut Vec<(Ref, SourceSpan)>,
    ) -> Option<Expr> {
        let Owner { name: owner, top, anchor } = at;
        let Some(entries) = node.as_map() else {
            self.type_error(node, &format!("properties of `{owner}`"), "a mapping");
            return None;
        };
        let lookup = |name: &str| -> Option<&'static Prop> {
            props
                .iter()
                .find(|p| p.name == name)
                .or_else(|| (top && schema.taggable && name == "tags").then_some(&schema::TAGS))
        };
        let mut out = BTreeMap::new();
        for (key, value) in entries {
            let Some(prop) = lookup(&key.name) else {
                let names: Vec<&str> = if top {
                    schema.property_names().collect()
                } else {
                    props.iter().map(|p| p.name).collect()
                };
                let help = match did_you_mean(&key.name, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "`{}` accepts {}",
                        owner_name(owner, schema, top),
                        quote_list(&names)
                    ),
                };
                self.err(
                    Code::UnknownProperty,
                    format!(
                        "unknown property `{}` for {}",
                        key.name,
                        owner_name(owner, schema, top)
                    ),
                    key.span,
                    "unknown property",
                    Some(help),
                );
                continue;
            };
            if matches!(value.value, Value::Null) {
                // `key:` with nothing after it: treated as unset.
                continue;
            }
            if let Some(v) = self.value(value, &prop.ty, prop.name, schema, refs) {
                out.insert(prop.name.to_string(), v);
            }
        }
        for prop in props {
            if out.contains_key(prop.name) {
                continue;
            }
            if prop.required && !entries.iter().any(|(k, _)| k.name == prop.name) {
                self.err(
                    Code::MissingProperty,
                    format!(
                        "{} is missing the required property `{}`",
                        owner_name(owner, schema, top),
                        prop.name
                    ),
                    anchor,
                    format!("`{}` is required", prop.name),
                    Some(format!("add `{}:` ({}): {}", prop.name, prop.ty.describe(), prop.doc)),
                );
            } else if let Some(d) = prop.default {
                out.insert(
                    prop.name.to_string(),
                    match d {
                        schema::Default::Bool(b) => Expr::Bool(b),
                        schema::Default::Int(i) => Expr::Int(i),
                        schema::Default::Str(s) => Expr::Str(s.to_string()),
                    },
                );
            }
        }
        if top {
            for group in schema.exactly_one_of {
                let set: Vec<&str> =
                    group.iter().copied().filter(|g| out.contains_key(*g)).collect();
                if set.len() != 1 {
                    let (msg, label) = if set.is_empty() {
                        (format!("`{owner}` needs one of {}", quote_list(group)), "none given")
                    } else {
                        (
                            format!(
                                "`{owner}` sets {}, but only one of them may be set",
                                quote_list(&set)
                            ),
                            "too many given",
                        )
                    };
                    let at = entries
                        .iter()
                        .find(|(k, _)| set.get(1) == Some(&k.name.as_str()))
                        .map_or(anchor, |(k, _)| k.span);
                    self.err(
                        Code::ExactlyOneOf,
                        msg,
                        at,
                        label,
                        Some(format!("set exactly one of {}", quote_list(group))),
                    );
                }
            }
        }
        Some(Expr::Map(out))
    }

    /// Validates one value against a type, collecting its references.
    fn value(
        &mut self,
        node: &Node,
        ty: &Type,
        name: &str,
        schema: &'static Schema,
        refs: &mut Vec<(Ref, SourceSpan)>,
    ) -> Option<Expr> {
        if let Value::Str(s) = &node.value {
            let parsed = self.string_expr(node, s, refs)?;
            if let Expr::Ref(Ref::Param(p)) = &parsed
                && let Some(pt) = self.param_types.get(p)
                && !param_fits(*pt, ty)
            {
                self.err(
                    Code::WrongType,
                    format!(
                        "`{name}` must be {}, but parameter `{p}` is a {}",
                        ty.describe(),
                        pt.name()
                    ),
                    node.span,
                    format!("{} parameter", pt.a()),
                    Some(format!(
                        "change the parameter's `type`, or use it where {} fits",
                        ty.describe()
                    )),
                );
                return None;
            }
            return match (&parsed, ty) {
                // A list where one value goes (`availability_zone: ${azs}`).
                (Expr::Ref(r @ (Ref::Azs | Ref::All { .. })), ty)
                    if !matches!(ty, Type::List(_) | Type::Json) =>
                {
                    let one = match r {
                        Ref::All { resource, attr } => format!(
                            "one instance: `${{element({resource}[*].{attr}, each.value)}}` or `${{{resource}[each.value].{attr}}}`"
                        ),
                        _ => "one zone by index, e.g. `${azs[0]}`, or per item: `${element(azs, each.value)}`".into(),
                    };
                    self.err(
                        Code::BadReference,
                        format!("`{name}` must be {}, but `{r}` is a list", ty.describe()),
                        node.span,
                        "a list",
                        Some(format!("pick {one}")),
                    );
                    None
                }
                (Expr::Cond { cond, .. }, _) => {
                    self.condition_type(cond, node.span).then_some(parsed)
                }
                (Expr::Ref(_), _) | (_, Type::Json) => Some(parsed),
                (Expr::Template(_), Type::String | Type::Cidr | Type::Enum(_)) => Some(parsed),
                // Both functions give text: a network or an address.
                (Expr::Call(_), Type::String | Type::Cidr) => Some(parsed),
                (Expr::Str(s), Type::String | Type::Code | Type::File) => {
                    Some(Expr::Str(s.clone()))
                }
                (Expr::Str(s), Type::Cidr) => self.cidr(node, s),
                (Expr::Str(s), Type::Enum(allowed)) => {
                    if allowed.contains(&s.as_str()) {
                        Some(parsed)
                    } else {
                        let help = match did_you_mean(s, allowed.iter().copied()) {
                            Some(m) => format!("did you mean `{m}`?"),
                            None => format!("use one of {}", quote_list(allowed)),
                        };
                        self.err(
                            Code::InvalidValue,
                            format!("`{s}` is not a valid value for `{name}`"),
                            node.span,
                            format!("expected one of {}", quote_list(allowed)),
                            Some(help),
                        );
                        None
                    }
                }
                _ => {
                    self.wrong_type(node, ty, name);
                    None
                }
            };
        }
        match (&node.value, ty) {
            (_, Type::Json) => Some(self.json(node, refs)),
            (Value::Int(i), Type::Int) => Some(Expr::Int(*i)),
            // `retention_in_days: 14` for an enumeration of numbers.
            (Value::Int(i), Type::Enum(allowed)) if allowed.contains(&i.to_string().as_str()) => {
                Some(Expr::Str(i.to_string()))
            }
            (Value::Int(i), Type::String) => Some(Expr::Str(i.to_string())),
            (Value::Bool(b), Type::Bool) => Some(Expr::Bool(*b)),
            (Value::Bool(b), Type::String) => Some(Expr::Str(b.to_string())),
            (Value::Seq(items), Type::List(inner)) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for item in items {
                    match self.value(item, inner, name, schema, refs) {
                        Some(v) => out.push(v),
                        None => ok = false,
                    }
                }
                ok.then_some(Expr::List(out))
            }
            (Value::Map(entries), Type::StringMap) => {
                let mut out = BTreeMap::new();
                for (k, v) in entries {
                    let val = match &v.value {
                        Value::Str(s) => self.string_expr(v, s, refs),
                        Value::Int(i) => Some(Expr::Str(i.to_string())),
                        Value::Bool(b) => Some(Expr::Str(b.to_string())),
                        _ => {
                            self.type_error(v, &format!("`{name}.{}`", k.name), "a string");
                            None
                        }
                    };
                    if let Some(val) = val {
                        out.insert(k.name.clone(), val);
                    }
                }
                Some(Expr::Map(out))
            }
            (Value::Map(_), Type::Object(props)) => {
                let at = Owner { name, top: false, anchor: node.span };
                self.object(node, props, schema, at, refs)
            }
            _ => {
                self.wrong_type(node, ty, name);
                None
            }
        }
    }

    fn wrong_type(&mut self, node: &Node, ty: &Type, name: &str) {
        let help = match (&node.value, ty) {
            (Value::Float(_), Type::String) => Some(format!("quote the value: `{name}: \"...\"`")),
            (Value::Str(_), Type::Int | Type::Bool) => {
                Some("write the value without quotes".to_string())
            }
            (_, Type::List(_)) => Some(format!("write a list: `{name}: [a, b]`")),
            (_, Type::Bool) => Some(format!("write `{name}: true` or `{name}: false`")),
            (_, Type::Int) => Some(format!("write a whole number, e.g. `{name}: 80`")),
            (_, Type::Object(_) | Type::StringMap) => {
                Some(format!("write a mapping under `{name}:`, one `key: value` per line"))
            }
            _ => Some(format!("write {} here", ty.describe())),
        };
        self.err(
            Code::WrongType,
            format!("`{name}` must be {}, found {}", ty.describe(), node.type_name()),
            node.span,
            format!("expected {}", ty.describe()),
            help,
        );
    }

    /// Converts any YAML into a JSON-like expression (policy documents and
    /// such), still parsing references inside strings.
    fn json(&mut self, node: &Node, refs: &mut Vec<(Ref, SourceSpan)>) -> Expr {
        match &node.value {
            Value::Null => Expr::Null,
            Value::Bool(b) => Expr::Bool(*b),
            Value::Int(i) => Expr::Int(*i),
            Value::Float(f) => Expr::Float(*f),
            Value::Str(s) => self.string_expr(node, s, refs).unwrap_or(Expr::Null),
            Value::Seq(items) => Expr::List(items.iter().map(|i| self.json(i, refs)).collect()),
            Value::Map(entries) => Expr::Map(
                entries.iter().map(|(k, v)| (k.name.clone(), self.json(v, refs))).collect(),
            ),
        }
    }

    fn cidr(&mut self, node: &Node, s: &str) -> Option<Expr> {
        match s.parse::<ipnet::Ipv4Net>() {
            Ok(net) if net.trunc() == net => Some(Expr::Str(net.to_string())),
            Ok(net) => {
                self.err(
                    Code::InvalidCidr,
                    format!("`{s}` has host bits set"),
                    node.span,
                    "not a network address",
                    Some(format!("did you mean `{}`?", net.trunc())),
                );
                None
            }
            Err(_) => {
                self.err(
                    Code::InvalidCidr,
                    format!("`{s}` is not a valid IPv4 CIDR block"),
                    node.span,
                    "invalid CIDR",
                    Some("write an address and prefix length, e.g. `10.0.0.0/16`".into()),
                );
                None
            }
        }
    }

    /// Parses `${...}` in a string scalar, reporting errors at the exact
    /// characters when the scalar's text maps one-to-one onto the source.
    fn string_expr(
        &mut self,
        node: &Node,
        s: &str,
        refs: &mut Vec<(Ref, SourceSpan)>,
    ) -> Option<Expr> {
        let base = content_offset(&self.file.text, node, s);
        let sub = |r: std::ops::Range<usize>| match base {
            Some(b) => span(b + r.start, r.len()),
            None => node.span,
        };
        match expr::parse_string(s) {
            Ok((e, found)) => {
                refs.extend(found.into_iter().map(|f| (f.reference, sub(f.range))));
                Some(e)
            }
            Err(e) => {
                self.err(Code::BadReference, e.message, sub(e.range), "here", Some(e.help));
                None
            }
        }
    }

    fn unknown_resource(&mut self, target: &str, at: SourceSpan, ctx: &RefContext) {
        let help = match did_you_mean(target, ctx.kinds.keys().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if ctx.kinds.is_empty() => "this blueprint defines no resources".to_string(),
            None => "define it under `resources:`, or reference one of the existing ids".into(),
        };
        self.err(
            Code::UnknownResource,
            format!("reference to unknown resource `{target}`"),
            at,
            "no such resource",
            Some(help),
        );
    }

    fn check_refs(&mut self, refs: &[(Ref, SourceSpan)], ctx: &RefContext, deps: &mut Vec<Dep>) {
        for (r, at) in refs {
            match r {
                Ref::Param(p) => {
                    if !ctx.params.contains_key(p) {
                        let help = match did_you_mean(p, ctx.params.keys().map(|s| s.as_str())) {
                            Some(s) => format!("did you mean `params.{s}`?"),
                            None => format!("declare it under `parameters:` as `{p}:`"),
                        };
                        self.err(
                            Code::UnknownParameter,
                            format!("reference to unknown parameter `{p}`"),
                            *at,
                            "no such parameter",
                            Some(help),
                        );
                    }
                }
                Ref::Attr { resource, attr }
                | Ref::All { resource, attr }
                | Ref::Item { resource, attr } => {
                    let Some(kind) = ctx.kinds.get(resource.as_str()) else {
                        self.unknown_resource(resource, *at, ctx);
                        continue;
                    };
                    if let Some(schema) = kind
                        && schema.attribute(attr).is_none()
                    {
                        let names = schema.attribute_names();
                        let help = match did_you_mean(attr, names.iter().copied()) {
                            Some(s) => format!("did you mean `{resource}.{s}`?"),
                            None => format!("{} has {}", schema.kind, quote_list(&names)),
                        };
                        self.err(
                            Code::UnknownAttribute,
                            format!("`{resource}` ({}) has no attribute `{attr}`", schema.kind),
                            *at,
                            "unknown attribute",
                            Some(help),
                        );
                        continue;
                    }
                    deps.push(Dep {
                        target: resource.clone(),
                        via: DepVia::Reference { attr: attr.clone() },
                        span: *at,
                    });
                }
                Ref::Ssm(key) => {
                    if let Some(p) = key.strip_prefix("params.")
                        && !ctx.params.contains_key(p)
                    {
                        self.err(
                            Code::UnknownParameter,
                            format!("reference to unknown parameter `{p}`"),
                            *at,
                            "no such parameter",
                            Some(format!(
                                "declare it under `parameters:` as `{p}:`, with the Systems Manager \
                                 parameter's name as its value"
                            )),
                        );
                    }
                }
                Ref::Az(_) | Ref::Azs | Ref::Stack | Ref::Region | Ref::Each => {}
            }
        }
    }

    fn outputs(&mut self, node: &Node, ctx: &RefContext) -> IndexMap<String, Output> {
        let mut out = IndexMap::new();
        let Some(entries) = node.as_map() else {
            if !matches!(node.value, Value::Null) {
                self.type_error(node, "`outputs`", "a mapping of names to values");
            }
            return out;
        };
        for (key, body) in entries {
            let mut o = Output {
                name: key.name.clone(),
                value: Expr::Null,
                description: String::new(),
                sensitive: false,
                span: key.span,
            };
            let mut refs = Vec::new();
            let value_node = match body.as_map() {
                Some(m) => {
                    self.unknown_keys(m, OUTPUT_KEYS, "output");
                    if let Some((_, d)) = find(m, "description") {
                        o.description = self.string(d, "`description`").unwrap_or_default();
                    }
                    if let Some((_, s)) = find(m, "sensitive") {
                        o.sensitive = self.boolean(s, "`sensitive`").unwrap_or(false);
                    }
                    match find(m, "value") {
                        Some((_, v)) => v,
                        None => {
                            self.err(
                                Code::MissingKey,
                                format!("output `{}` has no `value`", key.name),
                                key.span,
                                "no value",
                                Some("add `value: ${resource.attribute}`".into()),
                            );
                            continue;
                        }
                    }
                }
                None => body,
            };
            o.value = self.json(value_node, &mut refs);
            let mut deps = Vec::new();
            self.check_refs(&refs, ctx, &mut deps);
            // An output that shows a secret parameter is sensitive itself.
            for (r, _) in &refs {
                if let Ref::Param(p) = r
                    && ctx.params.get(p).is_some_and(|p| p.secret)
                {
                    o.sensitive = true;
                }
            }
            out.insert(o.name.clone(), o);
        }
        out
    }
}

/// Whose properties [`Validator::object`] checks: a resource (`top`) or a
/// nested object, and where to point when a property is missing.
struct Owner<'a> {
    name: &'a str,
    top: bool,
    anchor: SourceSpan,
}

/// What references may point at.
struct RefContext<'a> {
    params: &'a IndexMap<String, Parameter>,
    kinds: &'a IndexMap<&'a str, Option<&'static Schema>>,
}

/// Whether a parameter of type `pt` can stand as a whole property value
/// of type `ty`.
fn param_fits(pt: ParamType, ty: &Type) -> bool {
    match ty {
        Type::Json => true,
        Type::List(_) => pt == ParamType::List,
        Type::String => pt != ParamType::List,
        Type::Cidr => pt.textual(),
        Type::Enum(_) => pt == ParamType::String,
        Type::Int => pt.numeric(),
        Type::Bool => pt == ParamType::Bool,
        Type::StringMap | Type::Object(_) | Type::Code | Type::File => false,
    }
}

fn owner_name(owner: &str, schema: &Schema, top: bool) -> String {
    if top { format!("`{owner}` ({})", schema.kind) } else { format!("`{owner}`") }
}

fn find<'n>(entries: &'n [(Key, Node)], name: &str) -> Option<(&'n Key, &'n Node)> {
    entries.iter().find(|(k, _)| k.name == name).map(|(k, v)| (k, v))
}

/// The regex crate's message is a multi-line snippet; its last line says
/// what is wrong.
fn first_line(s: &str) -> String {
    let last = s.lines().last().unwrap_or(s).trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

/// Where the characters of a string scalar start in the source, when they
/// appear there verbatim (plain or simply quoted scalars).
pub(super) fn content_offset(src: &str, node: &Node, s: &str) -> Option<usize> {
    let start = node.span.offset();
    let len = node.span.len();
    let raw = src.get(start..start + len)?;
    if raw == s {
        return Some(start);
    }
    let quoted = raw.len() >= 2
        && (raw.starts_with('"') && raw.ends_with('"')
            || raw.starts_with('\'') && raw.ends_with('\''));
    (quoted && &raw[1..raw.len() - 1] == s).then_some(start + 1)
}

/// Checks a parameter value against its allowed set, pattern and lengths.
/// Secret values are never echoed in the message.
pub(crate) fn check_param_value(p: &Parameter, v: &Expr) -> Result<(), (String, String)> {
    if !p.allowed.is_empty() && !p.allowed.contains(v) {
        let allowed: Vec<String> = p.allowed.iter().map(literal_text).collect();
        let allowed: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
        let shown = if p.secret { "(sensitive)".into() } else { format!("`{}`", literal_text(v)) };
        let help = match (p.secret, v) {
            (false, Expr::Str(s)) => match did_you_mean(s, allowed.iter().copied()) {
                Some(m) => format!("did you mean `{m}`? allowed: {}", quote_list(&allowed)),
                None => format!("allowed: {}", quote_list(&allowed)),
            },
            _ => format!("allowed: {}", quote_list(&allowed)),
        };
        return Err((format!("is {shown}, which is not allowed"), help));
    }
    if p.ty == ParamType::Cidr
        && let Expr::Str(s) = v
    {
        match s.parse::<ipnet::Ipv4Net>() {
            Ok(net) if net.trunc() != net => {
                return Err((
                    format!("is `{s}`, which has host bits set"),
                    format!("a network address has none: did you mean `{}`?", net.trunc()),
                ));
            }
            Ok(_) => {}
            Err(_) => {
                return Err((
                    format!("is `{s}`, not an IPv4 CIDR block"),
                    "write an address and a prefix length from /0 to /32, e.g. `10.0.0.0/16`"
                        .into(),
                ));
            }
        }
    }
    if p.ty.numeric() {
        let x = match v {
            Expr::Int(i) => *i as f64,
            Expr::Float(f) => *f,
            _ => f64::NAN,
        };
        let range = match (p.min, p.max) {
            (Some(lo), Some(hi)) => format!("from {lo} to {hi}"),
            (Some(lo), None) => format!("of {lo} or more"),
            (None, Some(hi)) => format!("of {hi} or less"),
            (None, None) => String::new(),
        };
        if p.ty == ParamType::Integer && !matches!(v, Expr::Int(_)) {
            let help = if range.is_empty() { String::new() } else { format!(" {range}") };
            return Err((
                format!("is `{}`, not a whole number", literal_text(v)),
                format!("give a whole number{help}"),
            ));
        }
        if p.min.is_some_and(|lo| x < lo) || p.max.is_some_and(|hi| x > hi) {
            return Err((
                format!("is {}, out of range", literal_text(v)),
                format!("give a number {range}"),
            ));
        }
    }
    if let Expr::Str(s) = v {
        let n = s.chars().count();
        if let Some(min) = p.min_length
            && n < min
        {
            let plural = if min == 1 { "" } else { "s" };
            let msg = if n == 0 { "is empty".into() } else { format!("is {n} characters long") };
            return Err((msg, format!("use at least {min} character{plural}")));
        }
        if let Some(max) = p.max_length
            && n > max
        {
            return Err((
                format!("is {n} characters long"),
                format!("use at most {max} characters"),
            ));
        }
        if let Some(re) = &p.pattern
            && !re.is_match(s)
        {
            // A secret's value is never shown, not even in an error.
            let shown = if p.secret { String::new() } else { format!(" (was `{s}`)") };
            let pat = re.as_str();
            let pat = &pat[4..pat.len() - 2];
            return Err((
                format!("does not match its pattern{shown}"),
                format!("the value must match `{pat}`"),
            ));
        }
    }
    Ok(())
}

/// A literal's text for messages.
pub(crate) fn literal_text(v: &Expr) -> String {
    match v {
        Expr::Str(s) => s.clone(),
        Expr::Int(i) => i.to_string(),
        Expr::Float(f) => f.to_string(),
        Expr::Bool(b) => b.to_string(),
        Expr::Null => "null".into(),
        Expr::List(items) => {
            format!("[{}]", items.iter().map(literal_text).collect::<Vec<_>>().join(", "))
        }
        other => format!("{other:?}"),
    }
}

/// The inside of a value that is one whole `${...}` (`when`, `for_each`).
fn whole_ref(node: &Node) -> Option<&str> {
    match &node.value {
        Value::Str(s) => s.trim().strip_prefix("${")?.strip_suffix('}'),
        _ => None,
    }
}
