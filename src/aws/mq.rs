//! `aws.mq.broker`: an Amazon MQ broker with one user.
//!
//! The physical id is the broker id. Creating a broker takes 10-20 minutes
//! on AWS (no SDK waiter: DescribeBroker is polled until RUNNING, and the
//! progress display says so). Changes to the engine version, instance
//! type, security groups or the user are made with UpdateBroker and the
//! user calls, and take effect only after a reboot, which the plan names
//! and the update performs. The password is sensitive: compared by digest,
//! never read back, never printed.
//!
//! moto reports RUNNING at once and deletes instantly, so tests prove the
//! calls, not the waits.

use crate::aws::prelude::*;
use crate::schema::Default;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_mq::types::{BrokerState, DeploymentMode, EngineType, User};

const NAME_MAX: usize = 50;

pub static BROKER: Schema = Schema::new("aws.mq.broker", "An Amazon MQ broker with one user.")
    .properties(rows! {
        Prop::new("name", Type::String, "The broker name; derived from the stack and id when omitted.").replace(),
        Prop::new("engine_type", Type::Enum(&["ACTIVEMQ", "RABBITMQ"]), "The message broker engine.").default(Default::Str("ACTIVEMQ")).replace(),
        Prop::new("engine_version", Type::String, "The engine version, e.g. 5.18.").required(),
        Prop::new("host_instance_type", Type::String, "The instance type, e.g. mq.t3.micro.").default(Default::Str("mq.t3.micro")),
        Prop::new("deployment_mode", Type::Enum(&["SINGLE_INSTANCE", "ACTIVE_STANDBY_MULTI_AZ", "CLUSTER_MULTI_AZ"]), "One instance, or an active/standby pair.").default(Default::Str("SINGLE_INSTANCE")).replace(),
        Prop::new("publicly_accessible", Type::Bool, "Reachable from the internet (its subnet needs an internet gateway).").default(Default::Bool(false)).replace(),
        Prop::new("subnet_ids", Type::List(&Type::String), "Subnets (one for a single instance).").replace(),
        Prop::new("security_groups", Type::List(&Type::String), "Security groups of the broker."),
        Prop::new("auto_minor_version_upgrade", Type::Bool, "Apply minor engine versions in the maintenance window.").default(Default::Bool(true)),
        Prop::new("username", Type::String, "The broker user.").required(),
        Prop::new("password", Type::String, "The user's password (12+ characters, 4+ distinct, no `,` `:` `=`).").required().sensitive(),
        Prop::new("console_access", Type::Bool, "Whether the user may log in to the web console.").default(Default::Bool(true)),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The broker's ARN."),
        Attr::new("stomp_endpoint", Type::String, "The STOMP+TLS endpoint, `stomp+ssl://host:61614`."),
        Attr::new("stomp_host", Type::String, "The host name of the first instance, without scheme or port."),
        Attr::new("console_url", Type::String, "The web console."),
    })
    .notes("The password needs 12+ characters, 4+ distinct, and no `,` `:` `=` (checked at plan time). Changing the version, type, groups or user reboots the broker (the plan says so). Creation takes 10-20 minutes on AWS.")
    .cost(broker_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "broker names are unique in a region"));

/// Properties whose change takes effect only after a reboot.
const NEEDS_REBOOT: &[&str] = &[
    "engine_version",
    "host_instance_type",
    "security_groups",
    "username",
    "password",
    "console_access",
];

/// Amazon MQ's password rules. `Err(Refusal::new(message, help))`; never includes the
/// password.
pub fn check_password(p: &str) -> Result<(), Refusal> {
    let help = "choose at least 12 characters, at least 4 of them different, \
                without `,`, `:` or `=`";
    let distinct: BTreeSet<char> = p.chars().collect();
    let problem = if p.chars().count() < 12 {
        Some(format!("has {} characters, fewer than 12", p.chars().count()))
    } else if distinct.len() < 4 {
        Some(format!("has {} distinct characters, fewer than 4", distinct.len()))
    } else if p.contains([',', ':', '=']) {
        Some("contains `,`, `:` or `=`".to_string())
    } else {
        None
    };
    match problem {
        Some(why) => Err(Refusal::new(
            format!("the broker password {why}, which Amazon MQ refuses"),
            help.into(),
        )),
        None => Ok(()),
    }
}

