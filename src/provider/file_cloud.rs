//! The in-memory test cloud as a session's [`Cloud`], kept in a file
//! between CLI runs (`ARCHKIT_TEST_CLOUD=<file>`), so the CLI's tests can
//! prove exit codes, prompts, saved plans and interrupts without AWS.
//! Compiled only with the `test-cloud` feature: a test double for the
//! engine's plumbing, never a stand-in for AWS.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::aws::stacks::TaggedStack;
use crate::cloud::{Cloud, CloudError};
use crate::provider::Registry;
use crate::provider::memory::MemoryCloud;

/// A [`MemoryCloud`] and the file it is saved to.
pub struct FileCloud {
    cloud: Arc<MemoryCloud>,
    path: PathBuf,
}

impl FileCloud {
    /// The cloud in `path` (empty if there is none yet), with the test
    /// hooks' latency and `test.slow` polls.
    pub fn load(path: PathBuf) -> Result<FileCloud, CloudError> {
        let cloud = MemoryCloud::load(&path).map_err(|e| CloudError::Test(e.to_string()))?;
        let hooks = &crate::settings::env().test;
        if let Some(ms) = hooks.latency_ms {
            cloud.set_latency(Duration::from_millis(ms));
        }
        // How many polls a `test.slow` resource needs: a readiness wait as
        // long as a test needs to interrupt it.
        if let Some(n) = hooks.slow_polls {
            cloud.slow_polls.store(n, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(FileCloud { cloud, path })
    }
}

fn zones(region: &str) -> Vec<String> {
    ["a", "b", "c"].iter().map(|z| format!("{region}{z}")).collect()
}

#[async_trait]
impl Cloud for FileCloud {
    fn registry(&self) -> Registry {
        Registry::with_kinds(self.cloud.kinds())
    }

    fn region(&self, requested: Option<&str>) -> String {
        requested.unwrap_or("mem-1").to_string()
    }

    async fn stacks(&self, _only: Option<&str>) -> Result<Vec<TaggedStack>, CloudError> {
        Err(CloudError::Test("the test cloud cannot list stacks by tag".into()))
    }

    async fn regions(&self) -> Result<Vec<String>, CloudError> {
        Err(CloudError::Test("the test cloud has no regions to list".into()))
    }

    async fn parameters(
        &self,
        names: &[String],
    ) -> Result<(BTreeMap<String, String>, Vec<String>), CloudError> {
        let known = self.cloud.parameters.lock().unwrap();
        let found: BTreeMap<String, String> =
            names.iter().filter_map(|n| known.get(n).map(|v| (n.clone(), v.clone()))).collect();
        let missing = names.iter().filter(|n| !found.contains_key(*n)).cloned().collect();
        Ok((found, missing))
    }

    async fn zones(&self, region: &str) -> Result<Vec<String>, CloudError> {
        Ok(zones(region))
    }

    fn zones_known(&self, region: &str) -> Vec<String> {
        zones(region)
    }

    fn finish(&self) -> Result<(), CloudError> {
        self.cloud.save(&self.path).map_err(|e| CloudError::Test(e.to_string()))
    }
}
