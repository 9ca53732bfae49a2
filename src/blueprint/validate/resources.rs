//! `resources:`: each resource's type, its options (`depends_on`,
//! `when`, `for_each`, `ignore_changes`) and conditions.

use super::*;

impl Validator<'_> {
    /// Reads `type:` of a resource body, reporting unknown types.
    pub(super) fn resource_kind(&mut self, body: &Node) -> Option<&'static Schema> {
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

    pub(super) fn resource(
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
    pub(super) fn ignore_changes(
        &mut self,
        node: &Node,
        schema: &'static Schema,
        id: &str,
    ) -> Vec<String> {
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
    pub(super) fn for_each(&mut self, node: &Node) -> Option<ForEach> {
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
    pub(super) fn when(&mut self, node: &Node) -> Option<Condition> {
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
    pub(super) fn condition_type(&mut self, cond: &Condition, at: SourceSpan) -> bool {
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
}
