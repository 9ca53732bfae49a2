//! Where a session's resources live: the [`Cloud`] it talks to.
//!
//! The product has one, AWS (`aws::cloud::AwsCloud`). The test suite and
//! the benchmarks add the in-memory test cloud (`provider::memory`),
//! compiled only with the `test-cloud` feature, which `cargo test` and
//! `cargo bench` turn on (a dev-dependency of the package on itself) and a
//! release build does not: the binary a user runs holds no test double.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::aws::client::{ClientError, Stats};
use crate::aws::stacks::TaggedStack;
use crate::provider::{ProviderError, Registry};

/// Why the cloud could not answer.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CloudError {
    /// Connecting (credentials, region) failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Client(#[from] ClientError),
    /// A call failed after its retries.
    #[error("reading the live state failed: {0}")]
    #[diagnostic(code(archkit::provider::read))]
    Call(#[from] ProviderError),
    /// The test cloud cannot do this, or its file is unreadable.
    #[error("test backend: {0}")]
    #[diagnostic(code(archkit::backend))]
    Test(String),
}

/// A guard that keeps the refresh's shared reads on while it lives.
pub type ReadShare<'a> = Box<dyn Send + 'a>;

/// What a session asks of the cloud beyond its resource kinds.
#[async_trait]
pub trait Cloud: Send + Sync {
    /// The kinds blueprints may use here, with their prices.
    fn registry(&self) -> Registry;

    /// The region (`requested` is what the user asked for, which the
    /// AWS cloud has resolved already).
    fn region(&self, requested: Option<&str>) -> String;

    /// The stacks tagged in the region (no state needed).
    async fn stacks(&self, only: Option<&str>) -> Result<Vec<TaggedStack>, CloudError>;

    /// The regions the account has enabled, for `--all-regions`.
    async fn regions(&self) -> Result<Vec<String>, CloudError>;

    /// The Systems Manager parameters among `names` that exist, with
    /// their values, and the names that do not.
    async fn parameters(
        &self,
        names: &[String],
    ) -> Result<(BTreeMap<String, String>, Vec<String>), CloudError>;

    /// The API-call counter, for `--stats`.
    fn stats(&self) -> Option<&Stats> {
        None
    }

    /// Starts asking for the region's availability zones, so that the
    /// answer arrives while the refresh reads; [`Cloud::zones`] waits for it.
    fn start_zones(&self) {}

    /// The region's availability zones, in name order.
    async fn zones(&self, region: &str) -> Result<Vec<String>, CloudError>;

    /// The zones, if known already (after a plan).
    fn zones_known(&self, region: &str) -> Vec<String>;

    /// Lets the kinds of one refresh share the listings they read.
    fn share_reads(&self) -> Option<ReadShare<'_>> {
        None
    }

    /// Called once the command is done (the test cloud saves itself).
    fn finish(&self) -> Result<(), CloudError> {
        Ok(())
    }
}
