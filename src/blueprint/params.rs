//! Parameter values: from defaults, `ARCHKIT_VAR_<NAME>` environment
//! variables, `--var-file` files and `--var NAME=VALUE`, in increasing order
//! of precedence (as Terraform's `TF_VAR_`, tfvars and `-var`).

use std::collections::BTreeMap;
use std::fmt;

use super::diagnostic::{Code, Diagnostic, Diagnostics};
use serde_json::Value as J;

use super::expr::{Expr, Ref};
use super::known::{Eval, Lookup};
use super::model::{Blueprint, ParamType, Parameter};
use super::validate::check_param_value;
use crate::schema::Refusal;

/// Where a value came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    Env(String),
    File(String),
    Cli,
    Prompt,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("its default"),
            Origin::Env(v) => write!(f, "environment variable {v}"),
            Origin::File(p) => write!(f, "var file {p}"),
            Origin::Cli => f.write_str("--var"),
            Origin::Prompt => f.write_str("the prompt"),
        }
    }
}

/// Raw inputs, before they are matched to the blueprint's parameters.
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    /// `--var NAME=VALUE`, in order.
    pub cli: Vec<(String, String)>,
    /// Parsed `--var-file` contents: (file name, name, value).
    pub files: Vec<(String, String, Expr)>,
    /// `ARCHKIT_VAR_<NAME>` variables: (name, value).
    pub env: Vec<(String, String)>,
}

/// A resolved parameter value. `Debug` hides secrets.
#[derive(Clone, PartialEq)]
pub struct Value {
    pub value: Expr,
    pub secret: bool,
    pub origin: Origin,
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secret {
            write!(f, "(sensitive) from {}", self.origin)
        } else {
            write!(f, "{:?} from {}", self.value, self.origin)
        }
    }
}

/// Every parameter's value.
#[derive(Debug, Clone, Default)]
pub struct Values {
    pub values: BTreeMap<String, Value>,
}

impl Values {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// The value of `name`, if it has one.
    pub fn value(&self, name: &str) -> Option<Expr> {
        self.get(name).map(|v| v.value.clone())
    }
}

impl Lookup for Values {
    fn value(&self, name: &str) -> Option<Expr> {
        Values::value(self, name)
    }
}

/// Whether parameters without a value are an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Require {
    /// `plan`, `apply`: every parameter needs a value.
    All,
    /// `validate`, `graph`: check the values given, need none.
    Given,
}

/// Resolves every parameter. `prompt` is asked for a secret parameter that
/// has no value (it returns `None` when there is no terminal).
pub fn resolve(
    bp: &Blueprint,
    inputs: &Inputs,
    require: Require,
    prompt: &mut dyn FnMut(&Parameter) -> Option<String>,
) -> Result<Values, Diagnostics> {
    let mut diags = unknown_vars(bp, inputs);
    let mut out = Values::default();
    // Defaults made from other parameters wait until those have values.
    let mut derived = Vec::new();
    for (name, p) in &bp.parameters {
        match chosen(name, p, inputs, require, prompt) {
            None if require == Require::All => {
                let help = if p.secret {
                    format!(
                        "it is secret: set ARCHKIT_VAR_{name} in the environment \
                         (there is no terminal to prompt on)"
                    )
                } else {
                    format!("pass `--var {name}=...` or set ARCHKIT_VAR_{name}")
                };
                diags.push(
                    Diagnostic::new(
                        Code::MissingParameter,
                        format!("parameter `{name}` has no value"),
                    )
                    .in_file(&bp.file)
                    .label(p.span, "declared here")
                    .help(help),
                );
            }
            None => {}
            Some((Err(expected), origin)) => diags.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("the value of `{name}` from {origin} is not {expected}"),
                )
                .in_file(&bp.file)
                .label(p.span, format!("{} parameter", p.ty.a()))
                .help(format!("give `{name}` {expected}")),
            ),
            Some((Ok(value), Origin::Default)) if uses_params(&value) => derived.push((p, value)),
            Some((Ok(value), origin)) => {
                if let Err(Refusal { message: msg, help }) = check_param_value(p, &value) {
                    diags.push(
                        Diagnostic::new(
                            Code::InvalidValue,
                            format!("the value of `{name}` from {origin} {msg}"),
                        )
                        .in_file(&bp.file)
                        .label(p.span, "declared here")
                        .help(help),
                    );
                } else {
                    out.values.insert(name.clone(), Value { value, secret: p.secret, origin });
                }
            }
        }
    }
    for (p, e) in derived {
        derive(bp, p, &e, &mut out, &mut diags);
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics { file: bp.file.name.clone(), diagnostics: diags })
    }
}

