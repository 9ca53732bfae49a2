//! `aws.rds.db_instance`: an instance serving an Aurora cluster (the
//! writer, or a reader), or a DB instance of its own with its storage
//! (RDS for SQL Server), optionally joined to a Managed Microsoft AD
//! directory for Windows authentication.
//!
//! The physical id is the instance identifier. Creating takes 5 to 15
//! minutes on AWS for Aurora and 20 to 40 for SQL Server (`available`),
//! deleting 5 to 10; moto is instant. An instance of a cluster keeps no
//! snapshot of its own: the cluster's final snapshot holds the data. An
//! instance of its own has its master password managed by RDS in Secrets
//! Manager (archkit never sees it) and keeps a final snapshot unless
//! `skip_final_snapshot: true`.
//!
//! moto (5.2.5) accepts any directory id and role, and ignores a changed
//! `Domain` in ModifyDBInstance: joining another directory in place is the
//! call AWS documents, not one a test here can prove.

use super::common::{
    Listed, Rds, listed, made_before, poll_ready, rds_name, refused_delete, sync_tags_of, tags,
};
use crate::aws::prelude::*;
use crate::schema::Default;
use aws_sdk_rds::types::DbInstance;
use std::time::Duration;

const NAME_MAX: usize = 63;

const ENGINES: &[&str] = &[
    "aurora-mysql",
    "aurora-postgresql",
    "sqlserver-ex",
    "sqlserver-web",
    "sqlserver-se",
    "sqlserver-ee",
];

/// Properties of an instance of its own, which an instance of a cluster
/// takes from its cluster.
const STANDALONE: &[&str] = &[
    "engine_version",
    "license_model",
    "allocated_storage",
    "storage_type",
    "master_username",
    "db_subnet_group_name",
    "vpc_security_group_ids",
    "domain",
    "domain_iam_role_name",
];

pub static DB_INSTANCE: Schema = Schema::new("aws.rds.db_instance", "A DB instance: one serving an Aurora DB cluster, or one of its own (RDS for SQL Server).")
    .properties(rows! {
        Prop::new("identifier", Type::String, "The instance identifier (lower case); derived from the stack and id when omitted.").replace(),
        Prop::new("cluster_identifier", Type::String, "The Aurora cluster it serves; omitted for an instance of its own.").replace(),
        Prop::new("engine", Type::Enum(ENGINES), "The engine: the cluster's, or an RDS for SQL Server edition (`sqlserver-ex` is Express, the cheapest).").default(Default::Str("aurora-mysql")).replace(),
        Prop::new("instance_class", Type::String, "The instance class, e.g. `db.t4g.medium` (the smallest for Aurora MySQL 3) or `db.t3.small`.").required(),
        Prop::new("publicly_accessible", Type::Bool, "Give the instance a public address (its subnets need an internet gateway).").default(Default::Bool(false)),
        Prop::new("auto_minor_version_upgrade", Type::Bool, "Apply minor engine versions in the maintenance window.").default(Default::Bool(true)),
        Prop::new("engine_version", Type::String, "Instance of its own: the engine version; RDS's default when omitted."),
        Prop::new("license_model", Type::String, "Instance of its own: `license-included` for SQL Server.").replace(),
        Prop::new("allocated_storage", Type::Int, "Instance of its own: storage in GiB (20 or more for SQL Server); it can only grow.").range(20, 65536),
        Prop::new("storage_type", Type::Enum(&["gp2", "gp3", "io1", "io2", "standard"]), "Instance of its own: the storage type."),
        Prop::new("master_username", Type::String, "Instance of its own: the master user. Its password is managed by RDS in Secrets Manager.").replace(),
        Prop::new("db_subnet_group_name", Type::String, "Instance of its own: the DB subnet group.").replace(),
        Prop::new("vpc_security_group_ids", Type::List(&Type::String), "Instance of its own: its security groups."),
        Prop::new("domain", Type::String, "Instance of its own: the directory id (`d-…`) of the Managed Microsoft AD it joins for Windows authentication."),
        Prop::new("domain_iam_role_name", Type::String, "The role RDS joins the directory with (trusting `rds.amazonaws.com`, with `AmazonRDSDirectoryServiceAccess`)."),
        Prop::new("skip_final_snapshot", Type::Bool, "Instance of its own: delete without a final snapshot. Off by default: a deleted instance leaves `<identifier>-final-<time>`.").default(Default::Bool(false)),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The instance's ARN."),
        Attr::new("identifier", Type::String, "The instance identifier."),
        Attr::new("endpoint", Type::String, "The instance's own endpoint (host name)."),
        Attr::new("port", Type::Int, "The port."),
        Attr::new("master_user_secret_arn", Type::String, "Instance of its own: the Secrets Manager secret RDS keeps the master password in."),
    })
    .notes("Creating takes 5 to 15 minutes (Aurora) or 20 to 40 (SQL Server), deleting 5 to 10. Changing the class restarts the instance. An instance of its own (no `cluster_identifier`) needs `master_username`, `allocated_storage` and `db_subnet_group_name`, and keeps a final snapshot unless `skip_final_snapshot: true`.")
    .cost(instance_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["identifier"], "instance identifiers are unique in a region"));

