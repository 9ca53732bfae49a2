//! Property values and the `${...}` reference language.
//!
//! A blueprint value is a literal, a whole-value reference
//! (`vpc_id: ${vpc.id}`), or a string template mixing text and references
//! (`"${stack}-web"`). Every reference to a resource becomes a graph edge.
//! `$${` writes a literal `${`.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

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
    /// `${params.flag ? a.id : b.id}`: one of two references, chosen by a
    /// boolean parameter once values are known (see
    /// [`crate::blueprint::Blueprint::select`]).
    Cond {
        cond: Condition,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
}

/// A boolean parameter, possibly negated: `params.x` or `!params.x`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    pub param: String,
    pub negate: bool,
}

impl Condition {
    /// Parses `params.x` or `!params.x`.
    pub fn parse(s: &str) -> Option<Condition> {
        let s = s.trim();
        let (negate, rest) = match s.strip_prefix('!') {
            Some(r) => (true, r.trim_start()),
            None => (false, s),
        };
        let param = rest.strip_prefix("params.")?;
        is_ident(param).then(|| Condition { param: param.to_string(), negate })
    }

    /// Whether the condition holds for a parameter value.
    pub fn holds(&self, value: Option<&Expr>) -> bool {
        matches!(value, Some(Expr::Bool(true))) != self.negate
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bang = if self.negate { "!" } else { "" };
        write!(f, "{bang}params.{}", self.param)
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

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ref::Param(p) => write!(f, "${{params.{p}}}"),
            Ref::Attr { resource, attr } => write!(f, "${{{resource}.{attr}}}"),
            Ref::Az(i) => write!(f, "${{azs[{i}]}}"),
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
}

impl Expr {
    /// Calls `f` on every reference in this value, depth first.
    pub fn visit_refs<'a>(&'a self, f: &mut impl FnMut(&'a Ref)) {
        match self {
            Expr::Ref(r) => f(r),
            Expr::Template(parts) => {
                for p in parts {
                    if let Part::Ref(r) = p {
                        f(r)
                    }
                }
            }
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
        self.substitute(&|r| (*r == Ref::Each).then(|| item.to_string()))
    }

    /// This value with every `${ssm:NAME}` replaced by the value looked up
    /// for NAME (a name not in `values` stays a reference).
    pub fn with_lookups(&self, values: &BTreeMap<String, String>) -> Expr {
        self.substitute(&|r| match r {
            Ref::Ssm(name) => values.get(name).cloned(),
            _ => None,
        })
    }

    /// This value with each reference `f` gives a string for replaced by
    /// that string.
    fn substitute(&self, f: &dyn Fn(&Ref) -> Option<String>) -> Expr {
        match self {
            Expr::Ref(r) => f(r).map_or_else(|| self.clone(), Expr::Str),
            Expr::Template(parts) => Expr::Template(
                parts
                    .iter()
                    .map(|p| match p {
                        Part::Ref(r) => f(r).map_or_else(|| p.clone(), Part::Lit),
                        other => other.clone(),
                    })
                    .collect(),
            ),
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
                if cond.holds(value(&cond.param).as_ref()) {
                    then.select(value)
                } else {
                    otherwise.select(value)
                }
            }
            Expr::List(items) => Expr::List(items.iter().map(|e| e.select(value)).collect()),
            Expr::Map(m) => {
                Expr::Map(m.iter().map(|(k, e)| (k.clone(), e.select(value))).collect())
            }
            other => other.clone(),
        }
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
        let reference = parse_ref(inner.trim()).map_err(|(message, help)| TemplateError {
            message,
            help,
            range: start..end,
        })?;
        if !lit.is_empty() {
            parts.push(Part::Lit(std::mem::take(&mut lit)));
        }
        found.push(FoundRef { reference: reference.clone(), range: start..end });
        parts.push(Part::Ref(reference));
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
        _ => Expr::Template(parts),
    };
    Ok((expr, found))
}

const COND_HELP: &str =
    "a conditional reads `${params.flag ? a.attr : b.attr}`, with a bool parameter";

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
            "the condition is a bool parameter, `params.flag` or `!params.flag`".into(),
        ));
    };
    let then = parse_ref(then.trim())?;
    let otherwise = parse_ref(otherwise.trim())?;
    let refs = vec![Ref::Param(cond.param.clone()), then.clone(), otherwise.clone()];
    Ok((
        Expr::Cond {
            cond,
            then: Box::new(Expr::Ref(then)),
            otherwise: Box::new(Expr::Ref(otherwise)),
        },
        refs,
    ))
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
        return Err((
            "`${azs}` needs an index".into(),
            "pick one zone by index, e.g. `${azs[0]}`".into(),
        ));
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
    fn escapes_and_lone_dollars_are_literal() {
        assert_eq!(parse_string("$${x} costs $5").unwrap().0, Expr::Str("${x} costs $5".into()));
    }

    #[test]
    fn availability_zones_by_index() {
        assert_eq!(parse_string("${azs[1]}").unwrap().0, Expr::Ref(Ref::Az(1)));
        assert!(parse_string("${azs[-1]}").is_err());
        assert!(parse_string("${azs}").is_err());
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
}
