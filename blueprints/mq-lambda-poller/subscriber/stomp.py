"""A small STOMP 1.2 client over TLS, enough to drain a queue: CONNECT,
SUBSCRIBE with client-individual acknowledgement, MESSAGE, ACK and
DISCONNECT. Standard library only, so the function needs no packaging
step. Frame encoding and parsing are pure functions, tested locally."""

import socket
import ssl

NUL = b"\x00"

# STOMP 1.2 header escaping (section "Value Encoding").
_ESCAPES = {"\\": "\\\\", "\r": "\\r", "\n": "\\n", ":": "\\c"}
_UNESCAPES = {"\\\\": "\\", "\\r": "\r", "\\n": "\n", "\\c": ":"}


def escape(value):
    return "".join(_ESCAPES.get(c, c) for c in value)


def unescape(value):
    out, i = [], 0
    while i < len(value):
        pair = value[i : i + 2]
        if pair in _UNESCAPES:
            out.append(_UNESCAPES[pair])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def encode(command, headers=None, body=b""):
    """One frame as bytes. A body gets a content-length header, so it may
    contain NUL bytes."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    lines = [command]
    headers = dict(headers or {})
    if body:
        headers.setdefault("content-length", str(len(body)))
    # CONNECT frames are not escaped (STOMP 1.2 keeps 1.0 compatibility).
    esc = (lambda v: v) if command == "CONNECT" else escape
    lines += [f"{esc(str(k))}:{esc(str(v))}" for k, v in headers.items()]
    return ("\n".join(lines) + "\n\n").encode("utf-8") + body + NUL


class Frame:
    def __init__(self, command, headers, body):
        self.command = command
        self.headers = headers
        self.body = body

    def __repr__(self):
        return f"Frame({self.command!r}, {self.headers!r}, {self.body!r})"


class Parser:
    """Turns a byte stream, fed in chunks of any size, into frames.
    Heart-beat newlines between frames are skipped."""

    def __init__(self):
        self.buffer = b""

    def feed(self, data):
        self.buffer += data
        frames = []
        while True:
            frame = self._next()
            if frame is None:
                return frames
            frames.append(frame)

    def _next(self):
        self.buffer = self.buffer.lstrip(b"\r\n")
        end = self.buffer.find(b"\n\n")
        if end < 0:
            return None
        head = self.buffer[:end].decode("utf-8").replace("\r\n", "\n").split("\n")
        command, headers = head[0], {}
        for line in head[1:]:
            key, _, value = line.partition(":")
            # The first occurrence of a repeated header wins.
            headers.setdefault(unescape(key), unescape(value))
        start = end + 2
        if "content-length" in headers:
            stop = start + int(headers["content-length"])
            if len(self.buffer) < stop + 1:
                return None
        else:
            stop = self.buffer.find(NUL, start)
            if stop < 0:
                return None
        body = self.buffer[start:stop]
        self.buffer = self.buffer[stop + 1 :]
        return Frame(command, headers, body)


class Connection:
    """A STOMP connection to one broker (TLS unless `tls=False`, which
    only local tests use)."""

    def __init__(self, host, port, login, passcode, tls=True, timeout=5.0):
        raw = socket.create_connection((host, port), timeout=timeout)
        self.sock = ssl.create_default_context().wrap_socket(raw, server_hostname=host) if tls else raw
        self.parser = Parser()
        self.pending = []
        try:
            self.send("CONNECT", {"accept-version": "1.2", "host": host, "login": login, "passcode": passcode, "heart-beat": "0,0"})
            frame = self.receive()
        except BaseException:
            self.sock.close()
            raise
        if frame is None or frame.command != "CONNECTED":
            self.sock.close()
            message = frame.headers.get("message", "") if frame else "connection closed"
            raise ConnectionError(f"the broker refused the connection: {message}")

    def send(self, command, headers=None, body=b""):
        self.sock.sendall(encode(command, headers, body))

    def receive(self):
        """The next frame, or None when nothing arrives before the timeout."""
        while not self.pending:
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                return None
            if not data:
                return None
            self.pending.extend(self.parser.feed(data))
        frame = self.pending.pop(0)
        if frame.command == "ERROR":
            raise ConnectionError(frame.headers.get("message", frame.body.decode("utf-8", "replace")))
        return frame

    def subscribe(self, destination, sub_id="0"):
        self.send("SUBSCRIBE", {"id": sub_id, "destination": destination, "ack": "client-individual"})

    def ack(self, frame):
        self.send("ACK", {"id": frame.headers["ack"]})

    def disconnect(self):
        try:
            self.send("DISCONNECT", {"receipt": "bye"})
        finally:
            self.sock.close()