/// The host of a `stomp+ssl://host:61614` endpoint.
fn host_of(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    rest.rsplit_once(':').map_or(rest, |(h, _)| h)
}

kind! { Broker, BROKER }

fn attrs_of(d: &aws_sdk_mq::operation::describe_broker::DescribeBrokerOutput) -> Attrs {
    let mut a = attrs([("arn", json!(d.broker_arn()))]);
    let first = d.broker_instances().first();
    let stomp =
        first.and_then(|i| i.endpoints().iter().find(|e| e.starts_with("stomp+ssl://")).cloned());
    a.insert("stomp_endpoint".into(), json!(stomp));
    // Every ActiveMQ broker on AWS lists a stomp+ssl endpoint; moto lists
    // only `ssl://mockmq:61617`, whose host is the same.
    let host = stomp
        .as_deref()
        .or_else(|| first.and_then(|i| i.endpoints().first().map(String::as_str)))
        .map(host_of);
    a.extend(props([
        ("stomp_host", json!(host)),
        ("console_url", json!(first.and_then(|i| i.console_url()))),
    ]));
    a
}

impl Broker {
    async fn describe(
        &self,
        id: &str,
    ) -> Result<Option<aws_sdk_mq::operation::describe_broker::DescribeBrokerOutput>> {
        send!(self.0.mq.describe_broker().broker_id(id)).found()
    }

