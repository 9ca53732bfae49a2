//! Systems Manager parameter lookups (`${ssm:NAME}` in a blueprint): AWS's
//! public parameters name the current AMIs, so a blueprint never pins a
//! stale image id.

use std::collections::BTreeMap;

use super::Clients;
use crate::provider::Result;

/// GetParameters takes at most 10 names a call.
const BATCH: usize = 10;

/// The values of `names`, and the names that do not exist in the region.
/// A SecureString is refused (its value would be shown in the plan).
pub async fn parameters(
    clients: &Clients,
    names: &[String],
) -> Result<(BTreeMap<String, String>, Vec<String>)> {
    let mut found = BTreeMap::new();
    let mut missing = Vec::new();
    for batch in names.chunks(BATCH) {
        let out = send!(clients.ssm.get_parameters().set_names(Some(batch.to_vec())))?;
        for p in out.parameters() {
            if p.r#type().is_some_and(|t| t.as_str() == "SecureString") {
                return Err(crate::provider::ProviderError::new(format!(
                    "SSM parameter {} is a SecureString: a lookup's value is shown in the plan, \
                     so only String parameters can be looked up",
                    p.name().unwrap_or_default()
                )));
            }
            if let (Some(name), Some(value)) = (p.name(), p.value()) {
                found.insert(name.to_string(), value.to_string());
            }
        }
        missing.extend(out.invalid_parameters().iter().cloned());
    }
    Ok((found, missing))
}

/// An SSM tag: documents and associations take the same shape.
pub fn tag(key: String, value: String) -> aws_sdk_ssm::types::Tag {
    aws_sdk_ssm::types::Tag::builder().key(key).value(value).build().expect("key and value set")
}
