//! `aws.ec2.subnet`: a subnet in one availability zone.

use crate::schema::{Attr, Default, Prop, Schema, Type};

pub static SUBNET: Schema = Schema {
    kind: "aws.ec2.subnet",
    doc: "A subnet of a VPC in one availability zone.",
    properties: &[
        Prop::new("vpc_id", Type::String, "The VPC the subnet belongs to.")
            .required()
            .replace(),
        Prop::new(
            "cidr_block",
            Type::Cidr,
            "The subnet's IPv4 range, inside the VPC's.",
        )
        .required()
        .replace(),
        Prop::new(
            "availability_zone",
            Type::String,
            "The zone, usually `${azs[N]}` so it is chosen per region.",
        )
        .required()
        .replace(),
        Prop::new(
            "map_public_ip_on_launch",
            Type::Bool,
            "Give instances launched here a public IPv4 address.",
        )
        .default(Default::Bool(false)),
    ],
    attributes: &[
        Attr::new("arn", Type::String, "The subnet's ARN."),
        Attr::new(
            "availability_zone_id",
            Type::String,
            "The zone's id (e.g. use1-az1).",
        ),
    ],
    exactly_one_of: &[],
    taggable: true,
};
