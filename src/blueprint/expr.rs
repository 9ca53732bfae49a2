//! Property values and the `${...}` reference language.
//!
//! A blueprint value is a literal, a whole-value reference
//! (`vpc_id: ${vpc.id}`), or a string template mixing text and references
//! (`"${stack}-web"`). Every reference to a resource becomes a graph edge.
//! `$${` writes a literal `${`. A `${...}` may also call a function of
//! [`super::func`] (`${cidrsubnet(params.vpc_cidr, 8, 1)}`), whose
//! arguments are references, integers, `"text"` or other calls.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::func::{FUNCS, Func};

/// A property value as written in a blueprint, references unresolved.
/// Span-free, so two expressions compare equal whatever their position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Expr>),
    Map(BTreeMap<String, Expr>),
    Ref(Ref),
    Template(Vec<Part>),
    /// `${cidrsubnet(params.vpc_cidr, 8, 1)}`: a function of its arguments'
    /// values.
    Call(Call),
    /// `${params.flag ? a.id : b.id}`: one of two references, chosen by a
    /// boolean parameter once values are known (see
    /// [`crate::blueprint::Blueprint::select`]).
    Cond {
        cond: Condition,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
}

/// A function call: the function and its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub func: Func,
    pub args: Vec<Expr>,
    /// Each argument's byte range in the string it was written in, so a
    /// value check can point at the argument at fault.
    #[serde(skip)]
    pub at: ArgRanges,
}

/// Byte ranges of a call's arguments. Equal whatever they hold, so an
/// expression compares equal whatever its position (as [`Expr`] says).
#[derive(Debug, Clone, Default)]
pub struct ArgRanges(pub Vec<Range<usize>>);

impl PartialEq for ArgRanges {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A condition on parameters: terms joined by `&&`, each a bool parameter
/// (`params.x`, `!params.x`) or a string parameter compared with a quoted
/// text (`params.x == "public"`, `params.x != "public"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    pub terms: Vec<Term>,
}

/// One term of a [`Condition`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    pub param: String,
    /// `!params.x`, or `!=` for a comparison.
    pub negate: bool,
    /// The text a string parameter is compared with.
    pub equals: Option<String>,
}

impl Condition {
    /// Parses `params.x`, `!params.x`, `params.x == "v"`, `params.x != "v"`
    /// and terms of these joined by `&&`.
    pub fn parse(s: &str) -> Option<Condition> {
        let terms = s.split("&&").map(Term::parse).collect::<Option<Vec<_>>>()?;
        Some(Condition { terms })
    }

    /// Whether every term holds, with `value` giving each parameter's value.
    pub fn holds(&self, value: &dyn Fn(&str) -> Option<Expr>) -> bool {
        self.terms.iter().all(|t| t.holds(value(&t.param).as_ref()))
    }

    /// The parameters it reads, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|t| t.param.as_str())
    }
}

impl Term {
    fn parse(s: &str) -> Option<Term> {
        let s = s.trim();
        for (op, negate) in [("==", false), ("!=", true)] {
            if let Some((left, right)) = s.split_once(op) {
                let param = left.trim().strip_prefix("params.")?;
                let right = right.trim();
                let text =
                    ['"', '\''].iter().find_map(|q| right.strip_prefix(*q)?.strip_suffix(*q))?;
                return is_ident(param).then(|| Term {
                    param: param.to_string(),
                    negate,
                    equals: Some(text.to_string()),
                });
            }
        }
        let (negate, rest) = match s.strip_prefix('!') {
            Some(r) => (true, r.trim_start()),
            None => (false, s),
        };
        let param = rest.strip_prefix("params.")?;
        is_ident(param).then(|| Term { param: param.to_string(), negate, equals: None })
    }

    /// Whether the term holds for a parameter value.
    pub fn holds(&self, value: Option<&Expr>) -> bool {
        let yes = match &self.equals {
            Some(text) => matches!(value, Some(Expr::Str(s)) if s == text),
            None => matches!(value, Some(Expr::Bool(true))),
        };
        yes != self.negate
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(" && ")?;
            }
            match (&t.equals, t.negate) {
                (Some(text), false) => write!(f, "params.{} == {text:?}", t.param)?,
                (Some(text), true) => write!(f, "params.{} != {text:?}", t.param)?,
                (None, negate) => write!(f, "{}params.{}", if negate { "!" } else { "" }, t.param)?,
            }
        }
        Ok(())
    }
}

