//! `aws.elbv2.target_group`: where a load balancer sends traffic.

use crate::aws::prelude::*;
use crate::schema::Default;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::types::{TargetGroupAttribute, TargetTypeEnum};

use super::common::*;

pub static TARGET_GROUP: Schema = Schema::new("aws.elbv2.target_group", "A target group: where a listener sends traffic, with its health check.")
    .properties(rows! {
        Prop::new("name", Type::String, "The name (32 characters at most); derived from the stack and id when omitted.").replace(),
        Prop::new("port", Type::Int, "The port targets receive traffic on.").range(1, 65535).required().replace(),
        Prop::new("protocol", Type::Enum(PROTOCOLS), "The protocol to targets.").default(Default::Str("HTTP")).replace(),
        Prop::new("target_type", Type::Enum(&["instance", "ip", "lambda", "alb"]), "What targets are; `ip` for Fargate (awsvpc) tasks.").default(Default::Str("instance")).replace(),
        Prop::new("vpc_id", Type::String, "The VPC of the targets.").required().replace(),
        Prop::new("health_check_path", Type::String, "HTTP health check path.").default(Default::Str("/")),
        Prop::new("health_check_interval_seconds", Type::Int, "Seconds between health checks.").range(5, 300).default(Default::Int(30)),
        Prop::new("health_check_timeout_seconds", Type::Int, "Seconds before a check counts as failed.").range(2, 120).default(Default::Int(5)),
        Prop::new("healthy_threshold", Type::Int, "Passing checks before a target is healthy.").range(2, 10).default(Default::Int(5)),
        Prop::new("unhealthy_threshold", Type::Int, "Failing checks before a target is unhealthy.").range(2, 10).default(Default::Int(2)),
        Prop::new("deregistration_delay_seconds", Type::Int, "How long a leaving target drains (AWS default 300; lower it to speed up deploys and destroys).").range(0, 3600).default(Default::Int(300)),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The target group's ARN."),
        Attr::new("name", Type::String, "Its name."),
    })
    .free()
    .replacement(Replacement::DeleteFirstWhen(super::common::explicit_name_kept, "an explicit `name` stays: target group names are unique in a region (a derived one changes with the properties that force the replacement)"));

kind! { TargetGroup, TARGET_GROUP }

const DEREGISTRATION: &str = "deregistration_delay.timeout_seconds";

impl TargetGroup {
    async fn delay(&self, arn: &str) -> Result<Option<i64>> {
        let r = send!(self.0.elb.describe_target_group_attributes().target_group_arn(arn))?;
        Ok(r.attributes()
            .iter()
            .find(|a| a.key() == Some(DEREGISTRATION))
            .and_then(|a| a.value()?.parse().ok()))
    }

    async fn set_delay(&self, arn: &str, secs: i32) -> Result<()> {
        send!(self.0.elb.modify_target_group_attributes().target_group_arn(arn).attributes(
            TargetGroupAttribute::builder().key(DEREGISTRATION).value(secs.to_string()).build(),
        ))?;
        Ok(())
    }
}

const HEALTH: &[&str] = &[
    "health_check_path",
    "health_check_interval_seconds",
    "health_check_timeout_seconds",
    "healthy_threshold",
    "unhealthy_threshold",
];

fn http(p: &Props) -> bool {
    matches!(s(p, "protocol").as_deref(), None | Some("HTTP" | "HTTPS"))
}