kind! { Instance, DB_INSTANCE }

fn instance_attrs(d: &DbInstance) -> Attrs {
    let endpoint = d.endpoint();
    attrs([
        ("arn", json!(d.db_instance_arn())),
        ("identifier", json!(d.db_instance_identifier())),
        ("endpoint", json!(endpoint.and_then(|e| e.address()))),
        ("port", json!(endpoint.and_then(|e| e.port()))),
        ("master_user_secret_arn", json!(d.master_user_secret().and_then(|s| s.secret_arn()))),
    ])
}

/// The directory an instance is joined to (or joining), if any.
fn membership(d: &DbInstance) -> Option<&aws_sdk_rds::types::DomainMembership> {
    d.domain_memberships().iter().find(|m| !matches!(m.status(), Some("removing" | "removed")))
}

rds! { DbInstance, "DB instance", NAME_MAX,
describe_db_instances.db_instance_identifier -> db_instances,
db_instance_arn, instance_attrs, db_instance_status }

#[async_trait]
impl ResourceKind for Instance {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut out = Vec::new();
        for Listed { it: d, name: id, user, logical, known } in
            listed::<DbInstance>(&self.0, ctx, q).await?
        {
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
            let mut p = p;
            if d.db_cluster_identifier().is_none() {
                let sgs: Vec<&str> = d
                    .vpc_security_groups()
                    .iter()
                    .filter_map(|g| g.vpc_security_group_id())
                    .collect();
                let m = membership(&d);
                p.extend(props([
                    ("engine_version", json!(d.engine_version())),
                    ("license_model", json!(d.license_model())),
                    (
                        "allocated_storage",
                        json!(
                            pending.and_then(|p| p.allocated_storage()).or(d.allocated_storage())
                        ),
                    ),
                    ("storage_type", json!(d.storage_type())),
                    ("master_username", json!(d.master_username())),
                    (
                        "db_subnet_group_name",
                        json!(d.db_subnet_group().and_then(|g| g.db_subnet_group_name())),
                    ),
                    ("vpc_security_group_ids", json!(sgs)),
                    ("domain", json!(m.and_then(|m| m.domain()))),
                    ("domain_iam_role_name", json!(m.and_then(|m| m.iam_role_name()))),
                    // How a deletion is made, not a state of the instance.
                    (
                        "skip_final_snapshot",
                        json!(known.and_then(|p| b(p, "skip_final_snapshot")).unwrap_or(false)),
                    ),
                ]));
            }
            out.push(Observed::new(id, logical, p).with(instance_attrs(&d)));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let id =
            s(p, "identifier").unwrap_or_else(|| rds_name(&ctx.stack, &req.logical_id, NAME_MAX));
        // A retry after a lost answer finds the first create's instance.
        let code = "DBInstanceAlreadyExists";
        if let Some(d) = made_before::<DbInstance>(&self.0, ctx, &req.logical_id, &id, code).await?
        {
            return Ok(Created::new(id).with(instance_attrs(&d)));
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
                .set_engine_version(s(p, "engine_version"))
                .set_license_model(s(p, "license_model"))
                .set_allocated_storage(i(p, "allocated_storage"))
                .set_storage_type(s(p, "storage_type"))
                .set_master_username(s(p, "master_username"))
                .set_manage_master_user_password(
                    s(p, "cluster_identifier").is_none().then_some(true)
                )
                .set_db_subnet_group_name(s(p, "db_subnet_group_name"))
                .set_vpc_security_group_ids(
                    p.contains_key("vpc_security_group_ids")
                        .then(|| list(p, "vpc_security_group_ids"))
                )
                .set_domain(s(p, "domain"))
                .set_domain_iam_role_name(s(p, "domain_iam_role_name"))
                .set_tags(Some(tags(create_tags(ctx, &req.logical_id, p))))
        )?;
        let attrs = r.db_instance().map(instance_attrs).unwrap_or_default();
        Ok(Created::new(id).with(attrs))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let changed = |k: &str| old.get(k) != new.get(k);
        let modified = [
            "instance_class",
            "publicly_accessible",
            "auto_minor_version_upgrade",
            "engine_version",
            "allocated_storage",
            "storage_type",
            "vpc_security_group_ids",
            "domain",
            "domain_iam_role_name",
        ];
        if modified.iter().any(|k| changed(k)) {
            let new_s = |k: &str| s(new, k).filter(|_| changed(k));
            // Leaving a directory is its own flag: no domain at all.
            let leave = changed("domain") && s(new, "domain").is_none();
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
                    .set_engine_version(new_s("engine_version"))
                    .set_allocated_storage(
                        i(new, "allocated_storage").filter(|_| changed("allocated_storage"))
                    )
                    .set_storage_type(new_s("storage_type"))
                    .set_vpc_security_group_ids(
                        changed("vpc_security_group_ids")
                            .then(|| list(new, "vpc_security_group_ids"))
                    )
                    .set_domain(new_s("domain"))
                    .set_domain_iam_role_name(
                        s(new, "domain_iam_role_name")
                            .filter(|_| changed("domain") || changed("domain_iam_role_name"))
                    )
                    .set_disable_domain(leave.then_some(true))
            )?;
        }
        sync_tags_of::<DbInstance>(&self.0, id, old, new).await?;
        Ok(Attrs::new())
    }

    async fn poll_ready(&self, _ctx: &Context, id: &str) -> Result<Option<Attrs>> {
        const FAILED: &[&str] = &[
            "failed",
            "incompatible-parameters",
            "incompatible-network",
            "storage-full",
            "inaccessible-encryption-credentials",
        ];
        poll_ready::<DbInstance>(&self.0, id, FAILED).await
    }

    async fn delete(&self, _ctx: &Context, id: &str, p: &Props) -> Result<()> {
        // An Aurora instance has no snapshot of its own (the cluster's
        // holds the data): AWS ignores the flag for cluster members.
        let member = s(p, "cluster_identifier").is_some();
        let skip = member || b(p, "skip_final_snapshot").unwrap_or(false);
        let call = self
            .0
            .rds
            .delete_db_instance()
            .db_instance_identifier(id)
            .skip_final_snapshot(skip)
            .set_final_db_snapshot_identifier((!skip).then(|| super::cluster::final_snapshot(id)));
        match send!(call) {
            // Already on its way out (a retried destroy).
            Err(e) if e.code.as_deref() == Some("InvalidDBInstanceState") => {
                let now = DbInstance::describe(&self.0, id).await?;
                refused_delete(e, now.as_ref().map(DbInstance::db_instance_status))
            }
            r => r.map(|_| ()),
        }
    }

    async fn poll_deleted(&self, _ctx: &Context, id: &str) -> Result<bool> {
        Ok(DbInstance::describe(&self.0, id).await?.is_none())
    }

    fn expected_duration(&self, op: Op) -> Duration {
        match op {
            Op::Create => Duration::from_secs(10 * 60),
            Op::Update => Duration::from_secs(10 * 60),
            Op::Delete => Duration::from_secs(8 * 60),
        }
    }

    fn update_note(&self, changed: &[String]) -> Option<&'static str> {
        let any = |k: &str| changed.iter().any(|c| c == k);
        if any("instance_class") {
            Some("the instance restarts with the new class (minutes of downtime)")
        } else if any("domain") {
            Some("the instance restarts to join or leave the directory")
        } else {
            None
        }
    }

    /// An instance of a cluster takes its storage, user and network from
    /// the cluster; one of its own needs them. Only values known at plan
    /// time are here (a reference not yet applied is absent), so what is
    /// usually a reference is not required by this check.
    fn check(&self, p: &Props) -> Result<(), Refusal> {
        let set = |k: &str| p.get(k).is_some_and(|v| !v.is_null());
        let engine = p.get("engine").and_then(Value::as_str).unwrap_or("aurora-mysql");
        if engine.starts_with("aurora") {
            if let Some(k) = STANDALONE.iter().find(|k| set(k)) {
                return Err(Refusal::new(
                    format!(
                        "`{k}` is set on an `{engine}` instance, which takes it from its cluster"
                    ),
                    format!(
                        "remove `{k}`, or choose a `sqlserver-*` engine for an instance of its own"
                    ),
                ));
            }
            return Ok(());
        }
        if set("cluster_identifier") {
            return Err(Refusal::new(
                format!("an `{engine}` instance cannot serve an Aurora cluster"),
                "remove `cluster_identifier`".into(),
            ));
        }
        for k in ["master_username", "allocated_storage"] {
            if !set(k) {
                return Err(Refusal::new(
                    format!("an `{engine}` instance needs `{k}`"),
                    format!("add `{k}` (see `archkit docs aws.rds.db_instance`)"),
                ));
            }
        }
        Ok(())
    }
}