/// What a `${...}` names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ref {
    /// `${params.NAME}`
    Param(String),
    /// `${RESOURCE.ATTRIBUTE}`
    Attr { resource: String, attr: String },
    /// `${azs[N]}`: the N-th availability zone of the region, chosen at plan
    /// time.
    Az(usize),
    /// `${azs}`: every availability zone of the region, in order (for
    /// `${element(azs, each.value)}`: one zone per `for_each` item).
    Azs,
    /// `${RESOURCE[*].ATTRIBUTE}`: the attribute of every instance of a
    /// `for_each` resource, as a list in item order (replaced by a list of
    /// [`Ref::Attr`] when the instances are known).
    All { resource: String, attr: String },
    /// `${RESOURCE[each.value].ATTRIBUTE}`: inside a `for_each` resource,
    /// the instance of another resource made for the same item (replaced
    /// by a [`Ref::Attr`] with the item).
    Item { resource: String, attr: String },
    /// `${stack}`: the stack name.
    Stack,
    /// `${region}`: the region the stack is deployed to.
    Region,
    /// `${each.value}`: inside a resource with `for_each`, the list item
    /// this instance is made for (replaced when values are known).
    Each,
    /// `${ssm:/aws/service/...}`: the value of a Systems Manager parameter
    /// (an AWS public parameter such as the current ECS-optimized AMI),
    /// looked up once per run at plan time and shown in the plan.
    Ssm(String),
}

impl Ref {
    /// The resource and attribute this reads, whether one instance or
    /// every instance of it.
    pub fn reads(&self) -> Option<(&str, &str)> {
        match self {
            Ref::Attr { resource, attr }
            | Ref::All { resource, attr }
            | Ref::Item { resource, attr } => Some((resource, attr)),
            _ => None,
        }
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ref::Param(p) => write!(f, "${{params.{p}}}"),
            Ref::Attr { resource, attr } => write!(f, "${{{resource}.{attr}}}"),
            Ref::Az(i) => write!(f, "${{azs[{i}]}}"),
            Ref::Azs => f.write_str("${azs}"),
            Ref::All { resource, attr } => write!(f, "${{{resource}[*].{attr}}}"),
            Ref::Item { resource, attr } => write!(f, "${{{resource}[each.value].{attr}}}"),
            Ref::Stack => f.write_str("${stack}"),
            Ref::Region => f.write_str("${region}"),
            Ref::Each => f.write_str("${each.value}"),
            Ref::Ssm(name) => write!(f, "${{ssm:{name}}}"),
        }
    }
}

/// A piece of a string template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Lit(String),
    Ref(Ref),
    Call(Call),
}

impl Expr {
    /// Calls `f` on every reference in this value, depth first.
    pub fn visit_refs<'a>(&'a self, f: &mut impl FnMut(&'a Ref)) {
        match self {
            Expr::Ref(r) => f(r),
            Expr::Template(parts) => {
                for p in parts {
                    match p {
                        Part::Ref(r) => f(r),
                        Part::Call(c) => c.args.iter().for_each(|e| e.visit_refs(f)),
                        Part::Lit(_) => {}
                    }
                }
            }
            Expr::Call(c) => c.args.iter().for_each(|e| e.visit_refs(f)),
            Expr::List(items) => items.iter().for_each(|e| e.visit_refs(f)),
            Expr::Map(m) => m.values().for_each(|e| e.visit_refs(f)),
            Expr::Cond { then, otherwise, .. } => {
                then.visit_refs(f);
                otherwise.visit_refs(f);
            }
            _ => {}
        }
    }

    /// This value for the `for_each` item `item`: `${each.value}` replaced.
    pub fn with_each(&self, item: &str) -> Expr {
        self.substitute(&|r| match r {
            Ref::Each => Some(Expr::Str(item.to_string())),
            Ref::Item { resource, attr } => Some(Expr::Ref(Ref::Attr {
                resource: format!("{resource}[{item}]"),
                attr: attr.clone(),
            })),
            _ => None,
        })
    }

    /// This value with every `${r[*].attr}` replaced by the list of that
    /// attribute of `r`'s instances (`instances` gives each `for_each`
    /// resource's instance ids in item order), and every `element` of such
    /// a list at a known index replaced by the item it picks, so a
    /// resource depends only on the instance it uses.
    pub fn with_instances(&self, instances: &BTreeMap<String, Vec<String>>) -> Expr {
        self.substitute(&|r| match r {
            Ref::All { resource, attr } => instances.get(resource).map(|ids| {
                Expr::List(
                    ids.iter()
                        .map(|id| Expr::Ref(Ref::Attr { resource: id.clone(), attr: attr.clone() }))
                        .collect(),
                )
            }),
            _ => None,
        })
        .fold_elements()
    }

