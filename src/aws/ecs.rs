//! Amazon ECS: `aws.ecs.cluster`, `aws.ecs.task_definition` and
//! `aws.ecs.service`.
//!
//! - A cluster's physical id is its name (derived from the stack when
//!   omitted, so two stacks never share one).
//! - A task definition's physical id is the ARN of one revision. Every
//!   property but `tags` forces a replacement: a change registers a new
//!   revision, the services using it are updated to it, and the old
//!   revision is deregistered and deleted.
//! - A service's physical id is its ARN. Creating or updating one waits
//!   for the rollout to complete; the deployment circuit breaker (on by
//!   default) turns a task that never becomes healthy into an error within
//!   minutes instead of an endless wait. Deleting one scales it to zero,
//!   deletes it and waits until it is INACTIVE, so its tasks' network
//!   interfaces are gone before the subnets and security groups are
//!   deleted.
//!
//! moto completes rollouts instantly (`MOTO_ECS_SERVICE_RUNNING`) and never
//! drains: tests prove the calls and their order, not AWS's timing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ClusterField, Compatibility, ContainerDefinition,
    DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentRolloutState, KeyValuePair,
    LaunchType, LogConfiguration, LogDriver, NetworkConfiguration, NetworkMode, PortMapping,
    ServiceField, Tag, TaskDefinitionField, TransportProtocol,
};
use serde_json::{Map, Value, json};

use crate::aws::client::Clients;
use crate::aws::error::err;
use crate::aws::values::{
    TagChanges, b, create_tags, i, list, s, set_changed, sort_sets, split_tags, unique_name,
};
use crate::provider::{
    Attrs, Context, CreateRequest, Created, Observed, Op, Props, ProviderError, ReadQuery,
    ResourceKind,
};
use crate::schema::{Attr, Default, Prop, Schema, Type};

const NAME_MAX: usize = 255;

pub static CLUSTER: Schema = Schema {
    kind: "aws.ecs.cluster",
    doc: "An ECS cluster.",
    properties: &[Prop::new(
        "name",
        Type::String,
        "The cluster name; derived from the stack and id when omitted.",
    )
    .replace()],
    attributes: &[
        Attr::new("arn", Type::String, "The cluster's ARN."),
        Attr::new("name", Type::String, "Its name."),
    ],
    exactly_one_of: &[],
    taggable: true,
};

static PORT_MAPPING: &[Prop] = &[
    Prop::new(
        "container_port",
        Type::Int,
        "The port the container listens on.",
    )
    .required(),
    Prop::new("protocol", Type::Enum(&["tcp", "udp"]), "The protocol.")
        .default(Default::Str("tcp")),
];

static CONTAINER: &[Prop] = &[
    Prop::new("name", Type::String, "The container name.").required(),
    Prop::new("image", Type::String, "The image, e.g. `nginx:1.27`.").required(),
    Prop::new("cpu", Type::Int, "CPU units reserved for the container.").default(Default::Int(0)),
    Prop::new("memory", Type::Int, "Hard memory limit (MiB)."),
    Prop::new("memory_reservation", Type::Int, "Soft memory limit (MiB)."),
    Prop::new(
        "essential",
        Type::Bool,
        "Whether the task stops when this container stops.",
    )
    .default(Default::Bool(true)),
    Prop::new(
        "port_mappings",
        Type::List(&Type::Object(PORT_MAPPING)),
        "Ports the container exposes.",
    ),
    Prop::new("environment", Type::StringMap, "Environment variables."),
    Prop::new("command", Type::List(&Type::String), "The command to run."),
    Prop::new(
        "log_group",
        Type::String,
        "Send output to this CloudWatch Logs group (awslogs driver, stream prefix = container name).",
    ),
];

