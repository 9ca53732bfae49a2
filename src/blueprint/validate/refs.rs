//! References: each `${...}` must name something that exists, and what
//! a reference requires of the resources it points at.

use super::*;

impl Validator<'_> {
    /// A `for_each` resource is several resources: a reference names
    /// every instance (`${r[*].id}`, a list) or, from a `for_each` resource
    /// over the same parameter, the instance of the same item
    /// (`${r[each.value].id}`); never one as if there were one. Outputs
    /// may take the list; `depends_on` waits for every instance.
    pub(super) fn no_refs_to_for_each(&mut self, bp: &Blueprint) {
        let multi = |id: &str| bp.resources.get(id).and_then(|t| t.for_each.as_ref());
        for r in bp.resources.values() {
            let (mut one, mut all, mut item) = (Vec::new(), Vec::new(), Vec::new());
            for e in r.properties.values() {
                e.visit_refs(&mut |rf| match rf {
                    Ref::Attr { resource, attr } => one.push((resource.clone(), attr.clone())),
                    Ref::All { resource, attr } => all.push((resource.clone(), attr.clone())),
                    Ref::Item { resource, attr } => item.push((resource.clone(), attr.clone())),
                    _ => {}
                });
            }
            for d in &r.deps {
                let t = &d.target;
                // `depends_on` a `for_each` resource waits for all of it.
                let DepVia::Reference { attr } = &d.via else { continue };
                let key = (t.clone(), attr.clone());
                let (by_all, by_item) = (all.contains(&key), item.contains(&key));
                match multi(t) {
                    Some(_) if one.contains(&key) => self.err(
                        Code::ForEach,
                        format!("`{}` refers to `{t}`, which `for_each` makes several of", r.id),
                        d.span,
                        "several resources",
                        Some(format!(
                            "name every instance, `${{{t}[*].{attr}}}` (a list, e.g. for \
                             `${{element({t}[*].{attr}, each.value)}}`), or, in a `for_each` \
                             resource over the same values, `${{{t}[each.value].{attr}}}`"
                        )),
                    ),
                    Some(fe) if by_item && r.for_each.as_ref().is_none_or(|own| own.param != fe.param) => {
                        self.err(
                            Code::ForEach,
                            format!(
                                "`{}` refers to `{t}[each.value]`, but is not made for each item of `{}`",
                                r.id, fe.param
                            ),
                            d.span,
                            "no such item here",
                            Some(format!(
                                "give `{}` `for_each: ${{params.{}}}`, or name every instance: `${{{t}[*].{attr}}}`",
                                r.id, fe.param
                            )),
                        )
                    }
                    None if by_all || by_item => self.err(
                        Code::ForEach,
                        format!("`{}` indexes `{t}`, which is one resource", r.id),
                        d.span,
                        "not a `for_each` resource",
                        Some(format!("refer to it as `${{{t}.{attr}}}`")),
                    ),
                    _ => {}
                }
            }
        }
        for o in bp.outputs.values() {
            let mut bad = Vec::new();
            o.value.visit_refs(&mut |r| match r {
                Ref::Attr { resource, attr } if multi(resource).is_some() => bad.push((
                    format!("`{resource}`, which `for_each` makes several of"),
                    format!("an output may list every instance: `${{{resource}[*].{attr}}}`"),
                )),
                Ref::Item { resource, attr } => bad.push((
                    format!("`{resource}[each.value]`, which only a `for_each` resource has"),
                    format!("an output may list every instance: `${{{resource}[*].{attr}}}`"),
                )),
                Ref::All { resource, attr } if multi(resource).is_none() => bad.push((
                    format!("`{resource}[*]`, but `{resource}` is one resource"),
                    format!("refer to it as `${{{resource}.{attr}}}`"),
                )),
                Ref::Each => bad.push((
                    "`${each.value}`, which only a `for_each` resource has".into(),
                    "outputs name one value: refer to a resource without `for_each`".into(),
                )),
                _ => {}
            });
            for (what, help) in bad {
                self.err(
                    Code::ForEach,
                    format!("output `{}` refers to {what}", o.name),
                    o.span,
                    "in this output",
                    Some(help),
                );
            }
        }
    }

    /// The schemas' [`crate::schema::Requires`] rules, on literal values:
    /// a setting that needs something of the resource it refers to.
    pub(super) fn requirements(&mut self, bp: &Blueprint) {
        for r in bp.resources.values() {
            for q in r.schema.requires {
                if r.properties.get(q.when) != Some(&Expr::Bool(q.value)) {
                    continue;
                }
                let Some(Expr::Ref(Ref::Attr { resource, .. })) = r.properties.get(q.via) else {
                    continue;
                };
                let Some(target) = bp.resources.get(resource).filter(|t| t.kind() == q.kind) else {
                    continue;
                };
                let off: Vec<&str> = q
                    .props
                    .iter()
                    .copied()
                    .filter(|p| target.properties.get(*p) == Some(&Expr::Bool(false)))
                    .collect();
                if off.is_empty() {
                    continue;
                }
                let at = r.deps.iter().find(|d| &d.target == resource).map_or(r.span, |d| d.span);
                self.err(
                    Code::InvalidValue,
                    format!(
                        "`{}` sets `{}: {}`, but `{resource}` has {} off",
                        r.id,
                        q.when,
                        q.value,
                        off.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(" and ")
                    ),
                    at,
                    format!("`{resource}` ({})", q.kind),
                    Some(q.help.to_string()),
                );
            }
        }
    }

    pub(super) fn unknown_resource(&mut self, target: &str, at: SourceSpan, ctx: &RefContext) {
        let help = match did_you_mean(target, ctx.kinds.keys().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if ctx.kinds.is_empty() => "this blueprint defines no resources".to_string(),
            None => "define it under `resources:`, or reference one of the existing ids".into(),
        };
        self.err(
            Code::UnknownResource,
            format!("reference to unknown resource `{target}`"),
            at,
            "no such resource",
            Some(help),
        );
    }

    pub(super) fn check_refs(
        &mut self,
        refs: &[(Ref, SourceSpan)],
        ctx: &RefContext,
        deps: &mut Vec<Dep>,
    ) {
        for (r, at) in refs {
            match r {
                Ref::Param(p) => {
                    if !ctx.params.contains_key(p) {
                        let help = match did_you_mean(p, ctx.params.keys().map(|s| s.as_str())) {
                            Some(s) => format!("did you mean `params.{s}`?"),
                            None => format!("declare it under `parameters:` as `{p}:`"),
                        };
                        self.err(
                            Code::UnknownParameter,
                            format!("reference to unknown parameter `{p}`"),
                            *at,
                            "no such parameter",
                            Some(help),
                        );
                    }
                }
                Ref::Attr { resource, attr }
                | Ref::All { resource, attr }
                | Ref::Item { resource, attr } => {
                    let Some(kind) = ctx.kinds.get(resource.as_str()) else {
                        self.unknown_resource(resource, *at, ctx);
                        continue;
                    };
                    if let Some(schema) = kind
                        && schema.attribute(attr).is_none()
                    {
                        let names = schema.attribute_names();
                        let help = match did_you_mean(attr, names.iter().copied()) {
                            Some(s) => format!("did you mean `{resource}.{s}`?"),
                            None => format!("{} has {}", schema.kind, quote_list(&names)),
                        };
                        self.err(
                            Code::UnknownAttribute,
                            format!("`{resource}` ({}) has no attribute `{attr}`", schema.kind),
                            *at,
                            "unknown attribute",
                            Some(help),
                        );
                        continue;
                    }
                    deps.push(Dep {
                        target: resource.clone(),
                        via: DepVia::Reference { attr: attr.clone() },
                        span: *at,
                    });
                }
                Ref::Ssm(key) => {
                    if let Some(p) = key.strip_prefix("params.")
                        && !ctx.params.contains_key(p)
                    {
                        self.err(
                            Code::UnknownParameter,
                            format!("reference to unknown parameter `{p}`"),
                            *at,
                            "no such parameter",
                            Some(format!(
                                "declare it under `parameters:` as `{p}:`, with the Systems Manager \
                                 parameter's name as its value"
                            )),
                        );
                    }
                }
                Ref::Az(_) | Ref::Azs | Ref::Stack | Ref::Region | Ref::Each => {}
            }
        }
    }
}
