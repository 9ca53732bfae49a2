//! `aws.rds.db_cluster`: an Aurora DB cluster (its storage and endpoints;
//! the instances that serve it are `aws.rds.db_instance`).
//!
//! The physical id is the cluster identifier. Creating takes 5 to 15
//! minutes on AWS (`available`), deleting as long again; the progress
//! display says so. The master password is either managed by RDS in
//! Secrets Manager (`manage_master_password`, the default: archkit never
//! sees it) or a sensitive property compared by digest and never read
//! back. A cluster is deleted with a final snapshot unless the blueprint
//! says `skip_final_snapshot: true`.
//!
//! moto gaps designed around: a duplicate CreateDBCluster overwrites the
//! existing cluster (its subnet group, tags and status) and then answers
//! with an unrelated error, so a create first looks the identifier up and
//! never sends a second create for a cluster that exists. Statuses are
//! instant in moto, so the tests prove the calls, not the waits.

use super::common::{
    Listed, Rds, listed, made_before, poll_ready, rds_name, refused_delete, sync_tags_of, tags,
};
use crate::aws::prelude::*;
use crate::schema::Default;
use aws_sdk_rds::types::DbCluster;
use std::time::Duration;

const NAME_MAX: usize = 63;

pub static DB_CLUSTER: Schema = Schema::new("aws.rds.db_cluster", "An Aurora DB cluster: storage, endpoints and the master user; add `aws.rds.db_instance`s to serve it.")
    .properties(rows! {
        Prop::new("identifier", Type::String, "The cluster identifier (lower case); derived from the stack and id when omitted.").replace(),
        Prop::new("engine", Type::Enum(&["aurora-mysql", "aurora-postgresql"]), "The engine.").default(Default::Str("aurora-mysql")).replace(),
        Prop::new("engine_version", Type::String, "The engine version, e.g. `8.0.mysql_aurora.3.08.0`; RDS's default when omitted."),
        Prop::new("database_name", Type::String, "A database created with the cluster.").replace(),
        Prop::new("master_username", Type::String, "The master user.").required().replace(),
        Prop::new("manage_master_password", Type::Bool, "RDS keeps the master password in Secrets Manager and rotates it; archkit never sees it.").default(Default::Bool(true)),
        Prop::new("master_password", Type::String, "The master password, when `manage_master_password` is false (8+ characters, no `/` `\"` `@` or space).").sensitive(),
        Prop::new("db_subnet_group_name", Type::String, "The DB subnet group.").required().replace(),
        Prop::new("vpc_security_group_ids", Type::List(&Type::String), "Security groups of the cluster's instances."),
        Prop::new("db_cluster_parameter_group_name", Type::String, "The cluster parameter group; the family's default when omitted."),
        Prop::new("port", Type::Int, "The port the instances listen on.").range(1150, 65535).default(Default::Int(3306)),
        Prop::new("backup_retention_days", Type::Int, "Days of automated backups (1 to 35).").range(1, 35).default(Default::Int(1)),
        Prop::new("storage_encrypted", Type::Bool, "Encrypt the storage (with the AWS-managed RDS key).").default(Default::Bool(true)).replace(),
        Prop::new("deletion_protection", Type::Bool, "Refuse deletion until this is turned off.").default(Default::Bool(false)),
        Prop::new("skip_final_snapshot", Type::Bool, "Delete without a final snapshot. Off by default: a deleted cluster leaves `<identifier>-final-<time>`.").default(Default::Bool(false)),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The cluster's ARN."),
        Attr::new("identifier", Type::String, "The cluster identifier."),
        Attr::new("endpoint", Type::String, "The writer endpoint (host name)."),
        Attr::new("reader_endpoint", Type::String, "The reader endpoint (host name)."),
        Attr::new("port", Type::Int, "The port."),
        Attr::new("master_user_secret_arn", Type::String, "The Secrets Manager secret RDS keeps the master password in (with `manage_master_password`)."),
    })
    .notes("Creating or deleting takes 5 to 15 minutes. Changing `engine_version` upgrades in place: the cluster and its instances restart (a major version needs a parameter group of the new family). Deleting keeps a final snapshot unless `skip_final_snapshot: true`.")
    .cost(cluster_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["identifier"], "cluster identifiers are unique in a region"));

kind! { Cluster, DB_CLUSTER }

fn cluster_attrs(c: &DbCluster) -> Attrs {
    attrs([
        ("arn", json!(c.db_cluster_arn())),
        ("identifier", json!(c.db_cluster_identifier())),
        ("endpoint", json!(c.endpoint())),
        ("reader_endpoint", json!(c.reader_endpoint())),
        ("port", json!(c.port())),
        ("master_user_secret_arn", json!(c.master_user_secret().and_then(|s| s.secret_arn()))),
    ])
}

/// `8.0` of `8.0.mysql_aurora.3.08.0`, `16` of `16.4`: a change of it is
/// a major version upgrade, which RDS takes only when told so.
fn major(version: &str) -> &str {
    match version.split_once(".mysql_aurora") {
        Some((m, _)) => m,
        None => version.split('.').next().unwrap_or(version),
    }
}