pub static TASK_DEFINITION: Schema = Schema {
    kind: "aws.ecs.task_definition",
    doc: "An ECS task definition. Any change registers a new revision.",
    properties: &[
        Prop::new(
            "family",
            Type::String,
            "The family; derived from the stack and id when omitted.",
        )
        .replace(),
        Prop::new(
            "compatibility",
            Type::Enum(&["FARGATE", "EC2"]),
            "Where tasks run.",
        )
        .default(Default::Str("FARGATE"))
        .replace(),
        Prop::new(
            "network_mode",
            Type::Enum(&["awsvpc", "bridge", "host", "none"]),
            "Task networking; Fargate needs `awsvpc`.",
        )
        .default(Default::Str("awsvpc"))
        .replace(),
        Prop::new(
            "cpu",
            Type::String,
            "Task CPU units (Fargate: 256, 512, 1024, 2048, 4096, 8192 or 16384).",
        )
        .replace(),
        Prop::new(
            "memory",
            Type::String,
            "Task memory in MiB (Fargate: a size allowed for the CPU).",
        )
        .replace(),
        Prop::new(
            "execution_role_arn",
            Type::String,
            "The role ECS uses to pull images and write logs.",
        )
        .replace(),
        Prop::new(
            "task_role_arn",
            Type::String,
            "The role the containers' code runs as.",
        )
        .replace(),
        Prop::new(
            "containers",
            Type::List(&Type::Object(CONTAINER)),
            "The containers.",
        )
        .required()
        .replace(),
    ],
    attributes: &[
        Attr::new("arn", Type::String, "The revision's ARN."),
        Attr::new("revision", Type::Int, "The revision number."),
        Attr::new("family", Type::String, "The family."),
    ],
    exactly_one_of: &[],
    taggable: true,
};

static LOAD_BALANCER: &[Prop] = &[
    Prop::new("target_group_arn", Type::String, "The target group.").required(),
    Prop::new(
        "container_name",
        Type::String,
        "The container to send traffic to.",
    )
    .required(),
    Prop::new("container_port", Type::Int, "Its port.").required(),
];

pub static SERVICE: Schema = Schema {
    kind: "aws.ecs.service",
    doc: "An ECS service: keeps tasks of a task definition running.",
    properties: &[
        Prop::new("cluster", Type::String, "The cluster name.")
            .required()
            .replace(),
        Prop::new(
            "name",
            Type::String,
            "The service name; derived from the stack and id when omitted.",
        )
        .replace(),
        Prop::new("task_definition", Type::String, "The task definition ARN.").required(),
        Prop::new("desired_count", Type::Int, "How many tasks to run.").default(Default::Int(1)),
        Prop::new(
            "launch_type",
            Type::Enum(&["FARGATE", "EC2"]),
            "Where tasks run.",
        )
        .default(Default::Str("FARGATE"))
        .replace(),
        Prop::new(
            "subnets",
            Type::List(&Type::String),
            "Subnets of the tasks (awsvpc).",
        ),
        Prop::new(
            "security_groups",
            Type::List(&Type::String),
            "Security groups of the tasks (awsvpc).",
        ),
        Prop::new(
            "assign_public_ip",
            Type::Bool,
            "Give tasks public IPs (only for public subnets without NAT).",
        )
        .default(Default::Bool(false)),
        Prop::new(
            "load_balancers",
            Type::List(&Type::Object(LOAD_BALANCER)),
            "Target groups to register tasks with.",
        ),
        Prop::new(
            "health_check_grace_period_seconds",
            Type::Int,
            "Seconds to ignore load balancer health checks after a task starts.",
        ),
        Prop::new(
            "deployment_maximum_percent",
            Type::Int,
            "Upper limit of running tasks during a deployment, in % of desired.",
        )
        .default(Default::Int(200)),
        Prop::new(
            "deployment_minimum_healthy_percent",
            Type::Int,
            "Lower limit of healthy tasks during a deployment, in % of desired.",
        )
        .default(Default::Int(100)),
        Prop::new(
            "circuit_breaker",
            Type::Bool,
            "Stop a deployment whose tasks keep failing.",
        )
        .default(Default::Bool(true)),
        Prop::new(
            "circuit_breaker_rollback",
            Type::Bool,
            "Roll a stopped deployment back to the last working one.",
        )
        .default(Default::Bool(true)),
    ],
    attributes: &[
        Attr::new("arn", Type::String, "The service's ARN."),
        Attr::new("name", Type::String, "Its name."),
    ],
    exactly_one_of: &[],
    taggable: true,
};

fn tags(ctx: &Context, logical_id: &str, p: &Props) -> Vec<Tag> {
    create_tags(ctx, logical_id, p)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn ecs_tags(t: &[Tag]) -> Vec<(&str, &str)> {
    t.iter()
        .filter_map(|t| Some((t.key()?, t.value()?)))
        .collect()
}

async fn sync_tags(c: &Clients, arn: &str, old: &Props, new: &Props) -> Result<(), ProviderError> {
    let tags = TagChanges::between(old, new);
    if !tags.removed.is_empty() {
        c.ecs
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(tags.removed.clone()))
            .send()
            .await
            .map_err(err)?;
    }
    let changed: Vec<Tag> = tags
        .set
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    if !changed.is_empty() {
        c.ecs
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(changed))
            .send()
            .await
            .map_err(err)?;
    }
    Ok(())
}

