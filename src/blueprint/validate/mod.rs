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
use crate::schema::{self, Prop, Refusal, Schema, Type, did_you_mean, quote_list};

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

mod outputs;
mod params;
mod refs;
mod resources;
mod values;

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

    pub(super) fn err(
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
        let Some(entries) = self.top_entries(root) else {
            return bp;
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
        let resources = self.resources_of(entries);
        // Learn every id and kind first, so references may point forwards.
        let kinds = self.resource_ids(resources);
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

    /// The document's top-level entries; `None` (reported) when it is
    /// empty or not a mapping.
    fn top_entries<'n>(&mut self, root: &'n Node) -> Option<&'n [(Key, Node)]> {
        match &root.value {
            Value::Map(m) => Some(m.as_slice()),
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
                None
            }
            _ => {
                self.err(
                    Code::WrongType,
                    format!("a blueprint must be a mapping, found {}", root.type_name()),
                    root.span,
                    "expected `name:`, `resources:` and so on",
                    Some("start the file with `name: my-blueprint`".into()),
                );
                None
            }
        }
    }

    /// The entries of `resources:` (reported when it is missing).
    fn resources_of<'n>(&mut self, entries: &'n [(Key, Node)]) -> &'n [(Key, Node)] {
        match find(entries, "resources") {
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
        }
    }

    /// Each resource's id (checked) and kind.
    fn resource_ids<'n>(
        &mut self,
        resources: &'n [(Key, Node)],
    ) -> IndexMap<&'n str, Option<&'static Schema>> {
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
        kinds
    }

    pub(super) fn unknown_keys(&mut self, entries: &[(Key, Node)], allowed: &[&str], what: &str) {
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

    pub(super) fn type_error(&mut self, node: &Node, what: &str, expected: &str) {
        self.err(
            Code::WrongType,
            format!("{what} must be {expected}, found {}", node.type_name()),
            node.span,
            format!("expected {expected}"),
            Some(format!("write {expected} here")),
        );
    }

    pub(super) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            _ => {
                self.type_error(node, what, "a string");
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            _ => {
                self.type_error(node, what, "`true` or `false`");
                None
            }
        }
    }
}

/// Whose properties [`Validator::object`] checks: a resource (`top`) or a
/// nested object, and where to point when a property is missing.
#[derive(Clone, Copy)]
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
pub(crate) fn check_param_value(p: &Parameter, v: &Expr) -> Result<(), Refusal> {
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
        return Err(Refusal::new(format!("is {shown}, which is not allowed"), help));
    }
    if p.ty == ParamType::Cidr
        && let Expr::Str(s) = v
    {
        match s.parse::<ipnet::Ipv4Net>() {
            Ok(net) if net.trunc() != net => {
                return Err(Refusal::new(
                    format!("is `{s}`, which has host bits set"),
                    format!("a network address has none: did you mean `{}`?", net.trunc()),
                ));
            }
            Ok(_) => {}
            Err(_) => {
                return Err(Refusal::new(
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
            return Err(Refusal::new(
                format!("is `{}`, not a whole number", literal_text(v)),
                format!("give a whole number{help}"),
            ));
        }
        if p.min.is_some_and(|lo| x < lo) || p.max.is_some_and(|hi| x > hi) {
            return Err(Refusal::new(
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
            return Err(Refusal::new(msg, format!("use at least {min} character{plural}")));
        }
        if let Some(max) = p.max_length
            && n > max
        {
            return Err(Refusal::new(
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
            return Err(Refusal::new(
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
