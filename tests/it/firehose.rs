//! `aws.firehose.delivery_stream` into an `aws.s3.bucket` against moto
//! (issue 11, the Firehose half of aurora-firehose-s3): a Direct PUT
//! stream with the `CDC/` prefix, GZIP and buffering hints plans clean
//! after apply; a record put to it lands in the bucket; a change of the
//! buffering is one `UpdateDestination` in place; the bucket, no longer
//! empty, is destroyed only with `--force-empty`.
//!
//! What moto cannot prove: moto is ACTIVE at once (AWS takes a minute or
//! more), writes each record as its own object at once, uncompressed,
//! without the `.gz` suffix, and accepts a role Firehose could not assume.

use crate::moto::{Stack, ok, require_moto, rt};

fn firehose(url: &str) -> aws_sdk_firehose::Client {
    client!(aws_sdk_firehose, url)
}

#[test]
fn a_stream_writes_to_its_bucket_updates_in_place_and_destroys_with_force_empty() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "firehose");
    let bp = crate::util::fixtures().join("firehose");
    let bp = bp.to_str().unwrap();
    ok(&s.run(&["apply", bp, "--auto-approve"]));
    let (stream, bucket) = (s.physical("changes"), s.physical("cdc_bucket"));
    let plan = s.run(&["plan", bp, "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);

    let fh = firehose(&url);
    rt().block_on(async {
        let d = fh.describe_delivery_stream().delivery_stream_name(&stream).send().await.unwrap();
        let d = d.delivery_stream_description().unwrap();
        assert_eq!(d.delivery_stream_type().as_str(), "DirectPut");
        let s3 = d.destinations()[0].extended_s3_destination_description().unwrap();
        assert_eq!(s3.bucket_arn(), format!("arn:aws:s3:::{bucket}"));
        assert_eq!(s3.prefix(), Some("CDC/"));
        assert_eq!(s3.compression_format().as_str(), "GZIP");
        assert_eq!(s3.buffering_hints().unwrap().interval_in_seconds(), Some(300));
        let tags =
            fh.list_tags_for_delivery_stream().delivery_stream_name(&stream).send().await.unwrap();
        assert!(
            tags.tags().iter().any(|t| t.key() == "archkit:id" && t.value() == Some("changes"))
        );
        let row = aws_sdk_firehose::types::Record::builder()
            .data(aws_sdk_firehose::primitives::Blob::new("1,Books,12.50,1\n"))
            .build()
            .unwrap();
        fh.put_record().delivery_stream_name(&stream).record(row).send().await.unwrap();
    });

    // Buffering changed: one update in place, the stream stays.
    let plan = s.run(&["plan", bp, "--json", "--var", "interval=60"]);
    ok(&plan);
    let changes = crate::moto::changes(&plan);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!((changes[0].0.as_str(), changes[0].1.as_str()), ("changes", "update"));
    ok(&s.run(&["apply", bp, "--auto-approve", "--var", "interval=60"]));
    assert_eq!(s.physical("changes"), stream);
    let interval = rt().block_on(async {
        let d = fh.describe_delivery_stream().delivery_stream_name(&stream).send().await.unwrap();
        let d = d.delivery_stream_description().unwrap().clone();
        let s3 = d.destinations()[0].extended_s3_destination_description().unwrap().clone();
        s3.buffering_hints().unwrap().interval_in_seconds()
    });
    assert_eq!(interval, Some(60));
    let plan = s.run(&["plan", bp, "--detailed-exitcode", "--var", "interval=60"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);

    // The record is in the bucket: a destroy stops there until forced.
    let refused = s.run(&["destroy", bp, "--auto-approve"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("is not empty"), "{}", refused.stderr);
    let gone = rt().block_on(fh.describe_delivery_stream().delivery_stream_name(&stream).send());
    assert!(gone.is_err(), "the stream went before the bucket");
    ok(&s.run(&["destroy", bp, "--auto-approve", "--force-empty"]));
    assert!(s.state()["resources"].as_object().unwrap().is_empty());
}
