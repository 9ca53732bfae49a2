//! `aws.s3.bucket`: a private S3 bucket: every public access blocked,
//! default encryption (SSE-S3), optional versioning, tags.
//!
//! The name is derived from the stack, the logical id and a digest of the
//! state's lineage (bucket names are global: two accounts applying one
//! blueprint must not collide), within S3's 63 lowercase characters. Being
//! derived, it is also what a rerun creates again after a crash between
//! CreateBucket and its tags: S3 answers "already yours" and the bucket is
//! adopted, never duplicated.
//!
//! **Data is never deleted silently.** A delete (destroy, a replacement,
//! removal from the blueprint) of a bucket holding objects stops and says
//! how many are in the way; `archkit destroy --force-empty`, or
//! `force_empty: true` on the bucket, deletes every object version and
//! delete marker first.

use crate::aws::prelude::*;
use crate::schema::Default;
use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration,
};

const NAME_MAX: usize = 63;

pub static BUCKET: Schema = Schema::new("aws.s3.bucket", "A private S3 bucket.")
    .properties(rows! {
        Prop::new("name", Type::String, "The bucket name (global across AWS: 3 to 63 lowercase letters, digits, `-` and `.`); derived from the stack, the id and the state's lineage when omitted.").replace(),
        Prop::new("versioning", Type::Bool, "Keep every version of every object.").default(Default::Bool(false)),
        Prop::new("block_public_access", Type::Bool, "Block every form of public access (all four settings).").default(Default::Bool(true)),
        Prop::new("force_empty", Type::Bool, "Delete every object version with the bucket (otherwise a bucket holding data is never deleted).").default(Default::Bool(false)),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The bucket's ARN."),
        Attr::new("name", Type::String, "Its name."),
        Attr::new("domain_name", Type::String, "`<name>.s3.amazonaws.com`."),
        Attr::new("regional_domain_name", Type::String, "`<name>.s3.<region>.amazonaws.com`."),
    })
    .notes("Default encryption SSE-S3 (AES-256). A bucket holding objects is deleted only with `force_empty: true` or `archkit destroy --force-empty`.")
    .cost(bucket_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "bucket names are unique across AWS"));

kind! { Bucket, BUCKET }

/// The name archkit gives `id`'s bucket in `stack` of state `lineage`.
pub fn bucket_name(stack: &str, id: &str, lineage: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(lineage.as_bytes()));
    let base = unique_name(stack, id, NAME_MAX - 9).to_ascii_lowercase();
    format!("{base}-{}", &digest[..8])
}

/// The names of the account's buckets that start with `prefix`, from one
/// ListBuckets a refresh (the bucket and object kinds both start from it).
pub(crate) async fn buckets_named(c: &Clients, prefix: &str) -> Result<Vec<String>> {
    let all = c
        .reads
        .shared("s3:ListBuckets", || async {
            let listed: Vec<aws_sdk_s3::types::Bucket> = paginate!(c.s3.list_buckets())?;
            Ok(listed.iter().filter_map(|b| b.name()).map(str::to_string).collect::<Vec<_>>())
        })
        .await?;
    Ok(all.iter().filter(|n| n.starts_with(prefix)).cloned().collect())
}

/// The start of every derived name of `stack`'s buckets.
pub(crate) fn stack_prefix(stack: &str) -> String {
    format!("{}-", stack.to_ascii_lowercase())
}

fn attrs(name: &str, region: &str) -> Attrs {
    [
        ("arn".to_string(), json!(format!("arn:aws:s3:::{name}"))),
        ("name".to_string(), json!(name)),
        ("domain_name".to_string(), json!(format!("{name}.s3.amazonaws.com"))),
        ("regional_domain_name".to_string(), json!(format!("{name}.s3.{region}.amazonaws.com"))),
    ]
    .into()
}

/// Whether versioning is on. moto (5.2.5) names the answer's root element
/// `GetBucketVersioningResponse` instead of AWS's
/// `VersioningConfiguration`, which the SDK refuses to parse: a 200 answer
/// is then read for its status directly. The state store uses this too.
pub(crate) async fn versioning_enabled(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> std::result::Result<
    bool,
    aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningError,
        aws_smithy_runtime_api::http::Response,
    >,
> {
    match s3.get_bucket_versioning().bucket(bucket).send().await {
        Ok(v) => Ok(v.status() == Some(&BucketVersioningStatus::Enabled)),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 200) => {
            let body = e.raw_response().and_then(|r| r.body().bytes()).unwrap_or_default();
            Ok(String::from_utf8_lossy(body).contains("<Status>Enabled</Status>"))
        }
        Err(e) => Err(e),
    }
}