/// A service already deleted (`ServiceNotActiveException`) is as good as
/// gone; the other not-found codes are mapped by [`err`].
fn not_found(mut e: ProviderError) -> ProviderError {
    if e.code.as_deref() == Some("ServiceNotActiveException") {
        e.not_found = true;
    }
    e
}

/// The last path segment of an ARN (`…:cluster/name` → `name`).
fn arn_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn partial(id: &str) -> impl Fn(ProviderError) -> ProviderError + '_ {
    move |mut e| {
        e.partial_id = Some(id.to_string());
        e
    }
}

// ---------------------------------------------------------------- cluster

/// `aws.ecs.cluster`.
pub struct Cluster(pub Clients);

impl Cluster {
    /// Active clusters among `names` (100 per call), with tags.
    async fn describe(
        &self,
        names: Vec<String>,
    ) -> Result<Vec<aws_sdk_ecs::types::Cluster>, ProviderError> {
        let mut out = Vec::new();
        for chunk in names.chunks(100) {
            let r = self
                .0
                .ecs
                .describe_clusters()
                .set_clusters(Some(chunk.to_vec()))
                .include(ClusterField::Tags)
                .send()
                .await
                .map_err(err)?;
            out.extend(
                r.clusters()
                    .iter()
                    .filter(|c| c.status() == Some("ACTIVE"))
                    .cloned(),
            );
        }
        Ok(out)
    }

    /// The stack's clusters (those named with its prefix and tagged).
    async fn of_stack(&self, ctx: &Context) -> Result<Vec<String>, ProviderError> {
        let prefix = unique_name(&ctx.stack, "", NAME_MAX);
        let arns: Vec<String> = self
            .0
            .ecs
            .list_clusters()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(err)?;
        Ok(arns
            .iter()
            .map(|a| arn_name(a).to_string())
            .filter(|n| n.starts_with(&prefix))
            .collect())
    }
}

