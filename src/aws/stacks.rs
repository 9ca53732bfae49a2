//! The stacks archkit finds in an account and region by their tags alone,
//! for `archkit stacks` and `archkit sweep`: no state file is needed.
//!
//! One paginated Resource Groups Tagging API listing of everything tagged
//! `archkit:stack` names the stacks, their expiry (`archkit:expires-at`)
//! and their lineages (whose UUIDv7 tells when each was begun). The
//! listing names stacks only: destroying one then searches every kind of
//! it (`destroy --discover`), since the tagging API misses some kinds
//! (moto: EIPs, VPC endpoints, MQ brokers, EventBridge rules, IAM). A stack
//! made only of such kinds is not found here.
//!
//! Only what carries `archkit:id` as well counts: archkit tags everything
//! it makes with both, so a resource tagged `archkit:stack` alone (by hand,
//! by another tool) makes no stack, for `stacks` and `sweep` alike. An
//! `archkit:expires-at` that is not an RFC 3339 time is kept aside, to be
//! reported, and never read as an expiry.

use std::collections::BTreeMap;

use crate::aws::client::Clients;
use crate::provider::{Result, TAG_EXPIRES, TAG_ID, TAG_LINEAGE, TAG_STACK};

/// One stack as its tags tell it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaggedStack {
    pub name: String,
    /// The latest `archkit:expires-at` of its resources (RFC 3339), if any.
    pub expires_at: Option<String>,
    /// The `archkit:lineage` values seen (one per state file).
    pub lineages: Vec<String>,
    /// Resources the tagging API lists (a lower bound).
    pub resources: usize,
    /// `archkit:expires-at` values that are not RFC 3339 times.
    pub bad_expiry: Vec<String>,
    /// Resources tagged `archkit:stack` with this name but no `archkit:id`
    /// (not counted in `resources`).
    pub untracked: usize,
}

impl TaggedStack {
    /// Whether archkit made anything of it.
    pub fn is_stack(&self) -> bool {
        self.resources > 0
    }
}

/// The regions the account has enabled (DescribeRegions without
/// `AllRegions`: those that need no opt-in and those opted in), sorted:
/// where `--all-regions` looks.
pub async fn enabled_regions(c: &Clients) -> Result<Vec<String>> {
    let out = c.ec2.describe_regions().send().await.map_err(crate::aws::error::err)?;
    let mut names: Vec<String> =
        out.regions().iter().filter_map(|r| r.region_name().map(String::from)).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Every stack tagged in the clients' region, by name; with `only`, that
/// stack alone (the listing is then filtered by the API: a page or two,
/// however many other stacks the account holds).
pub async fn tagged_stacks(c: &Clients, only: Option<&str>) -> Result<Vec<TaggedStack>> {
    use aws_sdk_resourcegroupstagging::types::TagFilter;
    let filter =
        TagFilter::builder().key(TAG_STACK).set_values(only.map(|n| vec![n.to_string()])).build();
    let mappings: Vec<_> =
        paginate!(c.tagging.get_resources().tag_filters(filter).resources_per_page(100))?;
    let mut stacks: BTreeMap<String, TaggedStack> = BTreeMap::new();
    for m in &mappings {
        let tag = |k: &str| m.tags().iter().find(|t| t.key() == k).map(|t| t.value().to_string());
        let Some(name) = tag(TAG_STACK) else { continue };
        let s = stacks
            .entry(name.clone())
            .or_insert_with(|| TaggedStack { name, ..TaggedStack::default() });
        if tag(TAG_ID).is_none() {
            s.untracked += 1;
            continue;
        }
        s.resources += 1;
        if let Some(at) = tag(TAG_EXPIRES) {
            if humantime::parse_rfc3339(&at).is_err() {
                if !s.bad_expiry.contains(&at) {
                    s.bad_expiry.push(at);
                }
            // RFC 3339 in UTC orders as text.
            } else if s.expires_at.as_ref().is_none_or(|e| *e < at) {
                s.expires_at = Some(at);
            }
        }
        if let Some(l) = tag(TAG_LINEAGE)
            && !s.lineages.contains(&l)
        {
            s.lineages.push(l);
        }
    }
    Ok(stacks.into_values().collect())
}
