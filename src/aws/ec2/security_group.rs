//! `aws.ec2.security_group` (with inline rules) and the standalone
//! `aws.ec2.security_group_rule`, which groups that reference each other
//! need to avoid a dependency cycle.

use super::common::{read_tagged, read_tags, stack_or_known, sync_tags, tag_spec};
use crate::aws::prelude::*;
use crate::schema::Default;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};
use std::collections::BTreeSet;

/// An inline rule of a security group.
static RULE: &[Prop] = rows! {

    Prop::new("protocol", Type::String, "`tcp`, `udp`, `icmp` or `-1` for all.").required(),

    Prop::new("from_port", Type::Int, "First port (omit for all).").range(-1, 65535),

    Prop::new("to_port", Type::Int, "Last port (omit for all).").range(-1, 65535),

    Prop::new("cidr_blocks", Type::List(&Type::Cidr), "IPv4 sources or destinations."),

    Prop::new("source_security_group_id", Type::String, "Another security group as the source or destination."),

    Prop::new("description", Type::String, "What the rule is for."),

};

pub static SECURITY_GROUP: Schema = Schema::new("aws.ec2.security_group", "A security group. Without `egress`, all outbound traffic is allowed (AWS's default).")
    .properties(rows! {
        Prop::new("name", Type::String, "The group name; derived from the stack and id when omitted.").replace(),
        Prop::new("description", Type::String, "The group's description (AWS cannot change it).").required().replace(),
        Prop::new("vpc_id", Type::String, "The VPC.").required().replace(),
        Prop::new("ingress", Type::List(&Type::Object(RULE)), "Inbound rules."),
        Prop::new("egress", Type::List(&Type::Object(RULE)), "Outbound rules."),
    })
    .free()
    .replacement(Replacement::DeleteFirstIfKept(&["name", "vpc_id"], "group names are unique within a VPC"));

pub static SECURITY_GROUP_RULE: Schema = Schema::new("aws.ec2.security_group_rule", "One ingress or egress rule of a security group.")
    .properties(rows! {
        Prop::new("security_group_id", Type::String, "The group the rule belongs to.").required().replace(),
        Prop::new("type", Type::Enum(&["ingress", "egress"]), "Direction.").required().replace(),
        Prop::new("protocol", Type::String, "`tcp`, `udp`, `icmp` or `-1` for all.").default(Default::Str("-1")).replace(),
        Prop::new("from_port", Type::Int, "First port (omit for all).").range(-1, 65535).replace(),
        Prop::new("to_port", Type::Int, "Last port (omit for all).").range(-1, 65535).replace(),
        Prop::new("cidr_block", Type::Cidr, "An IPv4 source or destination.").replace(),
        Prop::new("source_security_group_id", Type::String, "A security group as the source or destination (may be the rule's own group).").replace(),
        Prop::new("description", Type::String, "What the rule is for."),
    })
    .exactly_one_of(&[&["cidr_block", "source_security_group_id"]])
    .free()
    .replacement(Replacement::DeleteFirstIfKept(&["security_group_id", "type", "protocol", "from_port", "to_port", "cidr_block", "source_security_group_id"], "a group holds a rule once"));

kind! {
    /// The security group kind. Inline rules are compared as a set of
    /// single-source rules; rules owned by `aws.ec2.security_group_rule`
    /// resources are not compared here, so a group should use one style only.
    SecurityGroup, SECURITY_GROUP
}