/// A tag set as S3's tagging calls take it (buckets and objects alike).
pub(crate) fn tagging(tags: impl IntoIterator<Item = (String, String)>) -> Tagging {
    let set: Vec<Tag> = tags
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set"))
        .collect();
    Tagging::builder().set_tag_set(Some(set)).build().expect("tag set given")
}

/// The tag set to write when S3 replaces a whole set at once: archkit's
/// own tags (stack, id, lineage) kept as they are in `current`, the
/// user's (the expiry among them) from `new`.
pub(crate) fn replaced_tags(
    current: Vec<(String, String)>,
    new: &Props,
) -> BTreeSet<(String, String)> {
    let mut tags: BTreeSet<(String, String)> = current
        .into_iter()
        .filter(|(k, _)| k.starts_with("archkit:") && k != crate::provider::TAG_EXPIRES)
        .collect();
    tags.extend(desired_tags(new));
    tags
}

/// The versions and delete markers of a listing, as ids to delete; with
/// `key`, those of that key alone (a prefix listing also holds longer keys).
pub(crate) fn version_ids(
    out: &aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput,
    key: Option<&str>,
) -> Vec<ObjectIdentifier> {
    out.versions()
        .iter()
        .map(|v| (v.key(), v.version_id()))
        .chain(out.delete_markers().iter().map(|m| (m.key(), m.version_id())))
        .filter(|(k, _)| key.is_none_or(|key| *k == Some(key)))
        .map(|(k, v)| {
            ObjectIdentifier::builder()
                .key(k.unwrap_or_default())
                .set_version_id(v.map(str::to_string))
                .build()
                .expect("key set")
        })
        .collect()
}

/// Deletes `ids` of `bucket` in one DeleteObjects call; an object S3
/// refused is an error naming it.
pub(crate) async fn delete_ids(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    ids: Vec<ObjectIdentifier>,
) -> Result<()> {
    let batch = Delete::builder().set_objects(Some(ids)).quiet(true).build().expect("set");
    let r = send!(s3.delete_objects().bucket(bucket).delete(batch))?;
    if let Some(e) = r.errors().first() {
        return Err(ProviderError::new(format!(
            "could not delete object `{}` of bucket {bucket}: {} {}",
            e.key().unwrap_or_default(),
            e.code().unwrap_or_default(),
            e.message().unwrap_or_default()
        )));
    }
    Ok(())
}