    /// `element([a, b, ...], N)` with N known: the item it picks
    /// (Terraform's wrapping past the end); anything else unchanged.
    fn fold_elements(self) -> Expr {
        match self {
            Expr::Call(c) => {
                let c = c.map_args(|e| e.clone().fold_elements());
                if c.func == Func::Element
                    && let [Expr::List(items), index] = c.args.as_slice()
                    && !items.is_empty()
                {
                    let n = match index {
                        Expr::Int(i) => Some(*i),
                        Expr::Str(s) => s.trim().parse::<i64>().ok(),
                        _ => None,
                    };
                    if let Some(n) = n.filter(|n| *n >= 0) {
                        return items[super::func::wrap(n, items.len())].clone();
                    }
                }
                Expr::Call(c)
            }
            Expr::Template(parts) => Expr::Template(
                parts
                    .into_iter()
                    .map(|p| match p {
                        Part::Call(c) => match Expr::Call(c).fold_elements() {
                            Expr::Call(c) => Part::Call(c),
                            Expr::Str(s) => Part::Lit(s),
                            Expr::Ref(r) => Part::Ref(r),
                            // Only a call, a text or a reference comes back
                            // from folding a call of a list of those.
                            other => unreachable!("folded to {other:?}"),
                        },
                        p => p,
                    })
                    .collect(),
            ),
            Expr::List(items) => Expr::List(items.into_iter().map(Expr::fold_elements).collect()),
            Expr::Map(m) => Expr::Map(m.into_iter().map(|(k, e)| (k, e.fold_elements())).collect()),
            other => other,
        }
    }

    /// This value with every `${ssm:NAME}` replaced by the value looked up
    /// for NAME (a name not in `values` stays a reference).
    pub fn with_lookups(&self, values: &BTreeMap<String, String>) -> Expr {
        self.substitute(&|r| match r {
            Ref::Ssm(name) => values.get(name).cloned().map(Expr::Str),
            _ => None,
        })
    }

    /// This value with each reference `f` gives a value for replaced by
    /// that value (in text, only by a text or another reference).
    fn substitute(&self, f: &dyn Fn(&Ref) -> Option<Expr>) -> Expr {
        match self {
            Expr::Ref(r) => f(r).unwrap_or_else(|| self.clone()),
            Expr::Template(parts) => Expr::Template(
                parts
                    .iter()
                    .map(|p| match p {
                        Part::Ref(r) => match f(r) {
                            Some(Expr::Str(s)) => Part::Lit(s),
                            Some(Expr::Ref(r)) => Part::Ref(r),
                            _ => p.clone(),
                        },
                        Part::Call(c) => Part::Call(c.map_args(|e| e.substitute(f))),
                        other => other.clone(),
                    })
                    .collect(),
            ),
            Expr::Call(c) => Expr::Call(c.map_args(|e| e.substitute(f))),
            Expr::List(items) => Expr::List(items.iter().map(|e| e.substitute(f)).collect()),
            Expr::Map(m) => {
                Expr::Map(m.iter().map(|(k, e)| (k.clone(), e.substitute(f))).collect())
            }
            Expr::Cond { cond, then, otherwise } => Expr::Cond {
                cond: cond.clone(),
                then: Box::new(then.substitute(f)),
                otherwise: Box::new(otherwise.substitute(f)),
            },
            other => other.clone(),
        }
    }

    /// Replaces every conditional by the branch its parameter selects.
    pub fn select(&self, value: &dyn Fn(&str) -> Option<Expr>) -> Expr {
        match self {
            Expr::Cond { cond, then, otherwise } => {
                if cond.holds(value) {
                    then.select(value)
                } else {
                    otherwise.select(value)
                }
            }
            Expr::List(items) => Expr::List(items.iter().map(|e| e.select(value)).collect()),
            Expr::Map(m) => {
                Expr::Map(m.iter().map(|(k, e)| (k.clone(), e.select(value))).collect())
            }
            Expr::Call(c) => Expr::Call(c.map_args(|e| e.select(value))),
            other => other.clone(),
        }
    }
}

impl Call {
    fn map_args(&self, f: impl Fn(&Expr) -> Expr) -> Call {
        Call { func: self.func, args: self.args.iter().map(f).collect(), at: self.at.clone() }
    }
}

/// A reference found in a string, with its byte range in that string.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundRef {
    pub reference: Ref,
    pub range: Range<usize>,
}

/// A malformed `${...}`, with its byte range in the string.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    pub message: String,
    pub help: String,
    pub range: Range<usize>,
}