/// An error for each `--var` that names no parameter of `bp`.
fn unknown_vars(bp: &Blueprint, inputs: &Inputs) -> Vec<Diagnostic> {
    let names = || bp.parameters.keys().map(|s| s.as_str());
    let unknown = inputs.cli.iter().filter(|(name, _)| !bp.parameters.contains_key(name));
    unknown
        .map(|(name, _)| {
            let help = match crate::schema::did_you_mean(name, names()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if bp.parameters.is_empty() => "this blueprint has no parameters".into(),
                None => format!(
                    "its parameters are {}",
                    names().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                ),
            };
            Diagnostic::new(
                Code::UnknownParameter,
                format!("--var `{name}` is not a parameter of {}", bp.name),
            )
            .help(help)
        })
        .collect()
}

/// The value parameter `name` is given and where from: `--var` over a
/// var file over `ARCHKIT_VAR_*` over the default; a secret without one
/// is asked for when every value is needed.
fn chosen(
    name: &str,
    p: &Parameter,
    inputs: &Inputs,
    require: Require,
    prompt: &mut dyn FnMut(&Parameter) -> Option<String>,
) -> Option<(Result<Expr, String>, Origin)> {
    if let Some((_, v)) = inputs.cli.iter().rev().find(|(k, _)| k == name) {
        return Some((from_text(p.ty, v), Origin::Cli));
    }
    if let Some((file, _, v)) = inputs.files.iter().rev().find(|(_, k, _)| k == name) {
        return Some((from_expr(p.ty, v), Origin::File(file.clone())));
    }
    if let Some((_, v)) = inputs.env.iter().rev().find(|(k, _)| k == name) {
        return Some((from_text(p.ty, v), Origin::Env(format!("ARCHKIT_VAR_{name}"))));
    }
    if let Some(d) = &p.default {
        return Some((Ok(d.clone()), Origin::Default));
    }
    if p.secret && require == Require::All {
        return prompt(p).map(|v| (from_text(p.ty, &v), Origin::Prompt));
    }
    None
}

fn uses_params(e: &Expr) -> bool {
    let mut found = false;
    e.visit_refs(&mut |r| found |= matches!(r, Ref::Param(_)));
    found
}

/// Computes a default made from other parameters (validation allows only
/// parameters whose own default is a literal, so `out` has them all) and
/// checks it as if it had been given.
fn derive(bp: &Blueprint, p: &Parameter, e: &Expr, out: &mut Values, diags: &mut Vec<Diagnostic>) {
    let mut used = Vec::new();
    e.visit_refs(&mut |r| {
        if let Ref::Param(q) = r {
            used.push(q.clone());
        }
    });
    // A parameter it uses has no value: reported already (plan) or not
    // needed (validate); this one has none either.
    if used.iter().any(|q| out.get(q).is_none()) {
        return;
    }
    let from = used
        .iter()
        .filter_map(|q| {
            let v = out.get(q)?;
            Some(match &v.value {
                Expr::Str(s) => format!("{q} = {s} from {}", v.origin),
                _ => format!("{q} from {}", v.origin),
            })
        })
        .collect::<Vec<_>>()
        .join(", ");
    let name = &p.name;
    let fail = |msg: String, help: String| {
        Diagnostic::new(Code::InvalidValue, format!("the default of `{name}` {msg} ({from})"))
            .in_file(&bp.file)
            .label(p.span, "declared here")
            .help(help)
    };
    let value = match (Eval { values: out }).known_or_error(e) {
        Ok(Some(J::String(s))) => Expr::Str(s),
        Ok(Some(other)) => Expr::Str(other.to_string()),
        Ok(None) => return,
        Err(err) => {
            diags.push(fail(format!("cannot be computed: {}", err.message), err.help));
            return;
        }
    };
    match check_param_value(p, &value) {
        Err(Refusal { message, help }) => diags.push(fail(message, help)),
        Ok(()) => {
            out.values
                .insert(name.clone(), Value { value, secret: false, origin: Origin::Default });
        }
    }
}

