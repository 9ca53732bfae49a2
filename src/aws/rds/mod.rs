//! Amazon RDS kinds for Aurora: `aws.rds.db_subnet_group`,
//! `aws.rds.db_cluster_parameter_group`, `aws.rds.db_cluster`,
//! `aws.rds.db_instance` and `aws.rds.cluster_role_association`.
//!
//! Physical ids are the identifiers RDS names resources by (lower case,
//! derived from the stack and logical id when omitted, see
//! [`common::rds_name`]). Describe calls return every resource of the
//! account (paginated); a read keeps those the state records or whose
//! name carries the stack's prefix, and reads tags from `TagList` where
//! the describe carries it (clusters, instances) or with one
//! ListTagsForResource per kept resource (groups).

// First: its `rds!` macro is used by the kinds below.
#[macro_use]
pub mod common;
pub mod cluster;
pub mod instance;
pub mod parameter_group;
pub mod role_association;
pub mod subnet_group;
