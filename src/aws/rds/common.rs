//! What the RDS kinds share: identifiers, tags, and the [`Rds`] trait
//! (one `rds!` row per SDK type) that their reads, creates, tag changes
//! and status polls are written against once.

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

/// What the RDS kinds' resources share in shape: found by name in a
/// paginated describe of the account or by one describe of its name, with
/// an ARN, tags and (clusters, instances) a status.
#[async_trait]
pub trait Rds: Sized + Send + Sync {
    /// The kind in words, for messages: `DB cluster`.
    const WHAT: &'static str;
    /// The longest name RDS takes for it.
    const NAME_MAX: usize;
    /// The one named `name`; `None`: gone.
    async fn describe(c: &Clients, name: &str) -> Result<Option<Self>>;
    /// Every one in the account.
    async fn list(c: &Clients) -> Result<Vec<Self>>;
    fn name(&self) -> &str;
    fn arn(&self) -> Option<&str>;
    fn attrs(&self) -> Attrs;
    /// Its status, for those that have one.
    fn status(&self) -> Option<&str> {
        None
    }
    /// Its tags: one ListTagsForResource, unless its describe carries them.
    async fn tags(&self, c: &Clients) -> Result<Vec<Tag>> {
        list_tags(c, self.arn().unwrap_or_default()).await
    }
}

/// Implements [`Rds`] for an SDK type: the describe call, the field that
/// names a resource (the describe's filter too), the list its answer
/// holds, the ARN's field and the attributes; with `status`, the field of
/// its status, and tags from its describe.
macro_rules! rds {
    ($ty:ty, $what:literal, $max:expr, $describe:ident . $by:ident -> $items:ident,
     $arn:ident, $attrs:path $(, $status:ident)?) => {
        #[async_trait]
        impl super::common::Rds for $ty {
            const WHAT: &'static str = $what;
            const NAME_MAX: usize = $max;

            async fn describe(c: &Clients, name: &str) -> Result<Option<Self>> {
                let r = send!(c.rds.$describe().$by(name)).found()?;
                Ok(r.and_then(|r| r.$items().first().cloned()))
            }

            async fn list(c: &Clients) -> Result<Vec<Self>> {
                paginate!(c.rds.$describe())
            }

            fn name(&self) -> &str {
                self.$by().unwrap_or_default()
            }

            fn arn(&self) -> Option<&str> {
                self.$arn()
            }

            fn attrs(&self) -> Attrs {
                $attrs(self)
            }

            $(
            fn status(&self) -> Option<&str> {
                self.$status()
            }

            async fn tags(&self, _c: &Clients) -> Result<Vec<aws_sdk_rds::types::Tag>> {
                Ok(self.tag_list().to_vec())
            }
            )?
        }
    };
}

/// One resource a read keeps: the user's tags, its logical id when it is
/// this stack's, and the properties the state recorded for it.
pub struct Listed<'q, T> {
    pub it: T,
    pub name: String,
    pub user: Value,
    pub logical: Logical,
    pub known: Option<&'q Props>,
}

/// The resources of the stack (their name carries its prefix, their tags
/// its id) or recorded in `q`; none that is being deleted.
pub async fn listed<'q, T: Rds>(
    c: &Clients,
    ctx: &Context,
    q: &'q ReadQuery,
) -> Result<Vec<Listed<'q, T>>> {
    let prefix = rds_name(&ctx.stack, "", T::NAME_MAX);
    let mut out = Vec::new();
    for it in T::list(c).await? {
        let name = it.name().to_string();
        if !wanted(&name, &prefix, q) || it.status() == Some("deleting") {
            continue;
        }
        let (user, logical) = split_tags(ctx, pairs(&it.tags(c).await?));
        let known = q.known.iter().find(|(k, _)| *k == name).map(|(_, p)| p);
        if !logical.unclaimed() || known.is_some() {
            out.push(Listed { it, name, user, logical, known });
        }
    }
    Ok(out)
}

/// Before a create of `id`: what already has it, when it is this stack's
/// `logical` (a retry after a lost answer, which on moto would overwrite
/// the first), or an error with AWS's `code` for the clash.
pub async fn made_before<T: Rds>(
    c: &Clients,
    ctx: &Context,
    logical: &str,
    id: &str,
    code: &str,
) -> Result<Option<T>> {
    let Some(found) = T::describe(c, id).await? else { return Ok(None) };
    let clash = Clash { what: format!("a {} named {id}", T::WHAT), field: "identifier", code };
    clash.unless_tagged(ctx, logical, pairs(&found.tags(c).await?))?;
    Ok(Some(found))
}

/// Brings the user's tags of `name` from `old` to `new`, looking up its
/// ARN only when they change.
pub async fn sync_tags_of<T: Rds>(c: &Clients, name: &str, old: &Props, new: &Props) -> Result<()> {
    if TagChanges::between(old, new).is_empty() {
        return Ok(());
    }
    let arn = known_arn(T::describe(c, name).await?.and_then(|t| t.arn().map(Into::into)), name)?;
    sync_tags(c, &arn, old, new).await
}

/// Ready when `available`, after a create or a modification; failed in
/// one of `failed`.
pub async fn poll_ready<T: Rds>(c: &Clients, id: &str, failed: &[&str]) -> Result<Option<Attrs>> {
    let Some(it) = T::describe(c, id).await? else {
        return Ok(None);
    };
    ready_when(
        it.status(),
        &["available"],
        failed,
        || it.attrs(),
        |s| ProviderError::new(format!("the {} {id} is {s}", T::WHAT)),
    )
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
fn wanted(name: &str, prefix: &str, q: &ReadQuery) -> bool {
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
