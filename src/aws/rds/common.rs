//! What the RDS kinds share: identifiers, tags, the ARN of a resource
//! whose tags change.

use crate::aws::prelude::*;
use aws_sdk_rds::types::Tag;

/// An RDS identifier for `<stack>-<id>`: RDS stores identifiers in lower
/// case, and wants a letter first, no two hyphens in a row and none at the
/// end (clusters, instances, parameter groups). Deterministic, so a create
/// whose answer was lost is found again by identifier.
pub fn rds_name(stack: &str, id: &str, max: usize) -> String {
    let base = unique_name(stack, id, max).to_ascii_lowercase();
    let mut out = String::with_capacity(base.len());
    for c in base.chars() {
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert(0, 'a');
        out.truncate(max);
    }
    out.trim_end_matches('-').to_string()
}

pub fn tags(set: impl IntoIterator<Item = (String, String)>) -> Vec<Tag> {
    set.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

pub fn pairs(list: &[Tag]) -> Vec<(&str, &str)> {
    list.iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())).collect()
}

/// The tags of the resource named by `arn` (groups: their describe calls
/// carry none).
pub async fn list_tags(c: &Clients, arn: &str) -> Result<Vec<Tag>> {
    let r = send!(c.rds.list_tags_for_resource().resource_name(arn))?;
    Ok(r.tag_list().to_vec())
}

/// Brings the user's tags from `old` to `new` on the resource `arn`.
pub async fn sync_tags(c: &Clients, arn: &str, old: &Props, new: &Props) -> Result<()> {
    let rds = &c.rds;
    tag_calls! { old, new, rds.remove_tags_from_resource().resource_name(arn), rds.add_tags_to_resource().resource_name(arn), |set| tags(set) }
    Ok(())
}

/// Before a create: what already has its identifier, when it is this
/// stack's `logical` (a retry after a lost answer, which on moto would
/// overwrite the first), or the `clash`.
pub fn made_before<T>(
    ctx: &Context,
    logical: &str,
    found: Option<T>,
    tag_list: impl Fn(&T) -> &[Tag],
    clash: Clash,
) -> Result<Option<T>> {
    let Some(found) = found else { return Ok(None) };
    clash.unless_tagged(ctx, logical, pairs(tag_list(&found)))?;
    Ok(Some(found))
}

/// A delete RDS refused with `e` (an `Invalid…State` fault), given the
/// resource's status now (`None`: gone): done when it is gone or already
/// deleting (a retried destroy); otherwise tried again for 20 minutes,
/// since what holds it (its instances' deletes, a modification) ends in
/// minutes on AWS.
pub fn refused_delete(e: ProviderError, status: Option<Option<&str>>) -> Result<()> {
    match status {
        None | Some(Some("deleting")) => Ok(()),
        Some(_) => Err(e.retry_within(std::time::Duration::from_secs(20 * 60))),
    }
}

/// A name that starts with the stack's prefix, or one the state records:
/// the resources a read describes further.
pub fn wanted(name: &str, prefix: &str, q: &ReadQuery) -> bool {
    name.starts_with(prefix) || q.known.iter().any(|(k, _)| k == name)
}

/// The Secrets Manager secret RDS makes and bills for a managed master
/// password (`rds!cluster-…`, `rds!db-…`): one secret-month a month.
pub fn managed_secret(c: &CostInput, e: Estimate) -> Result<Estimate, String> {
    Ok(e.monthly(
        "1 Secrets Manager secret (RDS-managed master password)",
        c.price("secret_month")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_lower_case_and_start_with_a_letter() {
        assert_eq!(rds_name("Demo", "db_cluster", 63), "demo-db-cluster");
        assert_eq!(rds_name("1st", "db", 63), "a1st-db");
        assert_eq!(rds_name("a", "-x-", 63), "a-x");
        let long = rds_name(&"s".repeat(80), "cluster", 63);
        assert!(long.len() <= 63 && !long.ends_with('-') && !long.contains("--"), "{long}");
    }
}
