"""Puts one new Sales row into Kinesis Data Firehose as a CSV line.

Aurora MySQL calls this function asynchronously (`lambda_async`) from the
TR_Sales_CDC trigger with the row as a JSON object (sql/setup.sql); the
line lands under CDC/ in the bucket, where Redshift Spectrum or Athena
read it with the column order below.
"""

import csv
import io
import json
import os

import boto3

# The columns of the Spectrum table (sql/spectrum.sql), in order.
FIELDS = (
    "ItemID",
    "Category",
    "Price",
    "Quantity",
    "OrderDate",
    "DestinationState",
    "ShippingType",
    "Referral",
)

_firehose = None


def firehose():
    global _firehose
    if _firehose is None:
        _firehose = boto3.client("firehose")
    return _firehose


def to_csv(row):
    """One CSV line of `row`'s fields in FIELDS order, ending in a newline
    (Firehose concatenates records). A missing or NULL column is empty; a
    value holding a comma, quote or newline is quoted."""
    out = io.StringIO()
    values = ["" if row.get(f) is None else row.get(f) for f in FIELDS]
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


def handler(event, context):
    # lambda_async passes the procedure's JSON; a string is decoded too.
    row = json.loads(event) if isinstance(event, (str, bytes)) else event
    line = to_csv(row)
    result = firehose().put_record(
        DeliveryStreamName=os.environ["DELIVERY_STREAM"],
        Record={"Data": line.encode("utf-8")},
    )
    return {"RecordId": result["RecordId"]}
