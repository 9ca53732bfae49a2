//! The registry of resource kinds that blueprints may use.
//!
//! Each kind is declared in one file under `src/aws/` and registered in
//! `aws::registry()`; the core (blueprint validation, graph, plan, engine)
//! reaches kinds only through this registry.

use std::collections::BTreeMap;

use crate::schema::Schema;

/// Every known resource kind, by its type name (`aws.ec2.vpc`).
#[derive(Debug, Default)]
pub struct Registry {
    schemas: BTreeMap<&'static str, &'static Schema>,
}

impl Registry {
    pub fn new(schemas: impl IntoIterator<Item = &'static Schema>) -> Self {
        Registry {
            schemas: schemas.into_iter().map(|s| (s.kind, s)).collect(),
        }
    }

    pub fn schema(&self, kind: &str) -> Option<&'static Schema> {
        self.schemas.get(kind).copied()
    }

    /// Kind names in sorted order.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.schemas.keys().copied()
    }

    pub fn schemas(&self) -> impl Iterator<Item = &'static Schema> + '_ {
        self.schemas.values().copied()
    }
}
