//! `aws.appautoscaling.target` and `aws.appautoscaling.policy`:
//! Application Auto Scaling of an ECS service's desired count, with a
//! target-tracking policy (the Windows ECS post's "scale at 60 % CPU").
//!
//! Neither is found by tags: a scalable target is known by its namespace,
//! resource id and dimension (one per triple, registering again updates
//! it), a policy by those and its name. Both are therefore their own
//! lost-answer recovery: RegisterScalableTarget and PutScalingPolicy are
//! upserts, so a create sent again makes no second one. Deregistering a
//! target deletes its policies; archkit deletes the policy first anyway
//! (it refers to the target).
//!
//! moto checks that the ECS service exists and answers the calls used
//! here, but never scales anything: the read-back proves what archkit
//! registered, not that AWS scales on it.

use crate::aws::prelude::*;
use crate::schema::Default;

use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};

const NAMESPACES: &[&str] = &["ecs"];
const DIMENSIONS: &[&str] = &["ecs:service:DesiredCount"];
const METRICS: &[&str] = &[
    "ECSServiceAverageCPUUtilization",
    "ECSServiceAverageMemoryUtilization",
    "ALBRequestCountPerTarget",
];

/// `namespace|resource_id|dimension`, then `|name` for a policy.
fn key(p: &Props) -> String {
    format!(
        "{}|{}|{}",
        s(p, "service_namespace").unwrap_or_else(|| "ecs".into()),
        s(p, "resource_id").unwrap_or_default(),
        s(p, "scalable_dimension").unwrap_or_else(|| DIMENSIONS[0].into()),
    )
}

fn parts(id: &str) -> Option<(ServiceNamespace, &str, ScalableDimension, Option<&str>)> {
    let mut it = id.splitn(4, '|');
    let (ns, rid, dim) = (it.next()?, it.next()?, it.next()?);
    Some((ServiceNamespace::from(ns), rid, ScalableDimension::from(dim), it.next()))
}

fn bad_id(id: &str) -> ProviderError {
    ProviderError::new(format!("`{id}` is not namespace|resource_id|dimension[|name]"))
}

// --- scalable target ----------------------------------------------------------

pub static TARGET: Schema = Schema::new(
    "aws.appautoscaling.target",
    "What Application Auto Scaling may scale and between which bounds: an ECS service's desired count. Not taggable: found by its resource.",
)
.properties(rows! {
    Prop::new("service_namespace", Type::Enum(NAMESPACES), "The service whose resource scales.").default(Default::Str("ecs")).replace(),
    Prop::new("resource_id", Type::String, "The resource: `service/<cluster>/<service>` for ECS.").required().replace(),
    Prop::new("scalable_dimension", Type::Enum(DIMENSIONS), "What scales.").default(Default::Str("ecs:service:DesiredCount")).replace(),
    Prop::new("min_capacity", Type::Int, "The fewest tasks scaling may leave.").at_least(0).required(),
    Prop::new("max_capacity", Type::Int, "The most tasks scaling may start.").at_least(0).required(),
})
.attributes(rows! {
    Attr::new("resource_id", Type::String, "The resource, for the policies."),
    Attr::new("arn", Type::String, "The scalable target's ARN."),
})
.notes("Registering again updates the bounds in place. Deregistering also deletes its scaling policies.")
.untagged()
.free();

kind! { Target, TARGET }

#[async_trait]
impl ResourceKind for Target {
    async fn read(&self, _ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut out = Vec::new();
        for (id, _) in &q.known {
            let Some((ns, rid, dim, None)) = parts(id) else { continue };
            let got = send!(
                self.0
                    .appscaling
                    .describe_scalable_targets()
                    .service_namespace(ns.clone())
                    .resource_ids(rid)
                    .scalable_dimension(dim.clone())
            )?;
            let Some(t) = got
                .scalable_targets()
                .iter()
                .find(|t| t.resource_id() == rid && t.scalable_dimension() == &dim)
            else {
                continue;
            };
            let p = props([
                ("service_namespace", json!(t.service_namespace().as_str())),
                ("resource_id", json!(rid)),
                ("scalable_dimension", json!(t.scalable_dimension().as_str())),
                ("min_capacity", json!(t.min_capacity())),
                ("max_capacity", json!(t.max_capacity())),
            ]);
            let a = attrs([("resource_id", json!(rid)), ("arn", json!(t.scalable_target_arn()))]);
            out.push(Observed::new(id.clone(), None, p).with(a));
        }
        Ok(out)
    }

