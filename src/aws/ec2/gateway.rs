//! `aws.ec2.internet_gateway` and its attachment to a VPC.

use super::common::{read_tagged, stack_or_known, tag_spec};
use crate::aws::prelude::*;
use aws_sdk_ec2::types::ResourceType;
use std::time::Duration;

pub static INTERNET_GATEWAY: Schema = Schema::new(
    "aws.ec2.internet_gateway",
    "An internet gateway (attach it with aws.ec2.internet_gateway_attachment).",
)
.properties(&[])
.free();

pub static INTERNET_GATEWAY_ATTACHMENT: Schema = Schema::new("aws.ec2.internet_gateway_attachment", "Attaches an internet gateway to a VPC. Not taggable: found by gateway and VPC.")
    .properties(rows! {
        Prop::new("internet_gateway_id", Type::String, "The gateway to attach.").required().replace(),
        Prop::new("vpc_id", Type::String, "The VPC to attach it to.").required().replace(),
    })
    .notes("Found again by its gateway and VPC. Deleting the gateway waits for NAT gateways and Elastic IPs of the stack to go first.")
    .untagged()
    .free()
    .replacement(Replacement::DeleteFirst("a gateway attaches to one VPC at a time, and a VPC takes one gateway"));

kind! { InternetGateway, INTERNET_GATEWAY, ec2_tags }

#[async_trait]
impl ResourceKind for InternetGateway {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let nothing = |_: &aws_sdk_ec2::types::InternetGateway| Some(Default::default());
        read_tagged(&self.0, ctx, q, nothing).await
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let out = send!(self.0.ec2.create_internet_gateway().tag_specifications(tag_spec(
            ResourceType::InternetGateway,
            ctx,
            &req.logical_id,
            &req.properties,
        )))?;
        let id = created_id(
            out.internet_gateway().and_then(|g| g.internet_gateway_id()),
            self.schema().kind,
        )?;
        Ok(Created::new(id))
    }

    /// Detaches the gateway from whatever it is still attached to first:
    /// an attachment whose record a crash lost would otherwise keep the
    /// gateway (DependencyViolation) and its VPC forever.
    async fn delete(&self, _ctx: &Context, id: &str, _props: &Props) -> Result<()> {
        let ec2 = &self.0.ec2;
        let out = send!(ec2.describe_internet_gateways().internet_gateway_ids(id))?;
        let vpcs =
            out.internet_gateways().iter().flat_map(|g| g.attachments()).filter_map(|a| a.vpc_id());
        for vpc in vpcs {
            match send!(ec2.detach_internet_gateway().internet_gateway_id(id).vpc_id(vpc)) {
                Err(e) if e.code.as_deref() != Some("Gateway.NotAttached") => return Err(e),
                _ => {}
            }
        }
        send!(ec2.delete_internet_gateway().internet_gateway_id(id))?;
        Ok(())
    }

    /// Deleting detaches the gateway first (from whatever it is attached
    /// to: a stack found by tags has no attachment record), and detaching
    /// fails while NAT gateways or Elastic IPs of the VPC remain (AWS
    /// enforces it, moto does not): they go first, as for the attachment.
    fn delete_after(&self) -> &'static [&'static Schema] {
        static KINDS: [&Schema; 2] = [&super::nat::NAT_GATEWAY, &super::nat::EIP];
        &KINDS
    }
}

kind! {
    /// The attachment of a gateway to a VPC. Not taggable: its id is
    /// `<igw-id>:<vpc-id>` and it is read through its gateway.
    InternetGatewayAttachment, INTERNET_GATEWAY_ATTACHMENT
}

fn split(id: &str) -> (String, String) {
    let (g, v) = id.split_once(':').unwrap_or((id, ""));
    (g.to_string(), v.to_string())
}

#[async_trait]
impl ResourceKind for InternetGatewayAttachment {
    /// One DescribeInternetGateways for every recorded attachment's gateway.
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        if q.known.is_empty() {
            return Ok(Vec::new());
        }
        let gateways: Vec<String> = q.known.iter().map(|(id, _)| split(id).0).collect();
        // The stack's gateways, as the gateway kind read them.
        let found: Vec<aws_sdk_ec2::types::InternetGateway> =
            stack_or_known(&self.0, ctx, gateways).await?;
        let mut out = Vec::new();
        for g in &found {
            let Some(gid) = g.internet_gateway_id() else {
                continue;
            };
            for a in g.attachments() {
                let attached = a
                    .state()
                    .is_some_and(|s| matches!(s.as_str(), "available" | "attached" | "attaching"));
                if let (true, Some(vpc)) = (attached, a.vpc_id()) {
                    out.push(Observed::new(
                        format!("{gid}:{vpc}"),
                        None,
                        props([
                            ("internet_gateway_id", str_value(Some(gid))),
                            ("vpc_id", str_value(Some(vpc))),
                        ]),
                    ));
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, _ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let (g, v) =
            (s(p, "internet_gateway_id").unwrap_or_default(), s(p, "vpc_id").unwrap_or_default());
        match send!(self.0.ec2.attach_internet_gateway().internet_gateway_id(&g).vpc_id(&v)) {
            // Already attached: a create whose record a crash lost (an
            // attachment has no tags to find it by). Attached to this VPC,
            // it is the attachment wanted.
            Err(e) if e.code.as_deref() == Some("Resource.AlreadyAssociated") => {
                let out = send!(self.0.ec2.describe_internet_gateways().internet_gateway_ids(&g))?;
                let attached = out.internet_gateways().iter().flat_map(|x| x.attachments());
                if !attached.filter_map(|a| a.vpc_id()).any(|a| a == v) {
                    return Err(e);
                }
            }
            other => {
                other?;
            }
        }
        Ok(Created::new(format!("{g}:{v}")))
    }

    async fn delete(&self, _ctx: &Context, id: &str, _props: &Props) -> Result<()> {
        let (g, v) = split(id);
        let r = send!(self.0.ec2.detach_internet_gateway().internet_gateway_id(g).vpc_id(v));
        match r {
            Ok(_) => Ok(()),
            // Already detached.
            Err(e) if e.code.as_deref() == Some("Gateway.NotAttached") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Detaching fails with DependencyViolation ("has some mapped public
    /// address(es)") while NAT gateways or Elastic IPs of the VPC remain:
    /// they go first (moto does not enforce this, AWS does).
    fn delete_after(&self) -> &'static [&'static Schema] {
        static KINDS: [&Schema; 2] = [&super::nat::NAT_GATEWAY, &super::nat::EIP];
        &KINDS
    }

    fn expected_duration(&self, _op: Op) -> Duration {
        Duration::from_secs(5)
    }
}
