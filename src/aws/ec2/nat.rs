//! `aws.ec2.eip` and `aws.ec2.nat_gateway`.

use crate::schema::{Attr, Default, Prop, Schema, Type};

pub static EIP: Schema = Schema {
    kind: "aws.ec2.eip",
    doc: "An Elastic IP address (allocation).",
    properties: &[Prop::new("domain", Type::Enum(&["vpc"]), "Always `vpc`.")
        .default(Default::Str("vpc"))
        .replace()],
    attributes: &[
        Attr::new(
            "allocation_id",
            Type::String,
            "The allocation id (eipalloc-...).",
        ),
        Attr::new("public_ip", Type::String, "The address."),
    ],
    exactly_one_of: &[],
    taggable: true,
};

pub static NAT_GATEWAY: Schema = Schema {
    kind: "aws.ec2.nat_gateway",
    doc: "A NAT gateway giving private subnets outbound internet access.",
    properties: &[
        Prop::new(
            "subnet_id",
            Type::String,
            "The public subnet the gateway lives in.",
        )
        .required()
        .replace(),
        Prop::new(
            "allocation_id",
            Type::String,
            "The Elastic IP allocation (required for public gateways).",
        )
        .replace(),
        Prop::new(
            "connectivity_type",
            Type::Enum(&["public", "private"]),
            "`public` (through an internet gateway) or `private`.",
        )
        .default(Default::Str("public"))
        .replace(),
    ],
    attributes: &[Attr::new(
        "public_ip",
        Type::String,
        "The gateway's public address.",
    )],
    exactly_one_of: &[],
    taggable: true,
};
