//! `aws.ssm.association`: a State Manager association, which has Systems
//! Manager run a document on instances (once, or on a schedule) and run it
//! again on instances that join its targets later: how an instance is
//! joined to a directory with `AWS-JoinDirectoryServiceDomain`.
//!
//! The physical id is the association id AWS assigns. Its name is
//! `<stack>-<id>` (deterministic), so a create whose answer was lost is
//! found again: the create looks for the name first and takes over the
//! association it finds only when its tags say this stack and this id.
//! An association is applied asynchronously: apply does not wait for the
//! document's run (`describe-association` shows how it went).

use std::collections::HashMap;

use crate::aws::prelude::*;

use aws_sdk_ssm::types::{
    AssociationDescription, AssociationFilter, AssociationFilterKey, ResourceTypeForTagging, Target,
};

use super::ssm::tag;

/// Association names are `[a-zA-Z0-9_.-]{3,128}`.
const NAME_MAX: usize = 128;

pub static ASSOCIATION: Schema = Schema::new(
    "aws.ssm.association",
    "A State Manager association: Systems Manager runs a document on instances, once or on a schedule.",
)
.properties(rows! {
    Prop::new("document_name", Type::String, "The document to run: one of AWS's (`AWS-JoinDirectoryServiceDomain`) or `${doc.name}`.").required().replace(),
    Prop::new("document_version", Type::String, "The document version; its default version when omitted."),
    Prop::new("instance_ids", Type::List(&Type::String), "The instances it runs on.").required(),
    Prop::new("parameters", Type::Json, "The document's parameters: a mapping of name to a list of strings (a string stands for a list of one)."),
    Prop::new("schedule_expression", Type::String, "Run again on this schedule (`rate(30 minutes)`, `cron(...)`); once when omitted."),
})
.attributes(rows! {
    Attr::new("id", Type::String, "The association id."),
    Attr::new("name", Type::String, "Its name, `<stack>-<id>`."),
})
.notes("Applied asynchronously: `aws ssm describe-association --association-id <id>` shows each run's status. Free.")
.free();

kind! { Association, ASSOCIATION }

fn assoc_name(ctx: &Context, logical: &str) -> String {
    unique_name(&ctx.stack, logical, NAME_MAX)
}

/// `parameters` as the API takes them: every value a list of strings.
fn parameters(p: &Props) -> Option<HashMap<String, Vec<String>>> {
    let Some(Value::Object(m)) = p.get("parameters") else { return None };
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    Some(
        m.iter()
            .map(|(k, v)| {
                let values = match v {
                    Value::Array(a) => a.iter().map(text).collect(),
                    other => vec![text(other)],
                };
                (k.clone(), values)
            })
            .collect(),
    )
}

fn targets(p: &Props) -> Target {
    Target::builder().key("InstanceIds").set_values(Some(list(p, "instance_ids"))).build()
}

impl Association {
    async fn describe(&self, id: &str) -> Result<Option<AssociationDescription>> {
        match send!(self.0.ssm.describe_association().association_id(id)) {
            Ok(d) => Ok(d.association_description().cloned()),
            Err(e) if e.is_not_found() || e.code.as_deref() == Some("AssociationDoesNotExist") => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The live association as properties, its parameters in the shape
    /// `applied` gave them (a string where a list of one was a string).
    async fn observe(
        &self,
        ctx: &Context,
        d: &AssociationDescription,
        applied: Option<&Props>,
    ) -> Result<Observed> {
        let id = d.association_id().unwrap_or_default();
        let tags = send!(
            self.0
                .ssm
                .list_tags_for_resource()
                .resource_type(ResourceTypeForTagging::Association)
                .resource_id(id)
        )?;
        let (user, logical) = split_tags(ctx, tags.tag_list().iter().map(|t| (t.key(), t.value())));
        let was = applied.and_then(|p| p.get("parameters")).and_then(Value::as_object);
        let params: serde_json::Map<String, Value> = d
            .parameters()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                let scalar = was.and_then(|w| w.get(k)).is_some_and(|w| !w.is_array());
                let value = match v.as_slice() {
                    [one] if scalar => json!(one),
                    _ => json!(v),
                };
                (k.clone(), value)
            })
            .collect();
        let instances: Vec<&str> = d
            .targets()
            .iter()
            .filter(|t| t.key() == Some("InstanceIds"))
            .flat_map(|t| t.values().iter().map(String::as_str))
            .chain(d.instance_id())
            .collect();
        let p = props([
            ("document_name", json!(d.name())),
            (
                "document_version",
                json!(applied.and_then(|p| s(p, "document_version")).and(d.document_version())),
            ),
            ("instance_ids", json!(instances)),
            ("parameters", if params.is_empty() { Value::Null } else { Value::Object(params) }),
            ("schedule_expression", json!(d.schedule_expression())),
            ("tags", user),
        ]);
        let attrs = attrs([("id", json!(id)), ("name", json!(d.association_name()))]);
        Ok(Observed::new(id, logical, p).with(attrs))
    }

