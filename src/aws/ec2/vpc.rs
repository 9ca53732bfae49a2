//! `aws.ec2.vpc`: a VPC with its DNS attributes.

use super::common::{read_tagged, sync_tags, tag_spec};
use crate::aws::prelude::*;
use crate::schema::Default;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, Tenancy};

pub static VPC: Schema = Schema::new("aws.ec2.vpc", "A virtual private cloud.")
    .properties(rows! {
        Prop::new("cidr_block", Type::Cidr, "The VPC's IPv4 range.").prefix(16, 28).required().replace(),
        Prop::new("enable_dns_support", Type::Bool, "Resolve DNS through the Amazon resolver.").default(Default::Bool(true)),
        Prop::new("enable_dns_hostnames", Type::Bool, "Give instances public DNS hostnames.").default(Default::Bool(false)),
        Prop::new("instance_tenancy", Type::Enum(&["default", "dedicated"]), "Tenancy of instances launched in the VPC.").default(Default::Str("default")).replace(),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The VPC's ARN."),
        Attr::new("default_security_group_id", Type::String, "The security group AWS created with the VPC."),
        Attr::new("main_route_table_id", Type::String, "The VPC's main route table."),
    })
    .free();

kind! { Vpc, VPC }

#[async_trait]
impl ResourceKind for Vpc {
    /// One DescribeVpcs by stack tag (plus one by id for recorded VPCs the
    /// tag filter missed). DNS attributes need a DescribeVpcAttribute call
    /// per VPC and attribute, so they are not read back: their drift is not
    /// detected, keeping reads constant per kind.
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        read_tagged(&self.0, ctx, q, |v: &aws_sdk_ec2::types::Vpc| {
            let p = props([
                ("cidr_block", str_value(v.cidr_block())),
                ("instance_tenancy", str_value(v.instance_tenancy().map(|t| t.as_str()))),
            ]);
            Some((p, self.arn(v)))
        })
        .await
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let out = send!(
            self.0
                .ec2
                .create_vpc()
                .set_cidr_block(s(p, "cidr_block"))
                .instance_tenancy(Tenancy::from(
                    s(p, "instance_tenancy").unwrap_or("default".into()).as_str(),
                ))
                .tag_specifications(tag_spec(ResourceType::Vpc, ctx, &req.logical_id, p))
        )?;
        let id = created_id(out.vpc().and_then(|v| v.vpc_id()), self.schema().kind)?;
        // The VPC exists from here on: a failure below must not lose it.
        let attrs = self.set_dns(&id, p, &Props::new()).await.partial(&id)?;
        Ok(Created::new(id).with(attrs))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        self.set_dns(id, new, old).await?;
        sync_tags(&self.0.ec2, id, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, id: &str, _props: &Props) -> Result<()> {
        send!(self.0.ec2.delete_vpc().vpc_id(id))?;
        Ok(())
    }

    async fn poll_ready(&self, _ctx: &Context, id: &str) -> Result<Option<Attrs>> {
        let out = send!(self.0.ec2.describe_vpcs().vpc_ids(id))?;
        let state = out.vpcs().first().and_then(|v| v.state()).map(|s| s.as_str().to_string());
        if state.as_deref() != Some("available") {
            return Ok(None);
        }
        Ok(Some(self.arn(&out.vpcs()[0])))
    }
}

impl Vpc {
    /// The VPC's ARN (DescribeVpcs does not return it).
    fn arn(&self, v: &aws_sdk_ec2::types::Vpc) -> Attrs {
        let arn = format!(
            "arn:aws:ec2:{}:{}:vpc/{}",
            self.0.region,
            v.owner_id().unwrap_or(""),
            v.vpc_id().unwrap_or("")
        );
        [("arn".to_string(), Value::String(arn))].into()
    }

    /// Sets the DNS attributes that differ from `old` (one attribute per
    /// call, as the API requires), and returns the VPC's extra attributes.
    async fn set_dns(&self, id: &str, new: &Props, old: &Props) -> Result<Attrs> {
        // Defaults as AWS creates them: support on, hostnames off.
        let was_support = b(old, "enable_dns_support").unwrap_or(true);
        let was_hostnames = b(old, "enable_dns_hostnames").unwrap_or(false);
        let support = b(new, "enable_dns_support").unwrap_or(true);
        let hostnames = b(new, "enable_dns_hostnames").unwrap_or(false);
        // Hostnames need support: turn support on first, hostnames off first.
        if support && !was_support {
            self.dns(id, Some(true), None).await?;
        }
        if hostnames != was_hostnames {
            self.dns(id, None, Some(hostnames)).await?;
        }
        if !support && was_support {
            self.dns(id, Some(false), None).await?;
        }
        Ok(Attrs::new())
    }

    async fn dns(&self, id: &str, support: Option<bool>, hostnames: Option<bool>) -> Result<()> {
        let v = |b: bool| AttributeBooleanValue::builder().value(b).build();
        send!(
            self.0
                .ec2
                .modify_vpc_attribute()
                .vpc_id(id)
                .set_enable_dns_support(support.map(v))
                .set_enable_dns_hostnames(hostnames.map(v))
        )?;
        Ok(())
    }
}
