"""Puts one new Sales row into Kinesis Data Firehose as a CSV line.

Aurora MySQL calls this function asynchronously (`lambda_async`) from the
TR_Sales_CDC trigger with the row as a JSON object (sql/setup.sql); the
line lands under CDC/ in the bucket, where the stack's Glue catalog table
(`sales_cdc`) lets Athena and Redshift Spectrum read it with the column
order below.
"""

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


def field(v):
    """One value as the catalog table reads it: Hive's LazySimpleSerDe
    with `,` between fields and `\\` as its escape character (the table's
    `escape.delim`), so a comma or backslash inside a value is escaped
    rather than quoted (LazySimpleSerDe has no quoting: a quoted value
    would keep its quotes and split at its comma). A line break would end
    the record whatever the escaping (files are split into lines first),
    so it becomes a space."""
    text = "" if v is None else str(v)
    text = text.replace("\\", "\\\\").replace(",", "\\,")
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def to_csv(row):
    """One line of `row`'s fields in FIELDS order, ending in a newline
    (Firehose concatenates records). A missing or NULL column is empty."""
    return ",".join(field(row.get(f)) for f in FIELDS) + "\n"


def handler(event, context):
    # lambda_async passes the procedure's JSON; a string is decoded too.
    row = json.loads(event) if isinstance(event, (str, bytes)) else event
    line = to_csv(row)
    result = firehose().put_record(
        DeliveryStreamName=os.environ["DELIVERY_STREAM"],
        Record={"Data": line.encode("utf-8")},
    )
    return {"RecordId": result["RecordId"]}
