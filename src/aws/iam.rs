//! `aws.iam.role`: a role with its trust policy, inline policies and
//! managed-policy attachments.
//!
//! Roles live under the path `/archkit/<stack>/`, so one paginated
//! GetAccountAuthorizationDetails call returns every role of the stack
//! with its policies: reads do not grow with the number of roles. IAM is
//! eventually consistent: a role used right after creation may be refused
//! for a few seconds, which the kinds using it treat as retryable.

use crate::aws::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_iam::types::{EntityType, Tag};

pub static ROLE: Schema = Schema::new("aws.iam.role", "An IAM role with its trust policy and permissions.")
    .properties(rows! {
        Prop::new("name", Type::String, "The role name; `<stack>-<id>` when omitted (64 characters at most).").replace(),
        Prop::new("assume_role_policy", Type::Json, "The trust policy: who may assume the role.").required(),
        Prop::new("description", Type::String, "What the role is for."),
        Prop::new("inline_policies", Type::Json, "Inline policies: a mapping of policy name to policy document."),
        Prop::new("managed_policy_arns", Type::List(&Type::String), "Managed policies to attach, by ARN."),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The role's ARN."),
    })
    .notes("Created under the path `/archkit/<stack>/`.")
    .free()
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "role names are unique in an account"));

kind! {
    /// The IAM role kind. Its physical id is the role name.
    Role, ROLE
}

/// The path all roles of a stack live under.
fn path(stack: &str) -> String {
    format!("/archkit/{stack}/")
}

/// IAM returns policy documents URL-encoded.
fn document(raw: Option<&str>) -> Value {
    let Some(raw) = raw else { return Value::Null };
    serde_json::from_str(raw)
        .or_else(|_| {
            let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
            serde_json::from_str(&decoded)
        })
        .unwrap_or_else(|_| Value::String(raw.to_string()))
}

fn role_name(ctx: &Context, req_id: &str, props: &Props) -> String {
    props.get("name").and_then(|v| v.as_str()).map(str::to_string).unwrap_or_else(|| {
        let n = format!("{}-{req_id}", ctx.stack);
        n.chars().take(64).collect()
    })
}

fn inline(props: &Props) -> BTreeMap<String, Value> {
    match props.get("inline_policies") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => BTreeMap::new(),
    }
}

fn managed(props: &Props) -> BTreeSet<String> {
    match props.get("managed_policy_arns") {
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => BTreeSet::new(),
    }
}

