//! EC2 kinds: the VPC and everything that lives in it, and what launches
//! instances into it.

pub mod common;
pub mod endpoint;
pub mod endpoint_connection;
pub mod endpoint_service;
pub mod gateway;
pub mod instance;
pub mod launch_template;
pub mod nat;
pub mod placement_group;
pub mod route;
pub mod security_group;
pub mod subnet;
pub mod vpc;
