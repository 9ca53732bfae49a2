//! What a value is before apply: literals, parameters and the functions
//! over them, evaluated once their arguments are known. Shared by the
//! plan-time checks and by parameter defaults derived from other
//! parameters; it knows parameters only through [`Lookup`], so that
//! neither of those modules has to import the other.

use serde_json::Value as J;

use super::expr::{Call, Expr, Part, Ref};
use super::func::CallError;

/// The parameter values known so far.
pub(super) trait Lookup {
    /// The value of parameter `name`, if it has one yet.
    fn value(&self, name: &str) -> Option<Expr>;
}

/// Evaluates what is known before apply: literals, parameters, text made
/// of them and calls over them.
pub(super) struct Eval<'a> {
    pub values: &'a dyn Lookup,
}

impl Eval<'_> {
    /// The value of `e`, `Ok(None)` while a part is unknown, or why a call
    /// in it refuses its arguments.
    pub(super) fn known_or_error(&self, e: &Expr) -> Result<Option<J>, CallError> {
        let mut calls = Vec::new();
        top_calls(e, &mut calls);
        for c in calls {
            if let Err((bad, err)) = self.call(c) {
                let arg = bad.func.params().get(err.arg).copied().unwrap_or("argument");
                let message = format!("{}: {} (its {arg})", bad.func.name(), err.message);
                return Err(CallError { message, ..err });
            }
        }
        Ok(self.known(e))
    }

    /// A value known before apply: literals and parameters, and text made
    /// of them.
    pub(super) fn known(&self, e: &Expr) -> Option<J> {
        let scalar = |e: &Expr| match e {
            Expr::Str(s) => Some(J::from(s.clone())),
            Expr::Int(i) => Some(J::from(*i)),
            Expr::Float(f) => serde_json::Number::from_f64(*f).map(J::Number),
            Expr::Bool(b) => Some(J::from(*b)),
            _ => None,
        };
        match e {
            // A `list` parameter is known as a list of its items, for
            // `element` (`Option<Vec<_>>`: unknown if any item is).
            Expr::Ref(Ref::Param(p)) => match self.values.value(p)? {
                Expr::List(items) => {
                    items.iter().map(scalar).collect::<Option<Vec<J>>>().map(J::Array)
                }
                v => scalar(&v),
            },
            Expr::Call(c) => self.call(c).ok().flatten(),
            Expr::Template(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Lit(s) => out.push_str(s),
                        Part::Ref(Ref::Param(p)) => match scalar(&self.values.value(p)?)? {
                            J::String(s) => out.push_str(&s),
                            other => out.push_str(&other.to_string()),
                        },
                        Part::Call(c) => match self.call(c).ok().flatten()? {
                            J::String(s) => out.push_str(&s),
                            other => out.push_str(&other.to_string()),
                        },
                        Part::Ref(_) => return None,
                    }
                }
                Some(J::from(out))
            }
            other => scalar(other),
        }
    }

    /// A call's value once its arguments are known (`Ok(None)` while one
    /// is not), or the innermost call that fails and why.
    pub(super) fn call<'c>(&self, c: &'c Call) -> Result<Option<J>, (&'c Call, CallError)> {
        let mut args = Vec::with_capacity(c.args.len());
        for a in &c.args {
            let v = match a {
                Expr::Call(inner) => self.call(inner)?,
                other => self.known(other),
            };
            match v {
                Some(v) => args.push(v),
                None => return Ok(None),
            }
        }
        c.func.eval(&args).map(Some).map_err(|e| (c, e))
    }
}

/// The calls of a value not inside another call.
pub(super) fn top_calls<'e>(e: &'e Expr, out: &mut Vec<&'e Call>) {
    match e {
        Expr::Call(c) => out.push(c),
        Expr::Template(parts) => out.extend(parts.iter().filter_map(|p| match p {
            Part::Call(c) => Some(c),
            _ => None,
        })),
        Expr::List(items) => items.iter().for_each(|i| top_calls(i, out)),
        Expr::Map(m) => m.values().for_each(|i| top_calls(i, out)),
        _ => {}
    }
}
