//! `aws.elbv2.load_balancer`: an application or network load balancer.

use crate::aws::prelude::*;
use crate::schema::Default;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerStateEnum, LoadBalancerTypeEnum,
};

use super::common::*;

pub static LOAD_BALANCER: Schema = Schema::new("aws.elbv2.load_balancer", "An Application or Network Load Balancer.")
    .properties(rows! {
        Prop::new("name", Type::String, "The name (32 characters at most); derived from the stack and id when omitted.").replace(),
        Prop::new("type", Type::Enum(&["application", "network"]), "The kind of load balancer.").default(Default::Str("application")).replace(),
        Prop::new("scheme", Type::Enum(&["internet-facing", "internal"]), "Reachable from the internet, or only inside the VPC.").default(Default::Str("internet-facing")).replace(),
        Prop::new("subnets", Type::List(&Type::String), "Subnets, at least two in different zones for an ALB.").required(),
        Prop::new("security_groups", Type::List(&Type::String), "Security groups of an ALB."),
        Prop::new("vpc_id", Type::String, "The VPC of its subnets, when given: AWS cannot move a load balancer to another VPC, so a new one replaces it (give it to make a move of the subnets to a new VPC a replacement, not a refused update).").replace(),
        Prop::new("idle_timeout_seconds", Type::Int, "Idle connection timeout of an ALB (1-4000 s).").range(1, 4000).default(Default::Int(60)),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The load balancer's ARN."),
        Attr::new("dns_name", Type::String, "Its public DNS name."),
        Attr::new("zone_id", Type::String, "Its Route 53 hosted zone."),
        Attr::new("vpc_id", Type::String, "The VPC it is in."),
    })
    .cost(load_balancer_cost)
    .replacement(Replacement::DeleteFirstWhen(super::common::explicit_name_kept, "an explicit `name` stays: load balancer names are unique in a region (a derived one changes with the properties that force the replacement)"));

kind! { LoadBalancer, LOAD_BALANCER }

fn lb_attrs(lb: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer) -> Attrs {
    attrs([
        ("arn", json!(lb.load_balancer_arn())),
        ("dns_name", json!(lb.dns_name())),
        ("zone_id", json!(lb.canonical_hosted_zone_id())),
        ("vpc_id", json!(lb.vpc_id())),
    ])
}

impl LoadBalancer {
    async fn idle_timeout(&self, arn: &str) -> Result<Option<i64>> {
        let r = send!(self.0.elb.describe_load_balancer_attributes().load_balancer_arn(arn))?;
        Ok(r.attributes()
            .iter()
            .find(|a| a.key() == Some("idle_timeout.timeout_seconds"))
            .and_then(|a| a.value()?.parse().ok()))
    }

