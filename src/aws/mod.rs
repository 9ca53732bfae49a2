//! AWS resource kinds. This is the only module that names `aws_sdk_*`
//! types; each resource family lives in one file and is registered in
//! [`registry`] / [`kinds`].

pub mod client;
pub mod dynamodb;
pub mod ec2;
pub mod ecs;
pub mod elbv2;
pub mod error;
pub mod events;
pub mod iam;
pub mod lambda;
pub mod logs;
pub mod mq;
pub mod secretsmanager;
pub mod values;

use std::sync::Arc;

use crate::provider::{Registry, ResourceKind};
use crate::schema::Schema;
pub use client::{Clients, Settings};

/// Every AWS resource kind archkit knows.
pub fn schemas() -> Vec<&'static Schema> {
    let mut s = ec2::schemas();
    s.extend([&iam::ROLE, &logs::LOG_GROUP]);
    s.extend(elbv2::schemas());
    s.extend(ecs::schemas());
    s.extend(lambda::schemas());
    s.extend([
        &mq::BROKER,
        &events::RULE,
        &dynamodb::TABLE,
        &secretsmanager::SECRET,
    ]);
    s
}

/// The registry of AWS schemas: enough to validate and graph blueprints
/// without credentials.
pub fn registry() -> Registry {
    Registry::new(schemas())
}

/// The implemented AWS kinds, talking through `clients`.
pub fn kinds(clients: &Clients) -> Vec<Arc<dyn ResourceKind>> {
    let mut k = ec2::kinds(clients);
    k.push(Arc::new(iam::Role(clients.clone())));
    k.push(Arc::new(logs::LogGroup(clients.clone())));
    k.extend(elbv2::kinds(clients));
    k.extend(ecs::kinds(clients));
    k.extend(lambda::kinds(clients));
    k.push(Arc::new(mq::Broker(clients.clone())));
    k.push(Arc::new(events::Rule(clients.clone())));
    k.push(Arc::new(dynamodb::Table(clients.clone())));
    k.push(Arc::new(secretsmanager::Secret(clients.clone())));
    k
}

/// The availability zones of the client's region, in name order.
pub async fn availability_zones(
    clients: &Clients,
) -> Result<Vec<String>, crate::provider::ProviderError> {
    let out = clients
        .ec2
        .describe_availability_zones()
        .filters(ec2::common::filter("state", ["available".to_string()]))
        .send()
        .await
        .map_err(ec2::common::err)?;
    let mut zones: Vec<String> = out
        .availability_zones()
        .iter()
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    zones.sort();
    Ok(zones)
}
