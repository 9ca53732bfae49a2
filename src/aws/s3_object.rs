//! `aws.s3.object`: one object whose body is a file shipped beside the
//! blueprint (sample data, a Glue job's script).
//!
//! The physical id is `<bucket>/<key>`. The `source` property holds the
//! file's base64 SHA-256 (read when the blueprint was loaded), which is
//! also sent as the object's SHA-256 checksum (S3 refuses a body that does
//! not match it) and kept as its `archkit-sha256` metadata: a read compares
//! that digest, so an unchanged file is no change and an edited one is one
//! PutObject. The object carries archkit's tags as object tags.
//!
//! A delete removes every version of the key, so a versioned bucket is
//! left as empty as the blueprint found it.

use crate::aws::prelude::*;
use futures_util::{StreamExt, TryStreamExt};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumAlgorithm;

/// Tag reads in flight at once while discovering a bucket's objects.
const DISCOVERY_READS: usize = 16;

/// The metadata key holding the body's digest.
const DIGEST: &str = "archkit-sha256";

pub static OBJECT: Schema = Schema::new("aws.s3.object", "An S3 object whose body is a file beside the blueprint.")
    .properties(rows! {
        Prop::new("bucket", Type::String, "The bucket's name.").required().replace(),
        Prop::new("key", Type::String, "The object's key, e.g. `scripts/job.py`.").required().replace(),
        Prop::new("source", Type::File, "The file uploaded as the body, relative to the blueprint.").required(),
        Prop::new("content_type", Type::String, "The body's media type, e.g. `application/json`."),
    })
    .attributes(rows! {
        Attr::new("url", Type::String, "`s3://<bucket>/<key>`."),
        Attr::new("arn", Type::String, "`arn:aws:s3:::<bucket>/<key>`."),
        Attr::new("version_id", Type::String, "The version written last (versioned buckets).").updated(),
    })
    .notes("The file's SHA-256 is compared: an edited file is uploaded again, an unchanged one is not. Deleting removes every version of the key.")
    .cost(object_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["bucket", "key"], "the bucket and key are the object's identity"));

kind! { Object, OBJECT }

/// `(bucket, key)` of a physical id.
fn split(id: &str) -> Result<(&str, &str)> {
    id.split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| ProviderError::new(format!("`{id}` is not an S3 object id (bucket/key)")))
}

fn object_attrs(bucket: &str, key: &str, version: Option<&str>) -> Attrs {
    attrs([
        ("url", json!(format!("s3://{bucket}/{key}"))),
        ("arn", json!(format!("arn:aws:s3:::{bucket}/{key}"))),
        ("version_id", json!(version.filter(|v| *v != "null"))),
    ])
}

impl Object {
    /// The object's tags; `None` when it is gone.
    async fn tags(&self, bucket: &str, key: &str) -> Result<Option<Vec<(String, String)>>> {
        Ok(send!(self.0.s3.get_object_tagging().bucket(bucket).key(key)).found()?.map(|t| {
            t.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
        }))
    }

    /// Reads one object: `None` when it (or its bucket) is gone, or when it
    /// is not the stack's and not recorded. `tags` are the object's when
    /// discovery has just read them; otherwise they are read beside the
    /// HeadObject (S3 has no call that returns both, nor a batched one).
    async fn observe(
        &self,
        ctx: &Context,
        id: &str,
        recorded: bool,
        tags: Option<Vec<(String, String)>>,
    ) -> Result<Option<Observed>> {
        let (bucket, key) = split(id)?;
        let head = async { send!(self.0.s3.head_object().bucket(bucket).key(key)).found() };
        let (tags, head) = match tags {
            Some(tags) => (Some(tags), head.await?),
            None => futures_util::future::try_join(self.tags(bucket, key), head).await?,
        };
        let (Some(tags), Some(head)) = (tags, head) else {
            return Ok(None);
        };
        let (user, logical) = split_tags(ctx, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if logical.unclaimed() && !recorded {
            return Ok(None);
        }
        // An object written outside archkit has no digest of ours: its
        // body is taken as different, so the blueprint's file is written.
        let digest = head.metadata().and_then(|m| m.get(DIGEST)).cloned();
        let p = props([
            ("bucket", json!(bucket)),
            ("key", json!(key)),
            ("source", json!(digest)),
            ("content_type", json!(head.content_type())),
            ("tags", user),
        ]);
        Ok(Some(Observed::new(id, logical, p).with(object_attrs(bucket, key, head.version_id()))))
    }

    /// The stack's objects in the stack's buckets, with their tags
    /// (discovery only: a listing per bucket and a tag read per object,
    /// all at once).
    async fn discover(&self, ctx: &Context) -> Result<Vec<(String, Vec<(String, String)>)>> {
        let prefix = crate::aws::s3::stack_prefix(&ctx.stack);
        let buckets = crate::aws::s3::buckets_named(&self.0, &prefix).await?;
        let listings = buckets.iter().map(|bucket| async move {
            let pages: Vec<_> = self
                .0
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(err)?;
            let keys: Vec<String> = pages
                .iter()
                .flat_map(|p| p.contents())
                .filter_map(|o| o.key().map(str::to_string))
                .collect();
            Ok::<_, ProviderError>((bucket.as_str(), keys))
        });
        let listed = futures_util::future::try_join_all(listings).await?;
        let mut objects: Vec<(String, String)> = Vec::new();
        for (bucket, keys) in listed {
            objects.extend(keys.into_iter().map(|k| (bucket.to_string(), k)));
        }
        // Bounded: a stack's bucket may also hold data of its own (many
        // objects, none of them the stack's).
        let tagged: Vec<_> =
            futures_util::stream::iter(objects.into_iter().map(|(bucket, key)| async move {
                let tags = self.tags(&bucket, &key).await?.unwrap_or_default();
                let ours = tags.iter().any(|(k, v)| k == TAG_STACK && *v == ctx.stack);
                Ok::<_, ProviderError>(ours.then(|| (format!("{bucket}/{key}"), tags)))
            }))
            .buffer_unordered(DISCOVERY_READS)
            .try_collect()
            .await?;
        Ok(tagged.into_iter().flatten().collect())
    }

    /// Writes the body with its tags in the same request, so no object of
    /// the stack ever exists untagged (a crash in between could not be
    /// told from someone else's object).
    async fn put(
        &self,
        ctx: &Context,
        bucket: &str,
        key: &str,
        p: &Props,
        tags: BTreeSet<(String, String)>,
    ) -> Result<Attrs> {
        let digest = s(p, "source").unwrap_or_default();
        let body = ctx
            .assets
            .get(&digest)
            .ok_or_else(|| ProviderError::new(format!("no file read with digest {digest}")))?;
        // moto (5.2.5) neither checks nor keeps the checksum: that S3
        // refuses a body not matching it is AWS's behaviour, not tested.
        let r = send!(
            self.0
                .s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(body.to_vec()))
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .checksum_sha256(&digest)
                .metadata(DIGEST, &digest)
                .tagging(query(&tags))
                .set_content_type(s(p, "content_type"))
        )?;
        Ok(object_attrs(bucket, key, r.version_id()))
    }

