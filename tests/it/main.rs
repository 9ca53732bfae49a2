//! archkit's integration tests: one binary (as ripgrep and cargo do).
//! Tests here need no AWS; the end-to-end tests against moto live in
//! their own modules and start moto through `scripts/moto`.

/// An SDK client of crate `$krate` talking to the emulator at `$url`
/// (dummy credentials, us-east-1), for reading back what archkit made.
macro_rules! client {
    ($krate:ident, $url:expr) => {{
        use $krate as k;
        let creds = k::config::Credentials::new("testing", "testing", None, None, "test");
        k::Client::from_conf(
            k::Config::builder()
                .behavior_version(k::config::BehaviorVersion::latest())
                .region(k::config::Region::new("us-east-1"))
                .endpoint_url($url)
                .credentials_provider(creds)
                .build(),
        )
    }};
}

mod aurora;
mod bucket;
mod cidr;
mod cli;
mod compute;
mod corpus;
mod cost;
mod defects;
mod deploy;
mod discover;
mod endpoint_service;
mod engine;
mod fargate;
mod faults;
mod firehose;
mod graph;
mod kinds;
mod lambda_vpc;
mod layout;
mod managed;
mod markdown;
mod moto;
mod mq;
mod names;
mod privatelink;
mod rds;
mod replace;
mod robustness;
mod s3state;
mod sweep;
mod util;
mod values;
