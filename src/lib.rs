//! archkit turns well-known AWS reference architectures (blueprints) into
//! infrastructure you can plan, apply and tear down with one command.
//!
//! Layout: [`blueprint`] reads and validates YAML blueprints, [`graph`]
//! orders their resources, [`provider`] and [`schema`] describe resource
//! kinds, [`aws`] implements them, [`output`] renders for people and
//! machines, and [`cli`] is the thin command-line layer.

pub mod aws;
pub mod blueprint;
pub mod cli;
pub mod cloud;
pub mod codes;
pub mod config;
pub mod engine;
pub mod graph;
pub mod ops;
pub mod output;
pub mod plan;
pub mod price;
pub mod provider;
pub mod schema;
pub mod session;
pub mod settings;
pub mod state;
