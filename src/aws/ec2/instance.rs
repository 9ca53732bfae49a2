//! `aws.ec2.instance`: one instance launched from a launch template.
//!
//! Everything it is made of lives in the template; the instance names the
//! template and the version, so a new default version (referred to as
//! `${template.default_version}`) plans a replacement. Created with a
//! client token, so a create whose answer was lost launches no second
//! instance.

use super::common::{filter, read_tags, stack_filter, tag_spec};
use crate::aws::prelude::*;
use aws_sdk_ec2::types::{Instance as Item, LaunchTemplateSpecification, ResourceType};
use std::time::Duration;

pub static INSTANCE: Schema = Schema::new("aws.ec2.instance", "An EC2 instance launched from a launch template.")
    .properties(rows! {
        Prop::new("launch_template_id", Type::String, "The launch template.").required().replace(),
        Prop::new("launch_template_version", Type::String, "The template version, usually `${template.default_version}` so a new version replaces the instance.").required().replace(),
        Prop::new("subnet_id", Type::String, "The subnet; the default VPC's when omitted.").replace(),
    })
    .attributes(rows! {
        Attr::new("private_ip", Type::String, "The primary private address."),
        Attr::new("availability_zone", Type::String, "Its zone."),
    })
    .notes("Waits until running; deletion terminates it and waits until terminated (placement groups and subnets can go only then).")
    .cost(instance_cost);

/// The hours of the template's instance type.
fn instance_cost(c: &CostInput) -> Cost {
    let (what, hourly) = super::launch_template::instance_price(
        c,
        c.dep(super::launch_template::LAUNCH_TEMPLATE.kind),
    )?;
    super::launch_template::root_volume(c, Estimate::free().charge(what, hourly))
}

kind! {
    /// The instance kind; its id is the instance id (`i-...`).
    Instance, INSTANCE, ec2_tags
}

/// States an instance is gone in (terminated ones stay listed for an hour).
fn gone(i: &Item) -> bool {
    i.state()
        .and_then(|s| s.name())
        .is_some_and(|n| matches!(n.as_str(), "shutting-down" | "terminated"))
}

fn tag<'a>(i: &'a Item, key: &str) -> Option<&'a str> {
    i.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

fn observe(ctx: &Context, i: &Item) -> Option<Observed> {
    if gone(i) {
        return None;
    }
    let (tags, logical_id) = read_tags(ctx, i.tags());
    let p = props([
        ("launch_template_id", str_value(tag(i, "aws:ec2launchtemplate:id"))),
        ("launch_template_version", str_value(tag(i, "aws:ec2launchtemplate:version"))),
        ("subnet_id", str_value(i.subnet_id())),
        ("tags", tags),
    ]);
    let attrs = attrs([
        ("private_ip", str_value(i.private_ip_address())),
        ("availability_zone", str_value(i.placement().and_then(|p| p.availability_zone()))),
    ]);
    Some(Observed::new(i.instance_id()?, logical_id, p).with(attrs))
}

impl Instance {
    async fn describe(&self, filter: aws_sdk_ec2::types::Filter) -> Result<Vec<Item>> {
        let reservations: Vec<_> = paginate!(self.0.ec2.describe_instances().filters(filter))?;
        Ok(reservations.into_iter().flat_map(|r| r.instances.unwrap_or_default()).collect())
    }
}

#[async_trait]
impl ResourceKind for Instance {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut found = self.describe(stack_filter(ctx)).await?;
        let missing = q.unseen(|id| found.iter().any(|i| i.instance_id() == Some(id)));
        if !missing.is_empty() {
            found.extend(self.describe(filter("instance-id", missing)).await?);
        }
        Ok(found.iter().filter_map(|i| observe(ctx, i)).collect())
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let template = LaunchTemplateSpecification::builder()
            .set_launch_template_id(s(p, "launch_template_id"))
            .set_version(s(p, "launch_template_version"))
            .build();
        let out = send!(
            self.0
                .ec2
                .run_instances()
                .client_token(&req.token)
                .min_count(1)
                .max_count(1)
                .launch_template(template)
                .set_subnet_id(s(p, "subnet_id"))
                .tag_specifications(tag_spec(ResourceType::Instance, ctx, &req.logical_id, p))
        )
        .map_err(|e| match e.code.as_deref() {
            // A just-created instance profile is not yet visible to EC2
            // (IAM is eventually consistent: seconds).
            Some("InvalidParameterValue") if e.message.contains("iamInstanceProfile") => {
                e.retry_within(Duration::from_secs(60))
            }
            // A spread group's zone is full, or the zone has no capacity
            // now: said as it is, the user chooses.
            _ => e,
        })?;
        let id =
            created_id(out.instances().first().and_then(|i| i.instance_id()), self.schema().kind)?;
        Ok(Created::new(id))
    }

    async fn delete(&self, _ctx: &Context, id: &str, _p: &Props) -> Result<()> {
        send!(self.0.ec2.terminate_instances().instance_ids(id))?;
        Ok(())
    }

    /// pending → running: a minute or two on AWS (instant in moto).
    async fn poll_ready(&self, ctx: &Context, id: &str) -> Result<Option<Attrs>> {
        let found = self.describe(filter("instance-id", [id.to_string()])).await?;
        let Some(i) = found.first() else { return Ok(None) };
        match i.state().and_then(|s| s.name()).map(|n| n.as_str()) {
            Some("running") => Ok(observe(ctx, i).map(|o| o.attributes)),
            Some("shutting-down" | "terminated") => Err(ProviderError::new(format!(
                "instance {id} stopped while starting: {}",
                i.state_reason().and_then(|r| r.message()).unwrap_or("no reason given")
            ))
            .partial(id)),
            _ => Ok(None),
        }
    }

    async fn poll_deleted(&self, _ctx: &Context, id: &str) -> Result<bool> {
        let found = self.describe(filter("instance-id", [id.to_string()])).await?;
        Ok(found.first().is_none_or(|i| {
            i.state().and_then(|s| s.name()).is_some_and(|n| n.as_str() == "terminated")
        }))
    }

    fn expected_duration(&self, _op: Op) -> Duration {
        Duration::from_secs(90)
    }
}
