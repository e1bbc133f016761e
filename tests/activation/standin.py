"""A stateful stand-in for the providers, on loopback, for what a contract mock cannot do.

It keeps state (list membership, profiles, delivered messages), enforces a documented
rate limit as a token bucket answering 429 with Retry-After, and injects faults on
demand: 429 storms, 5xx, slow answers (client timeouts), rows it rejects, and a SIGKILL
of the syncing process at a chosen request, before or after answering it.

Paths follow the real providers (Klaviyo profiles, lists and events; Twilio messages)
plus a signed webhook, so destinations run unchanged against it with only base_url
pointed here.
"""

from __future__ import annotations

import gc
import json
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from activation.destinations.webhook import signature

BAD_EMAIL_MARK = "@invalid.example"  # rows whose email contains this are refused with a 400


@dataclass
class Fault:
    kind: str  # throttle | error | slow | kill_on_arrival | kill_before_answer | kill_after_answer
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
class StandinState:
    members: dict[str, set[str]] = field(default_factory=dict)  # list id -> external ids
    profiles: dict[str, dict] = field(default_factory=dict)  # external id -> attributes
    klaviyo_ids: dict[str, str] = field(default_factory=dict)  # klaviyo id -> external id
    deliveries: Counter = field(default_factory=Counter)  # message key -> times a send was accepted
    twilio_messages: list[dict] = field(default_factory=list)
    webhook_rows: list[dict] = field(default_factory=list)
    idempotency_keys: set[str] = field(default_factory=set)
    requests: Counter = field(default_factory=Counter)  # path class -> requests
    throttled: int = 0
    profile_rows_received: int = 0
    first_request_at: float | None = None
    last_request_at: float | None = None


