#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for archkit's tests. It forwards requests to
TARGET (moto) and, as asked, injects the faults AWS users meet:

  --throttle-every N   answer every Nth request with the throttling error of
                       its protocol, as AWS does: EC2 (503
                       RequestLimitExceeded), the other query APIs such as
                       IAM and ELB (400 Throttling), the JSON APIs such as
                       ECS and Logs (400 ThrottlingException) and the
                       REST-JSON APIs such as Lambda and MQ (429
                       TooManyRequestsException).
  --throttle-burst B   with --throttle-every: throttle the Nth call's first B
                       attempts (1 by default), known by the SDK's
                       amz-sdk-invocation-id header. A burst as long as the
                       SDK's attempts reaches archkit's own retries.
  --throttle-op OP     throttle the first call of operation OP (e.g.
                       UpdateService) for its first --throttle-burst
                       attempts: one named call that must reach archkit's
                       own retries, whatever else runs.
  --throttle-each-protocol
                       with --throttle-every: also throttle the first call of
                       each protocol seen (for its first --throttle-burst
                       attempts), so that every protocol meets throttling
                       whatever order concurrent calls arrive in.
  --throttle-writes    throttle every write (reads pass): a run that stays in
                       its retries, to be interrupted there.
  --drop-every-write N forward every Nth write (any call but Describe*,
                       List*, Get*) and then close the connection without
                       answering: the call was carried out, its answer lost.
  --drop-op OP         forward the first call of OP (e.g. CreateDBCluster) and
                       then close the connection without answering.
  --kill-at K          on the Kth request, SIGKILL the process whose pid is
                       in --pid-file (archkit's own), then close the
                       connection. With --kill-after-forward the request is
                       first carried out by TARGET (a crash between an AWS
                       call and the state write); without, it never reaches
                       TARGET.
  --kill-op OP         like --kill-at, on the first call of operation OP
                       (e.g. AttachInternetGateway): a crash at a named
                       step, whatever the order of the calls before it.
  --fake-placement-groups
                       answer CreatePlacementGroup, DescribePlacementGroups
                       and DeletePlacementGroup here, from a table of this
                       proxy's own, in EC2's XML: moto 5.2.5 does not
                       implement them (HTTP 500). A test double for those
                       three calls only; everything else still goes to moto.
  --fake-ssm-associations
                       answer CreateAssociation, DescribeAssociation,
                       ListAssociations, UpdateAssociation and
                       DeleteAssociation, and the tag calls on an
                       Association, here, from a table of this proxy's own,
                       in SSM's JSON: moto 5.2.5 implements no association
                       call. A test double for those calls only: it checks
                       what archkit sends and keeps it, it runs no document.
  --release-nat-eips   after forwarding DeleteNatGateway, disassociate the
                       gateway's Elastic IPs in TARGET: AWS releases them
                       when the gateway is deleted, moto 5.2.5 keeps them
                       associated, so a new gateway can never take them. A
                       test double of that one AWS behaviour.
  --canned OP=JSON     answer every call of the JSON-protocol operation OP
                       here with 200 and the body JSON, and keep the
                       request's body in the stats (`canned`: [{op, body}]):
                       a test double for a call moto does not implement
                       (UpdateJob, UpdateCrawler, UpdateProject), which
                       checks what archkit sends, not what AWS would do.
                       May be given more than once.
  --in-use OP         answer the first call of the EC2 operation OP (e.g.
                       DeleteSecurityGroup) with AWS's DependencyViolation
                       without forwarding it: what AWS says when deleting a
                       group or subnet that network interfaces still use,
                       which moto does not check. May be given more than once.
  --http-500 OP        answer every call of operation OP with HTTP 500 and an
                       HTML body that carries no AWS error code, as a load
                       balancer in front of an endpoint may: what archkit
                       says of an error the SDK cannot name. May be given
                       more than once.
  --pending KIND=SECS  keep what a create makes pending for SECS seconds, as
                       AWS does and moto does not (moto makes everything
                       ready at once): describe answers the pending state,
                       then the ready one; likewise a delete answers
                       deleting, then deleted. KIND: nat_gateway (pending ->
                       available, deleting -> deleted), load_balancer
                       (ELBv2: provisioning -> active), mq_broker
                       (CREATION_IN_PROGRESS -> RUNNING, DELETION_IN_PROGRESS
                       -> NotFound), db_cluster and db_instance (RDS:
                       creating -> available, deleting -> not found) or
                       directory (Managed AD: Creating -> Active, Deleting ->
                       not found). A test double for the states only:
                       moto's resource is ready at once underneath, and
                       gone at once when deleted (the proxy answers its
                       last description, deleting, meanwhile). May be given more than once; SECS may be
                       a fraction (AWS's durations scaled down for tests).
  --latency-ms MS      add MS milliseconds to every call (an AWS round trip is
                       about 50); calls in flight wait side by side.
  --stats FILE         after every request, write JSON: calls, writes, the
                       most calls in flight at once (in_flight_max),
                       throttled, dropped, killed_at, the operations in the
                       order they arrived, those that carried a client
                       (idempotency) token, and the timeline: each call's
                       operation, start and end in seconds from the first.
  --stats-at-exit      with --stats: write the file once, when the proxy is
                       terminated (SIGTERM), not after every request. For
                       benchmarks: rewriting a file that grows with every
                       call costs the proxy more, at 1,000 calls, than moto
                       takes to answer them.

Prints the URL it listens on (a free loopback port), then serves until
killed. Only loopback addresses are used.
"""
import argparse
import http.client
import http.server
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.parse

p = argparse.ArgumentParser()
p.add_argument("target")
p.add_argument("--throttle-every", type=int, default=0)
p.add_argument("--throttle-burst", type=int, default=1)
p.add_argument("--throttle-writes", action="store_true")
p.add_argument("--throttle-each-protocol", action="store_true")
p.add_argument("--throttle-op", default=None)
p.add_argument("--drop-every-write", type=int, default=0)
p.add_argument("--drop-op", default=None)
p.add_argument("--kill-at", type=int, default=0)
p.add_argument("--kill-after-forward", action="store_true")
p.add_argument("--kill-op", default=None)
p.add_argument("--pid-file")
p.add_argument("--stats")
p.add_argument("--stats-at-exit", action="store_true")
p.add_argument("--latency-ms", type=float, default=0)
p.add_argument("--fake-placement-groups", action="store_true")
p.add_argument("--fake-ssm-associations", action="store_true")
p.add_argument("--canned", action="append", default=[])
p.add_argument("--release-nat-eips", action="store_true")
p.add_argument("--in-use", action="append", default=[])
p.add_argument("--http-500", action="append", default=[])
p.add_argument("--pending", action="append", default=[])
ARGS = p.parse_args()
PENDING = {k: float(v) for k, v in (x.split("=", 1) for x in ARGS.pending)}
CANNED = dict(c.split("=", 1) for c in ARGS.canned)
TARGET = ARGS.target.rstrip("/")
_target = urllib.parse.urlsplit(TARGET)
TARGET_HOST, TARGET_PORT = _target.hostname, _target.port
UPSTREAM = threading.local()
LOCK = threading.Lock()
IN_FLIGHT = 0
BURSTS = {}
OP_THROTTLED = []  # the invocation of --throttle-op already chosen
OP_DROPPED = []  # the call of --drop-op already dropped
STATS = {"in_flight_max": 0, "calls": 0, "writes": 0, "throttled": 0, "dropped": 0, "killed_at": None, "ops": [], "tokens": [], "throttled_protocols": {}, "timeline": [], "canned": []}
FIRST = []
# Idempotency-token parameters, in every protocol's spelling.
TOKENS = (b"ClientToken=", b'"clientToken"', b'"creatorRequestId"', b'"ClientToken"')

EC2_THROTTLED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
    b"<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
    b"</Error></Errors><RequestID>fault-proxy</RequestID></Response>"
)
QUERY_THROTTLED = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
    b"<Message>Rate exceeded</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
)
JSON_THROTTLED = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
REST_THROTTLED = b'{"message": "Rate exceeded"}'


def operation(method, path, headers, body):
    """The call's name: the JSON target, the query Action, or the REST
    method and path."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    ctype = headers.get("Content-Type") or ""
    if "x-www-form-urlencoded" in ctype and body:
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return action[0]
    return f"{method} {urllib.parse.urlsplit(path).path}"


def is_write(op):
    if " " in op:
        return not op.startswith(("GET ", "HEAD "))
    return not op.startswith(("Describe", "List", "Get"))


def protocol(headers, body):
    if headers.get("X-Amz-Target"):
        return "json"
    if "x-www-form-urlencoded" in (headers.get("Content-Type") or ""):
        return "ec2" if b"Version=2016-11-15" in body else "query"
    return "rest-json"


ANSWERS = {
    "json": (400, {"Content-Type": "application/x-amz-json-1.1"}, JSON_THROTTLED),
    "ec2": (503, {"Content-Type": "text/xml"}, EC2_THROTTLED),
    "query": (400, {"Content-Type": "text/xml"}, QUERY_THROTTLED),
    "rest-json": (
        429,
        {"Content-Type": "application/json", "x-amzn-ErrorType": "TooManyRequestsException"},
        REST_THROTTLED,
    ),
}


def save_stats(at_exit=False):
    if ARGS.stats and (at_exit or not ARGS.stats_at_exit):
        tmp = ARGS.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(STATS, f)
        os.replace(tmp, ARGS.stats)


def kill_archkit():
    # The pid file is written by the test right after it spawns archkit;
    # wait for it rather than race it.
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            pid = int(open(ARGS.pid_file).read().strip())
            os.kill(pid, signal.SIGKILL)
            return
        except (FileNotFoundError, ValueError):
            time.sleep(0.01)
        except ProcessLookupError:
            return
    print("fault-proxy: no pid to kill", file=sys.stderr)


IN_USE_REFUSED = set()  # --in-use: operations refused once already
GROUPS = {}  # --fake-placement-groups: name -> group
EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"


def xml_escape(v):
    return str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def ec2_error(code, message):
    return 400, {"Content-Type": "text/xml"}, (
        f'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{code}</Code>'
        f"<Message>{xml_escape(message)}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>"
    ).encode()


def group_xml(g):
    tags = "".join(
        f"<item><key>{xml_escape(k)}</key><value>{xml_escape(v)}</value></item>" for k, v in g["tags"].items()
    )
    extra = f"<spreadLevel>{g['spread_level']}</spreadLevel>" if g.get("spread_level") else ""
    if g.get("partition_count"):
        extra += f"<partitionCount>{g['partition_count']}</partitionCount>"
    return (
        f"<groupName>{xml_escape(g['name'])}</groupName><strategy>{g['strategy']}</strategy>"
        f"<state>available</state><groupId>{g['id']}</groupId>"
        f"<groupArn>arn:aws:ec2:us-east-1:123456789012:placement-group/{xml_escape(g['name'])}</groupArn>"
        f"{extra}<tagSet>{tags}</tagSet>"
    )


def indexed(q, prefix):
    # `Prefix.N` values in N order.
    items = sorted((int(k[len(prefix) + 1:]), v[0]) for k, v in q.items()
                   if k.startswith(prefix + ".") and k[len(prefix) + 1:].isdigit())
    return [v for _, v in items]


# --pending: when each resource was created or deleted (monotonic time),
# and the last answer describing it alone (for its deleting state, below).
MADE = {}
GONE = {}
LAST = {}


class Kind:
    """How one kind's calls look on the wire: the create (its operation and
    the id in its answer), the describe (its operation, the id each item
    carries, how one item is delimited, and the id a describe of one
    resource asks for), the delete (its operation and the id it names),
    and the state tokens: ready as moto answers it -> pending as AWS
    answers while creating; and the state AWS answers while deleting.

    moto keeps a deleted NAT gateway (state `deleted`) but forgets a
    broker, a database or a directory at once, so while one of those is
    `deleting` the proxy answers its describe with the last answer it saw
    for it, the state changed: a test double for AWS's deleting state."""

    def __init__(self, create, made_id, describe, item_id, items, asked, delete, gone_id,
                 ready, pending, deleting, moto_deleted=None):
        self.create, self.made_id = create, made_id
        self.describe, self.item_id, self.items, self.asked = describe, item_id, items, asked
        self.delete, self.gone_id = delete, gone_id
        self.ready, self.pending, self.deleting = ready, pending, deleting
        self.moto_deleted = moto_deleted

    def is_op(self, which, op):
        return which is not None and re.fullmatch(which, op) is not None


def xml_items(tag):
    return lambda data: top_items(data, tag)


def whole(data):
    return [(0, len(data))]


def json_list(key):
    """The byte ranges of the objects of the JSON list `key` (moto's
    json.dumps: `"key": [{...}, {...}]`)."""
    def items(data):
        m = re.search(rb'"' + key + rb'":\s*\[', data)
        if not m:
            return []
        out, depth, start = [], 0, 0
        in_str = esc = False
        for i in range(m.end(), len(data)):
            c = data[i:i + 1]
            if in_str:
                esc = not esc and c == b"\\"
                if c == b'"' and not esc:
                    in_str = False
                continue
            if c == b'"':
                in_str = True
            elif c == b"{":
                depth += 1
                if depth == 1:
                    start = i
            elif c == b"}":
                depth -= 1
                if depth == 0:
                    out.append((start, i + 1))
            elif c == b"]" and depth == 0:
                break
        return out
    return items


def form(field):
    return lambda op, body: urllib.parse.parse_qs(body.decode("utf-8", "replace")).get(field, [None])[0]


def json_field(field, first=False):
    def get(op, body):
        v = json.loads(body or b"{}").get(field)
        return (v[0] if v and len(v) == 1 else None) if first else v
    return get


def path_id(pattern):
    return lambda op, body: (re.fullmatch(pattern, op) or [None, None])[1]


def state(tag):
    return lambda value: f"<{tag}>{value}</{tag}>".encode()


def jstate(key):
    return lambda value: rb'"' + key.encode() + rb'":\s*"' + value.encode() + rb'"'


PENDING_KINDS = {
    # EC2 query: moto keeps the gateway, state deleted.
    "nat_gateway": Kind(
        "CreateNatGateway", rb"<natGatewayId>(nat-[0-9a-f]+)</natGatewayId>",
        "DescribeNatGateways", rb"<natGatewayId>(nat-[0-9a-f]+)</natGatewayId>", xml_items(b"item"), None,
        "DeleteNatGateway", form("NatGatewayId"),
        state("state")("available"), state("state")("pending"), state("state")("deleting"),
        moto_deleted=state("state")("deleted")),
    # ELBv2 query: provisioning -> active (its delete is at once on AWS too).
    "load_balancer": Kind(
        "CreateLoadBalancer", rb"<LoadBalancerArn>([^<]+)</LoadBalancerArn>",
        "DescribeLoadBalancers", rb"<LoadBalancerArn>([^<]+)</LoadBalancerArn>", xml_items(b"member"), None,
        None, None, b"<Code>active</Code>", b"<Code>provisioning</Code>", None),
    # Amazon MQ REST-JSON: CREATION_IN_PROGRESS -> RUNNING, DELETION_IN_PROGRESS -> NotFound.
    "mq_broker": Kind(
        "POST /v1/brokers", rb'"brokerId":\s*"([^"]+)"',
        r"GET /v1/brokers/[^/]+", rb'"brokerId":\s*"([^"]+)"', whole, path_id(r"GET /v1/brokers/([^/]+)"),
        r"DELETE /v1/brokers/[^/]+", path_id(r"DELETE /v1/brokers/([^/]+)"),
        jstate("brokerState")("RUNNING"), b'"brokerState": "CREATION_IN_PROGRESS"',
        b'"brokerState": "DELETION_IN_PROGRESS"'),
    # RDS query: creating -> available, deleting -> DBClusterNotFoundFault.
    "db_cluster": Kind(
        "CreateDBCluster", rb"<DBClusterIdentifier>([^<]+)</DBClusterIdentifier>",
        "DescribeDBClusters", rb"<DBClusterIdentifier>([^<]+)</DBClusterIdentifier>", xml_items(b"DBCluster"),
        form("DBClusterIdentifier"),
        "DeleteDBCluster", form("DBClusterIdentifier"),
        state("Status")("available"), state("Status")("creating"), state("Status")("deleting")),
    "db_instance": Kind(
        "CreateDBInstance", rb"<DBInstanceIdentifier>([^<]+)</DBInstanceIdentifier>",
        "DescribeDBInstances", rb"<DBInstanceIdentifier>([^<]+)</DBInstanceIdentifier>", xml_items(b"DBInstance"),
        form("DBInstanceIdentifier"),
        "DeleteDBInstance", form("DBInstanceIdentifier"),
        state("DBInstanceStatus")("available"), state("DBInstanceStatus")("creating"),
        state("DBInstanceStatus")("deleting")),
    # Directory Service JSON: Creating -> Active, Deleting -> EntityDoesNotExist.
    "directory": Kind(
        "CreateMicrosoftAD", rb'"DirectoryId":\s*"([^"]+)"',
        "DescribeDirectories", rb'"DirectoryId":\s*"([^"]+)"', json_list(b"DirectoryDescriptions"),
        json_field("DirectoryIds", first=True),
        "DeleteDirectory", json_field("DirectoryId"),
        jstate("Stage")("Active"), b'"Stage": "Creating"', b'"Stage": "Deleting"'),
}


def top_items(data, tag):
    """Byte ranges of the outermost <tag>...</tag> elements of `data`."""
    out, depth, start = [], 0, 0
    for m in re.finditer(rb"<(/?)" + tag + rb">", data):
        if not m.group(1):
            if depth == 0:
                start = m.start()
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                out.append((start, m.end()))
    return out


def pending_answer(op, body, status, headers, data):
    """moto's answer (`status`, `headers`, `data`) to `op`, as AWS would
    give it while a resource --pending names is still pending or
    deleting."""
    now = time.monotonic()
    for name, secs in PENDING.items():
        k = PENDING_KINDS[name]
        if k.is_op(k.create, op) and status == 200:
            for rid in re.findall(k.made_id, data)[:1]:
                MADE[(name, rid)] = now
        elif k.is_op(k.delete, op) and status == 200:
            rid = k.gone_id(op, body)
            if rid:
                GONE[(name, rid.encode())] = now
        elif k.is_op(k.describe, op):
            asked = k.asked(op, body) if k.asked else None
            asked = asked.encode() if isinstance(asked, str) else asked
            if status != 200:
                # Forgotten by moto; still deleting on AWS.
                last = LAST.get((name, asked))
                if asked and last and now - GONE.get((name, asked), -1e9) < secs:
                    status, headers, data = last
                    data = re.sub(k.ready, k.deleting, data, count=1)
                continue
            items = k.items(data)
            parts, last, ones = [], 0, []
            for a, b in items:
                one = data[a:b]
                ids = re.findall(k.item_id, one)
                rid = ids[0] if ids else None
                if now - MADE.get((name, rid), -1e9) < secs:
                    one = re.sub(k.ready, k.pending, one, count=1)
                if k.moto_deleted and now - GONE.get((name, rid), -1e9) < secs:
                    one = re.sub(k.moto_deleted, k.deleting, one, count=1)
                parts += [data[last:a], one]
                ones.append((rid, one))
                last = b
            if items:
                # Each item as the answer to a describe of it alone (a
                # listing's envelope around that one item): what the proxy
                # answers once moto has forgotten it.
                head, tail = data[:items[0][0]], data[items[-1][1]:]
                for rid, one in ones:
                    LAST[(name, rid)] = (status, headers, head + one + tail)
            data = b"".join(parts) + data[last:]
    return status, headers, data


def placement_groups(op, body):
    """An EC2 answer for a placement-group call, or None for any other."""
    if op not in ("CreatePlacementGroup", "DescribePlacementGroups", "DeletePlacementGroup"):
        return None
    q = urllib.parse.parse_qs(body.decode())
    ok = lambda inner: (200, {"Content-Type": "text/xml"}, (  # noqa: E731
        f'<?xml version="1.0" encoding="UTF-8"?><{op}Response xmlns="{EC2_NS}">'
        f"<requestId>fault-proxy</requestId>{inner}</{op}Response>").encode())
    with LOCK:
        if op == "CreatePlacementGroup":
            name = q["GroupName"][0]
            if name in GROUPS:
                return ec2_error("InvalidPlacementGroup.Duplicate", f"The placement group '{name}' already exists.")
            tags = {}
            n = 1
            while f"TagSpecification.1.Tag.{n}.Key" in q:
                tags[q[f"TagSpecification.1.Tag.{n}.Key"][0]] = q.get(f"TagSpecification.1.Tag.{n}.Value", [""])[0]
                n += 1
            g = {
                "name": name,
                "id": "pg-%017x" % (len(GROUPS) + 1 + int(time.time() * 1000) % 10**9),
                "strategy": q.get("Strategy", ["cluster"])[0],
                "spread_level": q.get("SpreadLevel", ["rack" if q.get("Strategy") == ["spread"] else ""])[0],
                "partition_count": q.get("PartitionCount", [None])[0],
                "tags": tags,
            }
            GROUPS[name] = g
            return ok(f"<return>true</return><placementGroup>{group_xml(g)}</placementGroup>")
        if op == "DeletePlacementGroup":
            name = q["GroupName"][0]
            if GROUPS.pop(name, None) is None:
                return ec2_error("InvalidPlacementGroup.Unknown", f"The Placement Group '{name}' is unknown.")
            return ok("<return>true</return>")
        found = list(GROUPS.values())
        names = indexed(q, "GroupName")
        if names:
            missing = [n for n in names if n not in GROUPS]
            if missing:
                return ec2_error("InvalidPlacementGroup.Unknown", f"The Placement Group '{missing[0]}' is unknown.")
            found = [g for g in found if g["name"] in names]
        n = 1
        while f"Filter.{n}.Name" in q:
            fname = q[f"Filter.{n}.Name"][0]
            values = indexed(q, f"Filter.{n}.Value")
            if fname.startswith("tag:"):
                found = [g for g in found if g["tags"].get(fname[4:]) in values]
            elif fname == "group-name":
                found = [g for g in found if g["name"] in values]
            n += 1
        items = "".join(f"<item>{group_xml(g)}</item>" for g in found)
        return ok(f"<placementGroupSet>{items}</placementGroupSet>")


ASSOCIATIONS = {}  # --fake-ssm-associations: id -> description
SSM_ASSOCIATION_OPS = ("CreateAssociation", "DescribeAssociation", "ListAssociations",
                       "UpdateAssociation", "DeleteAssociation")
SSM_TAG_OPS = ("AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource")


def ssm_associations(op, headers, body):
    """An SSM answer for an association call, or None for any other (RDS
    and others have calls of the same names)."""
    if op not in SSM_ASSOCIATION_OPS + SSM_TAG_OPS:
        return None
    if not (headers.get("X-Amz-Target") or "").startswith("AmazonSSM."):
        return None
    q = json.loads(body or b"{}")
    if op in SSM_TAG_OPS and q.get("ResourceType") != "Association":
        return None
    ok = lambda doc: (200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(doc).encode())  # noqa: E731

    def missing():
        return (400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(
            {"__type": "AssociationDoesNotExist", "Message": "The specified association does not exist."}).encode())

    with LOCK:
        if op == "CreateAssociation":
            aid = "%08x-%04x-4%03x-8%03x-%012x" % (len(ASSOCIATIONS) + 1, os.getpid() % 65536, 0, 0,
                                                 int(time.time() * 1000) % 10**12)
            d = {"AssociationId": aid, "AssociationVersion": "1", "Name": q["Name"],
                 "Overview": {"Status": "Pending"}, "Date": time.time()}
            for k in ("AssociationName", "DocumentVersion", "Targets", "Parameters", "ScheduleExpression"):
                if k in q:
                    d[k] = q[k]
            ASSOCIATIONS[aid] = {"d": d, "tags": {t["Key"]: t["Value"] for t in q.get("Tags", [])}}
            return ok({"AssociationDescription": d})
        if op == "ListAssociations":
            found = [a["d"] for a in ASSOCIATIONS.values()]
            for f in q.get("AssociationFilterList", []):
                if f["key"] == "AssociationName":
                    found = [d for d in found if d.get("AssociationName") == f["value"]]
            keys = ("AssociationId", "AssociationName", "Name", "Targets", "Overview", "AssociationVersion")
            return ok({"Associations": [{k: d[k] for k in keys if k in d} for d in found]})
        a = ASSOCIATIONS.get(q.get("AssociationId") or q.get("ResourceId"))
        if a is None:
            return missing()
        if op == "DescribeAssociation":
            return ok({"AssociationDescription": a["d"]})
        if op == "UpdateAssociation":
            for k in ("DocumentVersion", "Targets", "Parameters", "ScheduleExpression", "AssociationName"):
                if k in q:
                    a["d"][k] = q[k]
            a["d"]["AssociationVersion"] = str(int(a["d"]["AssociationVersion"]) + 1)
            return ok({"AssociationDescription": a["d"]})
        if op == "DeleteAssociation":
            del ASSOCIATIONS[a["d"]["AssociationId"]]
            return ok({})
        if op == "AddTagsToResource":
            a["tags"].update({t["Key"]: t["Value"] for t in q.get("Tags", [])})
            return ok({})
        if op == "RemoveTagsFromResource":
            for k in q.get("TagKeys", []):
                a["tags"].pop(k, None)
            return ok({})
        return ok({"TagList": [{"Key": k, "Value": v} for k, v in a["tags"].items()]})


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes: with Nagle's
    # algorithm the body waits for the client's delayed ACK, adding about
    # 40 ms to every answer, which is the proxy's cost, not archkit's.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def forward(self, body):
        skip = ("host", "content-length", "connection")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        headers["Content-Length"] = str(len(body or b""))
        # One kept-alive connection to TARGET per connection from archkit
        # (each is served by its own thread): a new connection per call
        # would cost moto a new thread and a TCP handshake for every call.
        while True:
            conn = getattr(UPSTREAM, "conn", None)
            reused = conn is not None
            if not reused:
                conn = UPSTREAM.conn = http.client.HTTPConnection(TARGET_HOST, TARGET_PORT, timeout=60)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.msg, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # moto closed a kept-alive connection before reading the
                # request: send it again on a new one. A new connection's
                # failure is moto's, and is not retried.
                conn.close()
                UPSTREAM.conn = None
                if not reused:
                    raise

    def release_nat_eips(self, body):
        """Disassociates the EIPs of the NAT gateway DeleteNatGateway in
        `body` named, as AWS does when it deletes one (moto does not)."""
        nat = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("NatGatewayId")
        if not nat:
            return

        def call(params):
            b = urllib.parse.urlencode({"Version": "2016-11-15", **params}).encode()
            return self.forward(b)[2].decode("utf-8", "replace")

        d = call({"Action": "DescribeNatGateways", "NatGatewayId.1": nat[0]})
        for alloc in re.findall(r"<allocationId>([^<]+)</allocationId>", d):
            a = call({"Action": "DescribeAddresses", "AllocationId.1": alloc})
            for assoc in re.findall(r"<associationId>([^<]+)</associationId>", a):
                call({"Action": "DisassociateAddress", "AssociationId": assoc})

    def answer(self, status, headers, data):
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def hang_up(self):
        self.close_connection = True

    def _serve(self):
        global IN_FLIGHT
        with LOCK:
            IN_FLIGHT += 1
            STATS["in_flight_max"] = max(STATS["in_flight_max"], IN_FLIGHT)
            if not FIRST:
                FIRST.append(time.monotonic())
            start = time.monotonic() - FIRST[0]
        try:
            self._serve_one()
        finally:
            with LOCK:
                IN_FLIGHT -= 1
                end = time.monotonic() - FIRST[0]
                op = STATS["ops"][-1] if STATS["ops"] else "?"
                STATS["timeline"].append([getattr(self, "op", op), round(start, 4), round(end, 4)])
                save_stats()

    def _serve_one(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        op = operation(self.command, self.path, self.headers, body)
        self.op = op
        write = is_write(op)
        with LOCK:
            STATS["calls"] += 1
            n = STATS["calls"]
            STATS["ops"].append(op)
            if any(t in body for t in TOKENS):
                STATS["tokens"].append(op)
            if write:
                STATS["writes"] += 1
            w = STATS["writes"]
            # A burst follows one call's attempts (the SDK keeps its
            # amz-sdk-invocation-id across retries), not whatever calls come
            # next: with calls in flight side by side, "the next B calls"
            # spread a burst over several calls, each then passing on its
            # second attempt, and archkit's own retries were not reached.
            inv = self.headers.get("amz-sdk-invocation-id")
            proto = protocol(self.headers, body)
            throttle = False
            if inv and BURSTS.get(inv, 0) > 0:
                BURSTS[inv] -= 1
                throttle = True
            elif ARGS.throttle_op and op == ARGS.throttle_op and inv and not OP_THROTTLED:
                OP_THROTTLED.append(inv)
                throttle = True
                BURSTS[inv] = ARGS.throttle_burst - 1
            elif ARGS.throttle_each_protocol and inv and proto not in STATS["throttled_protocols"]:
                throttle = True
                BURSTS[inv] = ARGS.throttle_burst - 1
            elif ARGS.throttle_every and inv:
                if n % ARGS.throttle_every == 0:
                    throttle = True
                    BURSTS[inv] = ARGS.throttle_burst - 1
            elif ARGS.throttle_every:
                throttle = n % ARGS.throttle_every < ARGS.throttle_burst
            throttle = throttle or bool(ARGS.throttle_writes and write)
            drop = write and ARGS.drop_every_write and w % ARGS.drop_every_write == 0
            if ARGS.drop_op and op == ARGS.drop_op and not OP_DROPPED:
                OP_DROPPED.append(n)
                drop = True
            kill = bool(ARGS.kill_at and n == ARGS.kill_at)
            if ARGS.kill_op and op == ARGS.kill_op and STATS.get("killed_at") is None:
                kill = True
            if throttle:
                STATS["throttled"] += 1
                counts = STATS["throttled_protocols"]
                counts[proto] = counts.get(proto, 0) + 1
            elif drop:
                STATS["dropped"] += 1
            if kill:
                STATS["killed_at"] = n
            save_stats()
        if ARGS.latency_ms:
            time.sleep(ARGS.latency_ms / 1000)
        if kill:
            if ARGS.kill_after_forward:
                self.forward(body or None)
            kill_archkit()
            return self.hang_up()
        if throttle:
            return self.answer(*ANSWERS[proto])
        faked = placement_groups(op, body) if ARGS.fake_placement_groups else None
        if ARGS.fake_ssm_associations:
            faked = faked or ssm_associations(op, self.headers, body)
        if op in ARGS.in_use:
            with LOCK:
                first = op not in IN_USE_REFUSED
                IN_USE_REFUSED.add(op)
            if first:
                faked = ec2_error("DependencyViolation", "resource has a dependent object")
        if op in ARGS.http_500:
            faked = (500, {"Content-Type": "text/html"},
                     b"<html><body>Internal Server Error</body></html>\n<p>request id abc</p>\n")
        if op in CANNED:
            with LOCK:
                STATS["canned"].append({"op": op, "body": json.loads(body or b"{}")})
                save_stats()
            faked = (200, {"Content-Type": "application/x-amz-json-1.1"}, CANNED[op].encode())
        status, headers, data = faked or self.forward(body or None)
        if PENDING:
            with LOCK:
                status, headers, data = pending_answer(op, body, status, headers, data)
        if ARGS.release_nat_eips and op == "DeleteNatGateway" and status == 200:
            self.release_nat_eips(body)
        if drop:
            return self.hang_up()
        self.answer(status, headers, data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 overflows when archkit opens ten
    # connections at once: the kernel drops the SYNs past it and the client
    # sends them again after a second, a second that is the proxy's.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client killed or hung up on mid-answer is what the faults are
        # for, not an error.
        pass


def terminated(*_):
    with LOCK:
        save_stats(at_exit=True)
    os._exit(0)


signal.signal(signal.SIGTERM, terminated)
server = Server(("127.0.0.1", 0), Handler)
print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