/// An instance bills its hours by class (a class with no sourced price is
/// unknown, never free); one of its own also its storage and secret.
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
    // An Aurora instance's storage is the cluster's. An instance of its
    // own bills its allocated storage, and the secret of its master
    // password, which RDS always manages here.
    if engine.starts_with("aurora") {
        return Ok(e);
    }
    let gb = c.int("allocated_storage").ok_or("its allocated storage is not known yet")?;
    // RDS's default type when none is given is General Purpose (gp2 or
    // gp3, one rate in us-east-1).
    let ty = c.str("storage_type").unwrap_or("gp2");
    let per_gb = c
        .prices
        .get(&format!("rds_{ty}_gb_month"))
        .ok_or_else(|| format!("no sourced price for RDS {ty} storage in {}", c.prices.region))?;
    e = e.monthly(format!("{gb} GB of RDS {ty} storage"), gb as f64 * per_gb);
    super::common::managed_secret(c, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: Value) -> Props {
        v.as_object().unwrap().clone().into_iter().collect()
    }

    #[test]
    fn instances_of_their_own_and_of_clusters_take_their_own_properties() {
        let k = Instance(Clients::offline("us-east-1"));
        let sql =
            json!({"engine": "sqlserver-ex", "master_username": "admin", "allocated_storage": 20});
        assert!(k.check(&p(sql.clone())).is_ok());
        let mut no_storage = sql.clone();
        no_storage.as_object_mut().unwrap().remove("allocated_storage");
        assert!(k.check(&p(no_storage)).unwrap_err().message.contains("allocated_storage"));
        let mut in_cluster = sql;
        in_cluster["cluster_identifier"] = json!("c");
        assert!(k.check(&p(in_cluster)).unwrap_err().message.contains("cannot serve"));
        // An Aurora instance's cluster may be known only after apply.
        assert!(k.check(&p(json!({"engine": "aurora-mysql"}))).is_ok());
        let Refusal { message: msg, help: _ } =
            k.check(&p(json!({"engine": "aurora-mysql", "domain": "d-1"}))).unwrap_err();
        assert!(msg.contains("`domain`"), "{msg}");
    }
}
