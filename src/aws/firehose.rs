//! `aws.firehose.delivery_stream`: an Amazon Data Firehose stream that
//! takes records put to it directly (Direct PUT) and writes them to an S3
//! bucket under a prefix, compressed and buffered.
//!
//! The physical id is the stream name (derived from the stack when
//! omitted). A destination change is one `UpdateDestination` carrying the
//! stream's current version id and destination id (Firehose's optimistic
//! concurrency), read just before. Creating takes a minute or more on AWS
//! (CREATING → ACTIVE, no SDK waiter: polled); moto is ACTIVE at once.

use crate::aws::prelude::*;
use crate::schema::Default;
use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_firehose::types::{
    BufferingHints, CompressionFormat, DeliveryStreamDescription, DeliveryStreamStatus,
    DeliveryStreamType, ExtendedS3DestinationConfiguration, ExtendedS3DestinationUpdate, Tag,
};

const NAME_MAX: usize = 64;
const COMPRESSION: &[&str] = &["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"];

pub static DELIVERY_STREAM: Schema = Schema::new("aws.firehose.delivery_stream", "A Firehose delivery stream (Direct PUT) into an S3 bucket.")
    .properties(rows! {
        Prop::new("name", Type::String, "The stream name; derived from the stack and id when omitted.").replace(),
        Prop::new("bucket_arn", Type::String, "The destination bucket.").required(),
        Prop::new("role_arn", Type::String, "The role Firehose writes to the bucket with.").required(),
        Prop::new("prefix", Type::String, "Where objects go in the bucket, e.g. `CDC/` (then `YYYY/MM/DD/HH/`)."),
        Prop::new("error_output_prefix", Type::String, "Where records that failed go."),
        Prop::new("compression", Type::Enum(COMPRESSION), "How objects are compressed.").default(Default::Str("UNCOMPRESSED")),
        Prop::new("buffer_size_mb", Type::Int, "Buffer this many MiB before writing (1 to 128).").range(1, 128).default(Default::Int(5)),
        Prop::new("buffer_interval_seconds", Type::Int, "Or this long (0 to 900).").range(0, 900).default(Default::Int(300)),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The stream's ARN."),
        Attr::new("name", Type::String, "Its name."),
    })
    .notes("Direct PUT into an extended S3 destination. Destination changes are one `UpdateDestination` with the current version id; the source type and name replace the stream.")
    .cost(stream_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "stream names are unique in a region"));

kind! { DeliveryStream, DELIVERY_STREAM }

fn attrs(d: &DeliveryStreamDescription) -> Attrs {
    [
        ("arn".to_string(), json!(d.delivery_stream_arn())),
        ("name".to_string(), json!(d.delivery_stream_name())),
    ]
    .into()
}

fn hints(p: &Props) -> BufferingHints {
    BufferingHints::builder()
        .set_size_in_mbs(i(p, "buffer_size_mb"))
        .set_interval_in_seconds(i(p, "buffer_interval_seconds"))
        .build()
}

fn compression(p: &Props) -> CompressionFormat {
    CompressionFormat::from(s(p, "compression").as_deref().unwrap_or("UNCOMPRESSED"))
}

fn tags(set: impl IntoIterator<Item = (String, String)>) -> Vec<Tag> {
    set.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key set")).collect()
}

impl DeliveryStream {
    async fn describe(&self, name: &str) -> Result<Option<DeliveryStreamDescription>> {
        Ok(send!(self.0.firehose.describe_delivery_stream().delivery_stream_name(name))
            .found()?
            .and_then(|r| r.delivery_stream_description().cloned()))
    }

    /// Every stream name, page by page.
    async fn names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = Vec::new();
        loop {
            let mut call = self.0.firehose.list_delivery_streams().limit(100);
            if let Some(last) = names.last() {
                call = call.exclusive_start_delivery_stream_name(last);
            }
            let page = send!(call)?;
            names.extend(page.delivery_stream_names().iter().cloned());
            if !page.has_more_delivery_streams() || page.delivery_stream_names().is_empty() {
                return Ok(names);
            }
        }
    }
}