#[async_trait]
impl ResourceKind for Cluster {
    fn schema(&self) -> &'static Schema {
        &CLUSTER
    }

    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>, ProviderError> {
        let mut names: BTreeSet<String> = q.known.iter().map(|(id, _)| id.clone()).collect();
        if q.discover {
            names.extend(self.of_stack(ctx).await?);
        }
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for c in self.describe(names.into_iter().collect()).await? {
            let name = c.cluster_name().unwrap_or_default().to_string();
            let (user, logical) = split_tags(ctx, ecs_tags(c.tags()));
            if logical.is_none() && !q.known.iter().any(|(id, _)| *id == name) {
                continue;
            }
            let mut p = Props::new();
            p.insert("name".into(), json!(name));
            p.insert("tags".into(), user);
            let mut a = Attrs::new();
            a.insert("arn".into(), json!(c.cluster_arn()));
            a.insert("name".into(), json!(name));
            out.push(Observed {
                physical_id: name,
                logical_id: logical,
                properties: p,
                attributes: a,
            });
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created, ProviderError> {
        let p = &req.properties;
        let name =
            s(p, "name").unwrap_or_else(|| unique_name(&ctx.stack, &req.logical_id, NAME_MAX));
        let r = self
            .0
            .ecs
            .create_cluster()
            .cluster_name(&name)
            .set_tags(Some(tags(ctx, &req.logical_id, p)))
            .send()
            .await
            .map_err(err)?;
        let mut a = Attrs::new();
        a.insert(
            "arn".into(),
            json!(r.cluster().and_then(|c| c.cluster_arn())),
        );
        a.insert("name".into(), json!(name));
        Ok(Created {
            physical_id: name,
            attributes: a,
        })
    }

    async fn update(
        &self,
        _ctx: &Context,
        name: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Attrs, ProviderError> {
        let arn = self
            .describe(vec![name.to_string()])
            .await?
            .first()
            .and_then(|c| c.cluster_arn().map(str::to_string))
            .ok_or_else(|| ProviderError::new(format!("cluster {name} not found")).not_found())?;
        sync_tags(&self.0, &arn, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, name: &str, _p: &Props) -> Result<(), ProviderError> {
        match self
            .0
            .ecs
            .delete_cluster()
            .cluster(name)
            .send()
            .await
            .map_err(err)
        {
            Ok(_) => Ok(()),
            // Tasks of a just-deleted service are still stopping.
            Err(e)
                if matches!(
                    e.code.as_deref(),
                    Some(
                        "ClusterContainsServicesException"
                            | "ClusterContainsTasksException"
                            | "UpdateInProgressException"
                    )
                ) =>
            {
                Err(e.retry_within(Duration::from_secs(10 * 60)))
            }
            Err(e) => Err(e),
        }
    }
}

// ---------------------------------------------------------------- task definition

/// `aws.ecs.task_definition`.
pub struct TaskDefinition(pub Clients);

/// Fargate's allowed task sizes: CPU units → memory (MiB) range and step.
const FARGATE_SIZES: &[(u32, u32, u32, u32)] = &[
    (256, 512, 2048, 512),
    (512, 1024, 4096, 1024),
    (1024, 2048, 8192, 1024),
    (2048, 4096, 16384, 1024),
    (4096, 8192, 30720, 1024),
    (8192, 16384, 61440, 4096),
    (16384, 32768, 122880, 8192),
];

/// Checks a Fargate cpu/memory pair. `Err((message, help))`.
pub fn check_fargate_size(cpu: &str, memory: &str) -> Result<(), (String, String)> {
    let cpus: Vec<String> = FARGATE_SIZES.iter().map(|s| s.0.to_string()).collect();
    let Some(&(c, lo, hi, step)) = cpu
        .trim()
        .parse::<u32>()
        .ok()
        .and_then(|c| FARGATE_SIZES.iter().find(|s| s.0 == c))
    else {
        return Err((
            format!("`cpu` {cpu} is not a Fargate task size"),
            format!("use one of {}", cpus.join(", ")),
        ));
    };
    let allowed = |lo: u32, hi: u32, step: u32| -> String {
        // 256 CPU units allow 512, 1024 and 2048 (the only uneven row).
        if c == 256 {
            "512, 1024 or 2048".into()
        } else {
            format!("{lo} to {hi} in steps of {step}")
        }
    };
    let ok = match memory.trim().parse::<u32>() {
        Ok(m) if c == 256 => matches!(m, 512 | 1024 | 2048),
        Ok(m) => m >= lo && m <= hi && (m - lo) % step == 0,
        Err(_) => false,
    };
    if ok {
        Ok(())
    } else {
        Err((
            format!("Fargate does not run {cpu} CPU units with {memory} MiB of memory"),
            format!("with cpu {c}, memory must be {} MiB", allowed(lo, hi, step)),
        ))
    }
}

fn containers(p: &Props, region: &str) -> Vec<ContainerDefinition> {
    let Some(Value::Array(items)) = p.get("containers") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|c| c.as_object())
        .map(|c| {
            let mut b = ContainerDefinition::builder()
                .set_name(s(c, "name"))
                .set_image(s(c, "image"))
                .set_cpu(i(c, "cpu"))
                .set_memory(i(c, "memory"))
                .set_memory_reservation(i(c, "memory_reservation"))
                .set_essential(crate::aws::values::b(c, "essential"));
            if let Some(Value::Array(ports)) = c.get("port_mappings") {
                for pm in ports.iter().filter_map(|v| v.as_object()) {
                    b = b.port_mappings(
                        PortMapping::builder()
                            .set_container_port(i(pm, "container_port"))
                            .protocol(TransportProtocol::from(
                                s(pm, "protocol").as_deref().unwrap_or("tcp"),
                            ))
                            .build(),
                    );
                }
            }
            if let Some(Value::Object(env)) = c.get("environment") {
                for (k, v) in env {
                    b = b.environment(
                        KeyValuePair::builder()
                            .name(k)
                            .value(v.as_str().unwrap_or_default())
                            .build(),
                    );
                }
            }
            let command = list(c, "command");
            if !command.is_empty() {
                b = b.set_command(Some(command));
            }
            if let Some(group) = s(c, "log_group") {
                let options: HashMap<String, String> = [
                    ("awslogs-group".to_string(), group),
                    ("awslogs-region".to_string(), region.to_string()),
                    (
                        "awslogs-stream-prefix".to_string(),
                        s(c, "name").unwrap_or_default(),
                    ),
                ]
                .into();
                b = b.log_configuration(
                    LogConfiguration::builder()
                        .log_driver(LogDriver::Awslogs)
                        .set_options(Some(options))
                        .build()
                        .expect("log driver is set"),
                );
            }
            b.build()
        })
        .collect()
}

/// A live container definition in the blueprint's shape.
fn container_value(c: &ContainerDefinition) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(c.name()));
    m.insert("image".into(), json!(c.image()));
    m.insert("cpu".into(), json!(c.cpu()));
    m.insert("memory".into(), json!(c.memory()));
    m.insert("memory_reservation".into(), json!(c.memory_reservation()));
    m.insert("essential".into(), json!(c.essential().unwrap_or(true)));
    m.insert(
        "port_mappings".into(),
        Value::Array(
            c.port_mappings()
                .iter()
                .map(|pm| {
                    json!({
                        "container_port": pm.container_port(),
                        "protocol": pm.protocol().map_or("tcp", |p| p.as_str()),
                    })
                })
                .collect(),
        ),
    );
    m.insert(
        "environment".into(),
        Value::Object(
            c.environment()
                .iter()
                .filter_map(|kv| Some((kv.name()?.to_string(), json!(kv.value()?))))
                .collect(),
        ),
    );
    m.insert("command".into(), json!(c.command()));
    m.insert(
        "log_group".into(),
        json!(
            c.log_configuration()
                .filter(|l| *l.log_driver() == LogDriver::Awslogs)
                .and_then(|l| l.options())
                .and_then(|o| o.get("awslogs-group"))
        ),
    );
    Value::Object(m)
}

