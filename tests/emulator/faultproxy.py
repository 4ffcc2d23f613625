#!/usr/bin/env python3
"""A fault-injecting HTTP proxy between infra and the emulator, for the "never lose a
resource" tests.

    .venv/bin/python tests/emulator/faultproxy.py --port 0 \\
        --upstream http://127.0.0.1:<emulator port> --fault-rate 0.2 --seed 7

Binds 127.0.0.1 only, forwards every request to `--upstream` (which must be a loopback
address), and answers a share (`--fault-rate`) of the requests itself with a fault, one
of, chosen at random (`--kinds` narrows the choice):

- `throttle`: HTTP 400 with a throttling error in the protocol's own shape, so that an
  AWS SDK classifies it by its error code (the SDKs' lists of throttling codes):
    EC2 (query):          <Response><Errors><Error><Code>RequestLimitExceeded</Code>...
    IAM, Elastic Beanstalk (query):
                          <ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>...
    CodeBuild, CodePipeline, SSM (JSON 1.1, `X-Amz-Target`):
                          {"__type":"ThrottlingException","message":"Rate exceeded"}
    S3 (REST-XML):        HTTP 503 <Error><Code>SlowDown</Code>... (S3's own status for it)
  (Real EC2 sends RequestLimitExceeded with 503; 400 here makes sure the code alone is
  enough for the client to back off and retry.)
- `server_error`: HTTP 500 InternalError or 503 ServiceUnavailable, in the same shapes.
- `drop`: the connection is closed without an answer (the client sees the connection
  end before a response).

Faults happen BEFORE forwarding: the emulator never sees a faulted request, so a fault
never hides a change that really happened. This models throttling and unavailability at
AWS's front door, where a retry is always safe. A response lost after a real mutation (the
create happened, the client never heard) is a different failure; what keeps a re-run from
duplicating that resource is adoption by the `infra:stack`/`infra:name` tags, tested
elsewhere.

`--latency-ms N` delays every request by N milliseconds before it is answered or
faulted: the round trip to a distant AWS region (`--fault-rate 0` for latency alone).

`--bucket-size N --refill-per-second R` throttles as EC2 does ("Request throttling
for the Amazon EC2 API"): each API (service and operation) has its own token bucket
of N tokens, refilled at R per second; a request takes one, and a request that finds
the bucket empty is answered with the `throttle` fault. This is the deterministic
kind of throttling: what a burst beyond the bucket gets, whatever the fault rate.

`--fail-first OPERATION=COUNT:CODE:MESSAGE` (repeatable) answers the first COUNT
requests of OPERATION with the error CODE and MESSAGE an AWS service documents, in the
request's protocol: a scripted answer, such as the ones services give while IAM has not
yet shown them a role just made.

`--hold OPERATION=SECONDS` (repeatable) forwards the first request of OPERATION only
SECONDS after it arrived, whether or not its client is still there: a request in flight
when the client was killed, which AWS still carries out once it has it whole. The proxy
logs `held <service> <operation> t=...` when it arrives and `released <service>
<operation> t=...` once the emulator has answered it.

`--seed` makes the sequence of fault decisions deterministic (the n-th request to arrive
gets the n-th decision); which request is n-th can still vary between runs when the client
sends requests concurrently.

Prints exactly one line to stdout once it accepts connections:

    INFRA_FAULTPROXY_PORT=<port>

and runs until SIGTERM/SIGINT or until its stdin reaches end-of-file (like server.py;
`--ignore-stdin` turns that off). Each fault is logged to stderr as it happens
(`infra-faultproxy: fault <kind> <method> <service> <operation> t=<seconds since start>`),
and on exit a summary:

    infra-faultproxy: summary requests=N forwarded=N faults=N throttle=N server_error=N drop=N

Standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK = "127.0.0.1"
FAULT_KINDS = ("throttle", "server_error", "drop")
# Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded; Content-Length is recomputed.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "content-length",
}
SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")


class Server(ThreadingHTTPServer):
    """A threaded server whose listen backlog takes a burst of connections:
    socketserver's default of 5 drops the SYNs of a client that opens dozens at
    once, and each dropped one costs that client a second before it retries."""

    request_queue_size = 1024
    daemon_threads = True


def log(message: str) -> None:
    print(f"infra-faultproxy: {message}", file=sys.stderr, flush=True)


class Faults:
    """The fault decisions (seeded) and the counters, shared by all request threads."""

    def __init__(self, rate: float, seed: int, kinds: tuple[str, ...] = FAULT_KINDS) -> None:
        self.rate = rate
        self.kinds = kinds
        self.random = random.Random(seed)
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.counts = {"requests": 0, "forwarded": 0, "upstream_errors": 0, "scripted": 0}
        self.counts.update({kind: 0 for kind in FAULT_KINDS})

    def decide(self) -> str | None:
        """None to forward the request, or the kind of fault to answer it with."""
        with self.lock:
            self.counts["requests"] += 1
            if self.random.random() >= self.rate:
                return None
            kind = self.random.choice(self.kinds)
            self.counts[kind] += 1
            return kind

    def count(self, name: str) -> None:
        with self.lock:
            self.counts[name] += 1

    def summary(self) -> str:
        with self.lock:
            c = dict(self.counts)
        faults = sum(c[kind] for kind in FAULT_KINDS)
        return (
            f"summary requests={c['requests']} forwarded={c['forwarded']} faults={faults} "
            f"throttle={c['throttle']} server_error={c['server_error']} drop={c['drop']} "
            f"upstream_errors={c['upstream_errors']} scripted={c['scripted']}"
        )


class TokenBuckets:
    """One token bucket per API, as EC2 throttles requests: `size` tokens,
    refilled at `rate` per second, one taken per request."""

    def __init__(self, size: float, rate: float) -> None:
        self.size = size
        self.rate = rate
        self.lock = threading.Lock()
        self.buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def take(self, key: tuple[str, str]) -> bool:
        """Whether the request `key` gets a token."""
        now = time.monotonic()
        with self.lock:
            tokens, since = self.buckets.get(key, (self.size, now))
            tokens = min(self.size, tokens + (now - since) * self.rate)
            if tokens < 1:
                self.buckets[key] = (tokens, now)
                return False
            self.buckets[key] = (tokens - 1, now)
            return True


class Request:
    """What the proxy needs to know about a request to fault it in the right shape."""

    def __init__(self, headers, body: bytes) -> None:
        auth = headers.get("Authorization", "")
        match = SCOPE.search(auth)
        self.service = match.group(1) if match else ""
        content_type = headers.get("Content-Type", "")
        self.target = headers.get("X-Amz-Target", "")
        self.protocol = "rest-xml"
        self.operation = ""
        self.json_content_type = "application/x-amz-json-1.1"
        if self.target or content_type.startswith("application/x-amz-json"):
            self.protocol = "json"
            self.operation = self.target.rpartition(".")[2]
            if content_type.startswith("application/x-amz-json"):
                self.json_content_type = content_type.split(";")[0].strip()
        elif content_type.startswith("application/x-www-form-urlencoded"):
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            if "Action" in form:
                self.operation = form["Action"][0]
                version = form.get("Version", [""])[0]
                ec2 = self.service == "ec2" or (not self.service and version == "2016-11-15")
                self.protocol = "ec2" if ec2 else "query"


def error_response(request: Request, kind: str, rnd: random.Random) -> tuple[int, str, bytes]:
    """(status, content type, body) of a throttling or server error in the request's protocol."""
    request_id = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    if kind == "throttle":
        status = 400
        codes = {
            "ec2": "RequestLimitExceeded",
            "query": "Throttling",
            "json": "ThrottlingException",
            "rest-xml": "SlowDown",
        }
        message = "Rate exceeded"
        if request.protocol == "rest-xml":
            status, message = 503, "Please reduce your request rate."
        elif request.protocol == "ec2":
            message = "Request limit exceeded."
        code = codes[request.protocol]
        fault_type = "Sender"
    else:
        status = rnd.choice((500, 503))
        fault_type = "Receiver"
        if status == 500:
            code = {"json": "InternalFailure", "query": "InternalFailure"}.get(request.protocol, "InternalError")
            message = "We encountered an internal error. Please try again."
        else:
            code = {"json": "ServiceUnavailableException"}.get(request.protocol, "ServiceUnavailable")
            message = "The service is unavailable. Please try again shortly."
    return shaped(request, status, code, message, fault_type, request_id)


