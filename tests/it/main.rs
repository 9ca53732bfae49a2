//! archkit's integration tests: one binary (as ripgrep and cargo do).
//! Tests here need no AWS; the end-to-end tests against moto live in
//! their own modules and start moto through `scripts/moto`.

mod cli;
mod corpus;
mod deploy;
mod engine;
mod fargate;
mod moto;
mod mq;
mod robustness;
mod util;
