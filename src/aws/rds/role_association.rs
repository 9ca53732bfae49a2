//! `aws.rds.cluster_role_association`: an IAM role a DB cluster may assume
//! to call other services (Aurora MySQL invoking Lambda, loading from S3).
//!
//! The physical id is `<cluster>,<role ARN>`. An association has no tags
//! and no ARN: it is found from the state, on its cluster's
//! `AssociatedRoles`, whose status goes PENDING → ACTIVE. It goes with its
//! cluster: when both are deleted, the association waits for the cluster
//! and finds itself gone, rather than calling RemoveRoleFromDBCluster on a
//! cluster about to disappear (see `deleted_with`).
//!
//! moto does not implement RemoveRoleFromDBCluster (HTTP 500), so removing
//! an association from a cluster that stays is not proven by the tests.

use super::common::Rds;
use crate::aws::prelude::*;
use aws_sdk_rds::types::{DbCluster, DbClusterRole};
use std::collections::BTreeMap;
use std::time::Duration;

pub static CLUSTER_ROLE_ASSOCIATION: Schema = Schema::new("aws.rds.cluster_role_association", "An IAM role associated with a DB cluster, which the cluster assumes to call other AWS services.")
    .properties(rows! {
        Prop::new("cluster_identifier", Type::String, "The cluster.").required().replace(),
        Prop::new("role_arn", Type::String, "The role it may assume.").required().replace(),
        Prop::new("feature_name", Type::String, "The feature the role is for (`s3Import`, `Lambda` on PostgreSQL); none for Aurora MySQL.").replace(),
    })
    .untagged()
    .notes("Untaggable; found from the state. Aurora MySQL also needs the role in the cluster parameter `aws_default_lambda_role` (or `aws_default_s3_role`) to use it.")
    .free()
    .replacement(Replacement::DeleteFirstIfKept(&["cluster_identifier", "feature_name"], "a cluster takes one role per feature"));

kind! { RoleAssociation, CLUSTER_ROLE_ASSOCIATION }

fn split_id(id: &str) -> Option<(&str, &str)> {
    id.split_once(',')
}

fn role_of<'a>(roles: &'a [DbClusterRole], arn: &str) -> Option<&'a DbClusterRole> {
    roles.iter().find(|r| r.role_arn() == Some(arn))
}

#[async_trait]
impl ResourceKind for RoleAssociation {
    /// One DescribeDBClusters per cluster the state's associations name.
    async fn read(&self, _ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut by_cluster: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
        for (id, _) in &q.known {
            if let Some((cluster, role)) = split_id(id) {
                by_cluster.entry(cluster).or_default().push((id, role));
            }
        }
        let mut out = Vec::new();
        for (cluster, wanted) in by_cluster {
            let Some(c) = DbCluster::describe(&self.0, cluster).await? else {
                continue;
            };
            for (id, role) in wanted {
                if let Some(r) = role_of(c.associated_roles(), role) {
                    let p = props([
                        ("cluster_identifier", json!(cluster)),
                        ("role_arn", json!(role)),
                        ("feature_name", json!(r.feature_name())),
                    ]);
                    out.push(Observed::new(id, None, p));
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, _ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let (cluster, role) = (s(p, "cluster_identifier"), s(p, "role_arn"));
        let id = format!("{},{}", cluster.as_deref().unwrap_or(""), role.as_deref().unwrap_or(""));
        match send!(
            self.0
                .rds
                .add_role_to_db_cluster()
                .set_db_cluster_identifier(cluster)
                .set_role_arn(role)
                .set_feature_name(s(p, "feature_name"))
        ) {
            // A retry after a lost answer: the first call associated it.
            Err(e) if e.code.as_deref() == Some("DBClusterRoleAlreadyExists") => {}
            r => {
                r?;
            }
        }
        Ok(Created::new(id))
    }

    /// ACTIVE on the cluster: the role can be used.
    async fn poll_ready(&self, _ctx: &Context, id: &str) -> Result<Option<Attrs>> {
        let (cluster, role) = split_id(id).unwrap_or((id, ""));
        let Some(c) = DbCluster::describe(&self.0, cluster).await? else {
            return Ok(None);
        };
        ready_when(
            role_of(c.associated_roles(), role).and_then(|r| r.status()),
            &["ACTIVE"],
            &["INVALID"],
            Attrs::new,
            |_| {
                ProviderError::new(format!(
                    "the cluster {cluster} cannot assume {role} (status INVALID): \
                     check the role's trust policy allows rds.amazonaws.com"
                ))
            },
        )
    }

    async fn delete(&self, _ctx: &Context, id: &str, _p: &Props) -> Result<()> {
        let (cluster, role) = split_id(id).unwrap_or((id, ""));
        let c = DbCluster::describe(&self.0, cluster).await?;
        // Gone with its cluster, or already removed.
        let Some(c) = c.filter(|c| c.status() != Some("deleting")) else {
            return Ok(());
        };
        if role_of(c.associated_roles(), role).is_none() {
            return Ok(());
        }
        send!(
            self.0.rds.remove_role_from_db_cluster().db_cluster_identifier(cluster).role_arn(role)
        )?;
        Ok(())
    }

    async fn poll_deleted(&self, _ctx: &Context, id: &str) -> Result<bool> {
        let (cluster, role) = split_id(id).unwrap_or((id, ""));
        Ok(DbCluster::describe(&self.0, cluster)
            .await?
            .is_none_or(|c| role_of(c.associated_roles(), role).is_none()))
    }

    fn expected_duration(&self, _op: Op) -> Duration {
        Duration::from_secs(30)
    }

    fn deleted_with(&self) -> &'static [&'static Schema] {
        static KINDS: [&Schema; 1] = [&super::cluster::DB_CLUSTER];
        &KINDS
    }
}