def shaped(request: Request, status: int, code: str, message: str, fault_type: str, request_id: str):
    """(status, content type, body) of an AWS error in the request's protocol."""
    if request.protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, request.json_content_type, body
    if request.protocol == "ec2":
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
    elif request.protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>{fault_type}</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    else:
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
            f"<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
        )
    return status, "text/xml", body.encode()


class Scripted:
    """`--fail-first OPERATION=COUNT:CODE:MESSAGE`: the first COUNT requests of
    OPERATION are answered with AWS's error CODE and MESSAGE (HTTP 400, the
    caller's fault), in the request's protocol; later ones are forwarded."""

    def __init__(self, specs: list[str]) -> None:
        self.lock = threading.Lock()
        self.left: dict[str, list] = {}
        for spec in specs:
            operation, _, rest = spec.partition("=")
            count, code, message = rest.split(":", 2)
            self.left[operation] = [int(count), code, message]

    def take(self, operation: str) -> tuple[str, str] | None:
        with self.lock:
            entry = self.left.get(operation)
            if not entry or entry[0] <= 0:
                return None
            entry[0] -= 1
            return entry[1], entry[2]


class Held:
    """`--hold OPERATION=SECONDS`: the first request of each OPERATION waits SECONDS
    before it is forwarded."""

    def __init__(self, specs: list[str]) -> None:
        self.lock = threading.Lock()
        self.left: dict[str, float] = {}
        for spec in specs:
            operation, _, seconds = spec.partition("=")
            self.left[operation] = float(seconds)

    def take(self, operation: str) -> float | None:
        with self.lock:
            return self.left.pop(operation, None)


