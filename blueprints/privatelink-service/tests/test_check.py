"""Local tests of the consumer-side check function: against an HTTP server
on a loopback socket answering as nginx does, against a port where nothing
listens, and against an error status. Run by scripts/test:

    .venv-moto/bin/python -m unittest discover -s blueprints/privatelink-service/tests
"""

import http.server
import importlib.util
import os
import socket
import threading
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

spec = importlib.util.spec_from_file_location("check_handler", ROOT / "check" / "handler.py")
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)

NGINX_PAGE = b"<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head><body>ok</body></html>\n"


class Nginx(http.server.BaseHTTPRequestHandler):
    def version_string(self):
        return "nginx/1.27.3"

    def do_GET(self):
        if self.path != "/":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(NGINX_PAGE)))
        self.end_headers()
        self.wfile.write(NGINX_PAGE)

    def log_message(self, *args):
        pass


class Broken(Nginx):
    def do_GET(self):
        self.send_error(502)


def serve(handler):
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Check(unittest.TestCase):
    def test_reports_the_page_nginx_serves(self):
        server = serve(Nginx)
        try:
            got = check.check(f"http://127.0.0.1:{server.server_address[1]}/")
        finally:
            server.shutdown()
        self.assertEqual(got["ok"], True)
        self.assertEqual(got["status"], 200)
        self.assertEqual(got["server"], "nginx/1.27.3")
        self.assertEqual(got["title"], "Welcome to nginx!")

    def test_nothing_listening_is_a_clear_answer_not_a_crash(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        got = check.check(f"http://127.0.0.1:{port}/", timeout=1)
        self.assertEqual(got["ok"], False)
        self.assertIn("no answer", got["error"])
        self.assertEqual(got["url"], f"http://127.0.0.1:{port}/")

    def test_an_error_status_is_not_ok(self):
        server = serve(Broken)
        try:
            got = check.check(f"http://127.0.0.1:{server.server_address[1]}/")
        finally:
            server.shutdown()
        self.assertEqual((got["ok"], got["status"]), (False, 502))

    def test_the_handler_reads_its_target_from_the_environment(self):
        server = serve(Nginx)
        os.environ["ENDPOINT_URL"] = f"http://127.0.0.1:{server.server_address[1]}/"
        try:
            got = check.handler({}, None)
        finally:
            server.shutdown()
            del os.environ["ENDPOINT_URL"]
        self.assertEqual(got["title"], "Welcome to nginx!")


if __name__ == "__main__":
    unittest.main()