/// Converts command-line or environment text to a typed value.
fn from_text(ty: ParamType, s: &str) -> Result<Expr, String> {
    match ty {
        ParamType::String | ParamType::Cidr => Ok(Expr::Str(s.to_string())),
        // A fraction is read as one, so the error can say it is not whole.
        ParamType::Number | ParamType::Integer => s
            .trim()
            .parse::<i64>()
            .map(Expr::Int)
            .or_else(|_| s.trim().parse::<f64>().map(Expr::Float))
            .map_err(|_| "a number".to_string()),
        ParamType::Bool => match s.trim() {
            "true" => Ok(Expr::Bool(true)),
            "false" => Ok(Expr::Bool(false)),
            _ => Err("`true` or `false`".to_string()),
        },
        ParamType::List => {
            let t = s.trim();
            // `[a, b]` or `a,b`; an empty string is an empty list.
            let inner = t.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(t);
            Ok(Expr::List(
                inner
                    .split(',')
                    .map(|i| i.trim().trim_matches('"').to_string())
                    .filter(|i| !i.is_empty())
                    .map(Expr::Str)
                    .collect(),
            ))
        }
    }
}

/// Converts a value read from a var file.
fn from_expr(ty: ParamType, v: &Expr) -> Result<Expr, String> {
    match (ty, v) {
        (ParamType::String | ParamType::Cidr, Expr::Str(_)) => Ok(v.clone()),
        (ParamType::String, Expr::Int(i)) => Ok(Expr::Str(i.to_string())),
        (ParamType::Number | ParamType::Integer, Expr::Int(_) | Expr::Float(_)) => Ok(v.clone()),
        (ParamType::Bool, Expr::Bool(_)) => Ok(v.clone()),
        (ParamType::List, Expr::List(items)) if items.iter().all(|i| matches!(i, Expr::Str(_))) => {
            Ok(v.clone())
        }
        (t, _) => Err(t.a()),
    }
}