#[async_trait]
impl ResourceKind for TargetGroup {
    /// The target groups, then their attributes and tags.
    fn read_rounds(&self) -> usize {
        2
    }

    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let all = super::common::all_tgs(&self.0).await?;
        let arns: Vec<String> = all
            .iter()
            .filter(|tg| candidate(ctx, q, tg.target_group_arn(), tg.target_group_name()))
            .filter_map(|tg| tg.target_group_arn().map(str::to_string))
            .collect();
        let (owned, delays) = futures_util::future::try_join(
            owned_of(&self.0, ctx, q, all, |tg| tg.target_group_arn(), |tg| tg.target_group_name()),
            attrs_of(arns, |arn| async move { self.delay(&arn).await }),
        )
        .await?;
        let mut out = Vec::new();
        for Owned { item: tg, arn, user, logical } in owned {
            let p = props([
                ("name", json!(tg.target_group_name())),
                ("port", json!(tg.port())),
                ("protocol", json!(tg.protocol().map(|v| v.as_str()))),
                ("target_type", json!(tg.target_type().map(|v| v.as_str()))),
                ("vpc_id", json!(tg.vpc_id())),
                ("health_check_path", json!(tg.health_check_path())),
                ("health_check_interval_seconds", json!(tg.health_check_interval_seconds())),
                ("health_check_timeout_seconds", json!(tg.health_check_timeout_seconds())),
                ("healthy_threshold", json!(tg.healthy_threshold_count())),
                ("unhealthy_threshold", json!(tg.unhealthy_threshold_count())),
                ("deregistration_delay_seconds", json!(delays.get(&arn).copied().flatten())),
                ("tags", user),
            ]);
            let mut attrs = Attrs::new();
            attrs.extend(props([("arn", json!(arn)), ("name", json!(tg.target_group_name()))]));
            out.push(Observed::new(arn, logical, p).with(attrs));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name = name_of(ctx, &req.logical_id, p, &["port", "protocol", "target_type", "vpc_id"]);
        let mut call = self
            .0
            .elb
            .create_target_group()
            .name(&name)
            .port(i(p, "port").unwrap_or(80))
            .set_protocol(protocol(p, "protocol"))
            .target_type(TargetTypeEnum::from(s(p, "target_type").as_deref().unwrap_or("instance")))
            .vpc_id(s(p, "vpc_id").unwrap_or_default())
            .set_health_check_interval_seconds(i(p, "health_check_interval_seconds"))
            .set_health_check_timeout_seconds(i(p, "health_check_timeout_seconds"))
            .set_healthy_threshold_count(i(p, "healthy_threshold"))
            .set_unhealthy_threshold_count(i(p, "unhealthy_threshold"))
            .set_tags(Some(tags(ctx, &req.logical_id, p)));
        if http(p) {
            call = call.set_health_check_path(s(p, "health_check_path"));
        }
        let r = send!(call)?;
        let arn = created_id(
            r.target_groups().first().and_then(|t| t.target_group_arn()),
            self.schema().kind,
        )?;
        if let Some(secs) = i(p, "deregistration_delay_seconds")
            && secs != 300
        {
            self.set_delay(&arn, secs).await.partial(&arn)?;
        }
        let mut attrs = Attrs::new();
        attrs.extend(props([("arn", json!(arn)), ("name", json!(name))]));
        Ok(Created::new(arn).with(attrs))
    }

    async fn update(&self, _ctx: &Context, arn: &str, old: &Props, new: &Props) -> Result<Attrs> {
        if HEALTH.iter().any(|k| old.get(*k) != new.get(*k)) {
            let mut call = self
                .0
                .elb
                .modify_target_group()
                .target_group_arn(arn)
                .set_health_check_interval_seconds(i(new, "health_check_interval_seconds"))
                .set_health_check_timeout_seconds(i(new, "health_check_timeout_seconds"))
                .set_healthy_threshold_count(i(new, "healthy_threshold"))
                .set_unhealthy_threshold_count(i(new, "unhealthy_threshold"));
            if http(new) {
                call = call.set_health_check_path(s(new, "health_check_path"));
            }
            send!(call)?;
        }
        if i(old, "deregistration_delay_seconds") != i(new, "deregistration_delay_seconds")
            && let Some(secs) = i(new, "deregistration_delay_seconds")
        {
            self.set_delay(arn, secs).await?;
        }
        sync_tags(&self.0, arn, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, arn: &str, _p: &Props) -> Result<()> {
        // `ResourceInUse` while a listener or rule still forwards here is
        // transient during a destroy (the rule is being deleted alongside).
        match send!(self.0.elb.delete_target_group().target_group_arn(arn)) {
            Ok(_) => Ok(()),
            Err(e) if e.code.as_deref() == Some("ResourceInUse") => {
                Err(e.retry_within(Duration::from_secs(5 * 60)))
            }
            Err(e) => Err(e),
        }
    }

    fn normalize(&self, p: &mut Props) {
        if !http(p) {
            p.remove("health_check_path");
        }
    }
}
