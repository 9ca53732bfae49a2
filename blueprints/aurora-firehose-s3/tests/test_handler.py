"""Local tests of the CDC function: the CSV line it makes of a Sales row,
and its put_record through a real Firehose stream into S3 (moto's
in-process emulator, which delivers synchronously and does not compress).
Run by scripts/test with the moto venv:

    .venv-moto/bin/python -m unittest discover -s blueprints/aurora-firehose-s3/tests
"""

import importlib.util
import json
import os
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cdc = load("cdc_handler", ROOT / "function" / "handler.py")

# A row as the procedure's JSON_OBJECT sends it (sql/setup.sql).
SAMPLE = {
    "ItemID": 42,
    "Category": "Electronics",
    "Price": 199.99,
    "Quantity": 2,
    "OrderDate": "2026-12-02 10:30:00",
    "DestinationState": "WA",
    "ShippingType": "2-Day",
    "Referral": "Friend",
}


class Csv(unittest.TestCase):
    def test_a_row_is_one_line_in_the_spectrum_column_order(self):
        self.assertEqual(
            cdc.to_csv(SAMPLE),
            "42,Electronics,199.99,2,2026-12-02 10:30:00,WA,2-Day,Friend\n",
        )

    def test_null_and_missing_columns_are_empty(self):
        row = dict(SAMPLE, Referral=None)
        del row["ShippingType"]
        self.assertEqual(cdc.to_csv(row), "42,Electronics,199.99,2,2026-12-02 10:30:00,WA,,\n")

    def test_a_comma_or_quote_in_a_value_cannot_split_the_line(self):
        line = cdc.to_csv(dict(SAMPLE, Category='Books, "rare"'))
        self.assertEqual(line.count("\n"), 1)
        self.assertIn('Books\\, "rare"', line)

    def test_the_table_serde_reads_back_every_value(self):
        # What the catalog table (LazySimpleSerDe, field.delim ",",
        # escape.delim "\\") reads from the line, column by column.
        tricky = dict(SAMPLE, Category='Books, "rare"', ShippingType="C:\\ship", Referral="a\nb")
        got = lazy_simple_serde(cdc.to_csv(tricky))
        self.assertEqual(len(got), len(cdc.FIELDS))
        self.assertEqual(got[1], 'Books, "rare"')
        self.assertEqual(got[6], "C:\\ship")
        # A line break cannot be kept: it is a space.
        self.assertEqual(got[7], "a b")
        self.assertEqual(got[0], "42")
        self.assertEqual(got[4], "2026-12-02 10:30:00")


def lazy_simple_serde(line, delim=",", escape="\\"):
    """Hive's LazySimpleSerDe on one line of a text file: split at `delim`
    unless escaped, and drop the escape character before the one it
    escapes (LazyUtils' unescaping). A model of the SerDe for the test,
    written from Hive's documentation, not Hive itself."""
    assert line.endswith("\n")
    fields, cur, it = [], [], iter(line[:-1])
    for ch in it:
        if ch == escape:
            cur.append(next(it, ""))
        elif ch == delim:
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    fields.append("".join(cur))
    return fields


class PutRecord(unittest.TestCase):
    def setUp(self):
        try:
            from moto import mock_aws
        except ImportError:
            if os.environ.get("CI") == "true":
                raise
            self.skipTest("moto is not installed (run with .venv-moto/bin/python)")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ.pop("AWS_ENDPOINT_URL", None)
        self.mock = mock_aws()
        self.mock.start()
        self.addCleanup(self.mock.stop)
        import boto3

        self.s3 = boto3.client("s3")
        self.s3.create_bucket(Bucket="cdc")
        boto3.client("firehose").create_delivery_stream(
            DeliveryStreamName="changes",
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/delivery",
                "BucketARN": "arn:aws:s3:::cdc",
                "Prefix": "CDC/",
                "CompressionFormat": "UNCOMPRESSED",
            },
        )
        os.environ["DELIVERY_STREAM"] = "changes"
        self.addCleanup(os.environ.pop, "DELIVERY_STREAM", None)
        cdc._firehose = None

    def test_the_row_lands_under_cdc_as_a_csv_line(self):
        out = cdc.handler(SAMPLE, None)
        self.assertTrue(out["RecordId"])
        keys = [o["Key"] for o in self.s3.list_objects_v2(Bucket="cdc").get("Contents", [])]
        self.assertEqual(len(keys), 1, keys)
        self.assertTrue(keys[0].startswith("CDC/"), keys)
        body = self.s3.get_object(Bucket="cdc", Key=keys[0])["Body"].read().decode()
        self.assertEqual(body, cdc.to_csv(SAMPLE))

    def test_a_json_string_payload_is_decoded(self):
        cdc.handler(json.dumps(SAMPLE), None)
        keys = [o["Key"] for o in self.s3.list_objects_v2(Bucket="cdc").get("Contents", [])]
        body = self.s3.get_object(Bucket="cdc", Key=keys[0])["Body"].read().decode()
        self.assertTrue(body.startswith("42,Electronics,"), body)


if __name__ == "__main__":
    unittest.main()