class Standin:
    def __init__(self, webhook_secret: str = "test-secret", limits: dict[str, Limit] | None = None):
        self.state = StandinState()
        self.faults: list[Fault] = []
        self.limits = limits or {}
        self.webhook_secret = webhook_secret
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Standin:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

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

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def _answer(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
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
                raw = self.rfile.read(length) if length else b""
                parsed = urlparse(self.path)
                path = parsed.path
                state = standin.state
                now = time.monotonic()
                with standin.lock:
                    state.first_request_at = state.first_request_at or now
                    state.last_request_at = now
                    state.requests[_path_class(path)] += 1
                limit = standin.limits.get(_path_class(path))
                if limit is not None:
                    wait = limit.take()
                    if wait > 0:
                        with standin.lock:
                            state.throttled += 1
                        return self._answer(429, {"errors": [{"detail": "rate limited"}]}, {"Retry-After": f"{wait:.3f}"})
                fault = standin._fault_for(path)
                if fault and fault.kind == "throttle":
                    with standin.lock:
                        state.throttled += 1
                    return self._answer(429, {"errors": [{"detail": "throttled"}]}, {"Retry-After": str(fault.retry_after)})
                if fault and fault.kind == "error":
                    return self._answer(503, {"errors": [{"detail": "unavailable"}]})
                if fault and fault.kind == "slow":
                    time.sleep(fault.seconds)
                if fault and fault.kind == "kill_on_arrival":
                    os.kill(fault.pid, signal.SIGKILL)
                    time.sleep(0.2)
                    return self._answer(503, {"errors": [{"detail": "client gone"}]})
                status, body, headers = standin._process(self.command, path, parse_qs(parsed.query), raw, self.headers)
                if fault and fault.kind == "kill_before_answer":
                    os.kill(fault.pid, signal.SIGKILL)
                    time.sleep(0.2)
                self._answer(status, body, headers)
                if fault and fault.kind == "kill_after_answer":
                    os.kill(fault.pid, signal.SIGKILL)

            def do_GET(self) -> None:
                if self.path != "/_stats":
                    return self._answer(404, {"error": "not found"})
                state = standin.state
                with standin.lock:
                    stats = {"requests": dict(state.requests), "throttled": state.throttled, "profile_rows_received": state.profile_rows_received}
                self._answer(200, stats)

            do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        return Handler

    def _process(self, method: str, path: str, query: dict, raw: bytes, headers) -> tuple[int, dict | None, dict | None]:
        state = self.state
        body = json.loads(raw) if raw and "json" in (headers.get("Content-Type") or "") else None
        with self.lock:
            if path == "/api/profile-bulk-import-jobs":
                profiles = body["data"]["attributes"]["profiles"]["data"]
                bad = [i for i, p in enumerate(profiles) if BAD_EMAIL_MARK in str(p["attributes"].get("email") or "")]
                if bad:
                    return 400, {"errors": [{"detail": "invalid email", "source": {"pointer": f"/data/attributes/profiles/data/{i}"}} for i in bad]}, None
                lists = [entry["id"] for entry in (body["data"].get("relationships") or {}).get("lists", {}).get("data", [])]
                for profile in profiles:
                    attributes = profile["attributes"]
                    key = attributes["external_id"]
                    merged = self.state.profiles.setdefault(key, {})
                    merged.update({k: v for k, v in attributes.items() if k != "properties"})
                    merged.update(attributes.get("properties") or {})
                    for list_id in lists:
                        state.members.setdefault(list_id, set()).add(key)
                state.profile_rows_received += len(profiles)
                return 202, {"data": {"type": "profile-bulk-import-job", "id": f"job-{sum(state.requests.values())}"}}, None
            if path == "/api/profile-import":
                attributes = body["data"]["attributes"]
                key = attributes.get("external_id")
                email = attributes.get("email")
                # Matched by email first, as Klaviyo does, so an import can move a profile to a new external id.
                old = next((k for k, p in state.profiles.items() if email and p.get("email") == email), None)
                if old and old != key:
                    state.profiles[key] = state.profiles.pop(old) | {"external_id": key}
                    for members in state.members.values():
                        if old in members:
                            members.discard(old)
                            members.add(key)
                state.profiles.setdefault(key, {"external_id": key})
                klaviyo_id = f"K{key}"
                state.klaviyo_ids[klaviyo_id] = key
                return 200, {"data": {"type": "profile", "id": klaviyo_id}}, None
            match = re.match(r"^/api/lists/([^/]+)/relationships/profiles$", path)
            if match and method == "DELETE":
                for entry in body["data"]:
                    state.members.get(match.group(1), set()).discard(state.klaviyo_ids.get(entry["id"]))
                return 204, None, None
            if path.startswith("/api/profile-subscription-bulk"):
                return 202, None, None
            if path == "/api/events":
                key = body["data"]["attributes"]["unique_id"]
                if key not in state.idempotency_keys:
                    state.idempotency_keys.add(key)
                    state.deliveries[key] += 1
                return 202, None, None
            if path.endswith("/Messages.json"):
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                state.twilio_messages.append(form)
                return 201, {"sid": f"SM{len(state.twilio_messages):032d}", "status": "queued"}, None
            if path == "/hook":
                timestamp = headers.get("X-CDP-Timestamp", "")
                if headers.get("X-CDP-Signature") != signature(self.webhook_secret, timestamp, raw):
                    return 401, {"error": "bad signature"}, None
                document = json.loads(raw)
                if document["operation"] == "send":
                    key = headers.get("Idempotency-Key")
                    if key not in state.idempotency_keys:
                        state.idempotency_keys.add(key)
                        for row in document["rows"]:
                            state.deliveries[row["message_key"]] += 1
                else:
                    state.webhook_rows.extend(document["rows"])
                return 200, {"ok": True}, {"X-Request-Id": f"req-{len(state.webhook_rows)}"}
        return 404, {"error": f"no such path {path}"}, None


def _path_class(path: str) -> str:
    if path.startswith("/api/lists/"):
        return "list_membership"
    return path


def main() -> None:
    """Serve in its own process (the benchmark keeps client and server off one interpreter lock).

    Usage: python -m tests.activation.standin [--limit PATH=PER_SECOND:BURST ...]; prints the
    URL on the first line, serves GET /_stats, and stops on SIGTERM.
    """
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", action="append", default=[], help="PATH=PER_SECOND:BURST")
    args = parser.parse_args()
    limits = {}
    for spec in args.limit:
        path, rate = spec.split("=", 1)
        per_second, burst = rate.split(":")
        limits[path] = Limit(per_second=float(per_second), burst=int(burst))
    server = Standin(limits=limits)
    # Holding a million profiles makes every cyclic-GC pass walk them all; the process is
    # short-lived and creates no cycles worth collecting, so the collector is off.
    gc.disable()
    print(server.url, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
