//! `aws.ec2.eip` and `aws.ec2.nat_gateway`.

use super::common::{read_tagged, tag_spec};
use crate::aws::prelude::*;
use crate::schema::Default;
use aws_sdk_ec2::types::{ConnectivityType, DomainType, ResourceType};
use std::time::Duration;

pub static EIP: Schema = Schema::new("aws.ec2.eip", "An Elastic IP address (allocation).")
    .properties(rows! {
        Prop::new("domain", Type::Enum(&["vpc"]), "Always `vpc`.").default(Default::Str("vpc")).replace(),
    })
    .attributes(rows! {
        Attr::new("allocation_id", Type::String, "The allocation id (eipalloc-...)."),
        Attr::new("public_ip", Type::String, "The address."),
    })
    .cost(eip_cost);

pub static NAT_GATEWAY: Schema = Schema::new("aws.ec2.nat_gateway", "A NAT gateway giving private subnets outbound internet access.")
    .properties(rows! {
        Prop::new("subnet_id", Type::String, "The public subnet the gateway lives in.").required().replace(),
        Prop::new("allocation_id", Type::String, "The Elastic IP allocation (required for public gateways).").replace(),
        Prop::new("connectivity_type", Type::Enum(&["public", "private"]), "`public` (through an internet gateway) or `private`.").default(Default::Str("public")).replace(),
    })
    .attributes(rows! {
        Attr::new("public_ip", Type::String, "The gateway's public address."),
    })
    .cost(nat_gateway_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["allocation_id"], "an Elastic IP is on one NAT gateway at a time"));

kind! {
    /// The Elastic IP kind; its id is the allocation id.
    Eip, EIP, ec2_tags
}

fn eip_attrs(a: &aws_sdk_ec2::types::Address) -> Attrs {
    attrs([
        ("allocation_id", str_value(a.allocation_id())),
        ("public_ip", str_value(a.public_ip())),
    ])
}

#[async_trait]
impl ResourceKind for Eip {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        read_tagged(&self.0, ctx, q, |a: &aws_sdk_ec2::types::Address| {
            let domain = a.domain().map(|d| d.as_str());
            Some((props([("domain", str_value(domain))]), eip_attrs(a)))
        })
        .await
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let out = send!(self.0.ec2.allocate_address().domain(DomainType::Vpc).tag_specifications(
            tag_spec(ResourceType::ElasticIp, ctx, &req.logical_id, &req.properties,)
        ))?;
        let id = created_id(out.allocation_id(), self.schema().kind)?;
        let mut attrs = Attrs::new();
        attrs.extend(props([
            ("allocation_id", str_value(out.allocation_id())),
            ("public_ip", str_value(out.public_ip())),
        ]));
        Ok(Created::new(id).with(attrs))
    }

    async fn delete(&self, _ctx: &Context, id: &str, _props: &Props) -> Result<()> {
        send!(self.0.ec2.release_address().allocation_id(id))?;
        Ok(())
    }

    /// Release is rejected while a NAT gateway still holds the address (and
    /// its association cannot be removed by hand): NAT gateways go first,
    /// and are waited for until deleted. moto allows the release anyway.
    fn delete_after(&self) -> &'static [&'static Schema] {
        static KINDS: [&Schema; 1] = [&NAT_GATEWAY];
        &KINDS
    }
}

kind! { NatGateway, NAT_GATEWAY, ec2_tags }

#[async_trait]
impl ResourceKind for NatGateway {
    /// Deleted gateways stay visible for about an hour: they are ignored.
    /// Deleted gateways stay visible for about an hour: they are ignored.
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        read_tagged(&self.0, ctx, q, |n: &aws_sdk_ec2::types::NatGateway| {
            let state = n.state().map(|s| s.as_str());
            if matches!(state, Some("deleted" | "deleting" | "failed")) {
                return None;
            }
            let address = n.nat_gateway_addresses().first();
            let p = props([
                ("subnet_id", str_value(n.subnet_id())),
                ("allocation_id", str_value(address.and_then(|a| a.allocation_id()))),
                ("connectivity_type", str_value(n.connectivity_type().map(|c| c.as_str()))),
            ]);
            let public_ip = str_value(address.and_then(|a| a.public_ip()));
            Some((p, [("public_ip".to_string(), public_ip)].into()))
        })
        .await
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let out = send!(
            self.0
                .ec2
                .create_nat_gateway()
                .client_token(&req.token)
                .set_subnet_id(s(p, "subnet_id"))
                .set_allocation_id(s(p, "allocation_id"))
                .connectivity_type(ConnectivityType::from(
                    s(p, "connectivity_type").unwrap_or("public".into()).as_str(),
                ))
                .tag_specifications(tag_spec(ResourceType::Natgateway, ctx, &req.logical_id, p))
        )?;
        let id =
            created_id(out.nat_gateway().and_then(|n| n.nat_gateway_id()), self.schema().kind)?;
        Ok(Created::new(id))
    }

    async fn delete(&self, _ctx: &Context, id: &str, _props: &Props) -> Result<()> {
        send!(self.0.ec2.delete_nat_gateway().nat_gateway_id(id))?;
        Ok(())
    }

    /// Pending → available takes 1–5 minutes on AWS (instant in moto).
    async fn poll_ready(&self, _ctx: &Context, id: &str) -> Result<Option<Attrs>> {
        let out = send!(self.0.ec2.describe_nat_gateways().nat_gateway_ids(id))?;
        let Some(n) = out.nat_gateways().first() else {
            return Ok(None);
        };
        let public_ip = || n.nat_gateway_addresses().first().and_then(|a| a.public_ip());
        ready_when(
            n.state().map(|s| s.as_str()),
            &["available"],
            &["failed"],
            || attrs([("public_ip", str_value(public_ip()))]),
            |_| {
                let why = n.failure_message().unwrap_or("no reason given");
                ProviderError::new(format!("NAT gateway {id} failed: {why}"))
            },
        )
    }

    async fn poll_deleted(&self, _ctx: &Context, id: &str) -> Result<bool> {
        let out = send!(self.0.ec2.describe_nat_gateways().nat_gateway_ids(id))?;
        Ok(out
            .nat_gateways()
            .first()
            .is_none_or(|n| n.state().is_some_and(|s| s.as_str() == "deleted")))
    }

    fn expected_duration(&self, _op: Op) -> Duration {
        Duration::from_secs(180)
    }
}

/// An Elastic IP is a public IPv4 address, billed per hour in use or idle.
fn eip_cost(c: &CostInput) -> Cost {
    Ok(Estimate::free().charge("public IPv4 address", c.price("public_ipv4_hour")?))
}

/// The gateway's hours and the data it processes (its EIP is billed as
/// its own resource).
fn nat_gateway_cost(c: &CostInput) -> Cost {
    Ok(Estimate::free().charge("NAT gateway", c.price("nat_gateway_hour")?).usage(
        "NAT gateway data processed",
        c.price("nat_gateway_gb")?,
        "GB",
    ))
}
