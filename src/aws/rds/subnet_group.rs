//! `aws.rds.db_subnet_group`: the subnets (in two zones or more) an RDS
//! cluster or instance may place its network interfaces in.

use super::common::{Listed, listed, rds_name, sync_tags_of, tags};
use crate::aws::prelude::*;
use crate::schema::Default;
use aws_sdk_rds::types::DbSubnetGroup;

const NAME_MAX: usize = 255;

pub static DB_SUBNET_GROUP: Schema = Schema::new("aws.rds.db_subnet_group", "An RDS DB subnet group: subnets in at least two availability zones.")
    .properties(rows! {
        Prop::new("name", Type::String, "The group name (lower case); derived from the stack and id when omitted.").replace(),
        Prop::new("description", Type::String, "What the group is for.").default(Default::Str("Managed by archkit")),
        Prop::new("subnet_ids", Type::List(&Type::String), "Subnets in at least two availability zones.").required(),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The group's ARN."),
        Attr::new("name", Type::String, "Its name."),
    })
    .notes("RDS refuses a group whose subnets cover fewer than two zones, and deleting one still used by a cluster or instance.")
    .free()
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "group names are unique in a region"));

kind! { SubnetGroup, DB_SUBNET_GROUP }

fn group_attrs(g: &DbSubnetGroup) -> Attrs {
    attrs([("arn", json!(g.db_subnet_group_arn())), ("name", json!(g.db_subnet_group_name()))])
}

rds! { DbSubnetGroup, "DB subnet group", NAME_MAX,
describe_db_subnet_groups.db_subnet_group_name -> db_subnet_groups,
db_subnet_group_arn, group_attrs }

#[async_trait]
impl ResourceKind for SubnetGroup {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut out = Vec::new();
        for Listed { it: g, name, user, logical, .. } in
            listed::<DbSubnetGroup>(&self.0, ctx, q).await?
        {
            let subnets: Vec<&str> =
                g.subnets().iter().filter_map(|s| s.subnet_identifier()).collect();
            let p = props([
                ("name", json!(name)),
                ("description", json!(g.db_subnet_group_description())),
                ("subnet_ids", json!(subnets)),
                ("tags", user),
            ]);
            out.push(Observed::new(name, logical, p).with(group_attrs(&g)));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name = s(p, "name").unwrap_or_else(|| rds_name(&ctx.stack, &req.logical_id, NAME_MAX));
        let r = send!(
            self.0
                .rds
                .create_db_subnet_group()
                .db_subnet_group_name(&name)
                .set_db_subnet_group_description(s(p, "description"))
                .set_subnet_ids(Some(list(p, "subnet_ids")))
                .set_tags(Some(tags(create_tags(ctx, &req.logical_id, p))))
        )?;
        let attrs = r.db_subnet_group().map(group_attrs).unwrap_or_default();
        Ok(Created::new(name).with(attrs))
    }

    /// ModifyDBSubnetGroup. moto 5.2.5 loses the group it modifies (a
    /// bug in its backend), so this call is not proven by the tests.
    async fn update(&self, _ctx: &Context, name: &str, old: &Props, new: &Props) -> Result<Attrs> {
        if set_changed(old, new, "subnet_ids") || old.get("description") != new.get("description") {
            send!(
                self.0
                    .rds
                    .modify_db_subnet_group()
                    .db_subnet_group_name(name)
                    .set_db_subnet_group_description(s(new, "description"))
                    .set_subnet_ids(Some(list(new, "subnet_ids")))
            )?;
        }
        sync_tags_of::<DbSubnetGroup>(&self.0, name, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, name: &str, _p: &Props) -> Result<()> {
        match send!(self.0.rds.delete_db_subnet_group().db_subnet_group_name(name)) {
            // Still used by a cluster or instance that is being deleted:
            // RDS lets go of it when that deletion ends (minutes). moto
            // never refuses, so this wait is not proven by the tests.
            Err(e) if e.code.as_deref() == Some("InvalidDBSubnetGroupStateFault") => {
                Err(e.retry_within(std::time::Duration::from_secs(20 * 60)))
            }
            r => r.map(|_| ()),
        }
    }

    fn normalize(&self, p: &mut Props) {
        sort_sets(p, &["subnet_ids"]);
    }
}