/// Drops null, empty-list and empty-map fields of each container, so an
/// unset field and the API's empty default compare equal.
fn normalize_containers(p: &mut Props) {
    if let Some(Value::Array(items)) = p.get_mut("containers") {
        for c in items.iter_mut() {
            if let Value::Object(m) = c {
                m.retain(|_, v| match v {
                    Value::Null => false,
                    Value::Array(a) => !a.is_empty(),
                    Value::Object(o) => !o.is_empty(),
                    _ => true,
                });
            }
        }
    }
}

fn td_attrs(td: &aws_sdk_ecs::types::TaskDefinition) -> Attrs {
    let mut a = Attrs::new();
    a.insert("arn".into(), json!(td.task_definition_arn()));
    a.insert("revision".into(), json!(td.revision()));
    a.insert("family".into(), json!(td.family()));
    a
}

impl TaskDefinition {
    async fn describe(
        &self,
        arn: &str,
    ) -> Result<Option<(aws_sdk_ecs::types::TaskDefinition, Vec<Tag>)>, ProviderError> {
        match self
            .0
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(err)
        {
            Ok(r) => Ok(r
                .task_definition()
                .cloned()
                .map(|td| (td, r.tags().to_vec()))),
            // An unknown revision is a ClientException.
            Err(e) if e.code.as_deref() == Some("ClientException") => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl ResourceKind for TaskDefinition {
    fn schema(&self) -> &'static Schema {
        &TASK_DEFINITION
    }

    /// One DescribeTaskDefinition per recorded revision (the API has no
    /// batched form); discovery lists the active revisions of the stack's
    /// families.
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>, ProviderError> {
        let mut arns: BTreeSet<String> = q.known.iter().map(|(id, _)| id.clone()).collect();
        if q.discover {
            let listed: Vec<String> = self
                .0
                .ecs
                .list_task_definitions()
                .family_prefix(unique_name(&ctx.stack, "", NAME_MAX))
                .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(err)?;
            arns.extend(listed);
        }
        let mut out = Vec::new();
        for arn in arns {
            let Some((td, tags)) = self.describe(&arn).await? else {
                continue;
            };
            if td.status() != Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Active) {
                continue;
            }
            let (user, logical) = split_tags(ctx, ecs_tags(&tags));
            let known = q.known.iter().any(|(id, _)| *id == arn);
            if logical.is_none() && !known {
                continue;
            }
            let mut p = Props::new();
            p.insert("family".into(), json!(td.family()));
            p.insert(
                "compatibility".into(),
                json!(td.requires_compatibilities().first().map(|c| c.as_str())),
            );
            p.insert(
                "network_mode".into(),
                json!(td.network_mode().map(|n| n.as_str())),
            );
            p.insert("cpu".into(), json!(td.cpu()));
            p.insert("memory".into(), json!(td.memory()));
            p.insert("execution_role_arn".into(), json!(td.execution_role_arn()));
            p.insert("task_role_arn".into(), json!(td.task_role_arn()));
            p.insert(
                "containers".into(),
                Value::Array(
                    td.container_definitions()
                        .iter()
                        .map(container_value)
                        .collect(),
                ),
            );
            p.insert("tags".into(), user);
            out.push(Observed {
                physical_id: td.task_definition_arn().unwrap_or(&arn).to_string(),
                logical_id: logical,
                properties: p,
                attributes: td_attrs(&td),
            });
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created, ProviderError> {
        let p = &req.properties;
        let family =
            s(p, "family").unwrap_or_else(|| unique_name(&ctx.stack, &req.logical_id, NAME_MAX));
        let r = self
            .0
            .ecs
            .register_task_definition()
            .family(family)
            .requires_compatibilities(Compatibility::from(
                s(p, "compatibility").as_deref().unwrap_or("FARGATE"),
            ))
            .network_mode(NetworkMode::from(
                s(p, "network_mode").as_deref().unwrap_or("awsvpc"),
            ))
            .set_cpu(s(p, "cpu"))
            .set_memory(s(p, "memory"))
            .set_execution_role_arn(s(p, "execution_role_arn"))
            .set_task_role_arn(s(p, "task_role_arn"))
            .set_container_definitions(Some(containers(p, &self.0.region)))
            .set_tags(Some(tags(ctx, &req.logical_id, p)))
            .send()
            .await
            .map_err(err)?;
        let td = r
            .task_definition()
            .ok_or_else(|| ProviderError::new("RegisterTaskDefinition returned nothing"))?;
        Ok(Created {
            physical_id: td.task_definition_arn().unwrap_or_default().to_string(),
            attributes: td_attrs(td),
        })
    }

    /// Only tags change in place.
    async fn update(
        &self,
        _ctx: &Context,
        arn: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Attrs, ProviderError> {
        sync_tags(&self.0, arn, old, new).await?;
        Ok(Attrs::new())
    }

    /// Deregisters the revision (running tasks keep it), then asks for its
    /// deletion so nothing of the stack stays listed.
    async fn delete(&self, _ctx: &Context, arn: &str, _p: &Props) -> Result<(), ProviderError> {
        match self
            .0
            .ecs
            .deregister_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(err)
        {
            Ok(_) => {}
            // Already deregistered or gone.
            Err(e) if e.code.as_deref() == Some("ClientException") => {}
            Err(e) => return Err(e),
        }
        self.0
            .ecs
            .delete_task_definitions()
            .task_definitions(arn)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    fn check(&self, p: &Props) -> Result<(), (String, String)> {
        if s(p, "compatibility").as_deref() != Some("FARGATE") {
            return Ok(());
        }
        if let Some(mode) = s(p, "network_mode")
            && mode != "awsvpc"
        {
            return Err((
                format!("Fargate tasks need `network_mode: awsvpc`, not `{mode}`"),
                "remove `network_mode` (awsvpc is the default) or set it to awsvpc".into(),
            ));
        }
        match (s(p, "cpu"), s(p, "memory")) {
            (Some(cpu), Some(memory)) => check_fargate_size(&cpu, &memory),
            // Unknown until apply (a reference): checked by AWS then.
            _ if !p.contains_key("cpu") || !p.contains_key("memory") => Err((
                "Fargate task definitions need both `cpu` and `memory`".into(),
                "set e.g. `cpu: 256` and `memory: 512`".into(),
            )),
            _ => Ok(()),
        }
    }

    fn normalize(&self, p: &mut Props) {
        normalize_containers(p);
    }
}

// ---------------------------------------------------------------- service

/// `aws.ecs.service`.
pub struct Service(pub Clients);

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
    Some(
        NetworkConfiguration::builder()
            .awsvpc_configuration(vpc)
            .build(),
    )
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
    let mut p = Props::new();
    p.insert("cluster".into(), json!(svc.cluster_arn().map(arn_name)));
    p.insert("name".into(), json!(svc.service_name()));
    p.insert("task_definition".into(), json!(svc.task_definition()));
    p.insert("desired_count".into(), json!(svc.desired_count()));
    p.insert(
        "launch_type".into(),
        json!(svc.launch_type().map(|l| l.as_str())),
    );
    let vpc = svc
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration());
    p.insert("subnets".into(), json!(vpc.map(|v| v.subnets())));
    p.insert(
        "security_groups".into(),
        json!(vpc.map(|v| v.security_groups())),
    );
    p.insert(
        "assign_public_ip".into(),
        json!(
            vpc.and_then(|v| v.assign_public_ip())
                .map(|a| *a == AssignPublicIp::Enabled)
                .unwrap_or(false)
        ),
    );
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
    p.insert(
        "load_balancers".into(),
        if lbs.is_empty() {
            Value::Null
        } else {
            Value::Array(lbs)
        },
    );
    p.insert(
        "health_check_grace_period_seconds".into(),
        json!(svc.health_check_grace_period_seconds()),
    );
    // Left out when the API returns no deployment configuration (moto
    // never does), so the values last applied stand in for them instead
    // of showing as drift.
    if let Some(dc) = svc.deployment_configuration() {
        p.insert(
            "deployment_maximum_percent".into(),
            json!(dc.maximum_percent()),
        );
        p.insert(
            "deployment_minimum_healthy_percent".into(),
            json!(dc.minimum_healthy_percent()),
        );
        if let Some(cb) = dc.deployment_circuit_breaker() {
            p.insert("circuit_breaker".into(), json!(cb.enable()));
            p.insert("circuit_breaker_rollback".into(), json!(cb.rollback()));
        }
    }
    p.insert("tags".into(), user_tags);
    p
}

fn service_attrs(svc: &aws_sdk_ecs::types::Service) -> Attrs {
    let mut a = Attrs::new();
    a.insert("arn".into(), json!(svc.service_arn()));
    a.insert("name".into(), json!(svc.service_name()));
    a
}

impl Service {
    /// Services of one cluster by ARN or name, 10 per call, with tags.
    async fn describe(
        &self,
        cluster: &str,
        services: Vec<String>,
    ) -> Result<Vec<aws_sdk_ecs::types::Service>, ProviderError> {
        let mut out = Vec::new();
        for chunk in services.chunks(10) {
            match self
                .0
                .ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.to_vec()))
                .include(ServiceField::Tags)
                .send()
                .await
                .map_err(err)
                .map_err(not_found)
            {
                Ok(r) => out.extend(r.services().iter().cloned()),
                Err(e) if e.not_found => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn one(&self, arn: &str) -> Result<Option<aws_sdk_ecs::types::Service>, ProviderError> {
        let cluster = cluster_of(arn).ok_or_else(|| {
            ProviderError::new(format!("`{arn}` is not a service ARN with a cluster"))
        })?;
        Ok(self
            .describe(cluster, vec![arn.to_string()])
            .await?
            .into_iter()
            .next())
    }
}

#[async_trait]
impl ResourceKind for Service {
    fn schema(&self) -> &'static Schema {
        &SERVICE
    }

    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>, ProviderError> {
        let mut by_cluster: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (arn, p) in &q.known {
            let cluster = cluster_of(arn)
                .map(str::to_string)
                .or_else(|| s(p, "cluster"))
                .unwrap_or_default();
            by_cluster.entry(cluster).or_default().insert(arn.clone());
        }
        if q.discover {
            for cluster in Cluster(self.0.clone()).of_stack(ctx).await? {
                let arns: Vec<String> = self
                    .0
                    .ecs
                    .list_services()
                    .cluster(&cluster)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(err)?;
                by_cluster.entry(cluster).or_default().extend(arns);
            }
        }
        let mut out = Vec::new();
        for (cluster, arns) in by_cluster {
            for svc in self.describe(&cluster, arns.into_iter().collect()).await? {
                // DRAINING and INACTIVE services are on their way out.
                if svc.status() != Some("ACTIVE") {
                    continue;
                }
                let arn = svc.service_arn().unwrap_or_default().to_string();
                let (user, logical) = split_tags(ctx, ecs_tags(svc.tags()));
                if logical.is_none() && !q.known.iter().any(|(id, _)| *id == arn) {
                    continue;
                }
                out.push(Observed {
                    physical_id: arn,
                    logical_id: logical,
                    properties: service_props(&svc, user),
                    attributes: service_attrs(&svc),
                });
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created, ProviderError> {
        let p = &req.properties;
        let name =
            s(p, "name").unwrap_or_else(|| unique_name(&ctx.stack, &req.logical_id, NAME_MAX));
        let lbs = load_balancers(p);
        let r = self
            .0
            .ecs
            .create_service()
            .cluster(s(p, "cluster").unwrap_or_default())
            .service_name(&name)
            .set_task_definition(s(p, "task_definition"))
            .desired_count(i(p, "desired_count").unwrap_or(1))
            .launch_type(LaunchType::from(
                s(p, "launch_type").as_deref().unwrap_or("FARGATE"),
            ))
            .set_network_configuration(network(p))
            .set_load_balancers((!lbs.is_empty()).then_some(lbs))
            .set_health_check_grace_period_seconds(i(p, "health_check_grace_period_seconds"))
            .deployment_configuration(deployment(p))
            .set_tags(Some(tags(ctx, &req.logical_id, p)))
            .send()
            .await
            .map_err(err)?;
        let svc = r
            .service()
            .ok_or_else(|| ProviderError::new("CreateService returned no service"))?;
        Ok(Created {
            physical_id: svc.service_arn().unwrap_or_default().to_string(),
            attributes: service_attrs(svc),
        })
    }

    async fn update(
        &self,
        _ctx: &Context,
        arn: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Attrs, ProviderError> {
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
            call.send().await.map_err(err)?;
        }
        sync_tags(&self.0, arn, old, new).await?;
        Ok(Attrs::new())
    }

    /// Ready when the newest deployment has rolled out; a deployment the
    /// circuit breaker stopped is an error that says why.
    async fn poll_ready(&self, _ctx: &Context, arn: &str) -> Result<Option<Attrs>, ProviderError> {
        let Some(svc) = self.one(arn).await? else {
            return Ok(None);
        };
        let Some(primary) = svc
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
        else {
            return Ok(None);
        };
        match primary.rollout_state() {
            Some(DeploymentRolloutState::Completed) => Ok(Some(service_attrs(&svc))),
            Some(DeploymentRolloutState::Failed) => Err(ProviderError::new(format!(
                "the deployment failed: {}",
                primary
                    .rollout_state_reason()
                    .unwrap_or("its tasks did not become healthy")
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
    async fn delete(&self, _ctx: &Context, arn: &str, p: &Props) -> Result<(), ProviderError> {
        let cluster = cluster_of(arn)
            .map(str::to_string)
            .or_else(|| s(p, "cluster"))
            .unwrap_or_default();
        self.0
            .ecs
            .update_service()
            .cluster(&cluster)
            .service(arn)
            .desired_count(0)
            .send()
            .await
            .map_err(err)
            .map_err(not_found)
            .map_err(partial(arn))?;
        self.0
            .ecs
            .delete_service()
            .cluster(&cluster)
            .service(arn)
            .send()
            .await
            .map_err(err)
            .map_err(not_found)?;
        Ok(())
    }

    async fn poll_deleted(&self, _ctx: &Context, arn: &str) -> Result<bool, ProviderError> {
        Ok(self
            .one(arn)
            .await?
            .is_none_or(|s| s.status() == Some("INACTIVE")))
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

/// Kinds of this module.
pub fn schemas() -> [&'static Schema; 3] {
    [&CLUSTER, &TASK_DEFINITION, &SERVICE]
}

pub fn kinds(c: &Clients) -> Vec<std::sync::Arc<dyn ResourceKind>> {
    vec![
        std::sync::Arc::new(Cluster(c.clone())),
        std::sync::Arc::new(TaskDefinition(c.clone())),
        std::sync::Arc::new(Service(c.clone())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_sizes() {
        assert!(check_fargate_size("256", "512").is_ok());
        assert!(check_fargate_size("256", "2048").is_ok());
        assert!(check_fargate_size("256", "1536").is_err());
        assert!(check_fargate_size("512", "3072").is_ok());
        assert!(check_fargate_size("1024", "1024").is_err());
        assert!(check_fargate_size("4096", "30720").is_ok());
        assert!(check_fargate_size("8192", "20480").is_ok());
        assert!(check_fargate_size("8192", "18432").is_err());
        assert!(check_fargate_size("16384", "122880").is_ok());
        let (msg, help) = check_fargate_size("300", "512").unwrap_err();
        assert!(
            msg.contains("300") && help.contains("256"),
            "{msg} / {help}"
        );
        let (_, help) = check_fargate_size("1024", "512").unwrap_err();
        assert!(help.contains("2048 to 8192 in steps of 1024"), "{help}");
    }

    #[test]
    fn service_arns_name_their_cluster() {
        assert_eq!(
            cluster_of("arn:aws:ecs:us-east-1:123456789012:service/dev-cluster/web"),
            Some("dev-cluster")
        );
        assert_eq!(cluster_of("arn:aws:ecs:us-east-1:1:service/web"), None);
    }

    #[test]
    fn containers_compare_without_api_defaults() {
        let mut p = Props::new();
        p.insert(
            "containers".into(),
            json!([{"name": "web", "image": "nginx", "environment": {}, "command": [], "memory": null}]),
        );
        normalize_containers(&mut p);
        assert_eq!(p["containers"], json!([{"name": "web", "image": "nginx"}]));
    }
}
