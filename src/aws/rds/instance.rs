//! `aws.rds.db_instance`: an instance serving an Aurora cluster (the
//! writer, or a reader).
//!
//! The physical id is the instance identifier. Creating takes 5 to 15
//! minutes on AWS (`available`), deleting 5 to 10; moto is instant. An
//! instance of a cluster keeps no snapshot of its own: the cluster's
//! final snapshot holds the data.

use super::common::{pairs, rds_name, sync_tags, tags, wanted};
use crate::aws::prelude::*;
use crate::schema::Default;
use aws_sdk_rds::types::DbInstance;
use std::time::Duration;

const NAME_MAX: usize = 63;

pub static DB_INSTANCE: Schema = Schema::new("aws.rds.db_instance", "An instance of an Aurora DB cluster.")
    .properties(rows! {
        Prop::new("identifier", Type::String, "The instance identifier (lower case); derived from the stack and id when omitted.").replace(),
        Prop::new("cluster_identifier", Type::String, "The cluster it serves.").required().replace(),
        Prop::new("engine", Type::Enum(&["aurora-mysql", "aurora-postgresql"]), "The cluster's engine.").default(Default::Str("aurora-mysql")).replace(),
        Prop::new("instance_class", Type::String, "The instance class, e.g. `db.t4g.medium` (the smallest for Aurora MySQL 3).").required(),
        Prop::new("publicly_accessible", Type::Bool, "Give the instance a public address (its subnets need an internet gateway).").default(Default::Bool(false)),
        Prop::new("auto_minor_version_upgrade", Type::Bool, "Apply minor engine versions in the maintenance window.").default(Default::Bool(true)),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The instance's ARN."),
        Attr::new("endpoint", Type::String, "The instance's own endpoint (host name)."),
        Attr::new("port", Type::Int, "The port."),
    })
    .notes("Creating takes 5 to 15 minutes, deleting 5 to 10. Changing the class restarts the instance.")
    .cost(instance_cost);

kind! { Instance, DB_INSTANCE }

fn instance_attrs(d: &DbInstance) -> Attrs {
    let endpoint = d.endpoint();
    attrs([
        ("arn", json!(d.db_instance_arn())),
        ("endpoint", json!(endpoint.and_then(|e| e.address()))),
        ("port", json!(endpoint.and_then(|e| e.port()))),
    ])
}