impl Bucket {
    /// The bucket's tags; `None` when the bucket is gone.
    async fn tags(&self, name: &str) -> Result<Option<Vec<(String, String)>>> {
        match send!(self.0.s3.get_bucket_tagging().bucket(name)) {
            Ok(t) => Ok(Some(
                t.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
            )),
            Err(e) if e.code.as_deref() == Some("NoSuchTagSet") => Ok(Some(Vec::new())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn public_access_blocked(&self, name: &str) -> Result<bool> {
        match send!(self.0.s3.get_public_access_block().bucket(name)) {
            Ok(r) => Ok(r.public_access_block_configuration().is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            })),
            Err(e) if e.code.as_deref() == Some("NoSuchPublicAccessBlockConfiguration") => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    async fn set_public_access(&self, name: &str, block: bool) -> Result<()> {
        if block {
            let all = PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build();
            send!(
                self.0
                    .s3
                    .put_public_access_block()
                    .bucket(name)
                    .public_access_block_configuration(all)
            )?;
        } else {
            send!(self.0.s3.delete_public_access_block().bucket(name))?;
        }
        Ok(())
    }

    async fn set_versioning(&self, name: &str, on: bool) -> Result<()> {
        let status =
            if on { BucketVersioningStatus::Enabled } else { BucketVersioningStatus::Suspended };
        let config = VersioningConfiguration::builder().status(status).build();
        send!(self.0.s3.put_bucket_versioning().bucket(name).versioning_configuration(config))?;
        Ok(())
    }

    async fn set_tags(&self, name: &str, tags: BTreeSet<(String, String)>) -> Result<()> {
        send!(self.0.s3.put_bucket_tagging().bucket(name).tagging(tagging(tags)))?;
        Ok(())
    }

    /// Object versions and delete markers in the bucket, counted up to
    /// `limit` (and whether there are more).
    async fn count_versions(&self, name: &str, limit: usize) -> Result<(usize, bool)> {
        let out = send!(self.0.s3.list_object_versions().bucket(name).max_keys(limit as i32))?;
        let n = out.versions().len() + out.delete_markers().len();
        Ok((n, out.is_truncated() == Some(true)))
    }

    /// Every object version and delete marker, counted page by page: what
    /// `destroy --force-empty` says it will delete before it asks.
    async fn count_all_versions(&self, name: &str) -> Result<u64> {
        let (mut n, mut key, mut version) = (0u64, None::<String>, None::<String>);
        loop {
            let out = send!(
                self.0
                    .s3
                    .list_object_versions()
                    .bucket(name)
                    .max_keys(1000)
                    .set_key_marker(key.clone())
                    .set_version_id_marker(version.clone())
            )?;
            n += (out.versions().len() + out.delete_markers().len()) as u64;
            if out.is_truncated() != Some(true) {
                return Ok(n);
            }
            key = out.next_key_marker().map(str::to_string);
            version = out.next_version_id_marker().map(str::to_string);
            if key.is_none() {
                return Ok(n);
            }
        }
    }

    /// Deletes every object version and delete marker, 1,000 at a time;
    /// how many.
    async fn empty(&self, name: &str) -> Result<usize> {
        let mut deleted = 0;
        loop {
            let out = send!(self.0.s3.list_object_versions().bucket(name).max_keys(1000))?;
            let ids = version_ids(&out, None);
            if ids.is_empty() {
                return Ok(deleted);
            }
            let n = ids.len();
            delete_ids(&self.0.s3, name, ids).await?;
            deleted += n;
        }
    }
}

#[async_trait]
impl ResourceKind for Bucket {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let prefix = stack_prefix(&ctx.stack);
        let mut names: BTreeSet<String> = q.known.iter().map(|(id, _)| id.clone()).collect();
        names.extend(buckets_named(&self.0, &prefix).await?);
        // Every bucket at once: its tags, then (when it is the stack's or
        // recorded) its versioning and public access block side by side.
        let reads = names.into_iter().map(|name| async move {
            let Some(tags) = self.tags(&name).await? else {
                return Ok(None);
            };
            let (user, logical) =
                split_tags(ctx, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            if logical.unclaimed() && !q.known.iter().any(|(k, _)| *k == name) {
                return Ok(None);
            }
            let (versioning, blocked) = futures_util::future::try_join(
                async { versioning_enabled(&self.0.s3, &name).await.map_err(err) },
                self.public_access_blocked(&name),
            )
            .await?;
            let mut a = attrs(&name, &self.0.region);
            // Only a destroy that will delete the data counts it, so the
            // plan says how much before anyone is asked.
            if ctx.force_empty {
                a.insert("object_versions".into(), json!(self.count_all_versions(&name).await?));
            }
            let p = props([
                ("name", json!(name)),
                ("versioning", json!(versioning)),
                ("block_public_access", json!(blocked)),
                ("tags", user),
            ]);
            Ok::<_, ProviderError>(Some(Observed::new(name.clone(), logical, p).with(a)))
        });
        let observed = futures_util::future::try_join_all(reads).await?;
        Ok(observed.into_iter().flatten().collect())
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name =
            s(p, "name").unwrap_or_else(|| bucket_name(&ctx.stack, &req.logical_id, &ctx.lineage));
        let mut call = self.0.s3.create_bucket().bucket(&name);
        // us-east-1 takes no location constraint (and refuses its own).
        if self.0.region != "us-east-1" {
            let here = BucketLocationConstraint::from(self.0.region.as_str());
            call = call.create_bucket_configuration(
                CreateBucketConfiguration::builder().location_constraint(here).build(),
            );
        }
        match send!(call) {
            Ok(_) => {}
            // Made by an earlier run of this state that stopped before it
            // was recorded (its name is this state's own): adopted.
            Err(e) if e.code.as_deref() == Some("BucketAlreadyOwnedByYou") => {}
            Err(mut e) => {
                if e.code.as_deref() == Some("BucketAlreadyExists") {
                    e.message = format!(
                        "bucket name `{name}` is taken by another AWS account (names are global): {}",
                        e.message
                    );
                }
                return Err(e);
            }
        }
        // From here on the bucket exists: a failure records it (tainted).
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .expect("algorithm set"),
            )
            .build();
        let encryption =
            ServerSideEncryptionConfiguration::builder().rules(rule).build().expect("rule set");
        send!(
            self.0
                .s3
                .put_bucket_encryption()
                .bucket(&name)
                .server_side_encryption_configuration(encryption)
        )
        .partial(&name)?;
        self.set_public_access(&name, b(p, "block_public_access").unwrap_or(true))
            .await
            .partial(&name)?;
        if b(p, "versioning") == Some(true) {
            self.set_versioning(&name, true).await.partial(&name)?;
        }
        self.set_tags(&name, create_tags(ctx, &req.logical_id, p).into_iter().collect())
            .await
            .partial(&name)?;
        Ok(Created::new(name.clone()).with(attrs(&name, &self.0.region)))
    }

    async fn update(&self, _ctx: &Context, name: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let changed = |k: &str| old.get(k) != new.get(k);
        if changed("versioning") {
            self.set_versioning(name, b(new, "versioning") == Some(true)).await?;
        }
        if changed("block_public_access") {
            self.set_public_access(name, b(new, "block_public_access").unwrap_or(true)).await?;
        }
        // S3 replaces the whole tag set at once: archkit's own tags (stack,
        // id, lineage) are kept as they are, the user's are the new ones
        // (the expiry among them).
        if !TagChanges::between(old, new).is_empty() {
            let current = self.tags(name).await?.unwrap_or_default();
            self.set_tags(name, replaced_tags(current, new)).await?;
        }
        Ok(Attrs::new())
    }

    async fn poll_ready(&self, _ctx: &Context, name: &str) -> Result<Option<Attrs>> {
        Ok(Some(attrs(name, &self.0.region)))
    }

    fn delete_note(&self, attributes: &Attrs) -> Option<String> {
        match attributes.get("object_versions").and_then(serde_json::Value::as_u64) {
            Some(n) if n > 0 => Some(format!(
                "--force-empty deletes its {n} object version(s) and delete marker(s) \
                 permanently"
            )),
            _ => None,
        }
    }

    async fn delete(&self, ctx: &Context, name: &str, p: &Props) -> Result<()> {
        if b(p, "force_empty") == Some(true) || ctx.force_empty {
            self.empty(name).await?;
        } else {
            let (n, more) = self.count_versions(name, 1000).await?;
            if n > 0 {
                let mut e = ProviderError::new(format!(
                    "bucket {name} is not empty: it holds {}{n} object version(s) and delete \
                     marker(s), and archkit never deletes data silently. Empty it yourself, or \
                     run `archkit destroy --force-empty` (or set `force_empty: true` on the \
                     bucket) to delete them with it",
                    if more { "more than " } else { "" }
                ));
                e.code = Some("BucketNotEmpty".into());
                return Err(e);
            }
        }
        send!(self.0.s3.delete_bucket().bucket(name))?;
        Ok(())
    }

    async fn poll_deleted(&self, _ctx: &Context, name: &str) -> Result<bool> {
        match send!(self.0.s3.head_bucket().bucket(name)) {
            Ok(_) => Ok(false),
            Err(e) if e.is_not_found() => Ok(true),
            Err(e) => Err(e),
        }
    }

    fn expected_duration(&self, _op: Op) -> Duration {
        Duration::from_secs(5)
    }
}

/// A bucket bills storage and requests only.
fn bucket_cost(c: &CostInput) -> Cost {
    Ok(Estimate::free().usage("S3 Standard storage", c.price("s3_gb_month")?, "GB-month").usage(
        "S3 PUT, COPY, POST, LIST requests",
        c.price("s3_1k_writes")?,
        "1,000 requests",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_are_valid_bucket_names_and_tell_lineages_apart() {
        let long = "A".repeat(32);
        for (stack, id) in
            [("demo", "cdc_bucket"), (long.as_str(), "a_very_long_logical_id_indeed_x")]
        {
            let n = bucket_name(stack, id, "lineage-1");
            assert!((3..=63).contains(&n.len()), "{n}");
            assert!(
                n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{n}"
            );
            assert!(n.starts_with(&stack_prefix(stack)), "{n}");
            assert_ne!(n, bucket_name(stack, id, "lineage-2"));
            assert_eq!(n, bucket_name(stack, id, "lineage-1"));
        }
    }
}
