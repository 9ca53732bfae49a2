//! EC2 networking kinds: the VPC and everything that lives in it.

pub mod common;
pub mod endpoint;
pub mod endpoint_connection;
pub mod endpoint_service;
pub mod gateway;
pub mod nat;
pub mod route;
pub mod security_group;
pub mod subnet;
pub mod vpc;