async fn describe(c: &Clients, id: &str) -> Result<Option<DbInstance>> {
    match send!(c.rds.describe_db_instances().db_instance_identifier(id)) {
        Ok(r) => Ok(r.db_instances().first().cloned()),
        Err(e) if e.not_found => Ok(None),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl ResourceKind for Instance {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let prefix = rds_name(&ctx.stack, "", NAME_MAX);
        let all: Vec<DbInstance> = paginate!(self.0.rds.describe_db_instances())?;
        let mut out = Vec::new();
        for d in all {
            let id = d.db_instance_identifier().unwrap_or_default().to_string();
            if !wanted(&id, &prefix, q) || d.db_instance_status() == Some("deleting") {
                continue;
            }
            let (user, logical) = split_tags(ctx, pairs(d.tag_list()));
            if logical.is_none() && !q.known.iter().any(|(k, _)| *k == id) {
                continue;
            }
            let pending = d.pending_modified_values();
            let p = props([
                ("identifier", json!(id)),
                ("cluster_identifier", json!(d.db_cluster_identifier())),
                ("engine", json!(d.engine())),
                (
                    "instance_class",
                    json!(pending.and_then(|p| p.db_instance_class()).or(d.db_instance_class())),
                ),
                // moto leaves it out when it was not asked for: false.
                ("publicly_accessible", json!(d.publicly_accessible().unwrap_or(false))),
                ("auto_minor_version_upgrade", json!(d.auto_minor_version_upgrade())),
                ("tags", user),
            ]);
            out.push(Observed::new(id, logical, p).with(instance_attrs(&d)));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let id =
            s(p, "identifier").unwrap_or_else(|| rds_name(&ctx.stack, &req.logical_id, NAME_MAX));
        // A retry after a lost answer finds the first create's instance.
        if let Some(d) = describe(&self.0, &id).await? {
            let (_, logical) = split_tags(ctx, pairs(d.tag_list()));
            if logical.as_deref() == Some(req.logical_id.as_str()) {
                return Ok(Created::new(id).with(instance_attrs(&d)));
            }
            return Err(ProviderError::new(format!(
                "a DB instance named {id} already exists and is not this stack's `{}`; \
                 set another `identifier`",
                req.logical_id
            ))
            .code("DBInstanceAlreadyExists"));
        }
        let r = send!(
            self.0
                .rds
                .create_db_instance()
                .db_instance_identifier(&id)
                .set_db_cluster_identifier(s(p, "cluster_identifier"))
                .set_engine(s(p, "engine"))
                .set_db_instance_class(s(p, "instance_class"))
                .set_publicly_accessible(b(p, "publicly_accessible"))
                .set_auto_minor_version_upgrade(b(p, "auto_minor_version_upgrade"))
                .set_tags(Some(tags(create_tags(ctx, &req.logical_id, p))))
        )?;
        let attrs = r.db_instance().map(instance_attrs).unwrap_or_default();
        Ok(Created::new(id).with(attrs))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let changed = |k: &str| old.get(k) != new.get(k);
        if ["instance_class", "publicly_accessible", "auto_minor_version_upgrade"]
            .iter()
            .any(|k| changed(k))
        {
            send!(
                self.0
                    .rds
                    .modify_db_instance()
                    .db_instance_identifier(id)
                    .apply_immediately(true)
                    .set_db_instance_class(
                        s(new, "instance_class").filter(|_| changed("instance_class"))
                    )
                    .set_publicly_accessible(
                        b(new, "publicly_accessible").filter(|_| changed("publicly_accessible"))
                    )
                    .set_auto_minor_version_upgrade(
                        b(new, "auto_minor_version_upgrade")
                            .filter(|_| changed("auto_minor_version_upgrade"))
                    )
            )?;
        }
        if !TagChanges::between(old, new).is_empty() {
            let arn = known_arn(
                describe(&self.0, id).await?.and_then(|d| d.db_instance_arn().map(Into::into)),
                id,
            )?;
            sync_tags(&self.0, &arn, old, new).await?;
        }
        Ok(Attrs::new())
    }

    async fn poll_ready(&self, _ctx: &Context, id: &str) -> Result<Option<Attrs>> {
        let Some(d) = describe(&self.0, id).await? else {
            return Ok(None);
        };
        match d.db_instance_status() {
            Some("available") => Ok(Some(instance_attrs(&d))),
            Some(
                s @ ("failed"
                | "incompatible-parameters"
                | "incompatible-network"
                | "storage-full"
                | "inaccessible-encryption-credentials"),
            ) => Err(ProviderError::new(format!("the DB instance {id} is {s}"))),
            _ => Ok(None),
        }
    }

    async fn delete(&self, _ctx: &Context, id: &str, _p: &Props) -> Result<()> {
        // An Aurora instance has no snapshot of its own (the cluster's
        // holds the data): AWS ignores the flag for cluster members.
        let call = self.0.rds.delete_db_instance().db_instance_identifier(id);
        match send!(call.skip_final_snapshot(true)) {
            // Already on its way out (a retried destroy).
            Err(e) if e.code.as_deref() == Some("InvalidDBInstanceState") => {
                match describe(&self.0, id).await? {
                    None => Ok(()),
                    Some(d) if d.db_instance_status() == Some("deleting") => Ok(()),
                    Some(_) => Err(e.retry_within(Duration::from_secs(20 * 60))),
                }
            }
            r => r.map(|_| ()),
        }
    }

    async fn poll_deleted(&self, _ctx: &Context, id: &str) -> Result<bool> {
        Ok(describe(&self.0, id).await?.is_none())
    }

    fn expected_duration(&self, op: Op) -> Duration {
        match op {
            Op::Create => Duration::from_secs(10 * 60),
            Op::Update => Duration::from_secs(10 * 60),
            Op::Delete => Duration::from_secs(8 * 60),
        }
    }

    fn update_note(&self, changed: &[String]) -> Option<&'static str> {
        changed
            .iter()
            .any(|c| c == "instance_class")
            .then_some("the instance restarts with the new class (minutes of downtime)")
    }

    /// The identifier is the identity.
    fn delete_before_replace(&self) -> bool {
        true
    }
}

/// An Aurora instance bills its hours by class; a class with no sourced
/// price is unknown, never free.
fn instance_cost(c: &CostInput) -> Cost {
    let class = c.str("instance_class").ok_or("its class is known only after apply")?;
    let engine = c.str("engine").unwrap_or("aurora-mysql");
    let key = format!("{engine}_{class}_hour");
    let hour = c
        .prices
        .get(&key)
        .ok_or_else(|| format!("no sourced price for {engine} {class} in {}", c.prices.region))?;
    let mut e = Estimate::free().charge(format!("1 {engine} {class} instance"), hour);
    if c.props.get("publicly_accessible").and_then(Value::as_bool) == Some(true) {
        e = e.charge("1 public IPv4 address", c.price("public_ipv4_hour")?);
    }
    Ok(e)
}
