//! `aws.ec2.subnet`: a subnet in one availability zone.

use super::common::{read_tagged, sync_tags, tag_spec};
use crate::aws::prelude::*;
use crate::schema::Default;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};

pub static SUBNET: Schema = Schema::new("aws.ec2.subnet", "A subnet of a VPC in one availability zone.")
    .properties(rows! {
        Prop::new("vpc_id", Type::String, "The VPC the subnet belongs to.").required().replace(),
        Prop::new("cidr_block", Type::Cidr, "The subnet's IPv4 range, inside the VPC's.").prefix(16, 28).required().replace(),
        Prop::new("availability_zone", Type::String, "The zone, usually `${azs[N]}` so it is chosen per region.").required().replace(),
        Prop::new("map_public_ip_on_launch", Type::Bool, "Give instances launched here a public IPv4 address.").default(Default::Bool(false)),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The subnet's ARN."),
        Attr::new("availability_zone_id", Type::String, "The zone's id (e.g. use1-az1)."),
    })
    .free()
    .replacement(Replacement::DeleteFirstWhen(overlaps_old_range, "the new range overlaps the old one in the same VPC, which AWS refuses"));

/// Whether the replacement's range overlaps the old one in the same VPC:
/// AWS refuses a subnet that overlaps another of its VPC, so the old one
/// must go first.
fn overlaps_old_range(sides: &Sides) -> bool {
    let net = |v: Option<&Value>| v.and_then(Value::as_str)?.parse::<ipnet::Ipv4Net>().ok();
    match (net(sides.before.get("cidr_block")), net(sides.after("cidr_block"))) {
        (Some(old), Some(new)) => {
            sides.kept("vpc_id") && (old.contains(&new.network()) || new.contains(&old.network()))
        }
        // A range known only after apply may overlap.
        _ => sides.kept("vpc_id"),
    }
}

kind! { Subnet, SUBNET }

fn subnet_attrs(sn: &aws_sdk_ec2::types::Subnet) -> Attrs {
    attrs([
        ("arn", str_value(sn.subnet_arn())),
        ("availability_zone_id", str_value(sn.availability_zone_id())),
    ])
}

#[async_trait]
impl ResourceKind for Subnet {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        read_tagged(&self.0, ctx, q, |sn: &aws_sdk_ec2::types::Subnet| {
            let public = sn.map_public_ip_on_launch().unwrap_or(false);
            let p = props([
                ("vpc_id", str_value(sn.vpc_id())),
                ("cidr_block", str_value(sn.cidr_block())),
                ("availability_zone", str_value(sn.availability_zone())),
                ("map_public_ip_on_launch", Value::Bool(public)),
            ]);
            Some((p, subnet_attrs(sn)))
        })
        .await
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let out = send!(
            self.0
                .ec2
                .create_subnet()
                .set_vpc_id(s(p, "vpc_id"))
                .set_cidr_block(s(p, "cidr_block"))
                .set_availability_zone(s(p, "availability_zone"))
                .tag_specifications(tag_spec(ResourceType::Subnet, ctx, &req.logical_id, p))
        )?;
        let sn = out.subnet().ok_or_else(|| ProviderError::no_id(self.schema().kind))?;
        let id = created_id(sn.subnet_id(), self.schema().kind)?;
        if b(p, "map_public_ip_on_launch") == Some(true) {
            self.map_public(&id, true).await.partial(&id)?;
        }
        Ok(Created::new(id).with(subnet_attrs(sn)))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let want = b(new, "map_public_ip_on_launch").unwrap_or(false);
        if b(old, "map_public_ip_on_launch").unwrap_or(false) != want {
            self.map_public(id, want).await?;
        }
        sync_tags(&self.0.ec2, id, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, id: &str, _props: &Props) -> Result<()> {
        super::common::delete_held_by_lambda(&self.0, "subnet-id", id, || async {
            send!(self.0.ec2.delete_subnet().subnet_id(id)).map(|_| ())
        })
        .await
    }
}

impl Subnet {
    async fn map_public(&self, id: &str, on: bool) -> Result<()> {
        send!(
            self.0
                .ec2
                .modify_subnet_attribute()
                .subnet_id(id)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build())
        )?;
        Ok(())
    }
}
