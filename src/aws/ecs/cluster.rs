//! `aws.ecs.cluster`: an ECS cluster.

use crate::aws::prelude::*;
use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_ecs::types::ClusterField;

use super::common::*;

pub static CLUSTER: Schema = Schema::new("aws.ecs.cluster", "An ECS cluster.")
    .properties(rows! {
        Prop::new("name", Type::String, "The cluster name; derived from the stack and id when omitted.").replace(),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The cluster's ARN."),
        Attr::new("name", Type::String, "Its name."),
    })
    .free()
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "creating a cluster under a name in use returns that cluster"));

kind! { Cluster, CLUSTER }

impl Cluster {
    /// Active clusters among `names` (100 per call), with tags.
    async fn describe(&self, names: Vec<String>) -> Result<Vec<aws_sdk_ecs::types::Cluster>> {
        let mut out = Vec::new();
        for chunk in names.chunks(100) {
            let r = send!(
                self.0
                    .ecs
                    .describe_clusters()
                    .set_clusters(Some(chunk.to_vec()))
                    .include(ClusterField::Tags)
            )?;
            out.extend(r.clusters().iter().filter(|c| c.status() == Some("ACTIVE")).cloned());
        }
        Ok(out)
    }

    /// The stack's clusters (those named with its prefix and tagged).
    pub(crate) async fn of_stack(&self, ctx: &Context) -> Result<Vec<String>> {
        let prefix = unique_name(&ctx.stack, "", NAME_MAX);
        let arns = self
            .0
            .reads
            .shared("ecs:ListClusters", || async { paginate!(self.0.ecs.list_clusters()) })
            .await?;
        Ok(arns
            .iter()
            .map(|a| arn_name(a).to_string())
            .filter(|n| n.starts_with(&prefix))
            .collect())
    }
}

#[async_trait]
impl ResourceKind for Cluster {
    /// The clusters, then their descriptions.
    fn read_rounds(&self) -> usize {
        2
    }

    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
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
            if logical.unclaimed() && !q.known.iter().any(|(id, _)| *id == name) {
                continue;
            }
            let p = props([("name", json!(name)), ("tags", user)]);
            let mut a = Attrs::new();
            a.extend(props([("arn", json!(c.cluster_arn())), ("name", json!(name))]));
            out.push(Observed::new(name, logical, p).with(a));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name =
            s(p, "name").unwrap_or_else(|| unique_name(&ctx.stack, &req.logical_id, NAME_MAX));
        let r = send!(self.0.ecs.create_cluster().cluster_name(&name).set_tags(Some(tags(
            ctx,
            &req.logical_id,
            p
        ))))?;
        let mut a = Attrs::new();
        a.extend(props([
            ("arn", json!(r.cluster().and_then(|c| c.cluster_arn()))),
            ("name", json!(name)),
        ]));
        Ok(Created::new(name).with(a))
    }

    async fn update(&self, _ctx: &Context, name: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let arn = self
            .describe(vec![name.to_string()])
            .await?
            .first()
            .and_then(|c| c.cluster_arn().map(str::to_string))
            .ok_or_else(|| ProviderError::new(format!("cluster {name} not found")).not_found())?;
        sync_tags(&self.0, &arn, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, name: &str, _p: &Props) -> Result<()> {
        match send!(self.0.ecs.delete_cluster().cluster(name)) {
            Ok(_) => Ok(()),
            // Tasks of a just-deleted service are still stopping, or the
            // instances of a just-deleted auto scaling group are still
            // deregistering (minutes on AWS; moto never registers them).
            Err(e)
                if matches!(
                    e.code.as_deref(),
                    Some(
                        "ClusterContainsServicesException"
                            | "ClusterContainsTasksException"
                            | "ClusterContainsContainerInstancesException"
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