/// One rule with one source, in a canonical form.
fn flat_rules(v: Option<&Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Some(Value::Array(rules)) = v else {
        return out;
    };
    for r in rules {
        let proto = r.get("protocol").and_then(|p| p.as_str()).unwrap_or("-1");
        let proto = if proto == "all" { "-1" } else { proto };
        let (from, to) = if proto == "-1" {
            (Value::Null, Value::Null)
        } else {
            (
                r.get("from_port").cloned().unwrap_or(Value::Null),
                r.get("to_port").cloned().unwrap_or(Value::Null),
            )
        };
        let desc = r.get("description").cloned().unwrap_or(Value::Null);
        let mut push = |k: &str, v: &Value| {
            let mut o = serde_json::Map::new();
            o.insert("protocol".into(), json!(proto));
            if !from.is_null() {
                o.insert("from_port".into(), from.clone());
            }
            if !to.is_null() {
                o.insert("to_port".into(), to.clone());
            }
            o.insert(k.into(), v.clone());
            if !desc.is_null() {
                o.insert("description".into(), desc.clone());
            }
            out.insert(Value::Object(o).to_string());
        };
        if let Some(Value::Array(cidrs)) = r.get("cidr_blocks") {
            for c in cidrs {
                push("cidr_blocks", &json!([c]));
            }
        }
        if let Some(g) = r.get("source_security_group_id").filter(|g| !g.is_null()) {
            push("source_security_group_id", g);
        }
    }
    out
}

fn canonical(set: &BTreeSet<String>) -> Value {
    Value::Array(set.iter().filter_map(|r| serde_json::from_str(r).ok()).collect())
}

fn rules_of(perms: &[IpPermission]) -> Value {
    let mut rules = Vec::new();
    for p in perms {
        let base = |k: &str, v: Value, desc: Option<&str>| {
            let mut o = serde_json::Map::new();
            o.insert("protocol".into(), str_value(p.ip_protocol()));
            if let Some(f) = p.from_port() {
                o.insert("from_port".into(), json!(f));
            }
            if let Some(t) = p.to_port() {
                o.insert("to_port".into(), json!(t));
            }
            o.insert(k.into(), v);
            if let Some(d) = desc {
                o.insert("description".into(), json!(d));
            }
            Value::Object(o)
        };
        for r in p.ip_ranges() {
            rules.push(base("cidr_blocks", json!([r.cidr_ip()]), r.description()));
        }
        for g in p.user_id_group_pairs() {
            rules.push(base("source_security_group_id", str_value(g.group_id()), g.description()));
        }
    }
    Value::Array(rules)
}

/// API permissions for a set of canonical rules.
fn permissions(rules: &BTreeSet<String>) -> Vec<IpPermission> {
    rules
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(r).ok())
        .map(|r| {
            let m = r.as_object().cloned().unwrap_or_default();
            let props: Props = m;
            let mut p = IpPermission::builder()
                .set_ip_protocol(s(&props, "protocol"))
                .set_from_port(i(&props, "from_port"))
                .set_to_port(i(&props, "to_port"));
            let desc = s(&props, "description");
            for c in list(&props, "cidr_blocks") {
                p = p
                    .ip_ranges(IpRange::builder().cidr_ip(c).set_description(desc.clone()).build());
            }
            if let Some(g) = s(&props, "source_security_group_id") {
                p = p.user_id_group_pairs(
                    UserIdGroupPair::builder().group_id(g).set_description(desc.clone()).build(),
                );
            }
            p.build()
        })
        .collect()
}

