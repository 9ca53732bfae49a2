//! `aws.ecs.service`: tasks kept running, optionally behind a load balancer.

use crate::aws::prelude::*;
use crate::schema::Default;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    DeploymentRolloutState, LaunchType, NetworkConfiguration, ServiceField,
};

use super::cluster::Cluster;
use super::common::*;

static LOAD_BALANCER: &[Prop] = rows! {

    Prop::new("target_group_arn", Type::String, "The target group.").required(),

    Prop::new("container_name", Type::String, "The container to send traffic to.").required(),

    Prop::new("container_port", Type::Int, "Its port.").range(1, 65535).required(),

};

pub static SERVICE: Schema = Schema::new("aws.ecs.service", "An ECS service: keeps tasks of a task definition running.")
    .properties(rows! {
        Prop::new("cluster", Type::String, "The cluster name.").required().replace(),
        Prop::new("name", Type::String, "The service name; derived from the stack and id when omitted.").replace(),
        Prop::new("task_definition", Type::String, "The task definition ARN.").required(),
        Prop::new("desired_count", Type::Int, "How many tasks to run.").at_least(0).default(Default::Int(1)),
        Prop::new("launch_type", Type::Enum(&["FARGATE", "EC2"]), "Where tasks run.").default(Default::Str("FARGATE")).replace(),
        Prop::new("subnets", Type::List(&Type::String), "Subnets of the tasks (awsvpc)."),
        Prop::new("security_groups", Type::List(&Type::String), "Security groups of the tasks (awsvpc)."),
        Prop::new("assign_public_ip", Type::Bool, "Give tasks public IPs (only for public subnets without NAT).").default(Default::Bool(false)),
        Prop::new("load_balancers", Type::List(&Type::Object(LOAD_BALANCER)), "Target groups to register tasks with."),
        Prop::new("health_check_grace_period_seconds", Type::Int, "Seconds to ignore load balancer health checks after a task starts.").range(0, 2147483647),
        Prop::new("deployment_maximum_percent", Type::Int, "Upper limit of running tasks during a deployment, in % of desired.").at_least(0).default(Default::Int(200)),
        Prop::new("deployment_minimum_healthy_percent", Type::Int, "Lower limit of healthy tasks during a deployment, in % of desired.").range(0, 100).default(Default::Int(100)),
        Prop::new("circuit_breaker", Type::Bool, "Stop a deployment whose tasks keep failing.").default(Default::Bool(true)),
        Prop::new("circuit_breaker_rollback", Type::Bool, "Roll a stopped deployment back to the last working one.").default(Default::Bool(true)),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The service's ARN."),
        Attr::new("name", Type::String, "Its name."),
    })
    .notes("Apply waits for the rollout; destroy scales to 0, deletes and waits until inactive.")
    .cost(service_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["cluster", "name"], "service names are unique within a cluster"));

kind! { Service, SERVICE }

/// The cluster name in a service ARN
/// (`arn:aws:ecs:<region>:<account>:service/<cluster>/<name>`).
fn cluster_of(arn: &str) -> Option<&str> {
    let path = arn.split_once(":service/")?.1;
    path.split_once('/').map(|(c, _)| c)
}

fn network(p: &Props) -> Option<NetworkConfiguration> {
    let subnets = list(p, "subnets");
    if subnets.is_empty() {
        return None;
    }
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(subnets))
        .set_security_groups(Some(list(p, "security_groups")))
        .assign_public_ip(if b(p, "assign_public_ip") == Some(true) {
            AssignPublicIp::Enabled
        } else {
            AssignPublicIp::Disabled
        })
        .build()
        .expect("subnets are set");
    Some(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
}

fn load_balancers(p: &Props) -> Vec<aws_sdk_ecs::types::LoadBalancer> {
    let Some(Value::Array(items)) = p.get("load_balancers") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|v| v.as_object())
        .map(|lb| {
            aws_sdk_ecs::types::LoadBalancer::builder()
                .set_target_group_arn(s(lb, "target_group_arn"))
                .set_container_name(s(lb, "container_name"))
                .set_container_port(i(lb, "container_port"))
                .build()
        })
        .collect()
}