#[async_trait]
impl ResourceKind for Role {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let prefix = path(&ctx.stack);
        let known: BTreeSet<&str> = q.known.iter().map(|(id, _)| id.as_str()).collect();
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = send!(
                self.0
                    .iam
                    .get_account_authorization_details()
                    .filter(EntityType::Role)
                    .set_marker(marker.clone())
            )?;
            for r in page.role_detail_list() {
                let Some(name) = r.role_name() else { continue };
                let ours = r.path() == Some(prefix.as_str());
                if !ours && !known.contains(name) {
                    continue;
                }
                let (tags, logical_id) =
                    split_tags(ctx, r.tags().iter().map(|t| (t.key(), t.value())));
                let inline: serde_json::Map<String, Value> = r
                    .role_policy_list()
                    .iter()
                    .filter_map(|p| {
                        Some((p.policy_name()?.to_string(), document(p.policy_document())))
                    })
                    .collect();
                let mut arns: Vec<String> = r
                    .attached_managed_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_string))
                    .collect();
                arns.sort();
                let props = props([
                    ("name", json!(name)),
                    ("assume_role_policy", document(r.assume_role_policy_document())),
                    ("inline_policies", Value::Object(inline)),
                    ("managed_policy_arns", json!(arns)),
                    ("tags", tags),
                ]);
                let attrs = attrs([("arn", json!(r.arn())), ("name", json!(name))]);
                out.push(Observed::new(name.to_string(), logical_id, props).with(attrs));
            }
            match page.marker().filter(|_| page.is_truncated()) {
                Some(m) => marker = Some(m.to_string()),
                None => break,
            }
        }
        Ok(out)
    }

    fn normalize(&self, props: &mut Props) {
        if let Some(Value::Array(a)) = props.get_mut("managed_policy_arns") {
            a.sort_by_key(|v| v.to_string());
        }
        // An omitted map and an empty one are the same.
        if props.get("inline_policies").is_some_and(|v| v.as_object().is_some_and(|m| m.is_empty()))
        {
            props.remove("inline_policies");
        }
        if props
            .get("managed_policy_arns")
            .is_some_and(|v| v.as_array().is_some_and(|a| a.is_empty()))
        {
            props.remove("managed_policy_arns");
        }
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name = role_name(ctx, &req.logical_id, p);
        let tags: Vec<Tag> = create_tags(ctx, &req.logical_id, p)
            .into_iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        let out = send!(
            self.0
                .iam
                .create_role()
                .role_name(&name)
                .path(path(&ctx.stack))
                .assume_role_policy_document(
                    p.get("assume_role_policy").map(Value::to_string).unwrap_or_default(),
                )
                .set_description(p.get("description").and_then(|v| v.as_str()).map(str::to_string),)
                .set_tags(Some(tags))
        )?;
        let arn = out.role().map(|r| r.arn().to_string()).unwrap_or_default();
        // The role exists: a failure below must not lose it.
        self.sync_policies(&name, &Props::new(), p).await.partial(&name)?;
        let attrs = attrs([("arn", json!(arn)), ("name", json!(name))]);
        Ok(Created::new(name).with(attrs))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let iam = &self.0.iam;
        if old.get("assume_role_policy") != new.get("assume_role_policy") {
            send!(iam.update_assume_role_policy().role_name(id).policy_document(
                new.get("assume_role_policy").map(Value::to_string).unwrap_or_default(),
            ))?;
        }
        if old.get("description") != new.get("description") {
            send!(
                iam.update_role().role_name(id).description(
                    new.get("description").and_then(|v| v.as_str()).unwrap_or_default(),
                )
            )?;
        }
        self.sync_policies(id, old, new).await?;
        let tags = |set: Vec<(String, String)>| {
            set.into_iter()
                .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
                .collect()
        };
        tag_calls! { old, new, iam.untag_role().role_name(id), iam.tag_role().role_name(id), |set| tags(set) }
        Ok(Attrs::new())
    }

    /// Every policy is detached or deleted first: IAM refuses to delete a
    /// role that still has any (DeleteConflict).
    async fn delete(&self, _ctx: &Context, id: &str, props: &Props) -> Result<()> {
        let iam = &self.0.iam;
        let attached = send!(iam.list_attached_role_policies().role_name(id))?;
        for p in attached.attached_policies() {
            if let Some(arn) = p.policy_arn() {
                send!(iam.detach_role_policy().role_name(id).policy_arn(arn))?;
            }
        }
        let inline_names = send!(iam.list_role_policies().role_name(id))?;
        for n in inline_names.policy_names() {
            send!(iam.delete_role_policy().role_name(id).policy_name(n))?;
        }
        let _ = props;
        send!(iam.delete_role().role_name(id))?;
        Ok(())
    }
}

impl Role {
    /// Puts, deletes, attaches and detaches so the role's policies match
    /// `new`.
    async fn sync_policies(&self, name: &str, old: &Props, new: &Props) -> Result<()> {
        let iam = &self.0.iam;
        let (was, want) = (inline(old), inline(new));
        for (policy, doc) in &want {
            if was.get(policy) != Some(doc) {
                send!(
                    iam.put_role_policy()
                        .role_name(name)
                        .policy_name(policy)
                        .policy_document(doc.to_string())
                )?;
            }
        }
        for policy in was.keys().filter(|k| !want.contains_key(*k)) {
            send!(iam.delete_role_policy().role_name(name).policy_name(policy))?;
        }
        let (was, want) = (managed(old), managed(new));
        for arn in want.difference(&was) {
            send!(iam.attach_role_policy().role_name(name).policy_arn(arn))?;
        }
        for arn in was.difference(&want) {
            send!(iam.detach_role_policy().role_name(name).policy_arn(arn))?;
        }
        Ok(())
    }
}