#[async_trait]
impl ResourceKind for SecurityGroup {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        read_tagged(&self.0, ctx, q, |g: &aws_sdk_ec2::types::SecurityGroup| {
            let p = props([
                ("name", str_value(g.group_name())),
                ("description", str_value(g.description())),
                ("vpc_id", str_value(g.vpc_id())),
                ("ingress", rules_of(g.ip_permissions())),
                ("egress", rules_of(g.ip_permissions_egress())),
            ]);
            Some((p, Attrs::new()))
        })
        .await
    }

    /// Rules compare as sets of single-source rules.
    fn normalize(&self, props: &mut Props) {
        for k in ["ingress", "egress"] {
            if props.contains_key(k) {
                let set = flat_rules(props.get(k));
                props.insert(k.into(), canonical(&set));
            }
        }
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name = s(p, "name").unwrap_or_else(|| format!("{}-{}", ctx.stack, req.logical_id));
        let out = send!(
            self.0
                .ec2
                .create_security_group()
                .group_name(name)
                .set_description(s(p, "description"))
                .set_vpc_id(s(p, "vpc_id"))
                .tag_specifications(
                    tag_spec(ResourceType::SecurityGroup, ctx, &req.logical_id, p,)
                )
        )?;
        let id = created_id(out.group_id(), self.schema().kind)?;
        // The group exists: rule failures must not lose it.
        let mut none = Props::new();
        if p.contains_key("egress") {
            // An explicit egress list replaces AWS's default allow-all rule.
            none.insert("egress".into(), json!([{"protocol": "-1", "cidr_blocks": ["0.0.0.0/0"]}]));
        }
        self.sync_rules(&id, &none, p).await.partial(&id)?;
        Ok(Created::new(id))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        self.sync_rules(id, old, new).await?;
        sync_tags(&self.0.ec2, id, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, id: &str, props: &Props) -> Result<()> {
        // Rules referencing other groups keep those groups alive: revoke
        // them first, so groups that reference each other can all go.
        let refs: BTreeSet<String> = flat_rules(props.get("ingress"))
            .into_iter()
            .filter(|r| r.contains("source_security_group_id"))
            .collect();
        if !refs.is_empty() {
            let _ = self
                .0
                .ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(permissions(&refs)))
                .send()
                .await;
        }
        super::common::delete_held_by_lambda(&self.0, "group-id", id, || async {
            send!(self.0.ec2.delete_security_group().group_id(id)).map(|_| ())
        })
        .await
    }
}

impl SecurityGroup {
    /// Authorizes and revokes so the group's inline rules match `new`.
    async fn sync_rules(&self, id: &str, old: &Props, new: &Props) -> Result<()> {
        let ec2 = &self.0.ec2;
        for (k, egress) in [("ingress", false), ("egress", true)] {
            if !new.contains_key(k) && !old.contains_key(k) {
                continue;
            }
            let was = flat_rules(old.get(k));
            let want = flat_rules(new.get(k));
            let revoke: BTreeSet<String> = was.difference(&want).cloned().collect();
            let add: BTreeSet<String> = want.difference(&was).cloned().collect();
            if !revoke.is_empty() {
                let perms = Some(permissions(&revoke));
                if egress {
                    send!(
                        ec2.revoke_security_group_egress().group_id(id).set_ip_permissions(perms)
                    )?;
                } else {
                    send!(
                        ec2.revoke_security_group_ingress().group_id(id).set_ip_permissions(perms)
                    )?;
                }
            }
            if !add.is_empty() {
                let perms = Some(permissions(&add));
                if egress {
                    send!(
                        ec2.authorize_security_group_egress()
                            .group_id(id)
                            .set_ip_permissions(perms)
                    )?;
                } else {
                    send!(
                        ec2.authorize_security_group_ingress()
                            .group_id(id)
                            .set_ip_permissions(perms)
                    )?;
                }
            }
        }
        Ok(())
    }
}

kind! {
    /// One rule as its own resource (an `sgr-` id), tagged like any other.
    SecurityGroupRule, SECURITY_GROUP_RULE
}

fn rule_permission(p: &Props) -> IpPermission {
    let proto = s(p, "protocol").unwrap_or("-1".into());
    let all = proto == "-1";
    let desc = s(p, "description");
    let mut b = IpPermission::builder()
        .ip_protocol(&proto)
        .set_from_port(if all { None } else { i(p, "from_port") })
        .set_to_port(if all { None } else { i(p, "to_port") });
    if let Some(c) = s(p, "cidr_block") {
        b = b.ip_ranges(IpRange::builder().cidr_ip(c).set_description(desc.clone()).build());
    }
    if let Some(g) = s(p, "source_security_group_id") {
        b = b.user_id_group_pairs(
            UserIdGroupPair::builder().group_id(g).set_description(desc).build(),
        );
    }
    b.build()
}

