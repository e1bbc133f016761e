"""What every provider stand-in shares: one loopback HTTP server, rate limits, faults.

The server answers each request with the stand-in of the provider whose paths it is
(activation/standins/<type>.py, one per destination type) and keeps what concerns every
provider: requests per path, 429s, messages accepted per message_key (a test's "nothing
sent twice"), idempotency keys seen, and asynchronous import jobs. Destinations run
against it unchanged, with only their base URL pointed here (what `cdp demo` and
`cdp sync --stand-in` do).

For what a contract mock (Prism, stateless) cannot do, tests and `make bench-sync` set a
rate limit per path (a token bucket answering 429 with Retry-After) and inject faults on
demand: 429 storms, 5xx, 400s that echo the request body (`reject`), slow answers, a
SIGKILL of the syncing process at a chosen request. Rows whose e-mail contains
BAD_EMAIL_MARK are refused with a 400 (the whole request); rows whose e-mail contains
JOB_ERROR_MARK are accepted and then failed by the import job, as a provider does with
asynchronous imports. It binds 127.0.0.1 only.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

from activation.config_schema import DestinationConfig

BAD_EMAIL_MARK = "@invalid.example"  # the request carrying such a row is refused with a 400
JOB_ERROR_MARK = "@job-error.example"  # such a row is accepted, then failed by the import job

# status, JSON body, extra headers
Answer = tuple[int, dict | None, dict | None]


@dataclass
class Fault:
    kind: str  # throttle | error | reject | slow | kill_on_arrival | kill_before_answer | kill_after_answer
    count: int = 1
    after: int = 0  # let this many matching requests pass first
    path_contains: str = ""
    retry_after: float = 0.2
    seconds: float = 0.0
    pid: int | None = None


@dataclass
class Limit:
    per_second: float
    burst: int

    def __post_init__(self):
        self.tokens = float(self.burst)
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        """0 if a token was taken, else the seconds until one is there."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.per_second)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.per_second


@dataclass
class ImportJob:
    provider: str  # the type of the stand-in that runs it
    total: int
    # (position in the request, the row as sent) of rows the job fails
    failures: list[tuple[int, dict]] = field(default_factory=list)
    checks: int = 0


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    raw: bytes
    headers: Message

    @property
    def json(self) -> dict | None:
        return json.loads(self.raw) if self.raw and "json" in (self.headers.get("Content-Type") or "") else None

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.raw.decode()).items()}


class ProviderStandin:
    """One provider's stand-in: the paths it answers and the state the provider would keep."""

    type_name: ClassVar[str]  # the destination type it stands in for

    def __init__(self, server: StandinServer):
        self.server = server

    def configure(self, destination: DestinationConfig) -> None:
        """Take from a configured destination what the stand-in must know (the webhook's path)."""

    def answers(self, path: str) -> bool:
        raise NotImplementedError

    def answer(self, request: Request) -> Answer:
        """Called with the server's lock held."""
        raise NotImplementedError

    def request_class(self, path: str) -> str:
        """The name requests to ``path`` are counted and rate-limited under."""
        return path

    def holdings(self) -> dict[str, int]:
        """What it holds, by kind: what `cdp demo` prints after a sync."""
        return {}

    def stats(self) -> dict[str, int]:
        """Counters `GET /_stats` reports besides requests and 429s."""
        return {}