fn deployment(p: &Props) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .set_maximum_percent(i(p, "deployment_maximum_percent"))
        .set_minimum_healthy_percent(i(p, "deployment_minimum_healthy_percent"))
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(b(p, "circuit_breaker").unwrap_or(true))
                .rollback(b(p, "circuit_breaker_rollback").unwrap_or(true))
                .build(),
        )
        .build()
}

const DEPLOYMENT: &[&str] = &[
    "deployment_maximum_percent",
    "deployment_minimum_healthy_percent",
    "circuit_breaker",
    "circuit_breaker_rollback",
];

fn service_props(svc: &aws_sdk_ecs::types::Service, user_tags: Value) -> Props {
    let mut p = props([
        ("cluster", json!(svc.cluster_arn().map(arn_name))),
        ("name", json!(svc.service_name())),
        ("task_definition", json!(svc.task_definition())),
        ("desired_count", json!(svc.desired_count())),
        ("launch_type", json!(svc.launch_type().map(|l| l.as_str()))),
    ]);
    let vpc = svc.network_configuration().and_then(|n| n.awsvpc_configuration());
    p.extend(props([
        ("subnets", json!(vpc.map(|v| v.subnets()))),
        ("security_groups", json!(vpc.map(|v| v.security_groups()))),
        (
            "assign_public_ip",
            json!(
                vpc.and_then(|v| v.assign_public_ip())
                    .map(|a| *a == AssignPublicIp::Enabled)
                    .unwrap_or(false)
            ),
        ),
    ]));
    let lbs: Vec<Value> = svc
        .load_balancers()
        .iter()
        .map(|lb| {
            json!({
                "target_group_arn": lb.target_group_arn(),
                "container_name": lb.container_name(),
                "container_port": lb.container_port(),
            })
        })
        .collect();
    p.extend(props([
        ("load_balancers", if lbs.is_empty() { Value::Null } else { Value::Array(lbs) }),
        ("health_check_grace_period_seconds", json!(svc.health_check_grace_period_seconds())),
    ]));
    // Left out when the API returns no deployment configuration (moto
    // never does), so the values last applied stand in for them instead
    // of showing as drift.
    if let Some(dc) = svc.deployment_configuration() {
        p.extend(props([
            ("deployment_maximum_percent", json!(dc.maximum_percent())),
            ("deployment_minimum_healthy_percent", json!(dc.minimum_healthy_percent())),
        ]));
        if let Some(cb) = dc.deployment_circuit_breaker() {
            p.extend(props([
                ("circuit_breaker", json!(cb.enable())),
                ("circuit_breaker_rollback", json!(cb.rollback())),
            ]));
        }
    }
    p.insert("tags".into(), user_tags);
    p
}

fn service_attrs(svc: &aws_sdk_ecs::types::Service) -> Attrs {
    attrs([("arn", json!(svc.service_arn())), ("name", json!(svc.service_name()))])
}

