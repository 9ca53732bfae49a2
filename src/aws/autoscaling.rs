//! `aws.autoscaling.group`: an EC2 Auto Scaling group launching from a
//! launch template.
//!
//! Its tags are propagated to the instances it launches, all but
//! `archkit:id`: the instances are the group's, not resources of their own,
//! and still carry `archkit:stack` so nothing of the stack is hidden.
//! Deletion force-deletes the group (AWS terminates its instances) and then
//! terminates the instances it held itself, because some moto versions'
//! ForceDelete left them running (`../shared/reference/moto.md`; 5.2.5
//! terminates them, so the test cannot tell the second call's effect); a
//! second TerminateInstances is harmless. It waits until the group is gone
//! and those instances are terminated, so the subnets, placement group and
//! ECS cluster after it can go.

use crate::aws::prelude::*;
use crate::provider::TAG_ID;
use aws_sdk_autoscaling::types::{
    AutoScalingGroup as Group, Filter, LaunchTemplateSpecification, Tag,
};
use std::time::Duration;

pub static GROUP: Schema = Schema::new("aws.autoscaling.group", "An EC2 Auto Scaling group.")
    .properties(rows! {
        Prop::new("name", Type::String, "The group name; `<stack>-<id>` when omitted.").replace(),
        Prop::new("launch_template_id", Type::String, "The launch template instances are launched from.").required(),
        Prop::new("launch_template_version", Type::String, "Its version, usually `${template.default_version}`: a new template version then updates the group, and instances launched from then on use it.").required(),
        Prop::new("subnet_ids", Type::List(&Type::String), "The subnets (and so zones) instances are launched into.").required(),
        Prop::new("min_size", Type::Int, "Fewest instances.").at_least(0).required(),
        Prop::new("max_size", Type::Int, "Most instances.").at_least(0).required(),
        Prop::new("desired_capacity", Type::Int, "How many instances to run (between min and max).").at_least(0),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The group's ARN."),
    })
    .notes("Tags (but `archkit:id`) are propagated to the instances. Deleting the group terminates its instances and waits until they are terminated. Running instances keep the template version they were launched from; new ones use the group's current version.")
    .cost(group_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "group names are unique in a region"));

kind! {
    /// The auto scaling group kind; its id is the group name.
    AutoScalingGroup, GROUP
}

/// The group's tags: the system tags, `Name` and the user's, every one
/// propagated to the instances but `archkit:id`.
fn tags(name: &str, pairs: Vec<(String, String)>) -> Vec<Tag> {
    pairs
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .propagate_at_launch(k != TAG_ID)
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

fn observe(ctx: &Context, g: &Group) -> Option<Observed> {
    // A group being deleted is gone for planning.
    if g.status().is_some_and(|s| s.contains("Delete")) {
        return None;
    }
    let name = g.auto_scaling_group_name()?;
    let (tags, logical_id) = split_tags(
        ctx,
        g.tags().iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))),
    );
    let mut subnets: Vec<&str> = g
        .vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    subnets.sort();
    let lt = g.launch_template();
    let p = props([
        ("name", json!(name)),
        ("launch_template_id", str_value(lt.and_then(|l| l.launch_template_id()))),
        ("launch_template_version", str_value(lt.and_then(|l| l.version()))),
        ("subnet_ids", json!(subnets)),
        ("min_size", json!(g.min_size())),
        ("max_size", json!(g.max_size())),
        ("desired_capacity", json!(g.desired_capacity())),
        ("tags", tags),
    ]);
    let attrs = attrs([("arn", str_value(g.auto_scaling_group_arn())), ("name", json!(name))]);
    Some(Observed::new(name, logical_id, p).with(attrs))
}

impl AutoScalingGroup {
    async fn describe(
        &self,
        names: Option<Vec<String>>,
        filter: Option<Filter>,
    ) -> Result<Vec<Group>> {
        paginate!(
            self.0
                .autoscaling
                .describe_auto_scaling_groups()
                .set_auto_scaling_group_names(names)
                .set_filters(filter.map(|f| vec![f]))
        )
    }

    /// The group's instances that are not yet terminated (their ids from
    /// EC2, tagged by AWS with the group's name).
    async fn live_instances(&self, name: &str) -> Result<Vec<String>> {
        let by_group = aws_sdk_ec2::types::Filter::builder()
            .name("tag:aws:autoscaling:groupName")
            .values(name)
            .build();
        let alive = aws_sdk_ec2::types::Filter::builder()
            .name("instance-state-name")
            .set_values(Some(
                ["pending", "running", "stopping", "stopped", "shutting-down"]
                    .map(String::from)
                    .to_vec(),
            ))
            .build();
        let reservations: Vec<_> =
            paginate!(self.0.ec2.describe_instances().filters(by_group).filters(alive))?;
        Ok(reservations
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect())
    }
}