class StandinServer:
    """The loopback server with one stand-in per provider type (activation.standins.Standin mounts them all)."""

    def __init__(
        self,
        providers: list[type[ProviderStandin]],
        limits: dict[str, Limit] | None = None,
        job_checks_pending: int = 0,
    ):
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.limits = limits or {}
        # Status checks answered "still running" before an import job reports it finished.
        self.job_checks_pending = job_checks_pending
        self.jobs: dict[str, ImportJob] = {}
        self.deliveries: Counter = Counter()  # message key -> times a send was accepted
        self.messages: Counter = Counter()  # provider -> messages accepted
        self.idempotency_keys: set[str] = set()
        self.requests: Counter = Counter()  # request class -> requests
        self.throttled = 0
        self._ids = itertools.count(1)
        self.providers = {cls.type_name: cls(self) for cls in providers}
        self.http = _QuietServer(("127.0.0.1", 0), _handler(self))
        self.http.daemon_threads = True
        self.thread = threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __getitem__(self, type_name: str) -> ProviderStandin:
        return self.providers[type_name]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"

    def __enter__(self) -> StandinServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.http.shutdown()
        self.http.server_close()

    def configure(self, destinations: list[DestinationConfig]) -> None:
        for destination in destinations:
            self.providers[destination.type].configure(destination)

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def deliver(self, provider: str, message_key: str, idempotency_key: str | None = None) -> None:
        """A message accepted; a repeated idempotency key is accepted and dropped, as providers do."""
        if idempotency_key is not None:
            if idempotency_key in self.idempotency_keys:
                return
            self.idempotency_keys.add(idempotency_key)
        self.deliveries[message_key] += 1
        self.messages[provider] += 1

    def job_done(self, job: ImportJob) -> bool:
        """One more status check of ``job``; True once it reports finished."""
        job.checks += 1
        return job.checks > self.job_checks_pending

    def holdings(self) -> dict[str, int]:
        with self.lock:
            held = {}
            for provider in self.providers.values():
                held |= provider.holdings()
            return {
                **held,
                **{f"{provider} messages accepted": n for provider, n in sorted(self.messages.items())},
                "import jobs": len(self.jobs),
                "requests": sum(self.requests.values()),
            }

    def stats(self) -> dict:
        with self.lock:
            stats = {"requests": dict(self.requests), "throttled": self.throttled}
            for provider in self.providers.values():
                stats |= provider.stats()
            return stats

    def _provider_for(self, path: str) -> ProviderStandin | None:
        return next((p for p in self.providers.values() if p.answers(path)), None)

    def _fault_for(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count <= 0 or fault.path_contains not in path:
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.count -= 1
                return fault
        return None

    def _answer(self, request: Request) -> Answer:
        provider = self._provider_for(request.path)
        if provider is None:
            return 404, {"error": f"no such path {request.path}"}, None
        with self.lock:
            return provider.answer(request)

    def serve_forever(self) -> None:
        """Serve in this thread until the process ends (the stand-in in its own process)."""
        self.http.serve_forever(poll_interval=0.05)


def _handler(server: StandinServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test and demo output quiet
            pass

        def _reply(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parsed = urlparse(self.path)
            request = Request(
                self.command,
                parsed.path,
                parse_qs(parsed.query),
                self.rfile.read(length) if length else b"",
                self.headers,
            )
            provider = server._provider_for(request.path)
            request_class = provider.request_class(request.path) if provider else request.path
            with server.lock:
                server.requests[request_class] += 1
            limit = server.limits.get(request_class)
            if limit is not None:
                wait = limit.take()
                if wait > 0:
                    with server.lock:
                        server.throttled += 1
                    return self._reply(429, {"errors": [{"detail": "rate limited"}]}, {"Retry-After": f"{wait:.3f}"})
            fault = server._fault_for(request.path)
            if fault and fault.kind == "throttle":
                with server.lock:
                    server.throttled += 1
                return self._reply(429, {"errors": [{"detail": "throttled"}]}, {"Retry-After": str(fault.retry_after)})
            if fault and fault.kind == "error":
                return self._reply(503, {"errors": [{"detail": "unavailable"}]})
            if fault and fault.kind == "reject":
                # A refusal that echoes what it was sent, as many providers' validation errors do.
                echo = request.raw.decode("utf-8", "replace")
                return self._reply(400, {"errors": [{"code": "invalid", "field": "body", "detail": f"bad: {echo}"}]})
            if fault and fault.kind == "slow":
                time.sleep(fault.seconds)
            if fault and fault.kind == "kill_on_arrival":
                os.kill(fault.pid, signal.SIGKILL)
                time.sleep(0.2)
                return self._reply(503, {"errors": [{"detail": "client gone"}]})
            try:
                status, body, headers = server._answer(request)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
                # A request the stand-in cannot read is the client's mistake, as with a real provider.
                status, body, headers = (
                    400,
                    {"errors": [{"detail": f"malformed request: {type(error).__name__}"}]},
                    None,
                )
            if fault and fault.kind == "kill_before_answer":
                os.kill(fault.pid, signal.SIGKILL)
                time.sleep(0.2)
            self._reply(status, body, headers)
            if fault and fault.kind == "kill_after_answer":
                os.kill(fault.pid, signal.SIGKILL)

        def do_GET(self) -> None:
            if self.path == "/_stats":
                return self._reply(200, server.stats())
            self._handle()

        do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # A client that gave up waiting (a timeout under test) is expected, not news.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)