/// Parses a string that may contain `${...}`. A string that is exactly one
/// reference becomes [`Expr::Ref`] (keeping the referenced value's type, so a
/// list parameter stays a list); text around references makes a
/// [`Expr::Template`]; no references leaves [`Expr::Str`].
pub fn parse_string(s: &str) -> Result<(Expr, Vec<FoundRef>), TemplateError> {
    let mut parts = Vec::new();
    let mut found = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    let mut pos = 0;
    while let Some(i) = rest.find('$') {
        let after = &rest[i..];
        if after.starts_with("$${") {
            lit.push_str(&rest[..i]);
            lit.push_str("${");
            rest = &rest[i + 3..];
            pos += i + 3;
            continue;
        }
        if !after.starts_with("${") {
            lit.push_str(&rest[..=i]);
            rest = &rest[i + 1..];
            pos += i + 1;
            continue;
        }
        lit.push_str(&rest[..i]);
        let start = pos + i;
        let Some(close) = after.find('}') else {
            return Err(TemplateError {
                message: "unterminated reference: `${` has no closing `}`".into(),
                help: "close the reference with `}`, or write `$${` for a literal `${`".into(),
                range: start..s.len(),
            });
        };
        let inner = &after[2..close];
        let end = start + close + 1;
        if inner.contains('?') {
            let whole = start == 0 && end == s.len();
            return conditional(inner, whole)
                .map(|(expr, refs)| {
                    let found = refs
                        .into_iter()
                        .map(|reference| FoundRef { reference, range: start..end })
                        .collect();
                    (expr, found)
                })
                .map_err(|(message, help)| TemplateError { message, help, range: start..end });
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(std::mem::take(&mut lit)));
        }
        if is_call(inner) {
            let mut p = CallParser { text: s, pos: start + 2, end: end - 1, found: &mut found };
            parts.push(Part::Call(p.whole()?));
        } else {
            let reference = parse_ref(inner.trim()).map_err(|(message, help)| TemplateError {
                message,
                help,
                range: start..end,
            })?;
            found.push(FoundRef { reference: reference.clone(), range: start..end });
            parts.push(Part::Ref(reference));
        }
        rest = &after[close + 1..];
        pos = end;
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    let expr = match parts.as_slice() {
        [] => Expr::Str(String::new()),
        [Part::Lit(l)] => Expr::Str(l.clone()),
        [Part::Ref(r)] => Expr::Ref(r.clone()),
        [Part::Call(c)] => Expr::Call(c.clone()),
        _ => Expr::Template(parts),
    };
    Ok((expr, found))
}

/// `name(` at the start: a call rather than a reference.
fn is_call(inner: &str) -> bool {
    let inner = inner.trim_start();
    inner.find('(').is_some_and(|i| is_ident(inner[..i].trim_end()))
}

fn call_help() -> String {
    let sigs: Vec<String> = FUNCS.iter().map(|f| format!("`{}`", f.signature())).collect();
    format!("the functions are {}", sigs.join(" and "))
}

/// A recursive-descent parser of one call, over `text[pos..end]`, with
/// positions in the whole string so errors and references keep their
/// place.
struct CallParser<'a, 'f> {
    text: &'a str,
    pos: usize,
    end: usize,
    found: &'f mut Vec<FoundRef>,
}

impl CallParser<'_, '_> {
    fn err<T>(
        &self,
        message: String,
        help: String,
        range: Range<usize>,
    ) -> Result<T, TemplateError> {
        Err(TemplateError { message, help, range })
    }