def make_handler(
    faults: Faults,
    upstream_host: str,
    upstream_port: int,
    latency: float = 0.0,
    buckets: TokenBuckets | None = None,
    scripted: Scripted | None = None,
    held: Held | None = None,
):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "infra-faultproxy"
        # The headers and the body go out in two writes. With Nagle's algorithm on,
        # the body waits for the client to acknowledge the headers, and a client
        # delays that acknowledgement (40 ms on Linux): every answer would be 45 ms
        # late, which no AWS endpoint adds. TCP_NODELAY sends each write at once.
        disable_nagle_algorithm = True

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass  # one line per fault is logged instead; forwarded requests are moto's to log

        def read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while True:
                    size_line = self.rfile.readline()
                    size = int(size_line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        # Trailers end with an empty line.
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()  # the CRLF after the chunk
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def handle_any(self) -> None:
            body = self.read_body()
            if latency:
                # The round trip to a distant AWS region, paid by every request.
                time.sleep(latency)
            request = Request(self.headers, body)
            answer = scripted.take(request.operation) if scripted else None
            if answer is not None:
                code, message = answer
                faults.count("scripted")
                elapsed = time.monotonic() - faults.started
                log(f"fault scripted {self.command} {request.service or '-'} {request.operation} {code} t={elapsed:.1f}s")
                status, content_type, payload = shaped(request, 400, code, message, "Sender", str(uuid.uuid4()))
                self.send_response_only(status)
                self.send_header("Content-Type", content_type)
                if request.protocol == "json":
                    self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            hold = held.take(request.operation) if held else None
            if hold is not None:
                log(f"held {request.service or '-'} {request.operation} t={time.monotonic() - faults.started:.1f}s")
                time.sleep(hold)
                try:
                    self.forward(body)
                except OSError:
                    pass  # the client is gone; the emulator has carried the request out
                log(f"released {request.service or '-'} {request.operation} t={time.monotonic() - faults.started:.1f}s")
                return
            kind = faults.decide()
            if kind is None and buckets and not buckets.take((request.service, request.operation or self.path)):
                kind = "throttle"
                faults.count("throttle")
            if kind is None:
                self.forward(body)
                return
            elapsed = time.monotonic() - faults.started
            log(f"fault {kind} {self.command} {request.service or '-'} {request.operation or self.path} t={elapsed:.1f}s")
            if kind == "drop":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            with faults.lock:
                status, content_type, payload = error_response(request, kind, faults.random)
            self.send_response_only(status)
            self.send_header("Content-Type", content_type)
            if request.protocol == "json":
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def forward(self, body: bytes) -> None:
            connection = http.client.HTTPConnection(upstream_host, upstream_port, timeout=600)
            try:
                connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        connection.putheader(name, value)
                if body or self.command in ("POST", "PUT", "PATCH"):
                    connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body or None)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as error:
                faults.count("upstream_errors")
                log(f"upstream error for {self.command} {self.path}: {error!r}")
                connection.close()
                self.send_error(502, "the emulator did not answer")
                return
            connection.close()
            faults.count("forwarded")
            self.send_response_only(response.status, response.reason)
            upstream_length = None
            for name, value in response.getheaders():
                if name.lower() == "content-length":
                    upstream_length = value
                elif name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            if self.command == "HEAD":
                self.send_header("Content-Length", upstream_length or "0")
            else:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD" and payload:
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = handle_any

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: pick a free one)")
    parser.add_argument("--upstream", required=True, help="the emulator, http://127.0.0.1:<port>")
    parser.add_argument("--fault-rate", type=float, default=0.2, help="share of requests faulted (0..1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault decisions")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="delay added to every request before it is answered or faulted"
    )
    parser.add_argument(
        "--kinds",
        default=",".join(FAULT_KINDS),
        help=f"comma-separated kinds of fault to choose from (default: {','.join(FAULT_KINDS)})",
    )
    parser.add_argument("--bucket-size", type=float, default=0, help="tokens per API bucket (0: no buckets)")
    parser.add_argument("--refill-per-second", type=float, default=0, help="tokens added to each bucket per second")
    parser.add_argument(
        "--fail-first",
        action="append",
        default=[],
        metavar="OPERATION=COUNT:CODE:MESSAGE",
        help="answer the first COUNT requests of OPERATION with AWS's error CODE and MESSAGE (repeatable)",
    )
    parser.add_argument(
        "--hold",
        action="append",
        default=[],
        metavar="OPERATION=SECONDS",
        help="forward the first request of OPERATION SECONDS after it arrived, client or not (repeatable)",
    )
    parser.add_argument("--ignore-stdin", action="store_true", help="do not exit when stdin reaches end-of-file")
    args = parser.parse_args(argv)
    for spec in args.fail_first:
        operation, _, rest = spec.partition("=")
        parts = rest.split(":", 2)
        if not operation or len(parts) != 3 or not parts[0].isdigit() or not parts[1]:
            parser.error(f"--fail-first {spec}: write OPERATION=COUNT:CODE:MESSAGE")
    for spec in args.hold:
        operation, _, seconds = spec.partition("=")
        try:
            valid = bool(operation) and float(seconds) >= 0
        except ValueError:
            valid = False
        if not valid:
            parser.error(f"--hold {spec}: write OPERATION=SECONDS")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is out of range")
    if not 0.0 <= args.fault_rate <= 1.0:
        parser.error(f"--fault-rate {args.fault_rate} is not between 0 and 1")
    if args.bucket_size < 0 or args.refill_per_second < 0 or (args.bucket_size and not args.refill_per_second):
        parser.error("--bucket-size and --refill-per-second must be positive, and given together")
    if args.latency_ms < 0:
        parser.error(f"--latency-ms {args.latency_ms} is negative")
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    if not kinds or any(k not in FAULT_KINDS for k in kinds):
        parser.error(f"--kinds {args.kinds}: choose from {', '.join(FAULT_KINDS)}")
    upstream = urllib.parse.urlsplit(args.upstream)
    if upstream.scheme != "http" or upstream.hostname not in (LOOPBACK, "localhost") or not upstream.port:
        parser.error(f"--upstream {args.upstream} is not http://127.0.0.1:<port>")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if not args.ignore_stdin and not (sys.stdin and sys.stdin.isatty()):

        def drain_stdin():
            try:
                while os.read(0, 65536):
                    pass
            except OSError:
                pass
            stop.set()

        threading.Thread(target=drain_stdin, name="stdin-watch", daemon=True).start()

    faults = Faults(args.fault_rate, args.seed, kinds)
    try:
        buckets = TokenBuckets(args.bucket_size, args.refill_per_second) if args.bucket_size else None
        scripted = Scripted(args.fail_first) if args.fail_first else None
        held = Held(args.hold) if args.hold else None
        handler = make_handler(faults, LOOPBACK, upstream.port, args.latency_ms / 1000, buckets, scripted, held)
        server = Server((LOOPBACK, args.port), handler)
    except OSError as error:
        log(f"error: cannot listen on {LOOPBACK}:{args.port}: {error}")
        return 1
    server.daemon_threads = True
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, name="faultproxy", daemon=True).start()

    sys.stdout.write(f"INFRA_FAULTPROXY_PORT={port}\n")
    sys.stdout.flush()
    os.dup2(2, 1)
    log(
        f"listening on http://{LOOPBACK}:{port}, forwarding to http://{LOOPBACK}:{upstream.port}, "
        f"fault rate {args.fault_rate}, seed {args.seed}, kinds {','.join(kinds)}, latency {args.latency_ms} ms"
    )
    while not stop.wait(0.5):
        pass
    log(faults.summary())
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
