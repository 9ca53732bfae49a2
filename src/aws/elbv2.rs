//! Elastic Load Balancing v2: `aws.elbv2.load_balancer`,
//! `aws.elbv2.target_group`, `aws.elbv2.listener` and
//! `aws.elbv2.listener_rule`. Physical ids are ARNs.
//!
//! Load balancer and target group names must be unique per account and
//! region, so an omitted name is derived from the stack and logical id
//! (32 characters at most, see [`unique_name`]): two stacks of one
//! blueprint never clash. A read lists the account's load balancers or
//! target groups (paginated) and asks DescribeTags, 20 ARNs per call, only
//! for those the state records or whose name carries the stack's prefix.
//! Listeners and rules are read per load balancer and per listener.
//! Attributes (idle timeout, deregistration delay) have no batched read:
//! one call per resource.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, LoadBalancerAttribute,
    LoadBalancerSchemeEnum, LoadBalancerStateEnum, LoadBalancerTypeEnum, ProtocolEnum,
    RuleCondition, Tag, TargetGroupAttribute, TargetTypeEnum,
};
use serde_json::{Value, json};

use crate::aws::client::Clients;
use crate::aws::error::err;
use crate::aws::values::{
    TagChanges, create_tags, i, list, s, set_changed, sort_sets, split_tags, unique_name,
};
use crate::provider::{
    Attrs, Context, CreateRequest, Created, Observed, Op, Props, ProviderError, ReadQuery,
    ResourceKind,
};
use crate::schema::{Attr, Default, Prop, Schema, Type};

const NAME_MAX: usize = 32;

pub static LOAD_BALANCER: Schema = Schema {
    kind: "aws.elbv2.load_balancer",
    doc: "An Application or Network Load Balancer.",
    properties: &[
        Prop::new(
            "name",
            Type::String,
            "The name (32 characters at most); derived from the stack and id when omitted.",
        )
        .replace(),
        Prop::new(
            "type",
            Type::Enum(&["application", "network"]),
            "The kind of load balancer.",
        )
        .default(Default::Str("application"))
        .replace(),
        Prop::new(
            "scheme",
            Type::Enum(&["internet-facing", "internal"]),
            "Reachable from the internet, or only inside the VPC.",
        )
        .default(Default::Str("internet-facing"))
        .replace(),
        Prop::new(
            "subnets",
            Type::List(&Type::String),
            "Subnets, at least two in different zones for an ALB.",
        )
        .required(),
        Prop::new(
            "security_groups",
            Type::List(&Type::String),
            "Security groups of an ALB.",
        ),
        Prop::new(
            "idle_timeout_seconds",
            Type::Int,
            "Idle connection timeout of an ALB (1-4000 s).",
        )
        .default(Default::Int(60)),
    ],
    attributes: &[
        Attr::new("arn", Type::String, "The load balancer's ARN."),
        Attr::new("dns_name", Type::String, "Its public DNS name."),
        Attr::new("zone_id", Type::String, "Its Route 53 hosted zone."),
        Attr::new("vpc_id", Type::String, "The VPC it is in."),
    ],
    exactly_one_of: &[],
    taggable: true,
};

const PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP"];

pub static TARGET_GROUP: Schema = Schema {
    kind: "aws.elbv2.target_group",
    doc: "A target group: where a listener sends traffic, with its health check.",
    properties: &[
        Prop::new(
            "name",
            Type::String,
            "The name (32 characters at most); derived from the stack and id when omitted.",
        )
        .replace(),
        Prop::new("port", Type::Int, "The port targets receive traffic on.")
            .required()
            .replace(),
        Prop::new("protocol", Type::Enum(PROTOCOLS), "The protocol to targets.")
            .default(Default::Str("HTTP"))
            .replace(),
        Prop::new(
            "target_type",
            Type::Enum(&["instance", "ip", "lambda", "alb"]),
            "What targets are; `ip` for Fargate (awsvpc) tasks.",
        )
        .default(Default::Str("instance"))
        .replace(),
        Prop::new("vpc_id", Type::String, "The VPC of the targets.")
            .required()
            .replace(),
        Prop::new("health_check_path", Type::String, "HTTP health check path.")
            .default(Default::Str("/")),
        Prop::new(
            "health_check_interval_seconds",
            Type::Int,
            "Seconds between health checks.",
        )
        .default(Default::Int(30)),
        Prop::new(
            "health_check_timeout_seconds",
            Type::Int,
            "Seconds before a check counts as failed.",
        )
        .default(Default::Int(5)),
        Prop::new(
            "healthy_threshold",
            Type::Int,
            "Passing checks before a target is healthy.",
        )
        .default(Default::Int(5)),
        Prop::new(
            "unhealthy_threshold",
            Type::Int,
            "Failing checks before a target is unhealthy.",
        )
        .default(Default::Int(2)),
        Prop::new(
            "deregistration_delay_seconds",
            Type::Int,
            "How long a leaving target drains (AWS default 300; lower it to speed up deploys and destroys).",
        )
        .default(Default::Int(300)),
    ],
    attributes: &[
        Attr::new("arn", Type::String, "The target group's ARN."),
        Attr::new("name", Type::String, "Its name."),
    ],
    exactly_one_of: &[],
    taggable: true,
};

