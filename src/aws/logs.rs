//! `aws.logs.log_group`: a CloudWatch Logs group (for container and
//! function logs), with its retention; deleted on destroy so nothing keeps
//! costing money.
//!
//! Default names are `/archkit/<stack>/<id>`: one DescribeLogGroups by that
//! prefix finds every group of the stack, and the name tells its logical
//! id. Tags need a call per group to read, so they are not read back (the
//! last applied ones are assumed).

use crate::aws::prelude::*;
use std::collections::{BTreeSet, HashMap};

/// Retention periods CloudWatch Logs accepts.
const RETENTION: &[&str] = &[
    "1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545", "731",
    "1096", "1827", "2192", "2557", "2922", "3288", "3653",
];

pub static LOG_GROUP: Schema = Schema::new("aws.logs.log_group", "A CloudWatch Logs log group.")
    .properties(rows! {
        Prop::new("name", Type::String, "The group name; `/archkit/<stack>/<id>` when omitted.").replace(),
        Prop::new("retention_in_days", Type::Enum(RETENTION), "How long events are kept (a value CloudWatch accepts, e.g. \"14\"); forever when omitted."),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The group's ARN."),
    })
    .cost(log_group_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "log group names are unique in a region"));

kind! {
    /// The log group kind. Its physical id is the group name.
    LogGroup, LOG_GROUP
}

fn prefix(stack: &str) -> String {
    format!("/archkit/{stack}/")
}

fn retention(props: &Props) -> Option<i32> {
    props.get("retention_in_days").and_then(|v| v.as_str()).and_then(|s| s.parse().ok())
}

impl LogGroup {
    /// The `archkit:id` of the group `name`, if it carries this stack's tags.
    async fn logical_id(&self, ctx: &Context, name: &str) -> Result<Option<String>> {
        #[allow(deprecated)] // ListTagsLogGroup takes the name; its successor an ARN.
        let out = send!(self.0.logs.list_tags_log_group().log_group_name(name))?;
        let pairs = out.tags().into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()));
        Ok(split_tags(ctx, pairs).1.id)
    }

    /// The group's ARN as the tag calls take it (without DescribeLogGroups'
    /// trailing `:*`), once it exists: `None` while it does not, `Some(None)`
    /// if AWS names no ARN.
    async fn arn(&self, id: &str) -> Result<Option<Option<String>>> {
        let out = send!(self.0.logs.describe_log_groups().log_group_name_prefix(id))?;
        let group = out.log_groups().iter().find(|g| g.log_group_name() == Some(id));
        Ok(group.map(|g| g.arn().map(|a| a.trim_end_matches(":*").to_string())))
    }

    /// Whether the group `name` carries this stack's tags for `logical_id`.
    async fn tagged_as(&self, ctx: &Context, name: &str, logical_id: &str) -> Result<bool> {
        Ok(self.logical_id(ctx, name).await?.as_deref() == Some(logical_id))
    }
}

