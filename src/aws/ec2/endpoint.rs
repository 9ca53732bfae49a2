//! `aws.ec2.vpc_endpoint`: gateway (S3, DynamoDB) and interface endpoints.

use crate::schema::{Attr, Default, Prop, Schema, Type};

pub static VPC_ENDPOINT: Schema = Schema {
    kind: "aws.ec2.vpc_endpoint",
    doc: "A VPC endpoint for an AWS service or an endpoint service.",
    properties: &[
        Prop::new("vpc_id", Type::String, "The VPC.")
            .required()
            .replace(),
        Prop::new(
            "service_name",
            Type::String,
            "e.g. `com.amazonaws.${region}.dynamodb`.",
        )
        .required()
        .replace(),
        Prop::new(
            "type",
            Type::Enum(&["Gateway", "Interface"]),
            "Gateway (route-table based) or Interface (ENIs in subnets).",
        )
        .default(Default::Str("Gateway"))
        .replace(),
        Prop::new(
            "route_table_ids",
            Type::List(&Type::String),
            "Gateway endpoints: the tables.",
        ),
        Prop::new(
            "subnet_ids",
            Type::List(&Type::String),
            "Interface endpoints: the subnets.",
        ),
        Prop::new(
            "security_group_ids",
            Type::List(&Type::String),
            "Interface endpoints: the groups.",
        ),
        Prop::new(
            "private_dns_enabled",
            Type::Bool,
            "Interface endpoints: private DNS.",
        ),
        Prop::new(
            "policy",
            Type::Json,
            "An IAM policy document limiting the endpoint.",
        ),
    ],
    attributes: &[Attr::new(
        "dns_entries",
        Type::List(&Type::String),
        "Interface endpoints' DNS names.",
    )],
    exactly_one_of: &[],
    taggable: true,
};
