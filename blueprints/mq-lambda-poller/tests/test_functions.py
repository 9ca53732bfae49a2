"""Local tests of the blueprint's function code: STOMP framing, the
subscriber's forwarding loop against a STOMP server on a local socket, the
payload the worker receives, and the worker's write to a DynamoDB table
(moto's in-process emulator). Run by scripts/test with the moto venv:

    .venv-moto/bin/python -m unittest discover -s blueprints/mq-lambda-poller/tests
"""

import importlib.util
import json
import os
import socket
import sys
import threading
import time
import unittest
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "subscriber"))

import stomp  # noqa: E402


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


subscriber = load("subscriber_handler", ROOT / "subscriber" / "handler.py")
worker = load("worker_handler", ROOT / "worker" / "handler.py")


class Framing(unittest.TestCase):
    def test_round_trip_with_escapes_and_binary_body(self):
        body = b"line one\nwith a \x00 inside"
        data = stomp.encode("SEND", {"destination": "/queue/a:b", "note": "x\ny"}, body)
        frames = stomp.Parser().feed(data)
        self.assertEqual(len(frames), 1)
        f = frames[0]
        self.assertEqual(f.command, "SEND")
        self.assertEqual(f.headers["destination"], "/queue/a:b")
        self.assertEqual(f.headers["note"], "x\ny")
        self.assertEqual(f.body, body)

    def test_headers_are_escaped_on_the_wire(self):
        data = stomp.encode("SEND", {"k": "a:b\\c"})
        self.assertIn(b"k:a\\cb\\\\c\n", data)
        self.assertTrue(data.endswith(b"\n\n\x00"))

    def test_connect_frames_are_not_escaped(self):
        data = stomp.encode("CONNECT", {"passcode": "p:w"})
        self.assertIn(b"passcode:p:w\n", data)

    def test_byte_by_byte_and_heartbeats(self):
        data = b"\n\n" + stomp.encode("MESSAGE", {"ack": "1"}, "hello") + b"\n" + stomp.encode("MESSAGE", {"ack": "2"}, "world")
        p = stomp.Parser()
        frames = []
        for i in range(len(data)):
            frames += p.feed(data[i : i + 1])
        self.assertEqual([f.body for f in frames], [b"hello", b"world"])
        self.assertEqual([f.headers["ack"] for f in frames], ["1", "2"])

    def test_frames_without_content_length_end_at_nul(self):
        frames = stomp.Parser().feed(b"MESSAGE\nack:7\n\nplain\x00")
        self.assertEqual(frames[0].body, b"plain")

    def test_repeated_headers_keep_the_first(self):
        frames = stomp.Parser().feed(b"MESSAGE\na:1\na:2\n\n\x00")
        self.assertEqual(frames[0].headers["a"], "1")


class FakeBroker(threading.Thread):
    """A STOMP server on a loopback socket: answers CONNECT, delivers the
    given messages after SUBSCRIBE, and records every frame it receives."""

    def __init__(self, messages, password="s3cret-passw0rd"):
        super().__init__(daemon=True)
        self.messages = messages
        self.password = password
        self.received = []
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]

    def run(self):
        try:
            self.serve()
        finally:
            self.server.close()

    def serve(self):
        conn, _ = self.server.accept()
        parser = stomp.Parser()
        with conn:
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                for f in parser.feed(data):
                    self.received.append(f)
                    if f.command == "CONNECT":
                        if f.headers.get("passcode") != self.password:
                            conn.sendall(stomp.encode("ERROR", {"message": "bad login"}))
                            return
                        conn.sendall(stomp.encode("CONNECTED", {"version": "1.2"}))
                    elif f.command == "SUBSCRIBE":
                        for i, m in enumerate(self.messages):
                            conn.sendall(stomp.encode("MESSAGE", {"subscription": f.headers["id"], "message-id": str(i), "ack": f"a{i}"}, m))
                    elif f.command == "DISCONNECT":
                        return


class Subscriber(unittest.TestCase):
    def test_payload_is_message_and_timestamp(self):
        now = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
        self.assertEqual(
            subscriber.payload(b"order 42", now),
            {"message": "order 42", "timestamp": "2026-11-26T12:00:00+00:00"},
        )

    def test_drains_the_queue_and_acks_after_each_invocation(self):
        broker = FakeBroker(["first", "second", "third"])
        broker.start()
        conn = stomp.Connection("127.0.0.1", broker.port, "archkit", "s3cret-passw0rd", tls=False, timeout=0.5)
        conn.subscribe("/queue/SAMPLE_QUEUE")
        sent = []
        count = subscriber.forward(conn, sent.append, time.monotonic() + 5)
        conn.disconnect()
        broker.join(2)
        self.assertEqual(count, 3)
        self.assertEqual([p["message"] for p in sent], ["first", "second", "third"])
        json.dumps(sent)  # what Lambda.invoke gets must be JSON
        commands = [f.command for f in broker.received]
        self.assertEqual(commands, ["CONNECT", "SUBSCRIBE", "ACK", "ACK", "ACK", "DISCONNECT"])
        sub = broker.received[1]
        self.assertEqual(sub.headers["destination"], "/queue/SAMPLE_QUEUE")
        self.assertEqual(sub.headers["ack"], "client-individual")
        self.assertEqual([f.headers["id"] for f in broker.received[2:5]], ["a0", "a1", "a2"])

    def test_a_failed_invocation_leaves_the_message_unacknowledged(self):
        broker = FakeBroker(["only"])
        broker.start()
        conn = stomp.Connection("127.0.0.1", broker.port, "archkit", "s3cret-passw0rd", tls=False, timeout=0.5)
        conn.subscribe("/queue/q")

        def failing(_):
            raise RuntimeError("throttled")

        with self.assertRaises(RuntimeError):
            subscriber.forward(conn, failing, time.monotonic() + 5)
        conn.disconnect()
        broker.join(2)
        self.assertNotIn("ACK", [f.command for f in broker.received])

    def test_a_wrong_password_is_a_clear_error(self):
        broker = FakeBroker([])
        broker.start()
        with self.assertRaises(ConnectionError) as e:
            stomp.Connection("127.0.0.1", broker.port, "archkit", "wrong", tls=False, timeout=0.5)
        self.assertIn("bad login", str(e.exception))


