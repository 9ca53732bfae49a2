#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for archkit's tests: forwards requests to
TARGET and answers every Nth one with the throttling error of the request's
protocol, as AWS does: EC2 (HTTP 503 RequestLimitExceeded), the other query
APIs such as IAM and ELB (400 Throttling), and the JSON APIs such as ECS and
CloudWatch Logs (400 ThrottlingException). Retries can then be tested
against moto.

usage: throttle-proxy.py TARGET_URL EVERY_NTH
Prints the URL it listens on (a free loopback port), then serves until
killed. Only loopback addresses are used.
"""
import http.server
import itertools
import sys
import threading
import urllib.error
import urllib.request

TARGET = sys.argv[1].rstrip("/")
EVERY = int(sys.argv[2])
COUNTER = itertools.count(1)
LOCK = threading.Lock()

THROTTLED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
    b"<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
    b"</Error></Errors><RequestID>throttle-proxy</RequestID></Response>"
)


QUERY_THROTTLED = (
    b'<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>'
    b"<Message>Rate exceeded</Message></Error><RequestId>throttle-proxy</RequestId></ErrorResponse>"
)

JSON_THROTTLED = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'


def throttled(headers, body):
    """The throttling answer in the protocol of the request."""
    if headers.get("X-Amz-Target"):
        return 400, "application/x-amz-json-1.1", JSON_THROTTLED
    if b"Version=2016-11-15" in body:
        return 503, "text/xml", THROTTLED
    return 400, "text/xml", QUERY_THROTTLED


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        with LOCK:
            n = next(COUNTER)
        if n % EVERY == 0:
            status, ctype, data = throttled(self.headers, body or b"")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        req = urllib.request.Request(TARGET + self.path, data=body, headers=headers, method=self.command)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, rheaders, data = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, rheaders, data = e.code, e.headers, e.read()
        self.send_response(status)
        for k, v in rheaders.items():
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
