//! AWS as the [`Cloud`] of a session: the account and region the SDK's
//! configuration names.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::aws::client::{Settings, Stats};
use crate::aws::stacks::TaggedStack;
use crate::aws::{Clients, kinds, prices};
use crate::cloud::{Cloud, CloudError, ReadShare};
use crate::provider::Registry;
use crate::provider::retry::retrying;

/// The SDK's clients, and the region's zones, asked once beside the
/// refresh ([`Cloud::start_zones`]).
pub struct AwsCloud {
    clients: Clients,
    azs: Arc<tokio::sync::OnceCell<Vec<String>>>,
}

impl AwsCloud {
    pub async fn connect(settings: &Settings) -> Result<AwsCloud, CloudError> {
        let clients = Clients::load(settings).await?;
        Ok(AwsCloud { clients, azs: Arc::default() })
    }
}

async fn ask_zones(clients: &Clients) -> crate::provider::Result<Vec<String>> {
    retrying(|| crate::aws::availability_zones(clients)).await
}

#[async_trait]
impl Cloud for AwsCloud {
    fn registry(&self) -> Registry {
        Registry::with_kinds(kinds(&self.clients)).with_prices(prices::table)
    }

    fn region(&self, _requested: Option<&str>) -> String {
        self.clients.region.clone()
    }

    async fn stacks(&self, only: Option<&str>) -> Result<Vec<TaggedStack>, CloudError> {
        Ok(retrying(|| crate::aws::stacks::tagged_stacks(&self.clients, only)).await?)
    }

    async fn regions(&self) -> Result<Vec<String>, CloudError> {
        Ok(retrying(|| crate::aws::stacks::enabled_regions(&self.clients)).await?)
    }

    async fn parameters(
        &self,
        names: &[String],
    ) -> Result<(BTreeMap<String, String>, Vec<String>), CloudError> {
        Ok(retrying(|| crate::aws::ssm::parameters(&self.clients, names)).await?)
    }

    fn stats(&self) -> Option<&Stats> {
        Some(&self.clients.stats)
    }

    fn start_zones(&self) {
        let (clients, azs) = (self.clients.clone(), self.azs.clone());
        tokio::spawn(async move {
            // An error is not kept: `zones` asks again and reports it.
            let _ = azs.get_or_try_init(|| ask_zones(&clients)).await;
        });
    }

    async fn zones(&self, _region: &str) -> Result<Vec<String>, CloudError> {
        Ok(self.azs.get_or_try_init(|| ask_zones(&self.clients)).await?.clone())
    }

    fn zones_known(&self, _region: &str) -> Vec<String> {
        self.azs.get().cloned().unwrap_or_default()
    }

    fn share_reads(&self) -> Option<ReadShare<'_>> {
        Some(Box::new(self.clients.reads.scope()))
    }
}
