//! `aws.rds.db_cluster_parameter_group`: the engine settings of an Aurora
//! cluster (`aws_default_lambda_role` for a cluster that invokes Lambda).
//!
//! Only the parameters the blueprint sets are compared: the family's
//! hundreds of defaults are RDS's. Read with DescribeDBClusterParameters
//! `Source=user`; a parameter the blueprint drops is reset to its default.

use super::common::{Listed, listed, rds_name, sync_tags_of, tags};
use crate::aws::prelude::*;
use crate::schema::Default;
use aws_sdk_rds::types::{ApplyMethod, DbClusterParameterGroup, Parameter};
use std::collections::BTreeMap;

const NAME_MAX: usize = 255;
/// ModifyDBClusterParameterGroup takes at most 20 parameters per call.
const PER_CALL: usize = 20;

pub static DB_CLUSTER_PARAMETER_GROUP: Schema = Schema::new("aws.rds.db_cluster_parameter_group", "An RDS DB cluster parameter group: engine settings for Aurora clusters.")
    .properties(rows! {
        Prop::new("name", Type::String, "The group name (lower case); derived from the stack and id when omitted.").replace(),
        Prop::new("family", Type::String, "The engine family, e.g. `aurora-mysql8.0`.").required().replace(),
        Prop::new("description", Type::String, "What the group is for.").default(Default::Str("Managed by archkit")).replace(),
        Prop::new("parameters", Type::StringMap, "Parameter names and values; only these are managed, the rest keep the family's defaults."),
        Prop::new("apply_method", Type::Enum(&["immediate", "pending-reboot"]), "When changes take effect: `immediate` for dynamic parameters, `pending-reboot` for static ones.").default(Default::Str("immediate")),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The group's ARN."),
        Attr::new("name", Type::String, "Its name."),
    })
    .notes("Only the parameters set here are compared; dropping one resets it to the family's default. A cluster picks up static parameters only after its instances reboot.")
    .free()
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "group names are unique in a region"));

kind! { ParameterGroup, DB_CLUSTER_PARAMETER_GROUP }

fn group_attrs(g: &DbClusterParameterGroup) -> Attrs {
    attrs([
        ("arn", json!(g.db_cluster_parameter_group_arn())),
        ("name", json!(g.db_cluster_parameter_group_name())),
    ])
}

/// The blueprint's parameters as names and string values.
fn wanted_params(p: &Props) -> BTreeMap<String, String> {
    string_map(p, "parameters")
}

rds! { DbClusterParameterGroup, "DB cluster parameter group", NAME_MAX,
describe_db_cluster_parameter_groups.db_cluster_parameter_group_name
    -> db_cluster_parameter_groups,
db_cluster_parameter_group_arn, group_attrs }

impl ParameterGroup {
    /// The parameters set on the group (not the family's defaults).
    async fn user_params(&self, name: &str) -> Result<BTreeMap<String, String>> {
        let all: Vec<Parameter> = paginate!(
            self.0
                .rds
                .describe_db_cluster_parameters()
                .db_cluster_parameter_group_name(name)
                .source("user")
        )?;
        Ok(all
            .iter()
            // moto ignores `Source`; AWS returns only what was modified.
            .filter(|p| p.source().is_none_or(|s| s == "user"))
            .filter_map(|p| {
                Some((p.parameter_name()?.to_string(), p.parameter_value()?.to_string()))
            })
            .collect())
    }

    async fn set(&self, name: &str, method: &str, values: &BTreeMap<String, String>) -> Result<()> {
        let params: Vec<Parameter> = values
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_name(k)
                    .parameter_value(v)
                    .apply_method(ApplyMethod::from(method))
                    .build()
            })
            .collect();
        for chunk in params.chunks(PER_CALL) {
            send!(
                self.0
                    .rds
                    .modify_db_cluster_parameter_group()
                    .db_cluster_parameter_group_name(name)
                    .set_parameters(Some(chunk.to_vec()))
            )?;
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for ParameterGroup {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut out = Vec::new();
        let all = listed::<DbClusterParameterGroup>(&self.0, ctx, q).await?;
        for Listed { it: g, name, user, logical, known } in all {
            // The apply method is how a change is made, not a state of the
            // group: what was applied stands.
            let method =
                known.and_then(|p| s(p, "apply_method")).unwrap_or_else(|| "immediate".into());
            let p = props([
                ("name", json!(name)),
                ("family", json!(g.db_parameter_group_family())),
                ("description", json!(g.description())),
                ("parameters", {
                    let set = self.user_params(&name).await?;
                    if set.is_empty() { Value::Null } else { json!(set) }
                }),
                ("apply_method", json!(method)),
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
                .create_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(&name)
                .set_db_parameter_group_family(s(p, "family"))
                .set_description(s(p, "description"))
                .set_tags(Some(tags(create_tags(ctx, &req.logical_id, p))))
        )?;
        let values = wanted_params(p);
        let method = s(p, "apply_method").unwrap_or_else(|| "immediate".into());
        self.set(&name, &method, &values).await.partial(&name)?;
        let attrs = r.db_cluster_parameter_group().map(group_attrs).unwrap_or_default();
        Ok(Created::new(name).with(attrs))
    }

    async fn update(&self, _ctx: &Context, name: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let (was, want) = (wanted_params(old), wanted_params(new));
        let method = s(new, "apply_method").unwrap_or_else(|| "immediate".into());
        let changed: BTreeMap<String, String> = want
            .iter()
            .filter(|(k, v)| was.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.set(name, &method, &changed).await?;
        let dropped: Vec<Parameter> = was
            .keys()
            .filter(|k| !want.contains_key(*k))
            .map(|k| {
                Parameter::builder()
                    .parameter_name(k)
                    .apply_method(ApplyMethod::from(method.as_str()))
                    .build()
            })
            .collect();
        // moto has no ResetDBClusterParameterGroup: not proven by the tests.
        for chunk in dropped.chunks(PER_CALL) {
            send!(
                self.0
                    .rds
                    .reset_db_cluster_parameter_group()
                    .db_cluster_parameter_group_name(name)
                    .set_parameters(Some(chunk.to_vec()))
            )?;
        }
        sync_tags_of::<DbClusterParameterGroup>(&self.0, name, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, name: &str, _p: &Props) -> Result<()> {
        let call = self.0.rds.delete_db_cluster_parameter_group();
        match send!(call.db_cluster_parameter_group_name(name)) {
            // Still used by a cluster being deleted (AWS; moto deletes a
            // group in use, so the tests do not prove this wait).
            Err(e) if e.code.as_deref() == Some("InvalidDBParameterGroupState") => {
                Err(e.retry_within(std::time::Duration::from_secs(20 * 60)))
            }
            r => r.map(|_| ()),
        }
    }

    fn update_note(&self, changed: &[String]) -> Option<&'static str> {
        changed.iter().any(|c| c == "parameters").then_some(
            "static parameters (apply_method: pending-reboot) take effect when the cluster's instances reboot",
        )
    }
}
