"""Worker: writes one message to the DynamoDB table named by TABLE_NAME,
as {uuid, message, timestamp}. Its role may only PutItem on that table."""

import os
import uuid


def item(event):
    """The item stored for an event from the subscriber."""
    return {"uuid": str(uuid.uuid4()), "message": event["message"], "timestamp": event["timestamp"]}


def handler(event, context, table=None):
    if table is None:
        import boto3  # in the Lambda runtime

        table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    record = item(event)
    table.put_item(Item=record)
    return {"uuid": record["uuid"]}