    async fn set_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: BTreeSet<(String, String)>,
    ) -> Result<()> {
        send!(
            self.0
                .s3
                .put_object_tagging()
                .bucket(bucket)
                .key(key)
                .tagging(crate::aws::s3::tagging(tags))
        )?;
        Ok(())
    }

    /// The tags to write: archkit's own as they are now, the user's from
    /// `new` (S3 replaces an object's tags as a whole set).
    async fn merged_tags(
        &self,
        bucket: &str,
        key: &str,
        new: &Props,
    ) -> Result<BTreeSet<(String, String)>> {
        let current = self.tags(bucket, key).await?.unwrap_or_default();
        Ok(crate::aws::s3::replaced_tags(current, new))
    }
}

/// Tags as the `x-amz-tagging` header writes them: a URL query string.
fn query(tags: &BTreeSet<(String, String)>) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    tags.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

#[async_trait]
impl ResourceKind for Object {
    /// Per object (S3 has no batched read of tags or heads): its tags and
    /// HeadObject, every object at once, so a plan waits about one round
    /// trip for them however many there are.
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut ids: BTreeMap<String, Option<Vec<(String, String)>>> =
            q.known.iter().map(|(id, _)| (id.clone(), None)).collect();
        if q.discover {
            ids.extend(self.discover(ctx).await?.into_iter().map(|(id, tags)| (id, Some(tags))));
        }
        let reads = ids.into_iter().map(|(id, tags)| async move {
            let recorded = q.known.iter().any(|(k, _)| *k == id);
            self.observe(ctx, &id, recorded, tags).await
        });
        let observed = futures_util::future::try_join_all(reads).await?;
        Ok(observed.into_iter().flatten().collect())
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let (bucket, key) = (s(p, "bucket").unwrap_or_default(), s(p, "key").unwrap_or_default());
        let id = format!("{bucket}/{key}");
        // An object already there that is not this stack's is someone's
        // data: never overwritten.
        if let Some(tags) = self.tags(&bucket, &key).await? {
            let clash =
                Clash { what: format!("s3://{id}"), field: "key", code: "ObjectAlreadyExists" };
            let tags = tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            clash.unless_tagged(ctx, &req.logical_id, tags)?;
        }
        let tags = create_tags(ctx, &req.logical_id, p).into_iter().collect();
        let attrs = self.put(ctx, &bucket, &key, p, tags).await?;
        Ok(Created::new(id).with(attrs))
    }

    async fn update(&self, ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let (bucket, key) = split(id)?;
        let changed = |k: &str| old.get(k) != new.get(k);
        let tags = self.merged_tags(bucket, key, new).await?;
        if changed("source") || changed("content_type") {
            return self.put(ctx, bucket, key, new, tags).await;
        }
        if !TagChanges::between(old, new).is_empty() {
            self.set_tags(bucket, key, tags).await?;
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, id: &str, _p: &Props) -> Result<()> {
        let (bucket, key) = split(id)?;
        let versions = match send!(self.0.s3.list_object_versions().bucket(bucket).prefix(key)) {
            Ok(v) => v,
            // The bucket went first (deleted outside archkit): so did this.
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        let ids = crate::aws::s3::version_ids(&versions, Some(key));
        if ids.is_empty() {
            send!(self.0.s3.delete_object().bucket(bucket).key(key))?;
            return Ok(());
        }
        crate::aws::s3::delete_ids(&self.0.s3, bucket, ids).await?;
        Ok(())
    }

    fn expected_duration(&self, _op: Op) -> Duration {
        Duration::from_secs(1)
    }
}

/// An object is billed as its bucket's storage.
fn object_cost(_c: &CostInput) -> Cost {
    Ok(Estimate::free())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_split_at_the_first_slash_and_tags_are_query_encoded() {
        assert_eq!(split("bucket/a/b.json").unwrap(), ("bucket", "a/b.json"));
        assert!(split("bucket").is_err() && split("/k").is_err() && split("b/").is_err());
        let tags: BTreeSet<(String, String)> =
            [("archkit:stack".into(), "demo".into()), ("Name".into(), "a b&c=d".into())].into();
        assert_eq!(query(&tags), "Name=a%20b%26c%3Dd&archkit%3Astack=demo");
    }
}