pub static LISTENER: Schema = Schema {
    kind: "aws.elbv2.listener",
    doc: "A listener: a port on a load balancer and its default action.",
    properties: &[
        Prop::new("load_balancer_arn", Type::String, "The load balancer.")
            .required()
            .replace(),
        Prop::new("port", Type::Int, "The port to listen on.").required(),
        Prop::new("protocol", Type::Enum(PROTOCOLS), "The protocol.").default(Default::Str("HTTP")),
        Prop::new(
            "certificate_arn",
            Type::String,
            "The server certificate, for HTTPS and TLS.",
        ),
        Prop::new(
            "target_group_arn",
            Type::String,
            "Default action: forward to this target group.",
        ),
        Prop::new(
            "fixed_response_status",
            Type::String,
            "Default action: answer with this status code (e.g. \"404\").",
        ),
    ],
    attributes: &[Attr::new("arn", Type::String, "The listener's ARN.")],
    exactly_one_of: &[&["target_group_arn", "fixed_response_status"]],
    taggable: true,
};

pub static LISTENER_RULE: Schema = Schema {
    kind: "aws.elbv2.listener_rule",
    doc: "A listener rule: requests matching its conditions go to a target group.",
    properties: &[
        Prop::new("listener_arn", Type::String, "The listener.")
            .required()
            .replace(),
        Prop::new(
            "priority",
            Type::Int,
            "Evaluation order (1-50000, unique per listener).",
        )
        .required(),
        Prop::new(
            "path_patterns",
            Type::List(&Type::String),
            "Match these URL paths (`*` wildcards).",
        ),
        Prop::new(
            "host_headers",
            Type::List(&Type::String),
            "Match these host names.",
        ),
        Prop::new("target_group_arn", Type::String, "Forward matches here.").required(),
    ],
    attributes: &[Attr::new("arn", Type::String, "The rule's ARN.")],
    exactly_one_of: &[],
    taggable: true,
};

/// The names AWS derives for this stack start with this.
fn name_prefix(stack: &str) -> String {
    let p = unique_name(stack, "", usize::MAX);
    p[..p.len().min(NAME_MAX - 7)].to_string()
}

/// The name to create with: the blueprint's, or one derived from the stack,
/// the logical id and a digest of the properties that force a
/// replacement. The digest lets a replacement be created before the old
/// resource is deleted (its name differs), so a changed target-group port
/// moves the service to the new group without an outage. An explicit
/// name cannot be replaced that way: AWS refuses the duplicate.
fn name_of(ctx: &Context, logical_id: &str, p: &Props, immutable: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    if let Some(n) = s(p, "name") {
        return n;
    }
    let mut h = Sha256::new();
    for k in immutable {
        h.update(
            p.get(*k)
                .map(Value::to_string)
                .unwrap_or_default()
                .as_bytes(),
        );
        h.update(b"\0");
    }
    let digest = hex::encode(h.finalize());
    unique_name(
        &ctx.stack,
        &format!("{logical_id}-{}", &digest[..4]),
        NAME_MAX,
    )
}