    /// Associations named `name` (AWS does not keep names unique).
    async fn named(&self, name: &str) -> Result<Vec<String>> {
        let filter = AssociationFilter::builder()
            .key(AssociationFilterKey::AssociationName)
            .value(name)
            .build()
            .expect("key and value set");
        let found: Vec<_> =
            paginate!(self.0.ssm.list_associations().association_filter_list(filter))?;
        Ok(found
            .iter()
            .filter(|a| a.association_name() == Some(name))
            .filter_map(|a| a.association_id().map(str::to_string))
            .collect())
    }
}

#[async_trait]
impl ResourceKind for Association {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut ids: Vec<(String, Option<&Props>)> =
            q.known.iter().map(|(id, p)| (id.clone(), Some(p))).collect();
        if q.discover {
            // Names start with the stack's: list those, then keep what the
            // tags say is the stack's.
            let all: Vec<_> = paginate!(self.0.ssm.list_associations())?;
            let prefix = format!("{}-", unique_name(&ctx.stack, "", NAME_MAX));
            for a in &all {
                let (Some(id), Some(name)) = (a.association_id(), a.association_name()) else {
                    continue;
                };
                if name.starts_with(&prefix) && !ids.iter().any(|(k, _)| k == id) {
                    ids.push((id.to_string(), None));
                }
            }
        }
        let mut out = Vec::new();
        for (id, applied) in ids {
            let Some(d) = self.describe(&id).await? else { continue };
            let o = self.observe(ctx, &d, applied).await?;
            if applied.is_some() || o.logical_id.is_some() {
                out.push(o);
            }
        }
        Ok(out)
    }

    fn read_rounds(&self) -> usize {
        2
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name = assoc_name(ctx, &req.logical_id);
        // A create whose answer was lost left an association of this name
        // tagged for this id: take it over, brought to what is declared.
        for id in self.named(&name).await? {
            let Some(d) = self.describe(&id).await? else { continue };
            let live = self.observe(ctx, &d, Some(p)).await?;
            if live.logical_id.as_deref() == Some(req.logical_id.as_str()) {
                let attrs = self.update(ctx, &id, &live.properties, p).await.partial(&id)?;
                let mut created = Created::new(id.clone()).with(live.attributes);
                created.attributes.extend(attrs);
                return Ok(created);
            }
        }
        let tags = create_tags(ctx, &req.logical_id, p).into_iter().map(|(k, v)| tag(k, v));
        let r = send!(
            self.0
                .ssm
                .create_association()
                .name(s(p, "document_name").unwrap_or_default())
                .set_document_version(s(p, "document_version"))
                .association_name(&name)
                .targets(targets(p))
                .set_parameters(parameters(p))
                .set_schedule_expression(s(p, "schedule_expression"))
                .set_tags(Some(tags.collect()))
        )?;
        let id = created_id(
            r.association_description().and_then(|d| d.association_id()),
            self.schema().kind,
        )?;
        Ok(Created::new(id.clone()).with(attrs([("id", json!(id)), ("name", json!(name))])))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let ssm = &self.0.ssm;
        let changed = ["document_version", "instance_ids", "parameters", "schedule_expression"]
            .iter()
            .any(|k| old.get(*k) != new.get(*k));
        if changed {
            // UpdateAssociation replaces what it is given; parameters not
            // sent are kept, so an empty map clears them.
            send!(
                ssm.update_association()
                    .association_id(id)
                    .set_document_version(s(new, "document_version"))
                    .targets(targets(new))
                    .set_parameters(Some(parameters(new).unwrap_or_default()))
                    .set_schedule_expression(s(new, "schedule_expression"))
            )?;
        }
        tag_calls! { old, new, ssm.remove_tags_from_resource().resource_type(ResourceTypeForTagging::Association).resource_id(id), ssm.add_tags_to_resource().resource_type(ResourceTypeForTagging::Association).resource_id(id), |set| set.into_iter().map(|(k, v)| tag(k, v)).collect() }
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, id: &str, _p: &Props) -> Result<()> {
        send!(self.0.ssm.delete_association().association_id(id))?;
        Ok(())
    }
}
