//! `outputs:`: each output's value and whether it is sensitive.

use super::*;

impl Validator<'_> {
    pub(super) fn outputs(&mut self, node: &Node, ctx: &RefContext) -> IndexMap<String, Output> {
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
