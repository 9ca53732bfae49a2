//! `aws.ec2.internet_gateway` and its attachment to a VPC.

use crate::schema::{Prop, Schema, Type};

pub static INTERNET_GATEWAY: Schema = Schema {
    kind: "aws.ec2.internet_gateway",
    doc: "An internet gateway (attach it with aws.ec2.internet_gateway_attachment).",
    properties: &[],
    attributes: &[],
    exactly_one_of: &[],
    taggable: true,
};

pub static INTERNET_GATEWAY_ATTACHMENT: Schema = Schema {
    kind: "aws.ec2.internet_gateway_attachment",
    doc: "Attaches an internet gateway to a VPC. Not taggable: found by gateway and VPC.",
    properties: &[
        Prop::new(
            "internet_gateway_id",
            Type::String,
            "The gateway to attach.",
        )
        .required()
        .replace(),
        Prop::new("vpc_id", Type::String, "The VPC to attach it to.")
            .required()
            .replace(),
    ],
    attributes: &[],
    exactly_one_of: &[],
    taggable: false,
};