    fn skip_space(&mut self) {
        while self.pos < self.end && self.text.as_bytes()[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        (self.pos < self.end).then(|| self.text.as_bytes()[self.pos])
    }

    /// The whole inside of `${...}`: one call and nothing after it.
    fn whole(&mut self) -> Result<Call, TemplateError> {
        self.skip_space();
        let call = self.call()?;
        self.skip_space();
        if self.pos < self.end {
            let rest = self.text[self.pos..self.end].to_string();
            return self.err(
                format!("unexpected `{rest}` after the call"),
                "a `${...}` holds one call; put text outside it".into(),
                self.pos..self.end,
            );
        }
        Ok(call)
    }

    fn call(&mut self) -> Result<Call, TemplateError> {
        let start = self.pos;
        let open = start + self.text[start..self.end].find('(').expect("is_call checked");
        let name = self.text[start..open].trim();
        let Some(func) = Func::by_name(name) else {
            return self.err(format!("unknown function `{name}`"), call_help(), start..open);
        };
        self.pos = open + 1;
        let mut args = Vec::new();
        let mut at = Vec::new();
        self.skip_space();
        if self.peek() == Some(b')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_space();
                let arg_start = self.pos;
                args.push(self.arg()?);
                at.push(arg_start..self.pos);
                self.skip_space();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => {
                        return self.err(
                            format!("`{}(` has no closing `)`", func.name()),
                            format!("write `{}`", func.signature()),
                            start..self.end,
                        );
                    }
                }
            }
        }
        let want = func.params().len();
        if args.len() != want {
            return self.err(
                format!("`{}` takes {want} arguments, found {}", func.name(), args.len()),
                format!("write `{}`", func.signature()),
                start..self.pos,
            );
        }
        Ok(Call { func, args, at: ArgRanges(at) })
    }

    /// One argument: `"text"`, an integer, a call or a reference.
    fn arg(&mut self) -> Result<Expr, TemplateError> {
        let start = self.pos;
        let rest = &self.text[start..self.end];
        if let Some(body) = rest.strip_prefix('"') {
            let Some(close) = body.find('"') else {
                return self.err(
                    "unterminated text: `\"` has no closing `\"`".into(),
                    "close the text with `\"`".into(),
                    start..self.end,
                );
            };
            self.pos = start + close + 2;
            return Ok(Expr::Str(body[..close].to_string()));
        }
        let len = rest.find([',', ')']).unwrap_or(rest.len());
        let token = rest[..len].trim_end();
        if rest[..len].contains('(') {
            return Ok(Expr::Call(self.call()?));
        }
        let range = start..start + token.len();
        if token.is_empty() {
            return self.err(
                "missing argument".into(),
                call_help(),
                start..start + len.max(1).min(rest.len()),
            );
        }
        self.pos = range.end;
        if let Ok(i) = token.parse::<i64>() {
            return Ok(Expr::Int(i));
        }
        let reference = parse_ref(token).map_err(|(message, help)| TemplateError {
            message,
            help,
            range: range.clone(),
        })?;
        self.found.push(FoundRef { reference: reference.clone(), range });
        Ok(Expr::Ref(reference))
    }
}

const COND_HELP: &str = "a conditional reads `${params.flag ? a.attr : b.attr}`, with a bool \
     parameter; a branch is a reference, `true`, `false`, an integer or a quoted text";

/// `params.flag ? a.attr : b.attr` (the whole value only): the expression
/// and every reference it contains, the condition's parameter first.
fn conditional(inner: &str, whole: bool) -> Result<(Expr, Vec<Ref>), (String, String)> {
    if !whole {
        return Err((
            "a conditional must be the whole value, not part of a string".into(),
            COND_HELP.into(),
        ));
    }
    let (cond, branches) = inner.split_once('?').expect("caller checked");
    let Some((then, otherwise)) = branches.split_once(':') else {
        return Err(("a conditional needs `:` between its two branches".into(), COND_HELP.into()));
    };
    let Some(cond) = Condition::parse(cond) else {
        return Err((
            format!("`{}` is not a condition", cond.trim()),
            "a condition is `params.flag`, `!params.flag` or `params.name == \"text\"`, \
             joined by `&&`"
                .into(),
        ));
    };
    let mut refs: Vec<Ref> = cond.params().map(|p| Ref::Param(p.to_string())).collect();
    let then = branch(then.trim(), &mut refs)?;
    let otherwise = branch(otherwise.trim(), &mut refs)?;
    Ok((Expr::Cond { cond, then: Box::new(then), otherwise: Box::new(otherwise) }, refs))
}

/// A conditional's branch: `true`, `false`, an integer, a quoted text or a
/// reference.
fn branch(s: &str, refs: &mut Vec<Ref>) -> Result<Expr, (String, String)> {
    match s {
        "true" => return Ok(Expr::Bool(true)),
        "false" => return Ok(Expr::Bool(false)),
        _ => {}
    }
    if let Ok(i) = s.parse::<i64>() {
        return Ok(Expr::Int(i));
    }
    if let Some(text) = ['"', '\''].iter().find_map(|q| s.strip_prefix(*q)?.strip_suffix(*q)) {
        return Ok(Expr::Str(text.to_string()));
    }
    let r = parse_ref(s)?;
    refs.push(r.clone());
    Ok(Expr::Ref(r))
}

const REF_HELP: &str = "references look like `${resource.attribute}`, `${params.name}`, \
     `${azs[0]}`, `${stack}`, `${region}` or `${ssm:/parameter/name}`";

