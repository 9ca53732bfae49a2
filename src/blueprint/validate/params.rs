//! `parameters:`: each parameter's type, constraints and default, and
//! the defaults derived from other parameters.

use super::*;

impl Validator<'_> {
    pub(super) fn parameters(&mut self, node: &Node) -> IndexMap<String, Parameter> {
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
    pub(super) fn derived_defaults(
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

    pub(super) fn parameter(
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
        self.param_bounds(entries, &mut p);
        self.param_choices(entries, &mut p);
        if let Some((key, n)) = find(entries, "default") {
            self.param_default(key, n, &mut p, derived);
        }
        Some(p)
    }

    /// `min_length`, `max_length`, `min` and `max`.
    fn param_bounds(&mut self, entries: &[(Key, Node)], p: &mut Parameter) {
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
    }

    /// `pattern` and `allowed`.
    fn param_choices(&mut self, entries: &[(Key, Node)], p: &mut Parameter) {
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
    }

    /// `default`: a literal checked against the parameter's constraints,
    /// or a `${...}` string of other parameters (`derived`), checked once
    /// those have values.
    fn param_default(
        &mut self,
        key: &Key,
        n: &Node,
        p: &mut Parameter,
        derived: &mut Vec<(String, Vec<(Ref, SourceSpan)>)>,
    ) {
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
            if let Err(Refusal { message: msg, help }) = check_param_value(p, &v) {
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

    /// A literal parameter value (default or allowed entry) of type `ty`.
    pub(super) fn param_literal(&mut self, node: &Node, ty: ParamType, name: &str) -> Option<Expr> {
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
}
