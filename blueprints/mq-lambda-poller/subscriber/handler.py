"""Subscriber: runs on a schedule, drains the Amazon MQ queue over
STOMP+TLS and invokes the worker synchronously with each message, as the
post's subscriber does.

The broker password is read from AWS Secrets Manager at run time (its ARN
is in BROKER_SECRET_ARN), never from a plain environment variable. A
message is acknowledged only after the worker has run and returned without
error (a synchronous RequestResponse invoke, not an asynchronous one that
Lambda merely queues), so a failed or throttled worker leaves the message
on the queue: the broker delivers it again on the next run."""

import json
import os
import time
from datetime import datetime, timezone

import stomp


def payload(body, now=None):
    """What the worker receives for one message."""
    now = now or datetime.now(timezone.utc)
    return {"message": body.decode("utf-8", "replace"), "timestamp": now.isoformat()}


def forward(conn, invoke, deadline):
    """Hands every message to `invoke` until the queue is quiet or the
    deadline (a time.monotonic() value) passes. Returns how many."""
    count = 0
    while time.monotonic() < deadline:
        frame = conn.receive()
        if frame is None:
            break
        if frame.command != "MESSAGE":
            continue
        invoke(payload(frame.body))
        conn.ack(frame)
        count += 1
    return count


class WorkerFailed(RuntimeError):
    """The worker ran and raised: the message must stay on the queue."""


def invoke_worker(lam, worker, p):
    """Runs the worker on one payload and waits for it. Raises (so the
    message is not acknowledged) when the invoke fails or the worker's
    code raised, which Lambda reports as FunctionError on a 200 answer."""
    r = lam.invoke(FunctionName=worker, InvocationType="RequestResponse", Payload=json.dumps(p).encode("utf-8"))
    if r.get("FunctionError"):
        raise WorkerFailed(f"{worker} failed ({r['FunctionError']}): {r['Payload'].read().decode('utf-8', 'replace')[:500]}")
    return r


def handler(event, context):
    import boto3  # in the Lambda runtime; imported here so tests need not have it

    password = boto3.client("secretsmanager").get_secret_value(
        SecretId=os.environ["BROKER_SECRET_ARN"]
    )["SecretString"]
    lam = boto3.client("lambda")
    worker = os.environ["WORKER_FUNCTION"]

    def invoke(p):
        invoke_worker(lam, worker, p)

    conn = stomp.Connection(
        os.environ["BROKER_HOST"],
        int(os.environ.get("BROKER_PORT", "61614")),
        os.environ["BROKER_USER"],
        password,
    )
    try:
        conn.subscribe("/queue/" + os.environ["QUEUE_NAME"])
        # Stop a second before Lambda would.
        deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - 1
        count = forward(conn, invoke, deadline)
    finally:
        conn.disconnect()
    return {"forwarded": count}