    async fn reboot(&self, id: &str) -> Result<()> {
        send!(self.0.mq.reboot_broker().broker_id(id))?;
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for Broker {
    /// ListBrokers (paginated) finds the stack's brokers by name; each is
    /// then described (the API has no batched describe).
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let prefix = unique_name(&ctx.stack, "", NAME_MAX);
        let mut ids: BTreeSet<String> = q.known.iter().map(|(id, _)| id.clone()).collect();
        let mut token: Option<String> = None;
        loop {
            let page = send!(self.0.mq.list_brokers().set_next_token(token.clone()))?;
            for b in page.broker_summaries() {
                if b.broker_name().is_some_and(|n| n.starts_with(&prefix))
                    && let Some(id) = b.broker_id()
                {
                    ids.insert(id.to_string());
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        let mut out = Vec::new();
        for id in ids {
            let Some(d) = self.describe(&id).await? else {
                continue;
            };
            if matches!(d.broker_state(), Some(BrokerState::DeletionInProgress)) {
                continue;
            }
            let tags: Vec<(&str, &str)> = d
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
                .unwrap_or_default();
            let (user, logical) = split_tags(ctx, tags);
            if logical.unclaimed() && !q.known.iter().any(|(k, _)| *k == id) {
                continue;
            }
            let mut p = props([
                ("name", json!(d.broker_name())),
                ("engine_type", json!(d.engine_type().map(|e| e.as_str()))),
            ]);
            // A pending change is what the broker will run after its
            // reboot: compare with that.
            p.extend(props([
                ("engine_version", json!(d.pending_engine_version().or(d.engine_version()))),
                (
                    "host_instance_type",
                    json!(d.pending_host_instance_type().or(d.host_instance_type())),
                ),
                ("deployment_mode", json!(d.deployment_mode().map(|m| m.as_str()))),
                ("publicly_accessible", json!(d.publicly_accessible())),
                ("subnet_ids", json!(d.subnet_ids())),
            ]));
            let sgs = if d.pending_security_groups().is_empty() {
                d.security_groups()
            } else {
                d.pending_security_groups()
            };
            p.extend(props([
                ("security_groups", json!(sgs)),
                ("auto_minor_version_upgrade", json!(d.auto_minor_version_upgrade())),
                ("username", json!(d.users().first().and_then(|u| u.username()))),
                ("tags", user),
            ]));
            out.push(Observed::new(id, logical, p).with(attrs_of(&d)));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name =
            s(p, "name").unwrap_or_else(|| unique_name(&ctx.stack, &req.logical_id, NAME_MAX));
        let tags: HashMap<String, String> =
            create_tags(ctx, &req.logical_id, p).into_iter().collect();
        let subnets = list(p, "subnet_ids");
        let r = send!(
            self.0
                .mq
                .create_broker()
                .creator_request_id(&req.token)
                .broker_name(name)
                .engine_type(
                    EngineType::from(s(p, "engine_type").as_deref().unwrap_or("ACTIVEMQ"),)
                )
                .set_engine_version(s(p, "engine_version"))
                .set_host_instance_type(s(p, "host_instance_type"))
                .deployment_mode(DeploymentMode::from(
                    s(p, "deployment_mode").as_deref().unwrap_or("SINGLE_INSTANCE"),
                ))
                .publicly_accessible(b(p, "publicly_accessible").unwrap_or(false))
                .set_subnet_ids((!subnets.is_empty()).then_some(subnets))
                .set_security_groups(Some(list(p, "security_groups")))
                .auto_minor_version_upgrade(b(p, "auto_minor_version_upgrade").unwrap_or(true))
                .users(
                    User::builder()
                        .set_username(s(p, "username"))
                        .set_password(s(p, "password"))
                        .console_access(b(p, "console_access").unwrap_or(true))
                        .build(),
                )
                .set_tags(Some(tags))
        )?;
        Ok(Created::new(created_id(r.broker_id(), self.schema().kind)?)
            .with([("arn".to_string(), json!(r.broker_arn()))].into()))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let mq = &self.0.mq;
        let changed = |k: &str| old.get(k) != new.get(k);
        let sgs_changed = set_changed(old, new, "security_groups");
        if changed("engine_version")
            || changed("host_instance_type")
            || changed("auto_minor_version_upgrade")
            || sgs_changed
        {
            send!(
                mq.update_broker()
                    .broker_id(id)
                    .set_engine_version(
                        s(new, "engine_version").filter(|_| changed("engine_version"))
                    )
                    .set_host_instance_type(
                        s(new, "host_instance_type").filter(|_| changed("host_instance_type")),
                    )
                    .set_auto_minor_version_upgrade(b(new, "auto_minor_version_upgrade"))
                    .set_security_groups(sgs_changed.then(|| list(new, "security_groups")))
            )?;
        }
        if changed("username") {
            // A new user name: the new user first, then the old one goes.
            send!(
                mq.create_user()
                    .broker_id(id)
                    .set_username(s(new, "username"))
                    .set_password(s(new, "password"))
                    .console_access(b(new, "console_access").unwrap_or(true))
            )?;
            if let Some(u) = s(old, "username") {
                send!(mq.delete_user().broker_id(id).username(u))?;
            }
        } else if changed("password") || changed("console_access") {
            send!(
                mq.update_user()
                    .broker_id(id)
                    .set_username(s(new, "username"))
                    .set_password(s(new, "password").filter(|_| changed("password")))
                    .console_access(b(new, "console_access").unwrap_or(true))
            )?;
        }
        if NEEDS_REBOOT.iter().any(|k| *k != "security_groups" && changed(k)) || sgs_changed {
            self.reboot(id).await?;
        }
        arn_tag_calls!(
            old,
            new,
            id,
            arn = self.describe(id).await?.and_then(|d| d.broker_arn().map(str::to_string)),
            mq.delete_tags().resource_arn(arn),
            mq.create_tags().resource_arn(arn),
            |set| set.into_iter().collect::<HashMap<_, _>>()
        );
        Ok(Attrs::new())
    }

    /// RUNNING, after a create or a reboot.
    async fn poll_ready(&self, _ctx: &Context, id: &str) -> Result<Option<Attrs>> {
        let Some(d) = self.describe(id).await? else {
            return Ok(None);
        };
        ready_when(
            d.broker_state(),
            &[&BrokerState::Running],
            &[&BrokerState::CreationFailed],
            || attrs_of(&d),
            |_| ProviderError::new("the broker failed to create (CREATION_FAILED)"),
        )
    }

    async fn delete(&self, _ctx: &Context, id: &str, _p: &Props) -> Result<()> {
        send!(self.0.mq.delete_broker().broker_id(id))?;
        Ok(())
    }

    /// Deletion takes minutes; the broker's network interface stays in
    /// its subnet and security group until it is gone.
    async fn poll_deleted(&self, _ctx: &Context, id: &str) -> Result<bool> {
        Ok(self.describe(id).await?.is_none())
    }

    fn expected_duration(&self, op: Op) -> Duration {
        match op {
            Op::Create => Duration::from_secs(15 * 60),
            Op::Update => Duration::from_secs(5 * 60),
            Op::Delete => Duration::from_secs(5 * 60),
        }
    }

    fn update_note(&self, changed: &[String]) -> Option<&'static str> {
        changed
            .iter()
            .any(|c| NEEDS_REBOOT.contains(&c.as_str()))
            .then_some("the broker reboots to apply it")
    }

    fn check(&self, p: &Props) -> Result<(), Refusal> {
        match p.get("password") {
            Some(Value::String(pw)) => check_password(pw),
            _ => Ok(()),
        }
    }

    fn normalize(&self, p: &mut Props) {
        sort_sets(p, &["security_groups", "subnet_ids"]);
    }
}

/// A broker bills per instance-hour (two for active/standby) and its
/// storage. A size with no sourced price is unknown.
fn broker_cost(c: &CostInput) -> Cost {
    let size = c.str("host_instance_type").ok_or("its instance type is known only after apply")?;
    let instances = match c.str("deployment_mode") {
        Some("ACTIVE_STANDBY_MULTI_AZ") => 2,
        Some("SINGLE_INSTANCE") | None => 1,
        Some(other) => return Err(format!("no price for {other} brokers")),
    };
    let hour = c
        .prices
        .get(&format!("{size}_hour"))
        .ok_or_else(|| format!("no sourced price for {size} brokers in {}", c.prices.region))?;
    let mut e = Estimate::free()
        .charge(format!("{instances} {size} broker instance(s)"), instances as f64 * hour)
        .usage("broker storage (EFS)", c.price("mq_efs_gb_month")?, "GB-month");
    if c.props.get("publicly_accessible").and_then(|v| v.as_bool()) == Some(true) {
        let ip = c.price("public_ipv4_hour")?;
        e = e.charge(format!("{instances} public IPv4 address(es)"), instances as f64 * ip);
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules_never_echo_the_password() {
        assert!(check_password("correct-horse-battery").is_ok());
        for bad in ["short1", "aaaaaaaaaaaaaaab", "has:colon-inside-it", "x=y,zzzzzzzzzzz"] {
            let Refusal { message: msg, help } = check_password(bad).unwrap_err();
            assert!(!msg.contains(bad) && !help.contains(bad), "{msg}");
        }
        assert!(check_password("aabbccdd1122").is_ok());
        assert!(check_password("aaabbbcccaaa").unwrap_err().message.contains("3 distinct"));
    }

    #[test]
    fn stomp_hosts_lose_scheme_and_port() {
        assert_eq!(
            host_of("stomp+ssl://b-1234-1.mq.us-east-1.amazonaws.com:61614"),
            "b-1234-1.mq.us-east-1.amazonaws.com"
        );
    }
}