    async fn set_idle_timeout(&self, arn: &str, secs: i32) -> Result<()> {
        send!(
            self.0.elb.modify_load_balancer_attributes().load_balancer_arn(arn).attributes(
                LoadBalancerAttribute::builder()
                    .key("idle_timeout.timeout_seconds")
                    .value(secs.to_string())
                    .build(),
            )
        )?;
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for LoadBalancer {
    /// The load balancers, then their attributes and tags.
    fn read_rounds(&self) -> usize {
        2
    }

    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let all = super::common::all_lbs(&self.0).await?;
        let albs: Vec<String> = all
            .iter()
            .filter(|lb| lb.r#type() == Some(&LoadBalancerTypeEnum::Application))
            .filter(|lb| candidate(ctx, q, lb.load_balancer_arn(), lb.load_balancer_name()))
            .filter_map(|lb| lb.load_balancer_arn().map(str::to_string))
            .collect();
        let (owned, timeouts) = futures_util::future::try_join(
            owned_of(
                &self.0,
                ctx,
                q,
                all,
                |lb| lb.load_balancer_arn(),
                |lb| lb.load_balancer_name(),
            ),
            attrs_of(albs, |arn| async move { self.idle_timeout(&arn).await }),
        )
        .await?;
        let mut out = Vec::new();
        for Owned { item: lb, arn, user, logical } in owned {
            let ty = lb.r#type().map(|t| t.as_str().to_string());
            let mut p = props([
                ("name", json!(lb.load_balancer_name())),
                ("type", json!(ty)),
                ("scheme", json!(lb.scheme().map(|s| s.as_str()))),
                (
                    "subnets",
                    json!(
                        lb.availability_zones()
                            .iter()
                            .filter_map(|z| z.subnet_id())
                            .collect::<Vec<_>>()
                    ),
                ),
                ("security_groups", json!(lb.security_groups())),
                ("vpc_id", json!(lb.vpc_id())),
            ]);
            if ty.as_deref() == Some("application") {
                p.insert(
                    "idle_timeout_seconds".into(),
                    json!(timeouts.get(&arn).copied().flatten()),
                );
            }
            p.insert("tags".into(), user);
            out.push(Observed::new(arn, logical, p).with(lb_attrs(&lb)));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let alb = s(p, "type").as_deref() != Some("network");
        let sgs = list(p, "security_groups");
        let r = send!(
            self.0
                .elb
                .create_load_balancer()
                .name(name_of(ctx, &req.logical_id, p, &["type", "scheme", "vpc_id"]))
                .r#type(LoadBalancerTypeEnum::from(
                    s(p, "type").as_deref().unwrap_or("application"),
                ))
                .scheme(LoadBalancerSchemeEnum::from(
                    s(p, "scheme").as_deref().unwrap_or("internet-facing"),
                ))
                .set_subnets(Some(list(p, "subnets")))
                .set_security_groups((!sgs.is_empty()).then_some(sgs))
                .set_tags(Some(tags(ctx, &req.logical_id, p)))
        )?;
        let lb =
            r.load_balancers().first().ok_or_else(|| ProviderError::no_id(self.schema().kind))?;
        let arn = created_id(lb.load_balancer_arn(), self.schema().kind)?;
        if alb && let Some(secs) = i(p, "idle_timeout_seconds") {
            self.set_idle_timeout(&arn, secs).await.partial(&arn)?;
        }
        Ok(Created::new(arn).with(lb_attrs(lb)))
    }

    async fn update(&self, _ctx: &Context, arn: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let elb = &self.0.elb;
        if set_changed(old, new, "subnets") {
            send!(
                elb.set_subnets().load_balancer_arn(arn).set_subnets(Some(list(new, "subnets")))
            )?;
        }
        if set_changed(old, new, "security_groups") {
            send!(
                elb.set_security_groups()
                    .load_balancer_arn(arn)
                    .set_security_groups(Some(list(new, "security_groups")))
            )?;
        }
        if s(new, "type").as_deref() != Some("network")
            && i(old, "idle_timeout_seconds") != i(new, "idle_timeout_seconds")
            && let Some(secs) = i(new, "idle_timeout_seconds")
        {
            self.set_idle_timeout(arn, secs).await?;
        }
        sync_tags(&self.0, arn, old, new).await?;
        Ok(Attrs::new())
    }

    /// A new load balancer is `provisioning` for a few minutes.
    async fn poll_ready(&self, _ctx: &Context, arn: &str) -> Result<Option<Attrs>> {
        let r = send!(self.0.elb.describe_load_balancers().load_balancer_arns(arn))?;
        let Some(lb) = r.load_balancers().first() else {
            return Ok(None);
        };
        match lb.state().and_then(|s| s.code()) {
            Some(LoadBalancerStateEnum::Active) => Ok(Some(lb_attrs(lb))),
            Some(LoadBalancerStateEnum::Failed) => Err(ProviderError::new(format!(
                "load balancer failed to provision: {}",
                lb.state().and_then(|s| s.reason()).unwrap_or("no reason given")
            ))),
            _ => Ok(None),
        }
    }

    async fn delete(&self, _ctx: &Context, arn: &str, _p: &Props) -> Result<()> {
        send!(self.0.elb.delete_load_balancer().load_balancer_arn(arn))?;
        Ok(())
    }

    async fn poll_deleted(&self, _ctx: &Context, arn: &str) -> Result<bool> {
        match send!(self.0.elb.describe_load_balancers().load_balancer_arns(arn)) {
            Ok(r) => Ok(r.load_balancers().is_empty()),
            Err(e) if e.is_not_found() => Ok(true),
            Err(e) => Err(e),
        }
    }

    fn expected_duration(&self, op: Op) -> Duration {
        match op {
            Op::Create => Duration::from_secs(180),
            Op::Update => Duration::from_secs(5),
            Op::Delete => Duration::from_secs(30),
        }
    }

    fn normalize(&self, p: &mut Props) {
        sort_sets(p, &["subnets", "security_groups"]);
        if s(p, "type").as_deref() == Some("network") {
            p.remove("idle_timeout_seconds");
        }
        if matches!(p.get("security_groups"), Some(Value::Array(a)) if a.is_empty()) {
            p.remove("security_groups");
        }
    }
}

/// The load balancer's hours, its capacity units (usage), and an
/// internet-facing one's public IPv4 address in each of its subnets.
fn load_balancer_cost(c: &CostInput) -> Cost {
    let network = c.str("type") == Some("network");
    let (hour, lcu, what) = if network {
        ("nlb_hour", "nlb_lcu_hour", "Network Load Balancer")
    } else {
        ("alb_hour", "alb_lcu_hour", "Application Load Balancer")
    };
    let mut e = Estimate::free().charge(what, c.price(hour)?).usage(
        if network { "NLB capacity units" } else { "ALB capacity units" },
        c.price(lcu)?,
        "LCU-hour",
    );
    if c.str("scheme") != Some("internal") {
        let zones = c.len("subnets").ok_or("its subnets are known only after apply")?;
        e = e.charge(
            format!("{zones} public IPv4 address(es)"),
            zones as f64 * c.price("public_ipv4_hour")?,
        );
    }
    Ok(e)
}