impl Service {
    /// Services of one cluster by ARN or name, 10 per call, with tags.
    async fn describe(
        &self,
        cluster: &str,
        services: Vec<String>,
    ) -> Result<Vec<aws_sdk_ecs::types::Service>> {
        let mut out = Vec::new();
        for chunk in services.chunks(10) {
            match send!(
                self.0
                    .ecs
                    .describe_services()
                    .cluster(cluster)
                    .set_services(Some(chunk.to_vec()))
                    .include(ServiceField::Tags)
            )
            .map_err(not_found)
            {
                Ok(r) => out.extend(r.services().iter().cloned()),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn one(&self, arn: &str) -> Result<Option<aws_sdk_ecs::types::Service>> {
        let cluster = cluster_of(arn).ok_or_else(|| {
            ProviderError::new(format!("`{arn}` is not a service ARN with a cluster"))
        })?;
        Ok(self.describe(cluster, vec![arn.to_string()]).await?.into_iter().next())
    }
}

#[async_trait]
impl ResourceKind for Service {
    /// The stack's clusters, then their services.
    fn read_rounds(&self) -> usize {
        2
    }

    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut by_cluster: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (arn, p) in &q.known {
            let cluster =
                cluster_of(arn).map(str::to_string).or_else(|| s(p, "cluster")).unwrap_or_default();
            by_cluster.entry(cluster).or_default().insert(arn.clone());
        }
        // The recorded services are described at once, beside the listing
        // that finds lost ones (clusters, then their services); only what
        // the listing adds is described after it.
        let recorded = futures_util::future::try_join_all(
            by_cluster
                .iter()
                .map(|(cluster, arns)| self.describe(cluster, arns.iter().cloned().collect())),
        );
        let discovered = async {
            if !q.discover {
                return Ok(Vec::new());
            }
            let clusters = Cluster(self.0.clone()).of_stack(ctx).await?;
            let listed = futures_util::future::try_join_all(clusters.into_iter().map(
                |cluster| async move {
                    let arns: Vec<String> =
                        paginate!(self.0.ecs.list_services().cluster(&cluster))?;
                    Ok::<_, ProviderError>((cluster, arns))
                },
            ))
            .await?;
            let new = listed.into_iter().map(|(cluster, arns)| {
                let arns: Vec<String> =
                    arns.into_iter().filter(|a| !q.known.iter().any(|(id, _)| id == a)).collect();
                async move {
                    if arns.is_empty() {
                        Ok(Vec::new())
                    } else {
                        self.describe(&cluster, arns).await
                    }
                }
            });
            futures_util::future::try_join_all(new).await
        };
        let (recorded, discovered) = futures_util::future::try_join(recorded, discovered).await?;
        let mut out = Vec::new();
        for svc in recorded.into_iter().chain(discovered).flatten() {
            // DRAINING and INACTIVE services are on their way out.
            if svc.status() != Some("ACTIVE") {
                continue;
            }
            let arn = svc.service_arn().unwrap_or_default().to_string();
            let (user, logical) = split_tags(ctx, ecs_tags(svc.tags()));
            if logical.unclaimed() && !q.known.iter().any(|(id, _)| *id == arn) {
                continue;
            }
            out.push(
                Observed::new(arn, logical, service_props(&svc, user)).with(service_attrs(&svc)),
            );
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name =
            s(p, "name").unwrap_or_else(|| unique_name(&ctx.stack, &req.logical_id, NAME_MAX));
        let lbs = load_balancers(p);
        let r = send!(
            self.0
                .ecs
                .create_service()
                .client_token(&req.token)
                .cluster(s(p, "cluster").unwrap_or_default())
                .service_name(&name)
                .set_task_definition(s(p, "task_definition"))
                .desired_count(i(p, "desired_count").unwrap_or(1))
                .launch_type(LaunchType::from(s(p, "launch_type").as_deref().unwrap_or("FARGATE"),))
                .set_network_configuration(network(p))
                .set_load_balancers((!lbs.is_empty()).then_some(lbs))
                .set_health_check_grace_period_seconds(i(p, "health_check_grace_period_seconds"))
                .deployment_configuration(deployment(p))
                .set_tags(Some(tags(ctx, &req.logical_id, p)))
        )?;
        let svc = r.service().ok_or_else(|| ProviderError::no_id(self.schema().kind))?;
        Ok(Created::new(created_id(svc.service_arn(), self.schema().kind)?)
            .with(service_attrs(svc)))
    }

    async fn update(&self, _ctx: &Context, arn: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let differs = |keys: &[&str]| keys.iter().any(|k| old.get(*k) != new.get(*k));
        let mut call = self
            .0
            .ecs
            .update_service()
            .cluster(
                cluster_of(arn)
                    .map(str::to_string)
                    .or_else(|| s(new, "cluster"))
                    .unwrap_or_default(),
            )
            .service(arn);
        let mut any = false;
        if differs(&["task_definition"]) {
            call = call.set_task_definition(s(new, "task_definition"));
            any = true;
        }
        if differs(&["desired_count"]) {
            call = call.set_desired_count(i(new, "desired_count"));
            any = true;
        }
        if set_changed(old, new, "subnets")
            || set_changed(old, new, "security_groups")
            || differs(&["assign_public_ip"])
        {
            call = call.set_network_configuration(network(new));
            any = true;
        }
        if differs(&["load_balancers"]) {
            call = call.set_load_balancers(Some(load_balancers(new)));
            any = true;
        }
        if differs(&["health_check_grace_period_seconds"]) {
            call = call
                .set_health_check_grace_period_seconds(i(new, "health_check_grace_period_seconds"));
            any = true;
        }
        if differs(DEPLOYMENT) {
            call = call.deployment_configuration(deployment(new));
            any = true;
        }
        if any {
            send!(call)?;
        }
        sync_tags(&self.0, arn, old, new).await?;
        Ok(Attrs::new())
    }

    /// Ready when the newest deployment has rolled out; a deployment the
    /// circuit breaker stopped is an error that says why.
    async fn poll_ready(&self, _ctx: &Context, arn: &str) -> Result<Option<Attrs>> {
        let Some(svc) = self.one(arn).await? else {
            return Ok(None);
        };
        let Some(primary) = svc.deployments().iter().find(|d| d.status() == Some("PRIMARY")) else {
            return Ok(None);
        };
        match primary.rollout_state() {
            Some(DeploymentRolloutState::Completed) => Ok(Some(service_attrs(&svc))),
            Some(DeploymentRolloutState::Failed) => Err(ProviderError::new(format!(
                "the deployment failed: {}",
                primary.rollout_state_reason().unwrap_or("its tasks did not become healthy")
            ))),
            Some(_) => Ok(None),
            // No rollout state (other deployment controllers): steady
            // when one deployment runs all desired tasks.
            None => Ok((svc.deployments().len() == 1
                && svc.running_count() == svc.desired_count())
            .then(|| service_attrs(&svc))),
        }
    }

    /// Scales to zero first, so tasks stop and deregister from their
    /// target groups, then deletes; `poll_deleted` waits for INACTIVE.
    async fn delete(&self, _ctx: &Context, arn: &str, p: &Props) -> Result<()> {
        let cluster =
            cluster_of(arn).map(str::to_string).or_else(|| s(p, "cluster")).unwrap_or_default();
        // No `.partial()` here: that marks a create that made its resource,
        // which is never retried; a throttled scale-down must be.
        send!(self.0.ecs.update_service().cluster(&cluster).service(arn).desired_count(0))
            .map_err(not_found)?;
        send!(self.0.ecs.delete_service().cluster(&cluster).service(arn)).map_err(not_found)?;
        Ok(())
    }

    async fn poll_deleted(&self, _ctx: &Context, arn: &str) -> Result<bool> {
        Ok(self.one(arn).await?.is_none_or(|s| s.status() == Some("INACTIVE")))
    }

    fn expected_duration(&self, op: Op) -> Duration {
        match op {
            Op::Create => Duration::from_secs(120),
            Op::Update => Duration::from_secs(120),
            Op::Delete => Duration::from_secs(60),
        }
    }

    fn normalize(&self, p: &mut Props) {
        sort_sets(p, &["subnets", "security_groups"]);
        if let Some(c) = s(p, "cluster")
            && c.starts_with("arn:")
        {
            p.insert("cluster".into(), json!(arn_name(&c)));
        }
    }
}

/// Fargate tasks bill their task size per hour (from the task definition
/// the service runs), and a public IPv4 address each when assigned one;
/// tasks on EC2 are billed through their instances.
fn service_cost(c: &CostInput) -> Cost {
    if c.str("launch_type") == Some("EC2") {
        return Ok(Estimate::free());
    }
    let count = c.int("desired_count").ok_or("its task count is known only after apply")?;
    let td = c
        .dep(super::task_definition::TASK_DEFINITION.kind)
        .ok_or("its task definition is not in the stack")?;
    let units = |k: &str| {
        td.get(k)
            .and_then(|v| v.as_str().and_then(|s| s.parse::<f64>().ok()).or_else(|| v.as_f64()))
            .ok_or_else(|| format!("the task definition's {k} is known only after apply"))
    };
    let (vcpu, gb) = (units("cpu")? / 1024.0, units("memory")? / 1024.0);
    let per_task = vcpu * c.price("fargate_vcpu_hour")? + gb * c.price("fargate_gb_hour")?;
    let mut e = Estimate::free().charge(
        format!("{count} Fargate task(s) of {vcpu} vCPU, {gb} GB"),
        count as f64 * per_task,
    );
    if c.props.get("assign_public_ip").and_then(|v| v.as_bool()) == Some(true) {
        e = e.charge(
            format!("{count} public IPv4 address(es)"),
            count as f64 * c.price("public_ipv4_hour")?,
        );
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_arns_name_their_cluster() {
        assert_eq!(
            cluster_of("arn:aws:ecs:us-east-1:123456789012:service/dev-cluster/web"),
            Some("dev-cluster")
        );
        assert_eq!(cluster_of("arn:aws:ecs:us-east-1:1:service/web"), None);
    }
}
