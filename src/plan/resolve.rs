//! Resolving blueprint expressions into concrete values: parameters, the
//! stack, the region, availability zones and other resources' attributes.
//! A value that depends on a resource not yet created is `Unknown`
//! ("known after apply") at plan time; at apply time everything a resource
//! needs is known, because its dependencies were applied first.

use serde_json::{Map, Value};

use crate::blueprint::expr::{Call, Expr, Part, Ref};
use crate::blueprint::params::Values;

/// A value at plan time.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanValue {
    Known(Value),
    /// Known only after apply.
    Unknown,
}

impl PlanValue {
    pub fn known(&self) -> Option<&Value> {
        match self {
            PlanValue::Known(v) => Some(v),
            PlanValue::Unknown => None,
        }
    }
}

/// Where references get their values.
pub trait Lookup {
    /// `${resource.attr}`: `None` when not known (yet).
    fn attr(&self, resource: &str, attr: &str) -> Option<Value>;
}

/// Everything needed to resolve expressions besides other resources.
pub struct Env<'a> {
    pub params: &'a Values,
    pub stack: &'a str,
    pub region: &'a str,
    pub azs: &'a [String],
    /// The stack's expiry, tagged on every taggable resource.
    pub expires_at: Option<&'a str>,
}

/// An error resolving an expression (an availability-zone index beyond
/// the region's zones).
#[derive(Debug, Clone, PartialEq)]
pub struct ResolveError(pub String);

/// Resolves an expression; `Ok(Unknown)` when any part is unknown.
pub fn resolve(e: &Expr, env: &Env, look: &dyn Lookup) -> Result<PlanValue, ResolveError> {
    use PlanValue::*;
    Ok(match e {
        Expr::Null => Known(Value::Null),
        Expr::Bool(b) => Known(Value::Bool(*b)),
        Expr::Int(i) => Known(Value::from(*i)),
        Expr::Float(f) => {
            Known(serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number))
        }
        Expr::Str(s) => Known(Value::String(s.clone())),
        Expr::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                match resolve(i, env, look)? {
                    Known(v) => out.push(v),
                    Unknown => return Ok(Unknown),
                }
            }
            Known(Value::Array(out))
        }
        Expr::Map(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                match resolve(v, env, look)? {
                    Known(v) => {
                        out.insert(k.clone(), v);
                    }
                    Unknown => return Ok(Unknown),
                }
            }
            Known(Value::Object(out))
        }
        Expr::Ref(r) => reference(r, env, look)?,
        Expr::Call(c) => call(c, env, look)?,
        Expr::Cond { cond, then, otherwise } => {
            let branch = if cond.holds(&|p| env.params.value(p)) { then } else { otherwise };
            resolve(branch, env, look)?
        }
        Expr::Template(parts) => {
            let mut s = String::new();
            for p in parts {
                match p {
                    Part::Lit(l) => s.push_str(l),
                    Part::Ref(_) | Part::Call(_) => match part(p, env, look)? {
                        Known(Value::String(v)) => s.push_str(&v),
                        Known(Value::Null) => {}
                        Known(other) => s.push_str(&other.to_string()),
                        Unknown => return Ok(Unknown),
                    },
                }
            }
            Known(Value::String(s))
        }
    })
}

fn part(p: &Part, env: &Env, look: &dyn Lookup) -> Result<PlanValue, ResolveError> {
    match p {
        Part::Ref(r) => reference(r, env, look),
        Part::Call(c) => call(c, env, look),
        Part::Lit(l) => Ok(PlanValue::Known(Value::String(l.clone()))),
    }
}

/// A function of its arguments, once all are known. Plan-time checks
/// (`blueprint::check`) report a failing call at its argument; this error
/// is for arguments known only at apply time.
fn call(c: &Call, env: &Env, look: &dyn Lookup) -> Result<PlanValue, ResolveError> {
    let mut args = Vec::with_capacity(c.args.len());
    for a in &c.args {
        match resolve(a, env, look)? {
            PlanValue::Known(v) => args.push(v),
            PlanValue::Unknown => return Ok(PlanValue::Unknown),
        }
    }
    c.func
        .eval(&args)
        .map(PlanValue::Known)
        .map_err(|e| ResolveError(format!("{}: {}", c.func.name(), e.message)))
}

fn reference(r: &Ref, env: &Env, look: &dyn Lookup) -> Result<PlanValue, ResolveError> {
    Ok(match r {
        Ref::Param(p) => match env.params.get(p) {
            Some(v) => resolve(&v.value, env, look)?,
            // validate() guarantees every parameter exists; a missing value
            // was reported by parameter resolution.
            None => PlanValue::Known(Value::Null),
        },
        // Replaced by `Blueprint::select` before anything is resolved.
        Ref::Each => {
            return Err(ResolveError("`${each.value}` outside a `for_each` resource".into()));
        }
        Ref::Stack => PlanValue::Known(Value::String(env.stack.to_string())),
        Ref::Region => PlanValue::Known(Value::String(env.region.to_string())),
        Ref::Az(i) => match env.azs.get(*i) {
            Some(z) => PlanValue::Known(Value::String(z.clone())),
            None => {
                return Err(ResolveError(format!(
                    "`${{azs[{i}]}}` needs {} availability zones, but region {} has {}",
                    i + 1,
                    env.region,
                    env.azs.len()
                )));
            }
        },
        Ref::Azs => {
            PlanValue::Known(Value::Array(env.azs.iter().cloned().map(Value::String).collect()))
        }
        // Replaced by `Blueprint::select` (a whole value or a call's
        // argument); a list cannot be part of text.
        Ref::All { .. } | Ref::Item { .. } => {
            return Err(ResolveError(format!("{r} must be a whole value or a function argument")));
        }
        // Replaced by the session's lookups before anything is resolved.
        Ref::Ssm(name) => {
            return Err(ResolveError(format!("SSM parameter `{name}` was not looked up")));
        }
        Ref::Attr { resource, attr } => match look.attr(resource, attr) {
            Some(v) => PlanValue::Known(v),
            None => PlanValue::Unknown,
        },
    })
}

/// True when the expression uses a secret parameter.
pub fn uses_secret(e: &Expr, params: &Values) -> bool {
    let mut secret = false;
    e.visit_refs(&mut |r| {
        if let Ref::Param(p) = r
            && params.get(p).is_some_and(|v| v.secret)
        {
            secret = true;
        }
    });
    secret
}
