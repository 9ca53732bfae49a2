"""Consumer-side check: runs in the consumer VPC and fetches the service
through the interface endpoint (ENDPOINT_URL, the endpoint's first DNS
name and the service port), as a client of the consumer would. Returns what answered, so

    aws lambda invoke --function-name <stack>-check /dev/stdout

shows the provider's nginx page title, or why nothing answered."""

import os
import re
import socket
import urllib.error
import urllib.request


def check(url, timeout=5.0):
    """GET `url` and describe the answer (never raises)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body = r.read(65536).decode("utf-8", "replace")
            status, server = r.status, r.headers.get("Server", "")
    except urllib.error.HTTPError as e:
        return {"ok": False, "url": url, "status": e.code, "error": f"HTTP {e.code}"}
    except (urllib.error.URLError, socket.timeout, OSError) as e:
        reason = getattr(e, "reason", e)
        return {"ok": False, "url": url, "error": f"no answer: {reason}"}
    title = re.search(r"<title>(.*?)</title>", body, re.S | re.I)
    return {
        "ok": 200 <= status < 300,
        "url": url,
        "status": status,
        "server": server,
        "title": title.group(1).strip() if title else "",
    }


def handler(event, context):
    return check(os.environ["ENDPOINT_URL"])
