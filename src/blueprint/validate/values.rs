//! Property values: objects against their schema rows, values against
//! their types, `${...}` strings, JSON documents and CIDR blocks.

use super::*;

impl Validator<'_> {
    /// Validates a mapping against `props`. `at.top` marks a resource's own
    /// properties (where `tags` is implicit).
    pub(super) fn object(
        &mut self,
        node: &Node,
        props: &'static [Prop],
        schema: &'static Schema,
        at: Owner<'_>,
        refs: &mut Vec<(Ref, SourceSpan)>,
    ) -> Option<Expr> {
        let Owner { name: owner, top, .. } = at;
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
                self.unknown_property(key, props, schema, at);
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
        self.missing_and_defaults(entries, props, schema, at, &mut out);
        if top {
            self.exactly_one_of(entries, schema, at, &out);
        }
        Some(Expr::Map(out))
    }

    /// An error for `key`, not a property of `props`, with the closest
    /// name or the list of those it could be.
    fn unknown_property(
        &mut self,
        key: &Key,
        props: &'static [Prop],
        schema: &'static Schema,
        at: Owner<'_>,
    ) {
        let Owner { name: owner, top, .. } = at;
        let names: Vec<&str> = if top {
            schema.property_names().collect()
        } else {
            props.iter().map(|p| p.name).collect()
        };
        let whose = owner_name(owner, schema, top);
        let help = match did_you_mean(&key.name, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("`{whose}` accepts {}", quote_list(&names)),
        };
        self.err(
            Code::UnknownProperty,
            format!("unknown property `{}` for {whose}", key.name),
            key.span,
            "unknown property",
            Some(help),
        );
    }

    /// Errors for the required properties not set; the defaults of the
    /// others, into `out`.
    fn missing_and_defaults(
        &mut self,
        entries: &[(Key, Node)],
        props: &'static [Prop],
        schema: &'static Schema,
        at: Owner<'_>,
        out: &mut BTreeMap<String, Expr>,
    ) {
        let Owner { name: owner, top, anchor } = at;
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
    }

    /// An error for each of the schema's groups of which not exactly one
    /// property is set.
    fn exactly_one_of(
        &mut self,
        entries: &[(Key, Node)],
        schema: &'static Schema,
        at: Owner<'_>,
        out: &BTreeMap<String, Expr>,
    ) {
        let Owner { name: owner, anchor, .. } = at;
        {
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
    }

    /// Validates one value against a type, collecting its references.
    pub(super) fn value(
        &mut self,
        node: &Node,
        ty: &Type,
        name: &str,
        schema: &'static Schema,
        refs: &mut Vec<(Ref, SourceSpan)>,
    ) -> Option<Expr> {
        if let Value::Str(s) = &node.value {
            return self.text_value(node, s, ty, name, refs);
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

    /// A string value against a type: text, a `${...}` expression or a
    /// template, whose type must fit where it goes.
    fn text_value(
        &mut self,
        node: &Node,
        s: &str,
        ty: &Type,
        name: &str,
        refs: &mut Vec<(Ref, SourceSpan)>,
    ) -> Option<Expr> {
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
        match (&parsed, ty) {
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
            (Expr::Cond { cond, .. }, _) => self.condition_type(cond, node.span).then_some(parsed),
            (Expr::Ref(_), _) | (_, Type::Json) => Some(parsed),
            (Expr::Template(_), Type::String | Type::Cidr | Type::Enum(_)) => Some(parsed),
            // Both functions give text: a network or an address.
            (Expr::Call(_), Type::String | Type::Cidr) => Some(parsed),
            (Expr::Str(s), Type::String | Type::Code | Type::File) => Some(Expr::Str(s.clone())),
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
        }
    }

    pub(super) fn wrong_type(&mut self, node: &Node, ty: &Type, name: &str) {
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
    pub(super) fn json(&mut self, node: &Node, refs: &mut Vec<(Ref, SourceSpan)>) -> Expr {
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

    pub(super) fn cidr(&mut self, node: &Node, s: &str) -> Option<Expr> {
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
    pub(super) fn string_expr(
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
}
