//! `aws.ec2.route_table`, `aws.ec2.route` and
//! `aws.ec2.route_table_association`.

use crate::schema::{Prop, Schema, Type};

pub static ROUTE_TABLE: Schema = Schema {
    kind: "aws.ec2.route_table",
    doc: "A route table of a VPC.",
    properties: &[Prop::new("vpc_id", Type::String, "The VPC.")
        .required()
        .replace()],
    attributes: &[],
    exactly_one_of: &[],
    taggable: true,
};

pub static ROUTE: Schema = Schema {
    kind: "aws.ec2.route",
    doc: "One route of a route table. Not taggable: found by table and destination.",
    properties: &[
        Prop::new("route_table_id", Type::String, "The table.")
            .required()
            .replace(),
        Prop::new(
            "destination_cidr_block",
            Type::Cidr,
            "Where the route leads.",
        )
        .required()
        .replace(),
        Prop::new("gateway_id", Type::String, "An internet gateway target."),
        Prop::new("nat_gateway_id", Type::String, "A NAT gateway target."),
        Prop::new(
            "vpc_endpoint_id",
            Type::String,
            "A gateway-load-balancer endpoint target.",
        ),
    ],
    attributes: &[],
    exactly_one_of: &[&["gateway_id", "nat_gateway_id", "vpc_endpoint_id"]],
    taggable: false,
};

pub static ROUTE_TABLE_ASSOCIATION: Schema = Schema {
    kind: "aws.ec2.route_table_association",
    doc: "Associates a subnet with a route table. Not taggable: found by subnet.",
    properties: &[
        Prop::new("subnet_id", Type::String, "The subnet.")
            .required()
            .replace(),
        Prop::new("route_table_id", Type::String, "The table.")
            .required()
            .replace(),
    ],
    attributes: &[],
    exactly_one_of: &[],
    taggable: false,
};