#[async_trait]
impl ResourceKind for AutoScalingGroup {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let stack =
            Filter::builder().name(format!("tag:{TAG_STACK}")).values(ctx.stack.clone()).build();
        let mut found = self.describe(None, Some(stack)).await?;
        let missing = q.unseen(|id| found.iter().any(|g| g.auto_scaling_group_name() == Some(id)));
        if !missing.is_empty() {
            found.extend(self.describe(Some(missing), None).await?);
        }
        Ok(found.iter().filter_map(|g| observe(ctx, g)).collect())
    }

    fn normalize(&self, p: &mut Props) {
        sort_sets(p, &["subnet_ids"]);
        // Without a desired capacity AWS starts with the minimum.
        if p.get("desired_capacity").is_none_or(Value::is_null)
            && let Some(min) = p.get("min_size").cloned()
        {
            p.insert("desired_capacity".into(), min);
        }
    }

    fn check(&self, p: &Props) -> Result<(), Refusal> {
        let (min, max) = (i(p, "min_size"), i(p, "max_size"));
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                return Err(Refusal::new(
                    format!("min_size {min} is above max_size {max}"),
                    "make min_size at most max_size".into(),
                ));
            }
            if let Some(d) = i(p, "desired_capacity")
                && !(min..=max).contains(&d)
            {
                return Err(Refusal::new(
                    format!("desired_capacity {d} is outside {min} to {max}"),
                    "give a desired capacity between min_size and max_size".into(),
                ));
            }
        }
        Ok(())
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name = s(p, "name").unwrap_or_else(|| unique_name(&ctx.stack, &req.logical_id, 255));
        let template = LaunchTemplateSpecification::builder()
            .set_launch_template_id(s(p, "launch_template_id"))
            .set_version(s(p, "launch_template_version"))
            .build();
        let result = send!(
            self.0
                .autoscaling
                .create_auto_scaling_group()
                .auto_scaling_group_name(&name)
                .launch_template(template)
                .vpc_zone_identifier(list(p, "subnet_ids").join(","))
                .set_min_size(i(p, "min_size"))
                .set_max_size(i(p, "max_size"))
                .set_desired_capacity(i(p, "desired_capacity"))
                .set_tags(Some(tags(&name, create_tags(ctx, &req.logical_id, p))))
        );
        match result {
            Ok(_) => {}
            // The create has no client token: an earlier attempt whose
            // answer was lost made it. Ours when it carries our id.
            Err(e) if e.code.as_deref() == Some("AlreadyExists") => {
                let existing = self.describe(Some(vec![name.clone()]), None).await?;
                let ours = existing
                    .iter()
                    .filter_map(|g| observe(ctx, g))
                    .any(|o| o.logical_id.as_deref() == Some(req.logical_id.as_str()));
                if !ours {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
        Ok(Created::new(name.clone()).with(attrs([("name", json!(name))])))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let changed = |k: &str| !crate::provider::same_value(old.get(k), new.get(k));
        let mut call = self.0.autoscaling.update_auto_scaling_group().auto_scaling_group_name(id);
        let mut any = false;
        if changed("launch_template_id") || changed("launch_template_version") {
            call = call.launch_template(
                LaunchTemplateSpecification::builder()
                    .set_launch_template_id(s(new, "launch_template_id"))
                    .set_version(s(new, "launch_template_version"))
                    .build(),
            );
            any = true;
        }
        if set_changed(old, new, "subnet_ids") {
            call = call.vpc_zone_identifier(list(new, "subnet_ids").join(","));
            any = true;
        }
        if changed("min_size") {
            call = call.set_min_size(i(new, "min_size"));
            any = true;
        }
        if changed("max_size") {
            call = call.set_max_size(i(new, "max_size"));
            any = true;
        }
        if changed("desired_capacity") {
            call = call.set_desired_capacity(i(new, "desired_capacity"));
            any = true;
        }
        if any {
            send!(call)?;
        }
        let changes = TagChanges::between(old, new);
        let asg = &self.0.autoscaling;
        if !changes.removed.is_empty() {
            let gone = changes.removed.iter().map(|k| (k.clone(), String::new())).collect();
            send!(asg.delete_tags().set_tags(Some(tags(id, gone))))?;
        }
        if !changes.set.is_empty() {
            send!(asg.create_or_update_tags().set_tags(Some(tags(id, changes.set.clone()))))?;
        }
        Ok(Attrs::new())
    }

    fn update_note(&self, changed: &[String]) -> Option<&'static str> {
        changed.iter().any(|c| c.starts_with("launch_template")).then_some(
            "instances running now keep their template version and those launched from now on use \
             the new one; an instance refresh or scaling in and out replaces them",
        )
    }

    async fn delete(&self, _ctx: &Context, id: &str, _p: &Props) -> Result<()> {
        let held = self.live_instances(id).await?;
        match send!(
            self.0
                .autoscaling
                .delete_auto_scaling_group()
                .auto_scaling_group_name(id)
                .force_delete(true)
        ) {
            Ok(_) => {}
            // Already being deleted (an earlier run was stopped).
            Err(e) if e.code.as_deref() == Some("ResourceInUse") => {}
            Err(e) if e.code.as_deref() == Some("ScalingActivityInProgress") => {
                return Err(e.retry_within(Duration::from_secs(10 * 60)));
            }
            Err(e) if e.message.contains("not found") => {}
            Err(e) => return Err(e),
        }
        if !held.is_empty() {
            send!(self.0.ec2.terminate_instances().set_instance_ids(Some(held)))?;
        }
        Ok(())
    }

    async fn poll_deleted(&self, _ctx: &Context, id: &str) -> Result<bool> {
        let groups = self.describe(Some(vec![id.to_string()]), None).await?;
        if !groups.is_empty() {
            return Ok(false);
        }
        Ok(self.live_instances(id).await?.is_empty())
    }

    /// Terminating instances and draining them: minutes on AWS.
    fn expected_duration(&self, op: Op) -> Duration {
        match op {
            Op::Delete => Duration::from_secs(300),
            _ => Duration::from_secs(60),
        }
    }
}

/// Desired capacity times the template's instance price.
fn group_cost(c: &CostInput) -> Cost {
    let (what, hourly) = crate::aws::ec2::launch_template::instance_price(
        c,
        c.dep(crate::aws::ec2::launch_template::LAUNCH_TEMPLATE.kind),
    )?;
    let n = c.int("desired_capacity").or(c.int("min_size")).ok_or("its size is not known")?;
    let e = Estimate::free().charge(format!("{n} × {what}"), hourly * n as f64);
    crate::aws::ec2::launch_template::root_volume(c, e)
}
