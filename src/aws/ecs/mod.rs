//! Amazon ECS: `aws.ecs.cluster`, `aws.ecs.task_definition` and
//! `aws.ecs.service`.
//!
//! - A cluster's physical id is its name (derived from the stack when
//!   omitted, so two stacks never share one).
//! - A task definition's physical id is the ARN of one revision. Every
//!   property but `tags` forces a replacement: a change registers a new
//!   revision, the services using it are updated to it, and the old
//!   revision is deregistered and deleted.
//! - A service's physical id is its ARN. Creating or updating one waits
//!   for the rollout to complete; the deployment circuit breaker (on by
//!   default) turns a task that never becomes healthy into an error within
//!   minutes instead of an endless wait. Deleting one scales it to zero,
//!   deletes it and waits until it is INACTIVE, so its tasks' network
//!   interfaces are gone before the subnets and security groups are
//!   deleted.
//!
//! moto completes rollouts instantly (`MOTO_ECS_SERVICE_RUNNING`) and never
//! drains: tests prove the calls and their order, not AWS's timing.

pub mod cluster;
pub mod common;
pub mod service;
pub mod task_definition;
