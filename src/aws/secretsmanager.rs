//! `aws.secretsmanager.secret`: a secret value handed to code at run time
//! (a function reads it by ARN) instead of through a plain environment
//! variable.
//!
//! The value is sensitive: archkit stores only its digest, compares
//! digests, and never reads the value back. Names default to
//! `archkit/<stack>/<id>`, so one ListSecrets filtered by that prefix reads
//! every secret of the stack with its tags. Destroy deletes without a
//! recovery window: the stack is being torn down, and a secret pending
//! deletion would block re-creating one with the same name for a week.

use crate::aws::prelude::*;
use std::collections::BTreeSet;

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};

pub static SECRET: Schema = Schema::new("aws.secretsmanager.secret", "A Secrets Manager secret holding one string.")
    .properties(rows! {
        Prop::new("name", Type::String, "The secret's name; `archkit/<stack>/<id>` when omitted.").replace(),
        Prop::new("description", Type::String, "What the secret is for."),
        Prop::new("secret_string", Type::String, "The value (use a `secret: true` parameter).").required().sensitive(),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The secret's ARN."),
    })
    .notes("`secret_string` is stored as a digest, never read back. Default name `archkit/<stack>/<id>`; deleted without a recovery window on destroy.")
    .cost(secret_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "secret names are unique in a region"));

fn prefix(stack: &str) -> String {
    format!("archkit/{stack}/")
}

kind! {
    /// `aws.secretsmanager.secret`. The physical id is the secret's ARN.
    Secret, SECRET
}

#[async_trait]
impl ResourceKind for Secret {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut names: BTreeSet<String> = [prefix(&ctx.stack)].into();
        // Custom-named secrets state records are looked up by name too.
        names.extend(
            q.known
                .iter()
                .filter_map(|(_, p)| s(p, "name"))
                .filter(|n| !n.starts_with(&prefix(&ctx.stack))),
        );
        let filter = Filter::builder()
            .key(FilterNameStringType::Name)
            .set_values(Some(names.iter().cloned().collect()))
            .build();
        // ListSecrets pages have no item path: collect the pages.
        let pages = self.0.secrets.list_secrets().filters(filter).into_paginator().send();
        let pages: Vec<_> = pages.try_collect().await.map_err(err)?;
        let mut out = Vec::new();
        let secrets = pages.iter().flat_map(|p| p.secret_list());
        for sec in secrets.filter(|s| s.deleted_date().is_none()) {
            let arn = sec.arn().unwrap_or_default().to_string();
            let (user, logical) =
                split_tags(ctx, sec.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))));
            if logical.unclaimed() && !q.known.iter().any(|(k, _)| *k == arn) {
                continue;
            }
            let p = props([
                ("name", json!(sec.name())),
                ("description", json!(sec.description().filter(|d| !d.is_empty()))),
                ("tags", user),
            ]);
            out.push(Observed::new(arn.clone(), logical, p).with(arn_attrs(&arn)));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name =
            s(p, "name").unwrap_or_else(|| format!("{}{}", prefix(&ctx.stack), req.logical_id));
        let tags = create_tags(ctx, &req.logical_id, p)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let r = send!(
            self.0
                .secrets
                .create_secret()
                .name(name)
                .set_description(s(p, "description"))
                .set_secret_string(s(p, "secret_string"))
                .set_tags(Some(tags))
        )?;
        let arn = created_id(r.arn(), self.schema().kind)?;
        Ok(Created::new(arn.clone()).with(arn_attrs(&arn)))
    }

    async fn update(&self, _ctx: &Context, arn: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let sm = &self.0.secrets;
        if old.get("secret_string") != new.get("secret_string") {
            send!(sm.put_secret_value().secret_id(arn).set_secret_string(s(new, "secret_string")))?;
        }
        if old.get("description") != new.get("description") {
            send!(
                sm.update_secret()
                    .secret_id(arn)
                    .description(s(new, "description").unwrap_or_default())
            )?;
        }
        let tags = |set: Vec<(String, String)>| {
            set.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
        };
        tag_calls! { old, new, sm.untag_resource().secret_id(arn), sm.tag_resource().secret_id(arn), |set| tags(set) }
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, arn: &str, _p: &Props) -> Result<()> {
        send!(self.0.secrets.delete_secret().secret_id(arn).force_delete_without_recovery(true))?;
        Ok(())
    }
}

/// A secret bills per month it exists, and per API call.
fn secret_cost(c: &CostInput) -> Cost {
    Ok(Estimate::free()
        .charge("secret", c.price("secret_month")? / crate::price::HOURS_PER_MONTH)
        .usage("Secrets Manager API calls", c.price("secret_10k_calls")?, "10,000 calls"))
}