#[async_trait]
impl ResourceKind for SecurityGroupRule {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let found: Vec<aws_sdk_ec2::types::SecurityGroupRule> =
            stack_or_known(&self.0, ctx, q.known.iter().map(|(id, _)| id.clone())).await?;
        Ok(found
            .iter()
            .filter_map(|r| {
                let (tags, logical_id) = read_tags(ctx, r.tags());
                let all = r.ip_protocol() == Some("-1");
                let mut p = props([
                    ("security_group_id", str_value(r.group_id())),
                    (
                        "type",
                        json!(if r.is_egress().unwrap_or(false) { "egress" } else { "ingress" }),
                    ),
                    ("protocol", str_value(r.ip_protocol())),
                    ("tags", tags),
                ]);
                if !all {
                    p.extend(props([
                        ("from_port", r.from_port().map_or(Value::Null, |v| json!(v))),
                        ("to_port", r.to_port().map_or(Value::Null, |v| json!(v))),
                    ]));
                }
                if let Some(c) = r.cidr_ipv4() {
                    p.insert("cidr_block".into(), json!(c));
                }
                if let Some(g) = r.referenced_group_info().and_then(|g| g.group_id()) {
                    p.insert("source_security_group_id".into(), json!(g));
                }
                // moto leaves rule descriptions out of
                // DescribeSecurityGroupRules; an absent one is taken as last
                // applied rather than reported as drift.
                if let Some(d) = r.description() {
                    p.insert("description".into(), json!(d));
                }
                Some(Observed::new(r.security_group_rule_id()?.to_string(), logical_id, p))
            })
            .collect())
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let group = s(p, "security_group_id").unwrap_or_default();
        let tags = tag_spec(ResourceType::SecurityGroupRule, ctx, &req.logical_id, p);
        let rules = if s(p, "type").as_deref() == Some("egress") {
            send!(
                self.0
                    .ec2
                    .authorize_security_group_egress()
                    .group_id(&group)
                    .ip_permissions(rule_permission(p))
                    .tag_specifications(tags)
            )?
            .security_group_rules
        } else {
            send!(
                self.0
                    .ec2
                    .authorize_security_group_ingress()
                    .group_id(&group)
                    .ip_permissions(rule_permission(p))
                    .tag_specifications(tags)
            )?
            .security_group_rules
        };
        let id = created_id(
            rules.unwrap_or_default().first().and_then(|r| r.security_group_rule_id()),
            self.schema().kind,
        )?;
        Ok(Created::new(id))
    }

    /// Only the description changes in place.
    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        sync_tags(&self.0.ec2, id, old, new).await?;
        if s(old, "description") != s(new, "description") {
            let group = s(new, "security_group_id").unwrap_or_default();
            // A rule for all protocols has ports -1 to -1 (as
            // DescribeSecurityGroupRules reports it); without them the
            // request is refused ("must specify both from and to ports").
            let all = s(new, "protocol").is_none_or(|p| p == "-1");
            let port = |k| if all { Some(-1) } else { i(new, k) };
            let update = aws_sdk_ec2::types::SecurityGroupRuleUpdate::builder()
                .security_group_rule_id(id)
                .security_group_rule(
                    aws_sdk_ec2::types::SecurityGroupRuleRequest::builder()
                        .set_ip_protocol(s(new, "protocol"))
                        .set_from_port(port("from_port"))
                        .set_to_port(port("to_port"))
                        .set_cidr_ipv4(s(new, "cidr_block"))
                        .set_referenced_group_id(s(new, "source_security_group_id"))
                        .set_description(s(new, "description"))
                        .build(),
                )
                .build();
            send!(
                self.0
                    .ec2
                    .modify_security_group_rules()
                    .group_id(group)
                    .security_group_rules(update)
            )?;
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, id: &str, props: &Props) -> Result<()> {
        let group = s(props, "security_group_id").unwrap_or_default();
        if s(props, "type").as_deref() == Some("egress") {
            send!(
                self.0
                    .ec2
                    .revoke_security_group_egress()
                    .group_id(group)
                    .security_group_rule_ids(id)
            )?;
        } else {
            send!(
                self.0
                    .ec2
                    .revoke_security_group_ingress()
                    .group_id(group)
                    .security_group_rule_ids(id)
            )?;
        }
        Ok(())
    }
}