    async fn create(&self, _ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let id = key(p);
        let arn = self.register(&id, p).await?;
        let rid = s(p, "resource_id").unwrap_or_default();
        Ok(Created::new(id).with(attrs([("resource_id", json!(rid)), ("arn", json!(arn))])))
    }

    async fn update(&self, _ctx: &Context, id: &str, _old: &Props, new: &Props) -> Result<Attrs> {
        let arn = self.register(id, new).await?;
        Ok(attrs([("arn", json!(arn))]))
    }

    /// A target already gone (`ObjectNotFoundException`, "No scalable
    /// target registered") is a not-found, which the engine takes as done.
    async fn delete(&self, _ctx: &Context, id: &str, _p: &Props) -> Result<()> {
        let (ns, rid, dim, _) = parts(id).ok_or_else(|| bad_id(id))?;
        send!(
            self.0
                .appscaling
                .deregister_scalable_target()
                .service_namespace(ns)
                .resource_id(rid)
                .scalable_dimension(dim)
        )?;
        Ok(())
    }
}

impl Target {
    /// RegisterScalableTarget: creates or updates, so a lost answer's
    /// retry makes no second target.
    async fn register(&self, id: &str, p: &Props) -> Result<Option<String>> {
        let (ns, rid, dim, _) = parts(id).ok_or_else(|| bad_id(id))?;
        let out = send!(
            self.0
                .appscaling
                .register_scalable_target()
                .service_namespace(ns)
                .resource_id(rid)
                .scalable_dimension(dim)
                .set_min_capacity(i(p, "min_capacity"))
                .set_max_capacity(i(p, "max_capacity"))
        )?;
        Ok(out.scalable_target_arn().map(str::to_string))
    }
}

// --- scaling policy -----------------------------------------------------------

pub static POLICY: Schema = Schema::new(
    "aws.appautoscaling.policy",
    "A target-tracking scaling policy of a scalable target: keeps a metric near a value. Not taggable: found by its target and name.",
)
.properties(rows! {
    Prop::new("name", Type::String, "The policy name; `<stack>-<id>` when omitted.").replace(),
    Prop::new("service_namespace", Type::Enum(NAMESPACES), "The target's namespace.").default(Default::Str("ecs")).replace(),
    Prop::new("resource_id", Type::String, "The target's resource, usually `${target.resource_id}`.").required().replace(),
    Prop::new("scalable_dimension", Type::Enum(DIMENSIONS), "The target's dimension.").default(Default::Str("ecs:service:DesiredCount")).replace(),
    Prop::new("predefined_metric", Type::Enum(METRICS), "The metric kept near `target_value`.").required(),
    Prop::new("target_value", Type::Int, "The value to keep it at (a percentage for the utilisation metrics).").range(1, 100).required(),
    Prop::new("scale_in_cooldown", Type::Int, "Seconds after a scale-in before the next.").at_least(0).default(Default::Int(300)),
    Prop::new("scale_out_cooldown", Type::Int, "Seconds after a scale-out before the next.").at_least(0).default(Default::Int(300)),
})
.attributes(rows! {
    Attr::new("arn", Type::String, "The policy's ARN."),
})
.notes("PutScalingPolicy creates or replaces it in place. Application Auto Scaling makes the CloudWatch alarms of a target-tracking policy itself and deletes them with it.")
.untagged()
.free();

kind! { Policy, POLICY }

fn policy_name(ctx: &Context, logical: &str, p: &Props) -> String {
    s(p, "name").unwrap_or_else(|| unique_name(&ctx.stack, logical, 255))
}

