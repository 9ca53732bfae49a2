//! `aws.ec2.vpc`: a VPC with its DNS attributes.

use crate::schema::{Attr, Default, Prop, Schema, Type};

pub static VPC: Schema = Schema {
    kind: "aws.ec2.vpc",
    doc: "A virtual private cloud.",
    properties: &[
        Prop::new("cidr_block", Type::Cidr, "The VPC's IPv4 range.")
            .required()
            .replace(),
        Prop::new(
            "enable_dns_support",
            Type::Bool,
            "Resolve DNS through the Amazon resolver.",
        )
        .default(Default::Bool(true)),
        Prop::new(
            "enable_dns_hostnames",
            Type::Bool,
            "Give instances public DNS hostnames.",
        )
        .default(Default::Bool(false)),
        Prop::new(
            "instance_tenancy",
            Type::Enum(&["default", "dedicated"]),
            "Tenancy of instances launched in the VPC.",
        )
        .default(Default::Str("default"))
        .replace(),
    ],
    attributes: &[
        Attr::new("arn", Type::String, "The VPC's ARN."),
        Attr::new(
            "default_security_group_id",
            Type::String,
            "The security group AWS created with the VPC.",
        ),
        Attr::new(
            "main_route_table_id",
            Type::String,
            "The VPC's main route table.",
        ),
    ],
    exactly_one_of: &[],
    taggable: true,
};