#[async_trait]
impl ResourceKind for LogGroup {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let stack_prefix = prefix(&ctx.stack);
        // The stack's prefix, plus any custom-named group state records.
        let mut prefixes: BTreeSet<String> = [stack_prefix.clone()].into();
        // A function's own group is named by AWS after it, outside the
        // stack's prefix: known from state, or (discovery) by its tags.
        let lambda_prefix =
            format!("/aws/lambda/{}", unique_name(&ctx.stack, "", crate::aws::lambda::NAME_MAX));
        if ctx.thorough {
            prefixes.insert(lambda_prefix.clone());
        }
        // `destroy --discover` also asks the tagging API for the stack's
        // groups, which finds those with custom names
        // (`/aws/codebuild/<project>`) that no prefix of the stack's covers
        // and no state records. (moto ignores a `logs:log-group` type
        // filter, so the ARNs are filtered here.)
        let mut tagged = BTreeSet::new();
        if ctx.thorough {
            use aws_sdk_resourcegroupstagging::types::TagFilter;
            let filter = TagFilter::builder().key(TAG_STACK).values(&ctx.stack).build();
            let mappings: Vec<_> = paginate!(self.0.tagging.get_resources().tag_filters(filter))?;
            for arn in mappings.iter().filter_map(|m| m.resource_arn()) {
                if let Some((_, name)) = arn.split_once(":log-group:") {
                    let name = name.trim_end_matches(":*").to_string();
                    if !prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                        prefixes.insert(name.clone());
                    }
                    tagged.insert(name);
                }
            }
        }
        for (id, _) in &q.known {
            let searched =
                id.starts_with(&stack_prefix) || (ctx.thorough && id.starts_with(&lambda_prefix));
            if !searched {
                prefixes.insert(id.clone());
            }
        }
        let mut out = Vec::new();
        for p in prefixes {
            let groups: Vec<_> =
                paginate!(self.0.logs.describe_log_groups().log_group_name_prefix(&p))?;
            for g in &groups {
                let Some(name) = g.log_group_name() else {
                    continue;
                };
                let known = q.known.iter().any(|(id, _)| id == name);
                let mut logical_id = name.strip_prefix(&stack_prefix).map(str::to_string);
                if logical_id.is_none()
                    && !known
                    && (name.starts_with(&lambda_prefix) || tagged.contains(name))
                {
                    logical_id = self.logical_id(ctx, name).await?;
                }
                if logical_id.is_none() && !known {
                    continue;
                }
                let retention = g.retention_in_days().map_or(Value::Null, |d| json!(d.to_string()));
                let props = props([("name", json!(name)), ("retention_in_days", retention)]);
                let arn = json!(g.arn().map(|a| a.trim_end_matches(":*")));
                out.push(Observed::new(name, logical_id, props).with([("arn".into(), arn)].into()));
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name = p
            .get("name")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}{}", prefix(&ctx.stack), req.logical_id));
        let tags: HashMap<String, String> =
            create_tags(ctx, &req.logical_id, p).into_iter().collect();
        match send!(self.0.logs.create_log_group().log_group_name(&name).set_tags(Some(tags))) {
            // It exists: the group of a create whose answer was lost (a
            // custom name is outside the stack's prefix, so no read finds
            // it). Ours only when its tags say this stack and this id.
            Err(e) if e.code.as_deref() == Some("ResourceAlreadyExistsException") => {
                if !self.tagged_as(ctx, &name, &req.logical_id).await? {
                    return Err(e);
                }
            }
            other => {
                other?;
            }
        }
        if let Some(days) = retention(p) {
            send!(self.0.logs.put_retention_policy().log_group_name(&name).retention_in_days(days))
                .partial(&name)?;
        }
        Ok(Created::new(name))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let logs = &self.0.logs;
        if retention(old) != retention(new) {
            match retention(new) {
                Some(days) => {
                    send!(logs.put_retention_policy().log_group_name(id).retention_in_days(days))?;
                }
                None => {
                    send!(logs.delete_retention_policy().log_group_name(id))?;
                }
            }
        }
        arn_tag_calls!(
            old,
            new,
            id,
            arn = self.arn(id).await?.flatten(),
            logs.untag_resource().resource_arn(arn),
            logs.tag_resource().resource_arn(arn),
            |set| set.into_iter().collect::<HashMap<_, _>>()
        );
        Ok(Attrs::new())
    }

    /// Creation returns no ARN: read it once the group exists.
    async fn poll_ready(&self, _ctx: &Context, id: &str) -> Result<Option<Attrs>> {
        Ok(self.arn(id).await?.map(|arn| attrs([("arn", json!(arn))])))
    }

    async fn delete(&self, _ctx: &Context, id: &str, _props: &Props) -> Result<()> {
        send!(self.0.logs.delete_log_group().log_group_name(id))?;
        Ok(())
    }
}

/// Logs bill what is ingested and kept.
fn log_group_cost(c: &CostInput) -> Cost {
    Ok(Estimate::free().usage("log data ingested", c.price("logs_ingested_gb")?, "GB").usage(
        "log data stored",
        c.price("logs_stored_gb_month")?,
        "GB-month",
    ))
}