#[async_trait]
impl ResourceKind for Policy {
    async fn read(&self, _ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut out = Vec::new();
        for (id, _) in &q.known {
            let Some((ns, rid, dim, Some(name))) = parts(id) else { continue };
            let got = send!(
                self.0
                    .appscaling
                    .describe_scaling_policies()
                    .service_namespace(ns.clone())
                    .resource_id(rid)
                    .scalable_dimension(dim.clone())
                    .policy_names(name)
            )?;
            // moto ignores PolicyNames: the name is matched here.
            let Some(pol) = got.scaling_policies().iter().find(|x| x.policy_name() == name) else {
                continue;
            };
            let tt = pol.target_tracking_scaling_policy_configuration();
            let metric = tt
                .and_then(|c| c.predefined_metric_specification())
                .map(|m| m.predefined_metric_type().as_str().to_string());
            let p = props([
                ("name", json!(name)),
                ("service_namespace", json!(ns.as_str())),
                ("resource_id", json!(rid)),
                ("scalable_dimension", json!(dim.as_str())),
                ("predefined_metric", json!(metric)),
                ("target_value", json!(tt.map(|c| c.target_value().round() as i64))),
                ("scale_in_cooldown", json!(tt.and_then(|c| c.scale_in_cooldown()))),
                ("scale_out_cooldown", json!(tt.and_then(|c| c.scale_out_cooldown()))),
            ]);
            let a = attrs([("arn", json!(pol.policy_arn()))]);
            out.push(Observed::new(id.clone(), None, p).with(a));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let id = format!("{}|{}", key(p), policy_name(ctx, &req.logical_id, p));
        let arn = self.put(&id, p).await?;
        Ok(Created::new(id).with(attrs([("arn", json!(arn))])))
    }

    async fn update(&self, _ctx: &Context, id: &str, _old: &Props, new: &Props) -> Result<Attrs> {
        let arn = self.put(id, new).await?;
        Ok(attrs([("arn", json!(arn))]))
    }

    async fn delete(&self, _ctx: &Context, id: &str, _p: &Props) -> Result<()> {
        let (ns, rid, dim, name) = parts(id).ok_or_else(|| bad_id(id))?;
        let name = name.ok_or_else(|| bad_id(id))?;
        send!(
            self.0
                .appscaling
                .delete_scaling_policy()
                .policy_name(name)
                .service_namespace(ns)
                .resource_id(rid)
                .scalable_dimension(dim)
        )?;
        Ok(())
    }
}

impl Policy {
    /// PutScalingPolicy: creates or replaces, so a lost answer's retry
    /// makes no second policy.
    async fn put(&self, id: &str, p: &Props) -> Result<Option<String>> {
        let (ns, rid, dim, name) = parts(id).ok_or_else(|| bad_id(id))?;
        let name = name.ok_or_else(|| bad_id(id))?;
        let metric = PredefinedMetricSpecification::builder()
            .predefined_metric_type(MetricType::from(
                s(p, "predefined_metric").unwrap_or_default().as_str(),
            ))
            .build()
            .map_err(|e| ProviderError::new(e.to_string()))?;
        let config = TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(f64::from(i(p, "target_value").unwrap_or(60)))
            .predefined_metric_specification(metric)
            .set_scale_in_cooldown(i(p, "scale_in_cooldown"))
            .set_scale_out_cooldown(i(p, "scale_out_cooldown"))
            .build()
            .map_err(|e| ProviderError::new(e.to_string()))?;
        let out = send!(
            self.0
                .appscaling
                .put_scaling_policy()
                .policy_name(name)
                .service_namespace(ns)
                .resource_id(rid)
                .scalable_dimension(dim)
                .policy_type(PolicyType::TargetTrackingScaling)
                .target_tracking_scaling_policy_configuration(config)
        )?;
        Ok(Some(out.policy_arn().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_the_resource_its_dimension_and_a_policy() {
        let p = props([("resource_id", json!("service/c/s"))]);
        assert_eq!(key(&p), "ecs|service/c/s|ecs:service:DesiredCount");
        let (ns, rid, dim, name) = parts("ecs|service/c/s|ecs:service:DesiredCount|cpu").unwrap();
        assert_eq!(
            (ns.as_str(), rid, dim.as_str(), name),
            ("ecs", "service/c/s", "ecs:service:DesiredCount", Some("cpu"))
        );
        assert!(parts("ecs|service/c/s").is_none());
    }
}
