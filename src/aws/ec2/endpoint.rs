//! `aws.ec2.vpc_endpoint`: gateway (S3, DynamoDB) and interface endpoints.

use super::common::{read_tagged, sync_tags, tag_spec};
use crate::aws::prelude::*;
use crate::schema::{Default, Requires};
use aws_sdk_ec2::types::{ResourceType, VpcEndpointType};
use std::collections::BTreeSet;
use std::time::Duration;

pub static VPC_ENDPOINT: Schema = Schema::new("aws.ec2.vpc_endpoint", "A VPC endpoint for an AWS service or an endpoint service.")
    .properties(rows! {
        Prop::new("vpc_id", Type::String, "The VPC.").required().replace(),
        Prop::new("service_name", Type::String, "e.g. `com.amazonaws.${region}.dynamodb`.").required().replace(),
        Prop::new("type", Type::Enum(&["Gateway", "Interface"]), "Gateway (route-table based) or Interface (ENIs in subnets).").default(Default::Str("Gateway")).replace(),
        Prop::new("route_table_ids", Type::List(&Type::String), "Gateway endpoints: the tables."),
        Prop::new("subnet_ids", Type::List(&Type::String), "Interface endpoints: the subnets."),
        Prop::new("security_group_ids", Type::List(&Type::String), "Interface endpoints: the groups."),
        Prop::new("private_dns_enabled", Type::Bool, "Interface endpoints: private DNS."),
        Prop::new("policy", Type::Json, "An IAM policy document limiting the endpoint."),
    })
    .attributes(rows! {
        Attr::new("dns_entries", Type::List(&Type::String), "Interface endpoints' DNS names."),
        Attr::new("state", Type::String, "`available`, or `pendingAcceptance` while the service's owner has not accepted it."),
    })
    .notes("Gateway (`route_table_ids`) or Interface (`subnet_ids`, `security_group_ids`, `private_dns_enabled`). Private DNS needs a VPC with `enable_dns_support` and `enable_dns_hostnames` both on: `validate` checks it.")
    .requires(&[Requires {
        when: "private_dns_enabled",
        value: true,
        via: "vpc_id",
        kind: "aws.ec2.vpc",
        props: &["enable_dns_support", "enable_dns_hostnames"],
        help: "private DNS answers only in a VPC with DNS support and DNS hostnames: set both to true on the VPC, or set `private_dns_enabled: false`",
    }])
    .cost(vpc_endpoint_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["vpc_id", "service_name"], "a VPC takes one endpoint with private DNS per service"));

kind! { VpcEndpoint, VPC_ENDPOINT }

fn sorted(v: &[String]) -> Value {
    let mut v = v.to_vec();
    v.sort();
    json!(v)
}

