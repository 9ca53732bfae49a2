//! `aws.ec2.vpc_endpoint_service`: your own service, behind Network Load
//! Balancers, offered to other VPCs over PrivateLink.
//!
//! Allowed principals need one DescribeVpcEndpointServicePermissions call
//! per service, so they are not read back: the last applied ones are
//! assumed (their drift is not detected), keeping reads constant per kind.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{ResourceType, ServiceConfiguration};

use super::common::{items, read_tagged, sync_tags, tag_spec};
use crate::aws::prelude::*;
use crate::schema::Default;

pub static VPC_ENDPOINT_SERVICE: Schema =
    Schema::new("aws.ec2.vpc_endpoint_service", "A VPC endpoint service (PrivateLink) for Network Load Balancers.")
        .properties(rows! {
            Prop::new("network_load_balancer_arns", Type::List(&Type::String), "The Network Load Balancers behind the service.").required(),
            Prop::new("acceptance_required", Type::Bool, "Connections wait for the provider to accept them.").default(Default::Bool(true)),
            Prop::new("allowed_principals", Type::List(&Type::String), "Principals (`arn:aws:iam::<account>:root`) allowed to connect; empty or omitted: the service's own account."),
        })
        .attributes(rows! {
            Attr::new("service_name", Type::String, "The name consumers connect to (`com.amazonaws.vpce.<region>.vpce-svc-...`)."),
        })
        .notes("Deleted before its load balancers (it references them). AWS refuses to delete it while endpoints are connected: those are rejected first (a consumer in another account, or one whose record is lost).")
        // Charged through its load balancers and the consumers' endpoints.
        .free();

kind! { VpcEndpointService, VPC_ENDPOINT_SERVICE }

items! {
    ServiceConfiguration(service_id, "service-id", describe_vpc_endpoint_service_configurations, filters, service_configurations),
}

/// What a list property gains and loses between two property sets.
fn added_removed(old: &Props, new: &Props, key: &str) -> (Vec<String>, Vec<String>) {
    let was: BTreeSet<String> = list(old, key).into_iter().collect();
    let want: BTreeSet<String> = list(new, key).into_iter().collect();
    (want.difference(&was).cloned().collect(), was.difference(&want).cloned().collect())
}

/// The principals `p` allows: its list, or, empty or omitted, the root of
/// the account that owns its load balancers (read from their ARNs), so a
/// same-account consumer may connect without naming the account.
fn principals(p: &Props) -> Props {
    let listed = list(p, "allowed_principals");
    let own = || {
        let arn = list(p, "network_load_balancer_arns").into_iter().next()?;
        let account = arn.split(':').nth(4).filter(|a| !a.is_empty())?.to_string();
        Some(vec![format!("arn:aws:iam::{account}:root")])
    };
    let effective = if listed.is_empty() { own().unwrap_or_default() } else { listed };
    props([("allowed_principals", json!(effective))])
}

fn name_attr(c: &ServiceConfiguration) -> Attrs {
    [("service_name".to_string(), str_value(c.service_name()))].into()
}

impl VpcEndpointService {
    /// One DeleteVpcEndpointServiceConfigurations: its unsuccessful item,
    /// if any, as the error.
    async fn delete_once(&self, id: &str) -> Result<()> {
        let out = send!(self.0.ec2.delete_vpc_endpoint_service_configurations().service_ids(id))?;
        match out.unsuccessful().iter().find_map(|u| u.error()) {
            None => Ok(()),
            Some(e) => {
                let code = e.code().unwrap_or("Unknown");
                let err = ProviderError::new(format!("{code}: {}", e.message().unwrap_or("")));
                Err(if code.contains("NotFound") {
                    err.code(code).not_found()
                } else {
                    err.code(code)
                })
            }
        }
    }
}

/// The endpoints of `states` (id, state) still connected to a service, to
/// reject before it can be deleted: accepted or waiting for acceptance.
fn connected(states: &[(String, String)]) -> Vec<String> {
    states
        .iter()
        .filter(|(_, st)| {
            matches!(
                st.to_ascii_lowercase().as_str(),
                "available" | "pendingacceptance" | "pending"
            )
        })
        .map(|(id, _)| id.clone())
        .collect()
}

