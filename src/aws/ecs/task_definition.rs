//! `aws.ecs.task_definition`: one revision of a task definition.

use crate::aws::prelude::*;
use crate::schema::Default;
use std::collections::{BTreeSet, HashMap};

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, KeyValuePair, LogConfiguration, LogDriver, NetworkMode,
    PortMapping, Tag, TaskDefinitionField, TransportProtocol,
};
use serde_json::Map;

use super::common::*;

static PORT_MAPPING: &[Prop] = rows! {

    Prop::new("container_port", Type::Int, "The port the container listens on.").range(1, 65535).required(),

    Prop::new("protocol", Type::Enum(&["tcp", "udp"]), "The protocol.").default(Default::Str("tcp")),

    Prop::new("host_port", Type::Int, "The host port it is published on (`bridge` and `default` network modes; `awsvpc` uses the container port).").range(0, 65535),

};

static CONTAINER: &[Prop] = rows! {

    Prop::new("name", Type::String, "The container name.").required(),

    Prop::new("image", Type::String, "The image, e.g. `nginx:1.27`.").required().non_empty(),

    Prop::new("cpu", Type::Int, "CPU units reserved for the container.").at_least(0).default(Default::Int(0)),

    Prop::new("memory", Type::Int, "Hard memory limit (MiB).").at_least(6),

    Prop::new("memory_reservation", Type::Int, "Soft memory limit (MiB).").at_least(6),

    Prop::new("essential", Type::Bool, "Whether the task stops when this container stops.").default(Default::Bool(true)),

    Prop::new("port_mappings", Type::List(&Type::Object(PORT_MAPPING)), "Ports the container exposes."),

    Prop::new("environment", Type::StringMap, "Environment variables."),

    Prop::new("command", Type::List(&Type::String), "The command to run."),

    Prop::new("entry_point", Type::List(&Type::String), "The entry point, e.g. `[powershell, -Command]`."),

    Prop::new("log_group", Type::String, "Send output to this CloudWatch Logs group (awslogs driver, stream prefix = container name)."),

};

pub static TASK_DEFINITION: Schema = Schema::new("aws.ecs.task_definition", "An ECS task definition. Any change registers a new revision.")
    .properties(rows! {
        Prop::new("family", Type::String, "The family; derived from the stack and id when omitted.").replace(),
        Prop::new("compatibility", Type::Enum(&["FARGATE", "EC2"]), "Where tasks run.").default(Default::Str("FARGATE")).replace(),
        Prop::new("network_mode", Type::Enum(&["awsvpc", "bridge", "host", "none", "default"]), "Task networking; Fargate needs `awsvpc`; `default` is the platform's own (NAT on Windows, which has no other but awsvpc).").default(Default::Str("awsvpc")).replace(),
        Prop::new("cpu", Type::String, "Task CPU units (Fargate: 256, 512, 1024, 2048, 4096, 8192 or 16384).").replace(),
        Prop::new("memory", Type::String, "Task memory in MiB (Fargate: a size allowed for the CPU).").replace(),
        Prop::new("execution_role_arn", Type::String, "The role ECS uses to pull images and write logs.").replace(),
        Prop::new("task_role_arn", Type::String, "The role the containers' code runs as.").replace(),
        Prop::new("containers", Type::List(&Type::Object(CONTAINER)), "The containers.").required().replace(),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The revision's ARN."),
        Attr::new("revision", Type::Int, "The revision number."),
        Attr::new("family", Type::String, "The family."),
    })
    .notes("A change registers a new revision; the old one is deregistered and deleted once its services moved. Fargate cpu/memory pairs are checked at plan time.")
    .free();

kind! { TaskDefinition, TASK_DEFINITION }

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

