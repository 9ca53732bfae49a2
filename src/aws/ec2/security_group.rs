//! `aws.ec2.security_group` (with inline rules) and the standalone
//! `aws.ec2.security_group_rule`, which groups that reference each other
//! need to avoid a dependency cycle.

use crate::schema::{Default, Prop, Schema, Type};

/// An inline rule of a security group.
static RULE: &[Prop] = &[
    Prop::new(
        "protocol",
        Type::String,
        "`tcp`, `udp`, `icmp` or `-1` for all.",
    )
    .required(),
    Prop::new("from_port", Type::Int, "First port (omit for all)."),
    Prop::new("to_port", Type::Int, "Last port (omit for all)."),
    Prop::new(
        "cidr_blocks",
        Type::List(&Type::Cidr),
        "IPv4 sources or destinations.",
    ),
    Prop::new(
        "source_security_group_id",
        Type::String,
        "Another security group as the source or destination.",
    ),
    Prop::new("description", Type::String, "What the rule is for."),
];

pub static SECURITY_GROUP: Schema = Schema {
    kind: "aws.ec2.security_group",
    doc: "A security group. Without `egress`, all outbound traffic is allowed (AWS's default).",
    properties: &[
        Prop::new(
            "name",
            Type::String,
            "The group name; derived from the stack and id when omitted.",
        )
        .replace(),
        Prop::new(
            "description",
            Type::String,
            "The group's description (AWS cannot change it).",
        )
        .required()
        .replace(),
        Prop::new("vpc_id", Type::String, "The VPC.")
            .required()
            .replace(),
        Prop::new("ingress", Type::List(&Type::Object(RULE)), "Inbound rules."),
        Prop::new("egress", Type::List(&Type::Object(RULE)), "Outbound rules."),
    ],
    attributes: &[],
    exactly_one_of: &[],
    taggable: true,
};

pub static SECURITY_GROUP_RULE: Schema = Schema {
    kind: "aws.ec2.security_group_rule",
    doc: "One ingress or egress rule of a security group.",
    properties: &[
        Prop::new(
            "security_group_id",
            Type::String,
            "The group the rule belongs to.",
        )
        .required()
        .replace(),
        Prop::new("type", Type::Enum(&["ingress", "egress"]), "Direction.")
            .required()
            .replace(),
        Prop::new(
            "protocol",
            Type::String,
            "`tcp`, `udp`, `icmp` or `-1` for all.",
        )
        .default(Default::Str("-1"))
        .replace(),
        Prop::new("from_port", Type::Int, "First port (omit for all).").replace(),
        Prop::new("to_port", Type::Int, "Last port (omit for all).").replace(),
        Prop::new("cidr_block", Type::Cidr, "An IPv4 source or destination.").replace(),
        Prop::new(
            "source_security_group_id",
            Type::String,
            "A security group as the source or destination (may be the rule's own group).",
        )
        .replace(),
        Prop::new("description", Type::String, "What the rule is for."),
    ],
    attributes: &[],
    exactly_one_of: &[&["cidr_block", "source_security_group_id"]],
    taggable: true,
};