fn parse_ref(inner: &str) -> Result<Ref, (String, String)> {
    let bad = |what: &str| (what.to_string(), REF_HELP.to_string());
    if inner.is_empty() {
        return Err(bad("empty reference `${}`"));
    }
    match inner {
        "stack" => return Ok(Ref::Stack),
        "region" => return Ok(Ref::Region),
        "each.value" => return Ok(Ref::Each),
        _ => {}
    }
    if let Some(name) = inner.strip_prefix("ssm:") {
        return ssm_name(name).map(|n| Ref::Ssm(n.to_string()));
    }
    if let Some(idx) = inner.strip_prefix("azs[").and_then(|r| r.strip_suffix(']')) {
        return idx.trim().parse::<usize>().map(Ref::Az).map_err(|_| {
            (
                format!("`{idx}` is not an availability-zone index"),
                "use a non-negative integer, e.g. `${azs[0]}`".to_string(),
            )
        });
    }
    if inner == "azs" {
        return Ok(Ref::Azs);
    }
    if let Some((head, rest)) = inner.split_once('[')
        && is_ident(head)
    {
        return instance_ref(head, rest);
    }
    let Some((head, tail)) = inner.split_once('.') else {
        return Err((
            format!("`{inner}` is not a reference"),
            format!("to use a resource, name one of its attributes, e.g. `${{{inner}.id}}`"),
        ));
    };
    if !is_ident(head) || !is_ident(tail) {
        return Err(bad(&format!("`{inner}` is not a valid reference")));
    }
    if head == "params" {
        Ok(Ref::Param(tail.to_string()))
    } else {
        Ok(Ref::Attr { resource: head.to_string(), attr: tail.to_string() })
    }
}

/// `NAME[*].attr` or `NAME[each.value].attr`, `rest` what follows `[`.
fn instance_ref(head: &str, rest: &str) -> Result<Ref, (String, String)> {
    let help = || {
        format!(
            "index a `for_each` resource with `[*]` (every instance, as a list: \
             `${{{head}[*].id}}`) or `[each.value]` (the instance of this item: \
             `${{{head}[each.value].id}}`)"
        )
    };
    let Some((index, tail)) = rest.split_once("].") else {
        return Err((format!("`{head}[{rest}` is not a valid reference"), help()));
    };
    if !is_ident(tail) {
        return Err((format!("`{head}[{rest}` is not a valid reference"), help()));
    }
    let (resource, attr) = (head.to_string(), tail.to_string());
    match index.trim() {
        "*" => Ok(Ref::All { resource, attr }),
        "each.value" => Ok(Ref::Item { resource, attr }),
        other => Err((format!("`[{other}]` is not an index archkit knows"), help())),
    }
}

/// A Systems Manager parameter name as AWS allows it: letters, digits
/// and `_ . - /`, at most 2048 characters; a path starts with `/`.
fn ssm_name(name: &str) -> Result<&str, (String, String)> {
    let name = name.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_.-/".contains(c);
    if name.is_empty() || name.len() > 2048 || !name.chars().all(allowed) {
        return Err((
            format!("`{name}` is not a Systems Manager parameter name"),
            "name a parameter by its full path, e.g. \
             `${ssm:/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id}`"
                .to_string(),
        ));
    }
    Ok(name)
}

