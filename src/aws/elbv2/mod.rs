//! Elastic Load Balancing v2: `aws.elbv2.load_balancer`,
//! `aws.elbv2.target_group`, `aws.elbv2.listener` and
//! `aws.elbv2.listener_rule`. Physical ids are ARNs.
//!
//! Load balancer and target group names must be unique per account and
//! region, so an omitted name is derived from the stack and logical id
//! (32 characters at most, see [`unique_name`]): two stacks of one
//! blueprint never clash. A read lists the account's load balancers or
//! target groups (paginated) and asks DescribeTags, 20 ARNs per call, only
//! for those the state records or whose name carries the stack's prefix.
//! Listeners and rules are read per load balancer and per listener.
//! Attributes (idle timeout, deregistration delay) have no batched read:
//! one call per resource.

pub mod common;
pub mod listener;
pub mod listener_rule;
pub mod load_balancer;
pub mod target_group;