/// Checks a Fargate cpu/memory pair. `Err(Refusal::new(message, help))`.
pub fn check_fargate_size(cpu: &str, memory: &str) -> Result<(), Refusal> {
    let cpus: Vec<String> = FARGATE_SIZES.iter().map(|s| s.0.to_string()).collect();
    let Some(&(c, lo, hi, step)) =
        cpu.trim().parse::<u32>().ok().and_then(|c| FARGATE_SIZES.iter().find(|s| s.0 == c))
    else {
        return Err(Refusal::new(
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
        Err(Refusal::new(
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
                            .set_host_port(i(pm, "host_port"))
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
            let entry_point = list(c, "entry_point");
            if !entry_point.is_empty() {
                b = b.set_entry_point(Some(entry_point));
            }
            if let Some(group) = s(c, "log_group") {
                let options: HashMap<String, String> = [
                    ("awslogs-group".to_string(), group),
                    ("awslogs-region".to_string(), region.to_string()),
                    ("awslogs-stream-prefix".to_string(), s(c, "name").unwrap_or_default()),
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
    m.extend(props([
        ("name", json!(c.name())),
        ("image", json!(c.image())),
        ("cpu", json!(c.cpu())),
        ("memory", json!(c.memory())),
        ("memory_reservation", json!(c.memory_reservation())),
        ("essential", json!(c.essential().unwrap_or(true))),
        (
            "port_mappings",
            Value::Array(
                c.port_mappings()
                    .iter()
                    .map(|pm| {
                        let mut m = json!({
                            "container_port": pm.container_port(),
                            "protocol": pm.protocol().map_or("tcp", |p| p.as_str()),
                        });
                        // A host port equal to the container's (awsvpc, or
                        // asked for) or 0 (dynamic) is not one of its own.
                        if let Some(h) =
                            pm.host_port().filter(|h| *h != 0 && Some(*h) != pm.container_port())
                        {
                            m["host_port"] = json!(h);
                        }
                        m
                    })
                    .collect(),
            ),
        ),
        (
            "environment",
            Value::Object(
                c.environment()
                    .iter()
                    .filter_map(|kv| Some((kv.name()?.to_string(), json!(kv.value()?))))
                    .collect(),
            ),
        ),
        ("command", json!(c.command())),
        ("entry_point", json!(c.entry_point())),
        (
            "log_group",
            json!(
                c.log_configuration()
                    .filter(|l| *l.log_driver() == LogDriver::Awslogs)
                    .and_then(|l| l.options())
                    .and_then(|o| o.get("awslogs-group"))
            ),
        ),
    ]));
    Value::Object(m)
}

/// Drops null, empty-list and empty-map fields of each container, so an
/// unset field and the API's empty default compare equal.
fn normalize_containers(p: &mut Props) {
    if let Some(Value::Array(items)) = p.get_mut("containers") {
        for c in items.iter_mut() {
            if let Some(Value::Array(ports)) = c.get_mut("port_mappings") {
                for pm in ports.iter_mut().filter_map(Value::as_object_mut) {
                    let same = pm.get("host_port").is_some_and(|h| {
                        h.as_i64() == Some(0) || Some(h) == pm.get("container_port")
                    });
                    if same {
                        pm.remove("host_port");
                    }
                }
            }
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
    attrs([
        ("arn", json!(td.task_definition_arn())),
        ("revision", json!(td.revision())),
        ("family", json!(td.family())),
    ])
}

impl TaskDefinition {
    async fn describe(
        &self,
        arn: &str,
    ) -> Result<Option<(aws_sdk_ecs::types::TaskDefinition, Vec<Tag>)>> {
        match send!(
            self.0
                .ecs
                .describe_task_definition()
                .task_definition(arn)
                .include(TaskDefinitionField::Tags)
        ) {
            Ok(r) => Ok(r.task_definition().cloned().map(|td| (td, r.tags().to_vec()))),
            // An unknown revision is a ClientException.
            Err(e) if e.code.as_deref() == Some("ClientException") => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl ResourceKind for TaskDefinition {
    /// One DescribeTaskDefinition per recorded revision (the API has no
    /// batched form); discovery lists the active revisions of the stack's
    /// families.
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        // The recorded revisions are described at once, beside the listing
        // that finds lost ones; only what the listing adds is described
        // after it (usually nothing: one round trip, not two).
        let known: BTreeSet<String> = q.known.iter().map(|(id, _)| id.clone()).collect();
        let listing = async {
            if !q.discover {
                return Ok(Vec::new());
            }
            // Filtered here, not with `familyPrefix`: moto matches that
            // against the whole family (AWS: a prefix), so the stack's
            // revisions were never found there. The account's active
            // revisions are listed instead, 100 a page.
            let prefix = unique_name(&ctx.stack, "", NAME_MAX);
            let arns: Vec<String> = paginate!(
                self.0
                    .ecs
                    .list_task_definitions()
                    .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            )?;
            Ok(arns.into_iter().filter(|a| family_of(a).starts_with(&prefix)).collect())
        };
        let describe_all =
            |arns: Vec<String>| {
                futures_util::future::try_join_all(arns.into_iter().map(|arn| async move {
                    self.describe(&arn).await.map(|d| d.map(|d| (arn, d)))
                }))
            };
        let (listed, mut described): (Vec<String>, _) =
            futures_util::future::try_join(listing, describe_all(known.iter().cloned().collect()))
                .await?;
        let new: Vec<String> = listed.into_iter().filter(|a| !known.contains(a)).collect();
        described.extend(describe_all(new).await?);
        let mut out = Vec::new();
        for (arn, (td, tags)) in described.into_iter().flatten() {
            let known = q.known.iter().any(|(id, _)| *id == arn);
            // A recorded revision deregistered but not deleted (a destroy
            // stopped between its two calls) still exists: read as such, the
            // rerun deletes it instead of forgetting it. AWS keeps running
            // the tasks of an inactive revision.
            let inactive = td.status() == Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Inactive);
            if td.status() != Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Active)
                && !(inactive && known)
            {
                continue;
            }
            let (user, logical) = split_tags(ctx, ecs_tags(&tags));
            if logical.unclaimed() && !known {
                continue;
            }
            let p = props([
                ("family", json!(td.family())),
                ("compatibility", json!(td.requires_compatibilities().first().map(|c| c.as_str()))),
                ("network_mode", json!(network_mode(&td, applied_mode(q, &arn)))),
                ("cpu", json!(td.cpu())),
                ("memory", json!(td.memory())),
                ("execution_role_arn", json!(td.execution_role_arn())),
                ("task_role_arn", json!(td.task_role_arn())),
                (
                    "containers",
                    Value::Array(td.container_definitions().iter().map(container_value).collect()),
                ),
                ("tags", user),
            ]);
            out.push(
                Observed::new(td.task_definition_arn().unwrap_or(&arn).to_string(), logical, p)
                    .with(td_attrs(&td)),
            );
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let family =
            s(p, "family").unwrap_or_else(|| unique_name(&ctx.stack, &req.logical_id, NAME_MAX));
        let r = send!(
            self.0
                .ecs
                .register_task_definition()
                .family(family)
                .requires_compatibilities(Compatibility::from(
                    s(p, "compatibility").as_deref().unwrap_or("FARGATE"),
                ))
                .set_network_mode(match s(p, "network_mode").as_deref().unwrap_or("awsvpc") {
                    // Not sent: the platform chooses.
                    "default" => None,
                    mode => Some(NetworkMode::from(mode)),
                })
                .set_cpu(s(p, "cpu"))
                .set_memory(s(p, "memory"))
                .set_execution_role_arn(s(p, "execution_role_arn"))
                .set_task_role_arn(s(p, "task_role_arn"))
                .set_container_definitions(Some(containers(p, &self.0.region)))
                .set_tags(Some(tags(ctx, &req.logical_id, p)))
        )?;
        let td = r
            .task_definition()
            .ok_or_else(|| ProviderError::new("RegisterTaskDefinition returned nothing"))?;
        Ok(Created::new(created_id(td.task_definition_arn(), self.schema().kind)?)
            .with(td_attrs(td)))
    }

    /// Only tags change in place.
    async fn update(&self, _ctx: &Context, arn: &str, old: &Props, new: &Props) -> Result<Attrs> {
        sync_tags(&self.0, arn, old, new).await?;
        Ok(Attrs::new())
    }

    /// Deregisters the revision (running tasks keep it), then asks for its
    /// deletion so nothing of the stack stays listed.
    async fn delete(&self, _ctx: &Context, arn: &str, _p: &Props) -> Result<()> {
        match send!(self.0.ecs.deregister_task_definition().task_definition(arn)) {
            Ok(_) => {}
            // Already deregistered or gone.
            Err(e) if e.code.as_deref() == Some("ClientException") => {}
            Err(e) => return Err(e),
        }
        send!(self.0.ecs.delete_task_definitions().task_definitions(arn))?;
        Ok(())
    }

    fn check(&self, p: &Props) -> Result<(), Refusal> {
        if s(p, "compatibility").as_deref() != Some("FARGATE") {
            return Ok(());
        }
        if let Some(mode) = s(p, "network_mode")
            && mode != "awsvpc"
        {
            return Err(Refusal::new(
                format!("Fargate tasks need `network_mode: awsvpc`, not `{mode}`"),
                "remove `network_mode` (awsvpc is the default) or set it to awsvpc".into(),
            ));
        }
        match (s(p, "cpu"), s(p, "memory")) {
            (Some(cpu), Some(memory)) => check_fargate_size(&cpu, &memory),
            // Unknown until apply (a reference): checked by AWS then.
            _ if !p.contains_key("cpu") || !p.contains_key("memory") => Err(Refusal::new(
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

/// The network mode last applied to the revision `arn`, if recorded.
fn applied_mode<'a>(q: &'a ReadQuery, arn: &str) -> Option<&'a str> {
    q.known.iter().find(|(id, _)| id == arn).and_then(|(_, p)| p.get("network_mode")?.as_str())
}

/// The revision's network mode; `default` when none was sent. AWS leaves
/// an unsent mode unset for Windows tasks; moto reports `bridge` (Linux's
/// default) instead, so a revision registered with `default` reads as
/// `default` while AWS or moto report no mode or that fill-in.
fn network_mode(td: &aws_sdk_ecs::types::TaskDefinition, applied: Option<&str>) -> String {
    match (td.network_mode().map(|n| n.as_str()), applied) {
        (None, _) | (Some("bridge"), Some("default")) => "default".into(),
        (Some(mode), _) => mode.into(),
    }
}

/// The family of a task definition ARN (`...:task-definition/<family>:<revision>`).
fn family_of(arn: &str) -> &str {
    let name = arn.rsplit_once('/').map_or(arn, |(_, n)| n);
    name.rsplit_once(':').map_or(name, |(f, _)| f)
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
        let Refusal { message: msg, help } = check_fargate_size("300", "512").unwrap_err();
        assert!(msg.contains("300") && help.contains("256"), "{msg} / {help}");
        let Refusal { message: _, help } = check_fargate_size("1024", "512").unwrap_err();
        assert!(help.contains("2048 to 8192 in steps of 1024"), "{help}");
    }

    #[test]
    fn containers_compare_without_api_defaults() {
        let mut p = props([(
            "containers",
            json!([{"name": "web", "image": "nginx", "environment": {}, "command": [], "memory": null}]),
        )]);
        normalize_containers(&mut p);
        assert_eq!(p["containers"], json!([{"name": "web", "image": "nginx"}]));
    }
}