/// Resource ids, parameter names and attributes: a letter, then letters,
/// digits, `_` or `-`.
pub fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(r: &str, a: &str) -> Ref {
        Ref::Attr { resource: r.into(), attr: a.into() }
    }

    #[test]
    fn whole_value_reference_keeps_its_kind() {
        let (e, refs) = parse_string("${vpc.id}").unwrap();
        assert_eq!(e, Expr::Ref(attr("vpc", "id")));
        assert_eq!(refs[0].range, 0..9);
    }

    #[test]
    fn templates_mix_text_and_references() {
        let (e, refs) = parse_string("com.amazonaws.${region}.s3-${ params.x }").unwrap();
        assert_eq!(
            e,
            Expr::Template(vec![
                Part::Lit("com.amazonaws.".into()),
                Part::Ref(Ref::Region),
                Part::Lit(".s3-".into()),
                Part::Ref(Ref::Param("x".into())),
            ])
        );
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[1].range, 27..40);
    }

    #[test]
    fn conditions_compare_text_and_join_with_and() {
        let c = Condition::parse(r#"params.tasks == "public" && !params.per_az"#).unwrap();
        assert_eq!(c.params().collect::<Vec<_>>(), ["tasks", "per_az"]);
        let values = |tasks: &str, per_az: bool| {
            let tasks = Expr::Str(tasks.into());
            move |p: &str| match p {
                "tasks" => Some(tasks.clone()),
                "per_az" => Some(Expr::Bool(per_az)),
                _ => None,
            }
        };
        assert!(c.holds(&values("public", false)));
        assert!(!c.holds(&values("public", true)));
        assert!(!c.holds(&values("private", false)));
        let ne = Condition::parse("params.tasks != 'public'").unwrap();
        assert!(ne.holds(&values("private", false)));
        assert!(!ne.holds(&values("public", false)));
        // Shown as written, so plans and errors read back.
        assert_eq!(c.to_string(), r#"params.tasks == "public" && !params.per_az"#);
        for bad in ["params.x == public", "x == \"a\"", "params.x &&", "params.x == \"a"] {
            assert!(Condition::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn conditional_branches_may_be_literals() {
        let (e, refs) = parse_string(r#"${params.tasks == "public" ? true : false}"#).unwrap();
        let Expr::Cond { then, otherwise, .. } = e else { panic!("{e:?}") };
        assert_eq!((*then, *otherwise), (Expr::Bool(true), Expr::Bool(false)));
        assert_eq!(refs.len(), 1, "only the parameter is a reference");
        let (e, refs) = parse_string("${params.big ? 4 : vpc.id}").unwrap();
        let Expr::Cond { then, .. } = e else { panic!() };
        assert_eq!(*then, Expr::Int(4));
        assert_eq!(refs.len(), 2);
    }

    #[test]
    fn escapes_and_lone_dollars_are_literal() {
        assert_eq!(parse_string("$${x} costs $5").unwrap().0, Expr::Str("${x} costs $5".into()));
    }

    #[test]
    fn availability_zones_by_index() {
        assert_eq!(parse_string("${azs[1]}").unwrap().0, Expr::Ref(Ref::Az(1)));
        assert!(parse_string("${azs[-1]}").is_err());
        assert_eq!(parse_string("${azs}").unwrap().0, Expr::Ref(Ref::Azs));
    }

    #[test]
    fn instances_of_a_for_each_resource_by_splat_or_item() {
        let all = Ref::All { resource: "subnet".into(), attr: "id".into() };
        let item = Ref::Item { resource: "subnet".into(), attr: "id".into() };
        assert_eq!(parse_string("${subnet[*].id}").unwrap().0, Expr::Ref(all.clone()));
        assert_eq!(parse_string("${subnet[each.value].id}").unwrap().0, Expr::Ref(item.clone()));
        assert_eq!(all.to_string(), "${subnet[*].id}");
        assert_eq!(item.to_string(), "${subnet[each.value].id}");
        for bad in ["${subnet[1].id}", "${subnet[*]}", "${subnet[*].}", "${subnet[*]id}"] {
            let e = parse_string(bad).unwrap_err();
            assert!(e.help.contains("[*]"), "{bad}: {e:?}");
        }
        // An item reference becomes the instance of that item.
        let e = parse_string("${subnet[each.value].id}").unwrap().0.with_each("2");
        assert_eq!(e, Expr::Ref(attr("subnet[2]", "id")));
    }

    #[test]
    fn a_splat_becomes_a_list_and_element_at_a_known_index_picks_one() {
        let ids = BTreeMap::from([(
            "subnet".to_string(),
            vec!["subnet[1]".to_string(), "subnet[2]".to_string()],
        )]);
        let list = parse_string("${subnet[*].id}").unwrap().0.with_instances(&ids);
        assert_eq!(
            list,
            Expr::List(vec![
                Expr::Ref(attr("subnet[1]", "id")),
                Expr::Ref(attr("subnet[2]", "id"))
            ])
        );
        // Items count from 1; `element` wraps, as Terraform's does.
        let pick = |item: &str| {
            parse_string("${element(subnet[*].id, each.value)}")
                .unwrap()
                .0
                .with_each(item)
                .with_instances(&ids)
        };
        assert_eq!(pick("1"), Expr::Ref(attr("subnet[2]", "id")));
        assert_eq!(pick("2"), Expr::Ref(attr("subnet[1]", "id")));
        assert_eq!(pick("3"), Expr::Ref(attr("subnet[2]", "id")));
        // An index known only later stays a call.
        let later =
            parse_string("${element(subnet[*].id, params.n)}").unwrap().0.with_instances(&ids);
        assert!(matches!(later, Expr::Call(_)), "{later:?}");
    }

    #[test]
    fn systems_manager_parameters_by_path() {
        let path = "/aws/service/ami-windows-latest/Windows_Server-2022-English-Full-ECS_Optimized/image_id";
        assert_eq!(
            parse_string(&format!("${{ssm:{path}}}")).unwrap().0,
            Expr::Ref(Ref::Ssm(path.into()))
        );
        assert_eq!(Ref::Ssm(path.into()).to_string(), format!("${{ssm:{path}}}"));
        assert!(parse_string("${ssm:}").is_err());
        assert!(parse_string("${ssm:/a b}").is_err());
        assert!(parse_string("${ssm:/a$b}").is_err());
    }

    #[test]
    fn malformed_references_report_their_range() {
        let e = parse_string("a-${vpc.id").unwrap_err();
        assert_eq!(e.range, 2..10);
        let e = parse_string("x ${} y").unwrap_err();
        assert_eq!(e.range, 2..5);
        assert!(parse_string("${vpc}").is_err());
        assert!(parse_string("${a.b.c}").is_err());
    }

    #[test]
    fn conditionals_choose_between_two_references() {
        let (e, refs) = parse_string("${ !params.one ? nat_two.id : nat_one.id }").unwrap();
        assert_eq!(refs.len(), 3);
        assert_eq!(refs[0].reference, Ref::Param("one".into()));
        let pick = |v: bool| e.select(&|_| Some(Expr::Bool(v)));
        assert_eq!(pick(false), Expr::Ref(attr("nat_two", "id")));
        assert_eq!(pick(true), Expr::Ref(attr("nat_one", "id")));
        assert!(parse_string("x-${params.a ? b.c : d.e}").is_err());
        assert!(parse_string("${params.a ? b.c}").is_err());
        assert!(parse_string("${a.b ? b.c : d.e}").is_err());
    }

    #[test]
    fn multibyte_text_keeps_byte_ranges() {
        let (_, refs) = parse_string("é${stack}").unwrap();
        assert_eq!(refs[0].range, 2..10);
    }

    #[test]
    fn calls_parse_with_their_arguments_and_references() {
        let text = "${cidrsubnet(params.vpc_cidr, 8, 2)}";
        let (e, refs) = parse_string(text).unwrap();
        let Expr::Call(c) = &e else { panic!("{e:?}") };
        assert_eq!(c.func, Func::CidrSubnet);
        assert_eq!(c.args, [Expr::Ref(Ref::Param("vpc_cidr".into())), Expr::Int(8), Expr::Int(2)]);
        assert_eq!(&text[c.at.0[0].clone()], "params.vpc_cidr");
        assert_eq!(&text[c.at.0[2].clone()], "2");
        // The reference is found at its own characters, for its error.
        assert_eq!(refs.len(), 1);
        assert_eq!(&text[refs[0].range.clone()], "params.vpc_cidr");

        // Nested, quoted text and in a template.
        let text = r#"${ cidrhost(cidrsubnet("10.0.0.0/16", 8, 1), -1) }/32"#;
        let (e, _) = parse_string(text).unwrap();
        let Expr::Template(parts) = &e else { panic!("{e:?}") };
        let Part::Call(c) = &parts[0] else { panic!("{parts:?}") };
        assert_eq!(c.func, Func::CidrHost);
        assert_eq!(c.args[1], Expr::Int(-1));
        let Expr::Call(inner) = &c.args[0] else { panic!("{c:?}") };
        assert_eq!(inner.args[0], Expr::Str("10.0.0.0/16".into()));
        assert_eq!(parts[1], Part::Lit("/32".into()));
        // References inside calls are visited (they are graph edges).
        let (e, _) = parse_string("${cidrsubnet(vpc.cidr_block, 4, each.value)}").unwrap();
        let mut seen = Vec::new();
        e.visit_refs(&mut |r| seen.push(r.clone()));
        assert_eq!(seen, [attr("vpc", "cidr_block"), Ref::Each]);
        assert_eq!(
            e.with_each("3"),
            parse_string("${cidrsubnet(vpc.cidr_block, 4, \"3\")}").unwrap().0
        );
    }

    #[test]
    fn malformed_calls_point_at_their_characters() {
        let text = "x-${cidrsubnets(params.a, 1, 2)}";
        let e = parse_string(text).unwrap_err();
        assert_eq!(&text[e.range.clone()], "cidrsubnets");
        assert!(e.help.contains("cidrsubnet(prefix, newbits, netnum)"), "{e:?}");
        let text = "${cidrsubnet(params.a, 1)}";
        let e = parse_string(text).unwrap_err();
        assert!(e.message.contains("takes 3 arguments, found 2"), "{e:?}");
        let text = "${cidrhost(params.a, 1}";
        assert!(parse_string(text).unwrap_err().message.contains("no closing `)`"));
        let text = "${cidrhost(params.a, )}";
        assert!(parse_string(text).unwrap_err().message.contains("missing argument"));
        let text = "${cidrhost(params.a 1)}";
        let e = parse_string(text).unwrap_err();
        assert_eq!(&text[e.range.clone()], "params.a 1");
        let text = "${cidrhost(params.a, 1) x}";
        assert!(parse_string(text).unwrap_err().message.contains("after the call"));
    }
}