#[async_trait]
impl ResourceKind for VpcEndpointService {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        read_tagged(&self.0, ctx, q, |c: &ServiceConfiguration| {
            let state = c.service_state().map(|s| s.as_str().to_ascii_lowercase());
            if matches!(state.as_deref(), Some("deleted" | "deleting")) {
                return None;
            }
            let mut nlbs = c.network_load_balancer_arns().to_vec();
            nlbs.sort();
            let p = props([
                ("network_load_balancer_arns", json!(nlbs)),
                ("acceptance_required", json!(c.acceptance_required())),
            ]);
            Some((p, name_attr(c)))
        })
        .await
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let out = send!(
            self.0
                .ec2
                .create_vpc_endpoint_service_configuration()
                .set_network_load_balancer_arns(Some(list(p, "network_load_balancer_arns")))
                .acceptance_required(b(p, "acceptance_required").unwrap_or(true))
                // The same token makes an SDK retry of a lost answer a no-op.
                .client_token(&req.token)
                .tag_specifications(tag_spec(
                    ResourceType::VpcEndpointService,
                    ctx,
                    &req.logical_id,
                    p
                ))
        )?;
        let c = out.service_configuration();
        let id = created_id(c.and_then(|c| c.service_id()), self.schema().kind)?;
        // Nothing is allowed before: `old` has no principals and no load
        // balancers to take an account from.
        self.set_principals(&id, &Props::new(), p).await.partial(&id)?;
        Ok(Created::new(id).with(c.map(name_attr).unwrap_or_default()))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let (add, remove) = added_removed(old, new, "network_load_balancer_arns");
        let acceptance = b(new, "acceptance_required").unwrap_or(true);
        if !add.is_empty()
            || !remove.is_empty()
            || b(old, "acceptance_required") != Some(acceptance)
        {
            send!(
                self.0
                    .ec2
                    .modify_vpc_endpoint_service_configuration()
                    .service_id(id)
                    .acceptance_required(acceptance)
                    .set_add_network_load_balancer_arns(Some(add).filter(|a| !a.is_empty()))
                    .set_remove_network_load_balancer_arns(Some(remove).filter(|r| !r.is_empty()))
            )?;
        }
        self.set_principals(id, old, new).await?;
        sync_tags(&self.0.ec2, id, old, new).await?;
        Ok(Attrs::new())
    }

    /// The call answers "unsuccessful" items instead of failing: an item
    /// for this service is its error (a gone service is not found).
    /// AWS refuses to delete a service while endpoints are connected (a
    /// consumer in another account, or one whose record is lost): those
    /// connections are rejected first, then the delete is asked again.
    /// Asked only after a refusal, so the usual destroy (consumers gone
    /// first) costs nothing more. moto never refuses and does not
    /// implement the rejection (HTTP 500): only the choice of what to
    /// reject is tested, in `tests` below.
    async fn delete(&self, _ctx: &Context, id: &str, _props: &Props) -> Result<()> {
        match self.delete_once(id).await {
            // `ExistingVpcEndpointConnections` on AWS.
            Err(e) if e.code.as_deref().is_some_and(|c| c.contains("Connection")) => {
                let ec2 = &self.0.ec2;
                let found: Vec<_> = paginate!(
                    ec2.describe_vpc_endpoint_connections()
                        .filters(super::common::filter("service-id", [id.to_string()]))
                )?;
                let states: Vec<(String, String)> = found
                    .iter()
                    .filter_map(|c| {
                        let state = c.vpc_endpoint_state()?.as_str().to_string();
                        Some((c.vpc_endpoint_id()?.to_string(), state))
                    })
                    .collect();
                let reject = connected(&states);
                if !reject.is_empty() {
                    send!(
                        ec2.reject_vpc_endpoint_connections()
                            .service_id(id)
                            .set_vpc_endpoint_ids(Some(reject))
                    )?;
                }
                self.delete_once(id).await
            }
            other => other,
        }
    }

    /// Services are usually available at once; poll their state.
    async fn poll_ready(&self, _ctx: &Context, id: &str) -> Result<Option<Attrs>> {
        let out = send!(self.0.ec2.describe_vpc_endpoint_service_configurations().service_ids(id))?;
        let Some(c) = out.service_configurations().first() else {
            return Ok(None);
        };
        let state = c.service_state().map(|s| s.as_str().to_ascii_lowercase());
        match state.as_deref() {
            Some("failed") => Err(ProviderError::new(format!("endpoint service {id} failed"))),
            Some("available") | None => Ok(Some(name_attr(c))),
            _ => Ok(None),
        }
    }

    fn normalize(&self, p: &mut Props) {
        sort_sets(p, &["network_load_balancer_arns", "allowed_principals"]);
    }
}

impl VpcEndpointService {
    /// Brings the allowed principals from `old` to `new`.
    async fn set_principals(&self, id: &str, old: &Props, new: &Props) -> Result<()> {
        let (add, remove) = added_removed(&principals(old), &principals(new), "allowed_principals");
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        send!(
            self.0
                .ec2
                .modify_vpc_endpoint_service_permissions()
                .service_id(id)
                .set_add_allowed_principals(Some(add).filter(|a| !a.is_empty()))
                .set_remove_allowed_principals(Some(remove).filter(|r| !r.is_empty()))
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::connected;

    #[test]
    fn connected_endpoints_are_rejected_before_the_service_goes() {
        let states: Vec<(String, String)> = [
            ("vpce-a", "available"),
            ("vpce-b", "pendingAcceptance"),
            ("vpce-c", "rejected"),
            ("vpce-d", "deleted"),
            ("vpce-e", "pending"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(connected(&states), ["vpce-a", "vpce-b", "vpce-e"]);
    }
}