class Invoke(unittest.TestCase):
    """The subscriber's Lambda call, checked by botocore's Stubber against
    the Lambda API model (request parameters and response shape). A stub
    stands in for Lambda here: moto runs function code only in Docker."""

    def client(self):
        try:
            import boto3
            from botocore.stub import Stubber
        except ImportError:
            if os.environ.get("CI") == "true":
                raise
            self.skipTest("boto3 is not installed (run with .venv-moto/bin/python)")
        lam = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        return lam, Stubber(lam)

    def expected(self, p):
        return {"FunctionName": "w", "InvocationType": "RequestResponse", "Payload": json.dumps(p).encode("utf-8")}

    def test_waits_for_the_worker(self):
        import io

        from botocore.response import StreamingBody

        lam, stub = self.client()
        p = {"message": "m", "timestamp": "t"}
        body = b'{"uuid": "u"}'
        stub.add_response("invoke", {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}, self.expected(p))
        with stub:
            self.assertEqual(subscriber.invoke_worker(lam, "w", p)["StatusCode"], 200)
        stub.assert_no_pending_responses()

    def test_a_worker_that_raised_is_a_failure_and_the_message_stays(self):
        import io

        from botocore.response import StreamingBody
        from botocore.stub import ANY

        lam, stub = self.client()
        body = b'{"errorMessage": "ProvisionedThroughputExceededException"}'
        answer = {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": StreamingBody(io.BytesIO(body), len(body))}
        # The payload's timestamp is the time of delivery.
        stub.add_response("invoke", answer, {**self.expected({}), "Payload": ANY})
        broker = FakeBroker(["only"])
        broker.start()
        conn = stomp.Connection("127.0.0.1", broker.port, "archkit", "s3cret-passw0rd", tls=False, timeout=0.5)
        conn.subscribe("/queue/q")
        with stub, self.assertRaises(subscriber.WorkerFailed) as e:
            subscriber.forward(conn, lambda q: subscriber.invoke_worker(lam, "w", q), time.monotonic() + 5)
        conn.disconnect()
        broker.join(2)
        self.assertIn("ProvisionedThroughputExceededException", str(e.exception))
        self.assertNotIn("ACK", [f.command for f in broker.received])

    def test_a_throttled_invoke_raises(self):
        lam, stub = self.client()
        p = {"message": "m", "timestamp": "t"}
        stub.add_client_error("invoke", "TooManyRequestsException", http_status_code=429, expected_params=self.expected(p))
        with stub, self.assertRaises(Exception) as e:
            subscriber.invoke_worker(lam, "w", p)
        self.assertIn("TooManyRequestsException", str(e.exception))


class Worker(unittest.TestCase):
    def test_item_has_uuid_message_and_timestamp(self):
        i = worker.item({"message": "m", "timestamp": "t"})
        self.assertEqual((i["message"], i["timestamp"]), ("m", "t"))
        self.assertEqual(len(i["uuid"]), 36)
        self.assertNotEqual(i["uuid"], worker.item({"message": "m", "timestamp": "t"})["uuid"])

    def test_writes_the_item_to_dynamodb(self):
        try:
            import boto3
            from moto import mock_aws
        except ImportError:
            if os.environ.get("CI") == "true":
                raise
            self.skipTest("moto is not installed (run with .venv-moto/bin/python)")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ.pop("AWS_ENDPOINT_URL", None)
        with mock_aws():
            ddb = boto3.resource("dynamodb", region_name="us-east-1")
            table = ddb.create_table(
                TableName="messages",
                KeySchema=[{"AttributeName": "uuid", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "uuid", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            out = worker.handler({"message": "hello", "timestamp": "2026-11-26T12:00:00+00:00"}, None, table)
            stored = table.get_item(Key={"uuid": out["uuid"]})["Item"]
            self.assertEqual(stored["message"], "hello")
            self.assertEqual(stored["timestamp"], "2026-11-26T12:00:00+00:00")


if __name__ == "__main__":
    unittest.main()