#[async_trait]
impl ResourceKind for VpcEndpoint {
    /// Deleted endpoints stay listed for a while: they are ignored.
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        read_tagged(&self.0, ctx, q, |e: &aws_sdk_ec2::types::VpcEndpoint| {
            let state = e.state().map(|s| s.as_str().to_ascii_lowercase());
            if matches!(state.as_deref(), Some("deleted" | "deleting")) {
                return None;
            }
            let groups: Vec<String> =
                e.groups().iter().filter_map(|g| g.group_id().map(str::to_string)).collect();
            let mut p = props([
                ("vpc_id", str_value(e.vpc_id())),
                ("service_name", str_value(e.service_name())),
                ("type", str_value(e.vpc_endpoint_type().map(|t| t.as_str()))),
                ("route_table_ids", sorted(e.route_table_ids())),
                ("subnet_ids", sorted(e.subnet_ids())),
                ("security_group_ids", sorted(&groups)),
            ]);
            if let Some(d) = e.private_dns_enabled() {
                p.insert("private_dns_enabled".into(), json!(d));
            }
            if let Some(doc) = e.policy_document().and_then(|d| serde_json::from_str(d).ok()) {
                p.insert("policy".into(), doc);
            }
            let dns: Vec<&str> = e.dns_entries().iter().filter_map(|d| d.dns_name()).collect();
            Some((p, attrs([("dns_entries", json!(dns)), ("state", json!(state_name(e)))])))
        })
        .await
    }

    fn normalize(&self, props: &mut Props) {
        for k in ["route_table_ids", "subnet_ids", "security_group_ids"] {
            if let Some(Value::Array(a)) = props.get_mut(k) {
                a.sort_by_key(|v| v.to_string());
            }
        }
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let policy = p.get("policy").filter(|v| !v.is_null()).map(|v| v.to_string());
        let out = send!(
            self.0
                .ec2
                .create_vpc_endpoint()
                .client_token(&req.token)
                .set_vpc_id(s(p, "vpc_id"))
                .set_service_name(s(p, "service_name"))
                .vpc_endpoint_type(VpcEndpointType::from(
                    s(p, "type").unwrap_or("Gateway".into()).as_str(),
                ))
                .set_route_table_ids(Some(list(p, "route_table_ids")).filter(|v| !v.is_empty()))
                .set_subnet_ids(Some(list(p, "subnet_ids")).filter(|v| !v.is_empty()))
                .set_security_group_ids(
                    Some(list(p, "security_group_ids")).filter(|v| !v.is_empty())
                )
                .set_private_dns_enabled(b(p, "private_dns_enabled"))
                .set_policy_document(policy)
                .tag_specifications(tag_spec(ResourceType::VpcEndpoint, ctx, &req.logical_id, p))
        )?;
        let id =
            created_id(out.vpc_endpoint().and_then(|e| e.vpc_endpoint_id()), self.schema().kind)?;
        Ok(Created::new(id))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let diff = |k: &str| {
            let was: BTreeSet<String> = list(old, k).into_iter().collect();
            let want: BTreeSet<String> = list(new, k).into_iter().collect();
            (
                want.difference(&was).cloned().collect::<Vec<_>>(),
                was.difference(&want).cloned().collect::<Vec<_>>(),
            )
        };
        let (add_rt, rm_rt) = diff("route_table_ids");
        let (add_sn, rm_sn) = diff("subnet_ids");
        let (add_sg, rm_sg) = diff("security_group_ids");
        let policy_changed = old.get("policy") != new.get("policy");
        let dns_changed = b(old, "private_dns_enabled") != b(new, "private_dns_enabled");
        let nonempty = |v: Vec<String>| Some(v).filter(|v| !v.is_empty());
        if [&add_rt, &rm_rt, &add_sn, &rm_sn, &add_sg, &rm_sg].iter().any(|v| !v.is_empty())
            || policy_changed
            || dns_changed
        {
            let mut m = self
                .0
                .ec2
                .modify_vpc_endpoint()
                .vpc_endpoint_id(id)
                .set_add_route_table_ids(nonempty(add_rt))
                .set_remove_route_table_ids(nonempty(rm_rt))
                .set_add_subnet_ids(nonempty(add_sn))
                .set_remove_subnet_ids(nonempty(rm_sn))
                .set_add_security_group_ids(nonempty(add_sg))
                .set_remove_security_group_ids(nonempty(rm_sg));
            if policy_changed {
                match new.get("policy").filter(|v| !v.is_null()) {
                    Some(p) => m = m.policy_document(p.to_string()),
                    None => m = m.reset_policy(true),
                }
            }
            if dns_changed {
                m = m.set_private_dns_enabled(b(new, "private_dns_enabled"));
            }
            send!(m)?;
        }
        sync_tags(&self.0.ec2, id, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, id: &str, _props: &Props) -> Result<()> {
        send!(self.0.ec2.delete_vpc_endpoints().vpc_endpoint_ids(id))?;
        Ok(())
    }

    /// There is no SDK waiter for endpoints: poll their state.
    async fn poll_ready(&self, _ctx: &Context, id: &str) -> Result<Option<Attrs>> {
        let out = send!(self.0.ec2.describe_vpc_endpoints().vpc_endpoint_ids(id))?;
        let Some(e) = out.vpc_endpoints().first() else {
            return Ok(None);
        };
        match e.state().map(|s| s.as_str().to_ascii_lowercase()) {
            // Pending acceptance is created, awaiting the provider (who may
            // be another account): ready, with a note, not a failure.
            Some(s) if s == "available" || s == "pendingacceptance" => {
                let attrs = attrs([
                    (
                        "dns_entries",
                        json!(
                            e.dns_entries().iter().filter_map(|d| d.dns_name()).collect::<Vec<_>>()
                        ),
                    ),
                    ("state", json!(e.state().map(|s| s.as_str()))),
                ]);
                Ok(Some(attrs))
            }
            Some(s) if s == "failed" || s == "rejected" => {
                Err(ProviderError::new(format!("VPC endpoint {id} is {s}")))
            }
            _ => Ok(None),
        }
    }

    fn expected_duration(&self, _op: Op) -> Duration {
        Duration::from_secs(30)
    }

    fn live_note(&self, attributes: &Attrs) -> Option<String> {
        pending_note(attributes)
    }
}

fn state_name(e: &aws_sdk_ec2::types::VpcEndpoint) -> Option<&str> {
    e.state().map(|s| s.as_str())
}

/// An endpoint waiting for the endpoint service's owner.
fn pending_note(attributes: &Attrs) -> Option<String> {
    let pending = attributes
        .get("state")
        .and_then(|s| s.as_str())
        .is_some_and(|s| s.eq_ignore_ascii_case("pendingAcceptance"));
    pending.then(|| {
        "pending acceptance: the endpoint service's owner must accept the connection \
         (`aws.ec2.vpc_endpoint_connection` does it when the service is yours)"
            .to_string()
    })
}

/// Interface endpoints are billed per subnet (availability zone) and per
/// GB; gateway endpoints are free.
fn vpc_endpoint_cost(c: &CostInput) -> Cost {
    if c.str("type") != Some("Interface") {
        return Ok(Estimate::free());
    }
    let zones = c.len("subnet_ids").ok_or("its subnets are known only after apply")?;
    Ok(Estimate::free()
        .charge(
            format!("interface endpoint in {zones} zone(s)"),
            zones as f64 * c.price("interface_endpoint_az_hour")?,
        )
        .usage("interface endpoint data processed", c.price("interface_endpoint_gb")?, "GB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_pending_acceptance_is_noted_not_failed() {
        let pending = attrs([("state", json!("pendingAcceptance"))]);
        assert!(pending_note(&pending).unwrap().starts_with("pending acceptance"));
        assert_eq!(pending_note(&attrs([("state", json!("available"))])), None);
        assert_eq!(pending_note(&Attrs::new()), None);
    }
}
