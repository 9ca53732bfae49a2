//! AWS resource kinds. This is the only module that will name `aws_sdk_*`
//! types; each resource family lives in one file and is registered in
//! [`registry`].

pub mod ec2;

use crate::provider::Registry;
use crate::schema::Schema;

/// Every AWS resource kind archkit knows.
pub fn schemas() -> Vec<&'static Schema> {
    ec2::schemas()
}

/// The registry of AWS kinds used by blueprints.
pub fn registry() -> Registry {
    Registry::new(schemas())
}
