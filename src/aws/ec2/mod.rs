//! EC2 networking kinds: the VPC and everything that lives in it.

pub mod common;
pub mod endpoint;
pub mod gateway;
pub mod nat;
pub mod route;
pub mod security_group;
pub mod subnet;
pub mod vpc;

use std::sync::Arc;

use crate::aws::client::Clients;
use crate::provider::ResourceKind;
use crate::schema::Schema;

/// The implemented EC2 kinds.
pub fn kinds(c: &Clients) -> Vec<Arc<dyn ResourceKind>> {
    vec![
        Arc::new(vpc::Vpc(c.clone())),
        Arc::new(subnet::Subnet(c.clone())),
        Arc::new(gateway::InternetGateway(c.clone())),
        Arc::new(gateway::InternetGatewayAttachment(c.clone())),
        Arc::new(nat::Eip(c.clone())),
        Arc::new(nat::NatGateway(c.clone())),
        Arc::new(route::RouteTable(c.clone())),
        Arc::new(route::Route(c.clone())),
        Arc::new(route::RouteTableAssociation(c.clone())),
        Arc::new(security_group::SecurityGroup(c.clone())),
        Arc::new(security_group::SecurityGroupRule(c.clone())),
        Arc::new(endpoint::VpcEndpoint(c.clone())),
    ]
}

pub fn schemas() -> Vec<&'static Schema> {
    vec![
        &vpc::VPC,
        &subnet::SUBNET,
        &gateway::INTERNET_GATEWAY,
        &gateway::INTERNET_GATEWAY_ATTACHMENT,
        &nat::EIP,
        &nat::NAT_GATEWAY,
        &route::ROUTE_TABLE,
        &route::ROUTE,
        &route::ROUTE_TABLE_ASSOCIATION,
        &security_group::SECURITY_GROUP,
        &security_group::SECURITY_GROUP_RULE,
        &endpoint::VPC_ENDPOINT,
    ]
}