/// Parses a var file: a YAML (or JSON) mapping of names to values.
pub fn parse_var_file(name: &str, text: &str) -> Result<Vec<(String, String, Expr)>, String> {
    // `file:line:column`, as compilers print it.
    let at = |offset: usize| {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{name}:{line}:{col}")
    };
    let root = super::yaml::parse(text).map_err(|e| format!("{}: {}", at(e.offset), e.message))?;
    let Some(entries) = root.as_map() else {
        return Err(format!(
            "{}: a var file is a mapping of parameter names to values",
            at(root.span.offset())
        ));
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let value = match &v.value {
            super::yaml::Value::Str(s) => Expr::Str(s.clone()),
            super::yaml::Value::Int(i) => Expr::Int(*i),
            super::yaml::Value::Float(f) => Expr::Float(*f),
            super::yaml::Value::Bool(b) => Expr::Bool(*b),
            super::yaml::Value::Seq(items) => Expr::List(
                items
                    .iter()
                    .map(|i| match &i.value {
                        super::yaml::Value::Str(s) => Expr::Str(s.clone()),
                        super::yaml::Value::Int(n) => Expr::Str(n.to_string()),
                        _ => Expr::Null,
                    })
                    .collect(),
            ),
            _ => {
                return Err(format!(
                    "{}: `{}` must be a scalar or a list",
                    at(v.span.offset()),
                    k.name
                ));
            }
        };
        out.push((name.to_string(), k.name.clone(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_are_typed() {
        assert_eq!(from_text(ParamType::Number, "3"), Ok(Expr::Int(3)));
        assert!(from_text(ParamType::Number, "three").is_err());
        assert_eq!(from_text(ParamType::Bool, "true"), Ok(Expr::Bool(true)));
        assert_eq!(
            from_text(ParamType::List, "[a, b]"),
            Ok(Expr::List(vec![Expr::Str("a".into()), Expr::Str("b".into())]))
        );
        assert_eq!(from_text(ParamType::List, ""), Ok(Expr::List(vec![])));
    }

    fn blueprint() -> Blueprint {
        let src = "name: p\nparameters:\n  pw:\n    secret: true\n  size:\n    default: small\nresources: {}\n";
        crate::blueprint::load_bytes("p.yaml", src.as_bytes(), &crate::aws::registry()).unwrap()
    }

    #[test]
    fn a_missing_secret_is_prompted_for_or_names_its_variable() {
        let bp = blueprint();
        let inputs = Inputs::default();
        // No terminal: the prompt gives nothing and the error says what to set.
        let err = resolve(&bp, &inputs, Require::All, &mut |_| None).unwrap_err();
        assert_eq!(err.codes(), ["archkit::blueprint::missing_parameter"]);
        assert!(err.diagnostics[0].help.as_deref().unwrap().contains("ARCHKIT_VAR_pw"));
        // A terminal: the prompt is asked for the secret only.
        let mut asked = Vec::new();
        let values = resolve(&bp, &inputs, Require::All, &mut |p| {
            asked.push(p.name.clone());
            Some("correct-horse-battery".into())
        })
        .unwrap();
        assert_eq!(asked, ["pw"]);
        assert_eq!(values.get("pw").unwrap().origin, Origin::Prompt);
        assert!(values.get("pw").unwrap().secret);
        // validate needs no values at all.
        assert!(resolve(&bp, &inputs, Require::Given, &mut |_| None).is_ok());
    }

    #[test]
    fn precedence_is_default_env_file_cli() {
        let bp = blueprint();
        let mut inputs = Inputs::default();
        let size = |i: &Inputs| {
            let v = resolve(&bp, i, Require::Given, &mut |_| None).unwrap();
            v.get("size").map(|v| v.value.clone())
        };
        assert_eq!(size(&inputs), Some(Expr::Str("small".into())));
        inputs.env.push(("size".into(), "env".into()));
        assert_eq!(size(&inputs), Some(Expr::Str("env".into())));
        inputs.files.push(("f.yaml".into(), "size".into(), Expr::Str("file".into())));
        assert_eq!(size(&inputs), Some(Expr::Str("file".into())));
        inputs.cli.push(("size".into(), "cli".into()));
        assert_eq!(size(&inputs), Some(Expr::Str("cli".into())));
    }

    #[test]
    fn secret_values_do_not_debug_print() {
        let v =
            Value { value: Expr::Str("hunter2hunter2".into()), secret: true, origin: Origin::Cli };
        assert!(!format!("{v:?}").contains("hunter2"));
    }

    fn derived() -> Blueprint {
        let src = "name: d\nparameters:\n  vpc_cidr: {type: cidr, default: 10.0.0.0/16}\n  \
                   one: {type: cidr, default: \"${cidrsubnet(params.vpc_cidr, 8, 1)}\"}\n  \
                   host: {default: \"${cidrhost(params.vpc_cidr, 5)}\"}\nresources: {}\n";
        crate::blueprint::load_bytes("d.yaml", src.as_bytes(), &crate::aws::registry()).unwrap()
    }

    fn cli(pairs: &[(&str, &str)]) -> Inputs {
        let cli = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Inputs { cli, ..Inputs::default() }
    }

    #[test]
    fn a_derived_default_follows_the_parameter_it_is_made_from() {
        let bp = derived();
        let v = resolve(&bp, &Inputs::default(), Require::All, &mut |_| None).unwrap();
        assert_eq!(v.value("one"), Some(Expr::Str("10.0.1.0/24".into())));
        let v = resolve(&bp, &cli(&[("vpc_cidr", "10.50.0.0/16")]), Require::All, &mut |_| None)
            .unwrap();
        assert_eq!(v.value("one"), Some(Expr::Str("10.50.1.0/24".into())));
        assert_eq!(v.get("one").unwrap().origin, Origin::Default);
        // A value given for it wins over the derived default.
        let given = cli(&[("vpc_cidr", "10.50.0.0/16"), ("one", "10.50.9.0/24")]);
        let v = resolve(&bp, &given, Require::All, &mut |_| None).unwrap();
        assert_eq!(v.value("one"), Some(Expr::Str("10.50.9.0/24".into())));
        assert_eq!(v.value("host"), Some(Expr::Str("10.50.0.5".into())));
    }

    #[test]
    fn a_derived_default_that_cannot_be_computed_names_the_value_it_came_from() {
        let bp = derived();
        let err = resolve(&bp, &cli(&[("vpc_cidr", "10.9.0.0/28")]), Require::All, &mut |_| None)
            .unwrap_err();
        assert_eq!(err.codes(), ["archkit::blueprint::invalid_value"]);
        let msg = &err.diagnostics[0].message;
        assert!(msg.contains("default of `one`"), "{msg}");
        assert!(msg.contains("vpc_cidr = 10.9.0.0/28 from --var"), "{msg}");
    }
}