#[async_trait]
impl ResourceKind for DeliveryStream {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let prefix = unique_name(&ctx.stack, "", NAME_MAX);
        let mut names: BTreeSet<String> = q.known.iter().map(|(id, _)| id.clone()).collect();
        names.extend(self.names().await?.into_iter().filter(|n| n.starts_with(&prefix)));
        let mut out = Vec::new();
        for name in names {
            let Some(d) = self.describe(&name).await? else {
                continue;
            };
            if d.delivery_stream_status() == &DeliveryStreamStatus::Deleting {
                continue;
            }
            let listed =
                send!(self.0.firehose.list_tags_for_delivery_stream().delivery_stream_name(&name))?;
            let (user, logical) = split_tags(
                ctx,
                listed.tags().iter().map(|t| (t.key(), t.value().unwrap_or_default())),
            );
            if logical.unclaimed() && !q.known.iter().any(|(k, _)| *k == name) {
                continue;
            }
            let s3 = d.destinations().first().and_then(|d| d.extended_s3_destination_description());
            let hints = s3.and_then(|s| s.buffering_hints());
            let p = props([
                ("name", json!(name)),
                ("bucket_arn", json!(s3.map(|s| s.bucket_arn()))),
                ("role_arn", json!(s3.map(|s| s.role_arn()))),
                ("prefix", json!(s3.and_then(|s| s.prefix()).filter(|p| !p.is_empty()))),
                (
                    "error_output_prefix",
                    json!(s3.and_then(|s| s.error_output_prefix()).filter(|p| !p.is_empty())),
                ),
                ("compression", json!(s3.map(|s| s.compression_format().as_str()))),
                ("buffer_size_mb", json!(hints.and_then(|h| h.size_in_mbs()))),
                ("buffer_interval_seconds", json!(hints.and_then(|h| h.interval_in_seconds()))),
                ("tags", user),
            ]);
            out.push(Observed::new(name, logical, p).with(attrs(&d)));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name =
            s(p, "name").unwrap_or_else(|| unique_name(&ctx.stack, &req.logical_id, NAME_MAX));
        let destination = ExtendedS3DestinationConfiguration::builder()
            .set_bucket_arn(s(p, "bucket_arn"))
            .set_role_arn(s(p, "role_arn"))
            .set_prefix(s(p, "prefix"))
            .set_error_output_prefix(s(p, "error_output_prefix"))
            .compression_format(compression(p))
            .buffering_hints(hints(p))
            .build()
            .map_err(|e| ProviderError::new(e.to_string()))?;
        let r = send!(
            self.0
                .firehose
                .create_delivery_stream()
                .delivery_stream_name(&name)
                .delivery_stream_type(DeliveryStreamType::DirectPut)
                .extended_s3_destination_configuration(destination)
                .set_tags(Some(tags(create_tags(ctx, &req.logical_id, p))))
        )?;
        Ok(Created::new(name.clone()).with(
            [
                ("arn".to_string(), json!(r.delivery_stream_arn())),
                ("name".to_string(), json!(name)),
            ]
            .into(),
        ))
    }

    async fn update(&self, _ctx: &Context, name: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let fh = &self.0.firehose;
        let destination = [
            "bucket_arn",
            "role_arn",
            "prefix",
            "error_output_prefix",
            "compression",
            "buffer_size_mb",
            "buffer_interval_seconds",
        ];
        if destination.iter().any(|k| old.get(*k) != new.get(*k)) {
            let d = self.describe(name).await?.ok_or_else(|| {
                ProviderError::new(format!("delivery stream {name} is gone")).not_found()
            })?;
            let dest_id = d.destinations().first().map(|d| d.destination_id().to_string());
            let update = ExtendedS3DestinationUpdate::builder()
                .set_bucket_arn(s(new, "bucket_arn"))
                .set_role_arn(s(new, "role_arn"))
                // An empty prefix clears one that was set.
                .prefix(s(new, "prefix").unwrap_or_default())
                .error_output_prefix(s(new, "error_output_prefix").unwrap_or_default())
                .compression_format(compression(new))
                .buffering_hints(hints(new))
                .build();
            send!(
                fh.update_destination()
                    .delivery_stream_name(name)
                    .current_delivery_stream_version_id(d.version_id())
                    .set_destination_id(dest_id)
                    .extended_s3_destination_update(update)
            )?;
        }
        tag_calls! { old, new, fh.untag_delivery_stream().delivery_stream_name(name), fh.tag_delivery_stream().delivery_stream_name(name), |set| tags(set) }
        Ok(Attrs::new())
    }

    async fn poll_ready(&self, _ctx: &Context, name: &str) -> Result<Option<Attrs>> {
        let Some(d) = self.describe(name).await? else {
            return Ok(None);
        };
        match d.delivery_stream_status() {
            DeliveryStreamStatus::Active => Ok(Some(attrs(&d))),
            DeliveryStreamStatus::CreatingFailed => Err(ProviderError::new(format!(
                "the delivery stream failed to create: {}",
                d.failure_description().map(|f| f.details()).unwrap_or("no reason given")
            ))),
            _ => Ok(None),
        }
    }

    async fn delete(&self, _ctx: &Context, name: &str, _p: &Props) -> Result<()> {
        send!(self.0.firehose.delete_delivery_stream().delivery_stream_name(name))?;
        Ok(())
    }

    async fn poll_deleted(&self, _ctx: &Context, name: &str) -> Result<bool> {
        Ok(self.describe(name).await?.is_none())
    }

    fn expected_duration(&self, op: Op) -> Duration {
        match op {
            Op::Create => Duration::from_secs(90),
            Op::Delete => Duration::from_secs(60),
            _ => Duration::from_secs(10),
        }
    }
}

/// Firehose bills what is ingested (each record rounded up to 5 KB).
fn stream_cost(c: &CostInput) -> Cost {
    Ok(Estimate::free().usage(
        "Firehose Direct PUT ingestion",
        c.price("firehose_ingested_gb")?,
        "GB (records rounded up to 5 KB)",
    ))
}