fn tags(ctx: &Context, logical_id: &str, p: &Props) -> Vec<Tag> {
    create_tags(ctx, logical_id, p)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Tags of many ARNs, 20 per call (the API's limit).
async fn tags_of(
    c: &Clients,
    arns: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, Vec<(String, String)>>, ProviderError> {
    let arns: Vec<String> = arns.into_iter().collect();
    let mut out = HashMap::new();
    for chunk in arns.chunks(20) {
        let r = c
            .elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(err)?;
        for d in r.tag_descriptions() {
            let Some(arn) = d.resource_arn() else {
                continue;
            };
            out.insert(
                arn.to_string(),
                d.tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect(),
            );
        }
    }
    Ok(out)
}

/// The user's tags and the logical id of a resource, from a DescribeTags
/// answer; `None` when it is neither ours nor known.
fn owned(
    ctx: &Context,
    q: &ReadQuery,
    arn: &str,
    tags: &HashMap<String, Vec<(String, String)>>,
) -> Option<(Value, Option<String>)> {
    let pairs = tags.get(arn).map(Vec::as_slice).unwrap_or_default();
    let (user, logical) = split_tags(ctx, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let known = q.known.iter().any(|(id, _)| id == arn);
    (known || logical.is_some()).then_some((user, logical))
}

/// One of this stack's (or state's) load balancers or target groups, with
/// its ARN, user tags and logical id.
struct Owned<T> {
    item: T,
    arn: String,
    user: Value,
    logical: Option<String>,
}

/// Of a listing of the account's load balancers or target groups, those
/// state records or that carry the stack's tag. Tags are asked only for
/// the ones state records or whose name has the stack's prefix.
async fn owned_of<T>(
    c: &Clients,
    ctx: &Context,
    q: &ReadQuery,
    all: Vec<T>,
    arn_of: fn(&T) -> Option<&str>,
    name_of: fn(&T) -> Option<&str>,
) -> Result<Vec<Owned<T>>, ProviderError> {
    let prefix = name_prefix(&ctx.stack);
    let candidates: Vec<T> = all
        .into_iter()
        .filter(|x| {
            let arn = arn_of(x).unwrap_or_default();
            q.known.iter().any(|(id, _)| id == arn)
                || name_of(x).is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    let tags = tags_of(
        c,
        candidates
            .iter()
            .filter_map(|x| arn_of(x).map(str::to_string)),
    )
    .await?;
    Ok(candidates
        .into_iter()
        .filter_map(|item| {
            let arn = arn_of(&item).unwrap_or_default().to_string();
            let (user, logical) = owned(ctx, q, &arn, &tags)?;
            Some(Owned {
                item,
                arn,
                user,
                logical,
            })
        })
        .collect())
}

/// Brings tags from `old` to `new`.
async fn sync_tags(c: &Clients, arn: &str, old: &Props, new: &Props) -> Result<(), ProviderError> {
    let tags = TagChanges::between(old, new);
    if !tags.removed.is_empty() {
        c.elb
            .remove_tags()
            .resource_arns(arn)
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
        c.elb
            .add_tags()
            .resource_arns(arn)
            .set_tags(Some(changed))
            .send()
            .await
            .map_err(err)?;
    }
    Ok(())
}

fn partial(arn: &str) -> impl Fn(ProviderError) -> ProviderError + '_ {
    move |mut e| {
        e.partial_id = Some(arn.to_string());
        e
    }
}

fn protocol(p: &Props, key: &str) -> Option<ProtocolEnum> {
    s(p, key).map(|v| ProtocolEnum::from(v.as_str()))
}

// ---------------------------------------------------------------- load balancer

/// ARNs of the stack's load balancers (named with its prefix and tagged
/// with it): two calls, for finding lost listeners and rules.
async fn stack_lbs(c: &Clients, ctx: &Context) -> Result<Vec<String>, ProviderError> {
    let all: Vec<_> = c
        .elb
        .describe_load_balancers()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(err)?;
    let none = ReadQuery::default();
    Ok(owned_of(
        c,
        ctx,
        &none,
        all,
        |lb| lb.load_balancer_arn(),
        |lb| lb.load_balancer_name(),
    )
    .await?
    .into_iter()
    .map(|o| o.arn)
    .collect())
}

/// Listeners of the given load balancers (gone ones are skipped).
async fn listeners_of(
    c: &Clients,
    lbs: impl IntoIterator<Item = String>,
) -> Result<Vec<aws_sdk_elasticloadbalancingv2::types::Listener>, ProviderError> {
    let mut found = Vec::new();
    for lb in lbs {
        match c
            .elb
            .describe_listeners()
            .load_balancer_arn(&lb)
            .send()
            .await
            .map_err(err)
        {
            Ok(r) => found.extend(r.listeners().iter().cloned()),
            Err(e) if e.not_found => {}
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// `aws.elbv2.load_balancer`.
pub struct LoadBalancer(pub Clients);

fn lb_attrs(lb: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer) -> Attrs {
    let mut a = Attrs::new();
    a.insert("arn".into(), json!(lb.load_balancer_arn()));
    a.insert("dns_name".into(), json!(lb.dns_name()));
    a.insert("zone_id".into(), json!(lb.canonical_hosted_zone_id()));
    a.insert("vpc_id".into(), json!(lb.vpc_id()));
    a
}

impl LoadBalancer {
    async fn idle_timeout(&self, arn: &str) -> Result<Option<i64>, ProviderError> {
        let r = self
            .0
            .elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(arn)
            .send()
            .await
            .map_err(err)?;
        Ok(r.attributes()
            .iter()
            .find(|a| a.key() == Some("idle_timeout.timeout_seconds"))
            .and_then(|a| a.value()?.parse().ok()))
    }

    async fn set_idle_timeout(&self, arn: &str, secs: i32) -> Result<(), ProviderError> {
        self.0
            .elb
            .modify_load_balancer_attributes()
            .load_balancer_arn(arn)
            .attributes(
                LoadBalancerAttribute::builder()
                    .key("idle_timeout.timeout_seconds")
                    .value(secs.to_string())
                    .build(),
            )
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for LoadBalancer {
    fn schema(&self) -> &'static Schema {
        &LOAD_BALANCER
    }

    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>, ProviderError> {
        let all: Vec<_> = self
            .0
            .elb
            .describe_load_balancers()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(err)?;
        let mut out = Vec::new();
        for Owned {
            item: lb,
            arn,
            user,
            logical,
        } in owned_of(
            &self.0,
            ctx,
            q,
            all,
            |lb| lb.load_balancer_arn(),
            |lb| lb.load_balancer_name(),
        )
        .await?
        {
            let ty = lb.r#type().map(|t| t.as_str().to_string());
            let mut p = Props::new();
            p.insert("name".into(), json!(lb.load_balancer_name()));
            p.insert("type".into(), json!(ty));
            p.insert("scheme".into(), json!(lb.scheme().map(|s| s.as_str())));
            p.insert(
                "subnets".into(),
                json!(
                    lb.availability_zones()
                        .iter()
                        .filter_map(|z| z.subnet_id())
                        .collect::<Vec<_>>()
                ),
            );
            p.insert("security_groups".into(), json!(lb.security_groups()));
            if ty.as_deref() == Some("application") {
                p.insert(
                    "idle_timeout_seconds".into(),
                    json!(self.idle_timeout(&arn).await?),
                );
            }
            p.insert("tags".into(), user);
            out.push(Observed {
                physical_id: arn,
                logical_id: logical,
                properties: p,
                attributes: lb_attrs(&lb),
            });
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created, ProviderError> {
        let p = &req.properties;
        let alb = s(p, "type").as_deref() != Some("network");
        let sgs = list(p, "security_groups");
        let r = self
            .0
            .elb
            .create_load_balancer()
            .name(name_of(ctx, &req.logical_id, p, &["type", "scheme"]))
            .r#type(LoadBalancerTypeEnum::from(
                s(p, "type").as_deref().unwrap_or("application"),
            ))
            .scheme(LoadBalancerSchemeEnum::from(
                s(p, "scheme").as_deref().unwrap_or("internet-facing"),
            ))
            .set_subnets(Some(list(p, "subnets")))
            .set_security_groups((!sgs.is_empty()).then_some(sgs))
            .set_tags(Some(tags(ctx, &req.logical_id, p)))
            .send()
            .await
            .map_err(err)?;
        let lb = r
            .load_balancers()
            .first()
            .ok_or_else(|| ProviderError::new("CreateLoadBalancer returned no load balancer"))?;
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        if alb && let Some(secs) = i(p, "idle_timeout_seconds") {
            self.set_idle_timeout(&arn, secs)
                .await
                .map_err(partial(&arn))?;
        }
        Ok(Created {
            physical_id: arn,
            attributes: lb_attrs(lb),
        })
    }

    async fn update(
        &self,
        _ctx: &Context,
        arn: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Attrs, ProviderError> {
        let elb = &self.0.elb;
        if set_changed(old, new, "subnets") {
            elb.set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(Some(list(new, "subnets")))
                .send()
                .await
                .map_err(err)?;
        }
        if set_changed(old, new, "security_groups") {
            elb.set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(list(new, "security_groups")))
                .send()
                .await
                .map_err(err)?;
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
    async fn poll_ready(&self, _ctx: &Context, arn: &str) -> Result<Option<Attrs>, ProviderError> {
        let r = self
            .0
            .elb
            .describe_load_balancers()
            .load_balancer_arns(arn)
            .send()
            .await
            .map_err(err)?;
        let Some(lb) = r.load_balancers().first() else {
            return Ok(None);
        };
        match lb.state().and_then(|s| s.code()) {
            Some(LoadBalancerStateEnum::Active) => Ok(Some(lb_attrs(lb))),
            Some(LoadBalancerStateEnum::Failed) => Err(ProviderError::new(format!(
                "load balancer failed to provision: {}",
                lb.state()
                    .and_then(|s| s.reason())
                    .unwrap_or("no reason given")
            ))),
            _ => Ok(None),
        }
    }

    async fn delete(&self, _ctx: &Context, arn: &str, _p: &Props) -> Result<(), ProviderError> {
        self.0
            .elb
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn poll_deleted(&self, _ctx: &Context, arn: &str) -> Result<bool, ProviderError> {
        match self
            .0
            .elb
            .describe_load_balancers()
            .load_balancer_arns(arn)
            .send()
            .await
            .map_err(err)
        {
            Ok(r) => Ok(r.load_balancers().is_empty()),
            Err(e) if e.not_found => Ok(true),
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

// ---------------------------------------------------------------- target group

/// `aws.elbv2.target_group`.
pub struct TargetGroup(pub Clients);

const DEREGISTRATION: &str = "deregistration_delay.timeout_seconds";

impl TargetGroup {
    async fn delay(&self, arn: &str) -> Result<Option<i64>, ProviderError> {
        let r = self
            .0
            .elb
            .describe_target_group_attributes()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(err)?;
        Ok(r.attributes()
            .iter()
            .find(|a| a.key() == Some(DEREGISTRATION))
            .and_then(|a| a.value()?.parse().ok()))
    }

    async fn set_delay(&self, arn: &str, secs: i32) -> Result<(), ProviderError> {
        self.0
            .elb
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(
                TargetGroupAttribute::builder()
                    .key(DEREGISTRATION)
                    .value(secs.to_string())
                    .build(),
            )
            .send()
            .await
            .map_err(err)?;
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
    fn schema(&self) -> &'static Schema {
        &TARGET_GROUP
    }

    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>, ProviderError> {
        let all: Vec<_> = self
            .0
            .elb
            .describe_target_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(err)?;
        let mut out = Vec::new();
        for Owned {
            item: tg,
            arn,
            user,
            logical,
        } in owned_of(
            &self.0,
            ctx,
            q,
            all,
            |tg| tg.target_group_arn(),
            |tg| tg.target_group_name(),
        )
        .await?
        {
            let mut p = Props::new();
            p.insert("name".into(), json!(tg.target_group_name()));
            p.insert("port".into(), json!(tg.port()));
            p.insert("protocol".into(), json!(tg.protocol().map(|v| v.as_str())));
            p.insert(
                "target_type".into(),
                json!(tg.target_type().map(|v| v.as_str())),
            );
            p.insert("vpc_id".into(), json!(tg.vpc_id()));
            p.insert("health_check_path".into(), json!(tg.health_check_path()));
            p.insert(
                "health_check_interval_seconds".into(),
                json!(tg.health_check_interval_seconds()),
            );
            p.insert(
                "health_check_timeout_seconds".into(),
                json!(tg.health_check_timeout_seconds()),
            );
            p.insert(
                "healthy_threshold".into(),
                json!(tg.healthy_threshold_count()),
            );
            p.insert(
                "unhealthy_threshold".into(),
                json!(tg.unhealthy_threshold_count()),
            );
            p.insert(
                "deregistration_delay_seconds".into(),
                json!(self.delay(&arn).await?),
            );
            p.insert("tags".into(), user);
            let mut attrs = Attrs::new();
            attrs.insert("arn".into(), json!(arn));
            attrs.insert("name".into(), json!(tg.target_group_name()));
            out.push(Observed {
                physical_id: arn,
                logical_id: logical,
                properties: p,
                attributes: attrs,
            });
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created, ProviderError> {
        let p = &req.properties;
        let name = name_of(
            ctx,
            &req.logical_id,
            p,
            &["port", "protocol", "target_type", "vpc_id"],
        );
        let mut call = self
            .0
            .elb
            .create_target_group()
            .name(&name)
            .port(i(p, "port").unwrap_or(80))
            .set_protocol(protocol(p, "protocol"))
            .target_type(TargetTypeEnum::from(
                s(p, "target_type").as_deref().unwrap_or("instance"),
            ))
            .vpc_id(s(p, "vpc_id").unwrap_or_default())
            .set_health_check_interval_seconds(i(p, "health_check_interval_seconds"))
            .set_health_check_timeout_seconds(i(p, "health_check_timeout_seconds"))
            .set_healthy_threshold_count(i(p, "healthy_threshold"))
            .set_unhealthy_threshold_count(i(p, "unhealthy_threshold"))
            .set_tags(Some(tags(ctx, &req.logical_id, p)));
        if http(p) {
            call = call.set_health_check_path(s(p, "health_check_path"));
        }
        let r = call.send().await.map_err(err)?;
        let arn = r
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .ok_or_else(|| ProviderError::new("CreateTargetGroup returned no target group"))?
            .to_string();
        if let Some(secs) = i(p, "deregistration_delay_seconds")
            && secs != 300
        {
            self.set_delay(&arn, secs).await.map_err(partial(&arn))?;
        }
        let mut attrs = Attrs::new();
        attrs.insert("arn".into(), json!(arn));
        attrs.insert("name".into(), json!(name));
        Ok(Created {
            physical_id: arn,
            attributes: attrs,
        })
    }

    async fn update(
        &self,
        _ctx: &Context,
        arn: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Attrs, ProviderError> {
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
            call.send().await.map_err(err)?;
        }
        if i(old, "deregistration_delay_seconds") != i(new, "deregistration_delay_seconds")
            && let Some(secs) = i(new, "deregistration_delay_seconds")
        {
            self.set_delay(arn, secs).await?;
        }
        sync_tags(&self.0, arn, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, arn: &str, _p: &Props) -> Result<(), ProviderError> {
        // `ResourceInUse` while a listener or rule still forwards here is
        // transient during a destroy (the rule is being deleted alongside).
        match self
            .0
            .elb
            .delete_target_group()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(err)
        {
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

// ---------------------------------------------------------------- listener

/// `aws.elbv2.listener`.
pub struct Listener(pub Clients);

fn default_action(p: &Props) -> Action {
    match s(p, "target_group_arn") {
        Some(tg) => Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(tg)
            .build(),
        None => Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code(s(p, "fixed_response_status").unwrap_or_else(|| "404".into()))
                    .content_type("text/plain")
                    .build(),
            )
            .build(),
    }
}

/// The forward target of an action list, whether written as
/// `TargetGroupArn` or as a one-group `ForwardConfig`.
fn forward_target(actions: &[Action]) -> Option<String> {
    let a = actions
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))?;
    a.target_group_arn()
        .or_else(|| {
            a.forward_config()
                .and_then(|f| f.target_groups().first())
                .and_then(|t| t.target_group_arn())
        })
        .map(str::to_string)
}

#[async_trait]
impl ResourceKind for Listener {
    fn schema(&self) -> &'static Schema {
        &LISTENER
    }

    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>, ProviderError> {
        // Listeners are listed per load balancer: those state records,
        // plus, to find lost ones, the stack's load balancers.
        let mut lbs: BTreeSet<String> = q
            .known
            .iter()
            .filter_map(|(_, p)| s(p, "load_balancer_arn"))
            .collect();
        if q.discover {
            lbs.extend(stack_lbs(&self.0, ctx).await?);
        }
        let found = listeners_of(&self.0, lbs).await?;
        let tags = tags_of(
            &self.0,
            found
                .iter()
                .filter_map(|l| l.listener_arn().map(str::to_string)),
        )
        .await?;
        let mut out = Vec::new();
        for l in found {
            let arn = l.listener_arn().unwrap_or_default().to_string();
            let Some((user, logical)) = owned(ctx, q, &arn, &tags) else {
                continue;
            };
            let mut p = Props::new();
            p.insert("load_balancer_arn".into(), json!(l.load_balancer_arn()));
            p.insert("port".into(), json!(l.port()));
            p.insert("protocol".into(), json!(l.protocol().map(|v| v.as_str())));
            p.insert(
                "certificate_arn".into(),
                json!(l.certificates().first().and_then(|c| c.certificate_arn())),
            );
            p.insert(
                "target_group_arn".into(),
                json!(forward_target(l.default_actions())),
            );
            p.insert(
                "fixed_response_status".into(),
                json!(
                    l.default_actions()
                        .iter()
                        .find_map(|a| a.fixed_response_config()?.status_code())
                ),
            );
            p.insert("tags".into(), user);
            let mut attrs = Attrs::new();
            attrs.insert("arn".into(), json!(arn));
            out.push(Observed {
                physical_id: arn,
                logical_id: logical,
                properties: p,
                attributes: attrs,
            });
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created, ProviderError> {
        let p = &req.properties;
        let certs = s(p, "certificate_arn").map(|c| {
            vec![
                aws_sdk_elasticloadbalancingv2::types::Certificate::builder()
                    .certificate_arn(c)
                    .build(),
            ]
        });
        let r = self
            .0
            .elb
            .create_listener()
            .load_balancer_arn(s(p, "load_balancer_arn").unwrap_or_default())
            .port(i(p, "port").unwrap_or(80))
            .set_protocol(protocol(p, "protocol"))
            .set_certificates(certs)
            .default_actions(default_action(p))
            .set_tags(Some(tags(ctx, &req.logical_id, p)))
            .send()
            .await
            .map_err(err)?;
        let arn = r
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .ok_or_else(|| ProviderError::new("CreateListener returned no listener"))?
            .to_string();
        let mut attrs = Attrs::new();
        attrs.insert("arn".into(), json!(arn));
        Ok(Created {
            physical_id: arn,
            attributes: attrs,
        })
    }

    async fn update(
        &self,
        _ctx: &Context,
        arn: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Attrs, ProviderError> {
        let keys = [
            "port",
            "protocol",
            "certificate_arn",
            "target_group_arn",
            "fixed_response_status",
        ];
        if keys.iter().any(|k| old.get(*k) != new.get(*k)) {
            let certs = s(new, "certificate_arn").map(|c| {
                vec![
                    aws_sdk_elasticloadbalancingv2::types::Certificate::builder()
                        .certificate_arn(c)
                        .build(),
                ]
            });
            self.0
                .elb
                .modify_listener()
                .listener_arn(arn)
                .set_port(i(new, "port"))
                .set_protocol(protocol(new, "protocol"))
                .set_certificates(certs)
                .default_actions(default_action(new))
                .send()
                .await
                .map_err(err)?;
        }
        sync_tags(&self.0, arn, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, arn: &str, _p: &Props) -> Result<(), ProviderError> {
        self.0
            .elb
            .delete_listener()
            .listener_arn(arn)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }
}

// ---------------------------------------------------------------- listener rule

/// `aws.elbv2.listener_rule`.
pub struct ListenerRule(pub Clients);

fn conditions(p: &Props) -> Vec<RuleCondition> {
    let mut out = Vec::new();
    for (key, field) in [
        ("path_patterns", "path-pattern"),
        ("host_headers", "host-header"),
    ] {
        let values = list(p, key);
        if !values.is_empty() {
            out.push(
                RuleCondition::builder()
                    .field(field)
                    .set_values(Some(values))
                    .build(),
            );
        }
    }
    out
}

fn condition_values(c: &[RuleCondition], field: &str) -> Value {
    let values: Vec<String> = c
        .iter()
        .filter(|c| c.field() == Some(field))
        .flat_map(|c| {
            let v = c.values();
            if v.is_empty() {
                match field {
                    "path-pattern" => c
                        .path_pattern_config()
                        .map(|x| x.values().to_vec())
                        .unwrap_or_default(),
                    _ => c
                        .host_header_config()
                        .map(|x| x.values().to_vec())
                        .unwrap_or_default(),
                }
            } else {
                v.to_vec()
            }
        })
        .collect();
    if values.is_empty() {
        Value::Null
    } else {
        json!(values)
    }
}

#[async_trait]
impl ResourceKind for ListenerRule {
    fn schema(&self) -> &'static Schema {
        &LISTENER_RULE
    }

    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>, ProviderError> {
        let mut listeners: BTreeSet<String> = q
            .known
            .iter()
            .filter_map(|(_, p)| s(p, "listener_arn"))
            .collect();
        if q.discover {
            let lbs = stack_lbs(&self.0, ctx).await?;
            listeners.extend(
                listeners_of(&self.0, lbs)
                    .await?
                    .iter()
                    .filter_map(|l| l.listener_arn().map(str::to_string)),
            );
        }
        let mut found = Vec::new();
        for l in listeners {
            match self
                .0
                .elb
                .describe_rules()
                .listener_arn(&l)
                .send()
                .await
                .map_err(err)
            {
                Ok(r) => found.extend(
                    r.rules()
                        .iter()
                        .filter(|r| r.is_default() != Some(true))
                        .map(|r| (l.clone(), r.clone())),
                ),
                Err(e) if e.not_found => {}
                Err(e) => return Err(e),
            }
        }
        let tags = tags_of(
            &self.0,
            found
                .iter()
                .filter_map(|(_, r)| r.rule_arn().map(str::to_string)),
        )
        .await?;
        let mut out = Vec::new();
        for (listener, r) in found {
            let arn = r.rule_arn().unwrap_or_default().to_string();
            let Some((user, logical)) = owned(ctx, q, &arn, &tags) else {
                continue;
            };
            let mut p = Props::new();
            p.insert("listener_arn".into(), json!(listener));
            p.insert(
                "priority".into(),
                json!(r.priority().and_then(|v| v.parse::<i64>().ok())),
            );
            p.insert(
                "path_patterns".into(),
                condition_values(r.conditions(), "path-pattern"),
            );
            p.insert(
                "host_headers".into(),
                condition_values(r.conditions(), "host-header"),
            );
            p.insert(
                "target_group_arn".into(),
                json!(forward_target(r.actions())),
            );
            p.insert("tags".into(), user);
            let mut attrs = Attrs::new();
            attrs.insert("arn".into(), json!(arn));
            out.push(Observed {
                physical_id: arn,
                logical_id: logical,
                properties: p,
                attributes: attrs,
            });
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created, ProviderError> {
        let p = &req.properties;
        let r = self
            .0
            .elb
            .create_rule()
            .listener_arn(s(p, "listener_arn").unwrap_or_default())
            .priority(i(p, "priority").unwrap_or(1))
            .set_conditions(Some(conditions(p)))
            .actions(default_action(p))
            .set_tags(Some(tags(ctx, &req.logical_id, p)))
            .send()
            .await
            .map_err(err)?;
        let arn = r
            .rules()
            .first()
            .and_then(|r| r.rule_arn())
            .ok_or_else(|| ProviderError::new("CreateRule returned no rule"))?
            .to_string();
        let mut attrs = Attrs::new();
        attrs.insert("arn".into(), json!(arn));
        Ok(Created {
            physical_id: arn,
            attributes: attrs,
        })
    }

    async fn update(
        &self,
        _ctx: &Context,
        arn: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Attrs, ProviderError> {
        let elb = &self.0.elb;
        if ["path_patterns", "host_headers", "target_group_arn"]
            .iter()
            .any(|k| old.get(*k) != new.get(*k))
        {
            elb.modify_rule()
                .rule_arn(arn)
                .set_conditions(Some(conditions(new)))
                .actions(default_action(new))
                .send()
                .await
                .map_err(err)?;
        }
        if i(old, "priority") != i(new, "priority") {
            elb.set_rule_priorities()
                .rule_priorities(
                    aws_sdk_elasticloadbalancingv2::types::RulePriorityPair::builder()
                        .rule_arn(arn)
                        .priority(i(new, "priority").unwrap_or(1))
                        .build(),
                )
                .send()
                .await
                .map_err(err)?;
        }
        sync_tags(&self.0, arn, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, arn: &str, _p: &Props) -> Result<(), ProviderError> {
        self.0
            .elb
            .delete_rule()
            .rule_arn(arn)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    fn check(&self, p: &Props) -> Result<(), (String, String)> {
        if conditions(p).is_empty() {
            return Err((
                "a listener rule needs at least one condition".into(),
                "set `path_patterns` (e.g. [\"/*\"]) or `host_headers`".into(),
            ));
        }
        Ok(())
    }
}

/// Kinds of this module.
pub fn schemas() -> [&'static Schema; 4] {
    [&LOAD_BALANCER, &TARGET_GROUP, &LISTENER, &LISTENER_RULE]
}

pub fn kinds(c: &Clients) -> Vec<std::sync::Arc<dyn ResourceKind>> {
    vec![
        std::sync::Arc::new(LoadBalancer(c.clone())),
        std::sync::Arc::new(TargetGroup(c.clone())),
        std::sync::Arc::new(Listener(c.clone())),
        std::sync::Arc::new(ListenerRule(c.clone())),
    ]
}