rds! { DbCluster, "DB cluster", NAME_MAX,
describe_db_clusters.db_cluster_identifier -> db_clusters,
db_cluster_arn, cluster_attrs, status }

/// A final snapshot's name: the cluster's, with the time, so a second
/// cluster of the same identifier deleted later never clashes.
pub(crate) fn final_snapshot(id: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let suffix = format!("-final-{now}");
    format!("{}{suffix}", &id[..id.len().min(255 - suffix.len())])
}

#[async_trait]
impl ResourceKind for Cluster {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut out = Vec::new();
        for Listed { it: c, name: id, user, logical, known } in
            listed::<DbCluster>(&self.0, ctx, q).await?
        {
            let pending = c.pending_modified_values();
            let sgs: Vec<&str> =
                c.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).collect();
            let mut p = props([
                ("identifier", json!(id)),
                ("engine", json!(c.engine())),
                // A pending change is what the cluster will run: compare with that.
                (
                    "engine_version",
                    json!(pending.and_then(|p| p.engine_version()).or(c.engine_version())),
                ),
                ("database_name", json!(c.database_name())),
                ("master_username", json!(c.master_username())),
                ("manage_master_password", json!(c.master_user_secret().is_some())),
                ("db_subnet_group_name", json!(c.db_subnet_group())),
                ("vpc_security_group_ids", json!(sgs)),
            ]);
            p.extend(props([
                ("db_cluster_parameter_group_name", json!(c.db_cluster_parameter_group())),
                ("port", json!(c.port())),
                ("backup_retention_days", json!(c.backup_retention_period())),
                ("storage_encrypted", json!(c.storage_encrypted())),
                ("deletion_protection", json!(c.deletion_protection())),
                // How a deletion is made, not a state of the cluster.
                (
                    "skip_final_snapshot",
                    json!(known.and_then(|p| b(p, "skip_final_snapshot")).unwrap_or(false)),
                ),
                ("tags", user),
            ]));
            out.push(Observed::new(id, logical, p).with(cluster_attrs(&c)));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let id =
            s(p, "identifier").unwrap_or_else(|| rds_name(&ctx.stack, &req.logical_id, NAME_MAX));
        // Never a second CreateDBCluster for an identifier that exists (a
        // retry after a lost answer): moto would overwrite the first.
        let code = "DBClusterAlreadyExistsFault";
        if let Some(c) = made_before::<DbCluster>(&self.0, ctx, &req.logical_id, &id, code).await? {
            return Ok(Created::new(id).with(cluster_attrs(&c)));
        }
        let managed = b(p, "manage_master_password").unwrap_or(true);
        let r = send!(
            self.0
                .rds
                .create_db_cluster()
                .db_cluster_identifier(&id)
                .set_engine(s(p, "engine"))
                .set_engine_version(s(p, "engine_version"))
                .set_database_name(s(p, "database_name"))
                .set_master_username(s(p, "master_username"))
                .manage_master_user_password(managed)
                .set_master_user_password(s(p, "master_password").filter(|_| !managed))
                .set_db_subnet_group_name(s(p, "db_subnet_group_name"))
                // None given: the VPC's default group (RDS's choice).
                .set_vpc_security_group_ids(
                    Some(list(p, "vpc_security_group_ids")).filter(|v| !v.is_empty())
                )
                .set_db_cluster_parameter_group_name(s(p, "db_cluster_parameter_group_name"))
                .set_port(i(p, "port"))
                .set_backup_retention_period(i(p, "backup_retention_days"))
                .set_storage_encrypted(b(p, "storage_encrypted"))
                .set_deletion_protection(b(p, "deletion_protection"))
                .set_tags(Some(tags(create_tags(ctx, &req.logical_id, p))))
        )?;
        let attrs = r.db_cluster().map(cluster_attrs).unwrap_or_default();
        Ok(Created::new(id).with(attrs))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let changed = |k: &str| old.get(k) != new.get(k);
        let version = s(new, "engine_version").filter(|_| changed("engine_version"));
        let major_upgrade = version
            .as_deref()
            .is_some_and(|v| s(old, "engine_version").is_some_and(|o| major(&o) != major(v)));
        let managed = b(new, "manage_master_password").unwrap_or(true);
        let password_changed = changed("master_password") || changed("manage_master_password");
        let sgs = set_changed(old, new, "vpc_security_group_ids");
        let modify = [
            "engine_version",
            "db_cluster_parameter_group_name",
            "port",
            "backup_retention_days",
            "deletion_protection",
        ]
        .iter()
        .any(|k| changed(k))
            || password_changed
            || sgs;
        if modify {
            send!(
                self.0
                    .rds
                    .modify_db_cluster()
                    .db_cluster_identifier(id)
                    .apply_immediately(true)
                    .set_engine_version(version)
                    .allow_major_version_upgrade(major_upgrade)
                    .set_db_cluster_parameter_group_name(
                        s(new, "db_cluster_parameter_group_name")
                            .filter(|_| changed("db_cluster_parameter_group_name"))
                    )
                    .set_port(i(new, "port").filter(|_| changed("port")))
                    .set_backup_retention_period(
                        i(new, "backup_retention_days")
                            .filter(|_| changed("backup_retention_days"))
                    )
                    .set_deletion_protection(
                        b(new, "deletion_protection").filter(|_| changed("deletion_protection"))
                    )
                    .set_manage_master_user_password(
                        Some(managed).filter(|_| changed("manage_master_password"))
                    )
                    .set_master_user_password(
                        s(new, "master_password").filter(|_| !managed && password_changed)
                    )
                    .set_vpc_security_group_ids(sgs.then(|| list(new, "vpc_security_group_ids")))
            )?;
        }
        sync_tags_of::<DbCluster>(&self.0, id, old, new).await?;
        Ok(Attrs::new())
    }

    /// `available`, after a create or a modification.
    async fn poll_ready(&self, _ctx: &Context, id: &str) -> Result<Option<Attrs>> {
        const FAILED: &[&str] = &[
            "failed",
            "incompatible-parameters",
            "incompatible-restore",
            "inaccessible-encryption-credentials",
        ];
        poll_ready::<DbCluster>(&self.0, id, FAILED).await
    }

    async fn delete(&self, _ctx: &Context, id: &str, p: &Props) -> Result<()> {
        let skip = b(p, "skip_final_snapshot").unwrap_or(false);
        let call = self
            .0
            .rds
            .delete_db_cluster()
            .db_cluster_identifier(id)
            .skip_final_snapshot(skip)
            .set_final_db_snapshot_identifier((!skip).then(|| final_snapshot(id)));
        match send!(call) {
            Ok(_) => Ok(()),
            // Its instances may still be being deleted.
            Err(e) if e.code.as_deref() == Some("InvalidDBClusterStateFault") => {
                let now = DbCluster::describe(&self.0, id).await?;
                refused_delete(e, now.as_ref().map(DbCluster::status))
            }
            Err(e) if e.message.contains("deletion protection") => Err(ProviderError {
                message: format!(
                    "{}: set `deletion_protection: false` and apply, then destroy",
                    e.message
                ),
                ..e
            }),
            Err(e) => Err(e),
        }
    }

    async fn poll_deleted(&self, _ctx: &Context, id: &str) -> Result<bool> {
        Ok(DbCluster::describe(&self.0, id).await?.is_none())
    }

    fn expected_duration(&self, op: Op) -> Duration {
        match op {
            Op::Create => Duration::from_secs(10 * 60),
            Op::Update => Duration::from_secs(10 * 60),
            Op::Delete => Duration::from_secs(10 * 60),
        }
    }

    fn update_note(&self, changed: &[String]) -> Option<&'static str> {
        let has = |k: &str| changed.iter().any(|c| c == k);
        if has("engine_version") {
            Some(
                "upgrades the engine in place: the cluster and its instances restart (minutes of downtime; RDS cannot downgrade)",
            )
        } else if has("db_cluster_parameter_group_name") {
            Some("static parameters of the new group take effect when the instances reboot")
        } else if has("port") {
            Some("the instances restart on the new port")
        } else {
            None
        }
    }

    fn check(&self, p: &Props) -> Result<(), Refusal> {
        let managed = p.get("manage_master_password").and_then(Value::as_bool).unwrap_or(true);
        match (managed, p.get("master_password")) {
            (true, Some(v)) if !v.is_null() => Err(Refusal::new(
                "`master_password` is set while `manage_master_password` is true".into(),
                "drop `master_password` to let RDS keep the password in Secrets Manager, \
                 or set `manage_master_password: false`"
                    .into(),
            )),
            (false, None) => Err(Refusal::new(
                "the cluster has no master password".into(),
                "set `master_password` (a `secret: true` parameter), or \
                 `manage_master_password: true`"
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    fn normalize(&self, p: &mut Props) {
        sort_sets(p, &["vpc_security_group_ids"]);
    }
}

/// Aurora (Standard) bills the storage and I/O the cluster uses, and the
/// secret of a managed master password; its instances bill their hours
/// (`aws.rds.db_instance`).
fn cluster_cost(c: &CostInput) -> Cost {
    let e = Estimate::free()
        .usage("Aurora storage", c.price("aurora_storage_gb_month")?, "GB-month")
        .usage("Aurora I/O", c.price("aurora_million_io")?, "million requests");
    // A managed master password (the default) is a secret RDS bills for.
    match c.props.get("manage_master_password").and_then(Value::as_bool) {
        Some(false) => Ok(e),
        _ => super::common::managed_secret(c, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions() {
        assert_eq!(major("8.0.mysql_aurora.3.08.0"), "8.0");
        assert_eq!(major("5.7.mysql_aurora.2.12.1"), "5.7");
        assert_eq!(major("16.4"), "16");
    }

    #[test]
    fn final_snapshot_names_stay_within_limits() {
        let n = final_snapshot(&"c".repeat(63));
        assert!(n.starts_with("ccc") && n.contains("-final-") && n.len() <= 255, "{n}");
    }
}
