//! EC2 networking kinds: the VPC and everything that lives in it.

pub mod endpoint;
pub mod gateway;
pub mod nat;
pub mod route;
pub mod security_group;
pub mod subnet;
pub mod vpc;

use crate::schema::Schema;

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
