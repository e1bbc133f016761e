"""A stateful stand-in for the messaging providers, on loopback only.

One small HTTP server answers the paths of every provider activation talks to (Klaviyo,
SendGrid, Twilio, WhatsApp Cloud, OneSignal, FCM) and a signed webhook, and keeps what a
provider would keep: list members, profiles, subscriptions, contacts, users and tags,
the messages accepted, asynchronous import jobs and their per-row errors. Destinations
run against it unchanged, with only their base URL pointed here (what `cdp demo` and
`cdp sync --stand-in` do).

It is also what the tests and `make bench-sync` use for what a contract mock (Prism,
stateless) cannot do: it enforces a rate limit as a token bucket answering 429 with
Retry-After, and injects faults on demand (429 storms, 5xx, slow answers, a SIGKILL of
the syncing process at a chosen request). Rows whose e-mail contains BAD_EMAIL_MARK are
refused with a 400 (the whole request); rows whose e-mail contains JOB_ERROR_MARK are
accepted and then failed by the import job, as a provider does with asynchronous imports.

It binds 127.0.0.1 only. It checks the webhook's signature, and plays Google's OAuth
token endpoint for FCM (`/token`): it answers a service-account token request (a JWT
signed with the key, checked against the key's public half when the key was made by
`service_account_key()`) with an access token, and then accepts FCM sends only with a
token it issued and that has not expired. Other credentials are not checked.
"""

from __future__ import annotations

import base64
import gc
import itertools
import json
import secrets
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from activation.destinations.webhook import signature

BAD_EMAIL_MARK = "@invalid.example"  # the request carrying such a row is refused with a 400
JOB_ERROR_MARK = "@job-error.example"  # such a row is accepted, then failed by the import job
_KLAVIYO_ERRORS_PAGE = 100


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
class ImportJob:
    provider: str  # klaviyo | sendgrid
    total: int
    # (position in the request, the row as sent) of rows the job fails
    failures: list[tuple[int, dict]] = field(default_factory=list)
    checks: int = 0


@dataclass
class StandinState:
    members: dict[str, set[str]] = field(default_factory=dict)  # Klaviyo list id -> external ids
    profiles: dict[str, dict] = field(default_factory=dict)  # Klaviyo external id -> attributes
    klaviyo_ids: dict[str, str] = field(default_factory=dict)  # Klaviyo id -> external id
    subscriptions: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel, address) -> SUBSCRIBED | UNSUBSCRIBED
    contacts: dict[str, dict] = field(default_factory=dict)  # SendGrid e-mail -> contact (id, external_id, list_ids, fields)
    onesignal_users: dict[str, dict] = field(default_factory=dict)  # external id -> tags
    jobs: dict[str, ImportJob] = field(default_factory=dict)
    deliveries: Counter = field(default_factory=Counter)  # message key -> times a send was accepted
    messages: Counter = field(default_factory=Counter)  # provider -> messages accepted
    twilio_messages: list[dict] = field(default_factory=list)
    whatsapp_messages: list[dict] = field(default_factory=list)
    webhook_rows: list[dict] = field(default_factory=list)
    idempotency_keys: set[str] = field(default_factory=set)
    access_tokens: dict[str, float] = field(default_factory=dict)  # token issued at /token -> expiry (monotonic)
    requests: Counter = field(default_factory=Counter)  # path class -> requests
    throttled: int = 0
    profile_rows_received: int = 0
    first_request_at: float | None = None
    last_request_at: float | None = None


class Standin:
    def __init__(self, webhook_secret: str = "test-secret", limits: dict[str, Limit] | None = None,
                 webhook_path: str = "/hook", job_checks_pending: int = 0):
        self.state = StandinState()
        self.faults: list[Fault] = []
        self.limits = limits or {}
        self.webhook_secret = webhook_secret
        self.webhook_path = webhook_path
        # Status checks answered "still running" before an import job reports it finished.
        self.job_checks_pending = job_checks_pending
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        # Service accounts this stand-in made keys for: client e-mail -> public key.
        self.service_accounts: dict[str, rsa.RSAPublicKey] = {}
        self.token_lifetime_seconds = 3600
        self.server = _QuietServer(("127.0.0.1", 0), self._handler())
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

    def service_account_key(self, client_email: str = "cdp-demo@retail-cdp.iam.gserviceaccount.com") -> str:
        """A fresh service-account key (JSON, as Google issues them) whose token endpoint is this stand-in."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.service_accounts[client_email] = private_key.public_key()
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return json.dumps({
            "type": "service_account", "project_id": "retail-cdp", "private_key_id": secrets.token_hex(20),
            "private_key": pem, "client_email": client_email, "client_id": "1", "token_uri": f"{self.url}/token",
        })

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def holdings(self) -> dict[str, int]:
        """What the stand-in holds, by kind: what `cdp demo` prints after a sync."""
        state = self.state
        with self.lock:
            return {
                "klaviyo list members": sum(len(m) for m in state.members.values()),
                "klaviyo subscriptions": sum(1 for s in state.subscriptions.values() if s == "SUBSCRIBED"),
                "klaviyo unsubscribed": sum(1 for s in state.subscriptions.values() if s == "UNSUBSCRIBED"),
                "sendgrid contacts on a list": sum(1 for c in state.contacts.values() if c["list_ids"]),
                # A remove clears the user's tags, which takes it out of every tag segment.
                "onesignal users with tags": sum(1 for tags in state.onesignal_users.values() if tags),
                **{f"{provider} messages accepted": n for provider, n in sorted(state.messages.items())},
                "import jobs": len(state.jobs),
                "requests": sum(state.requests.values()),
            }

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test and demo output quiet
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
                try:
                    status, body, headers = standin._process(self.command, path, parse_qs(parsed.query), raw, self.headers)
                except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
                    # A request the stand-in cannot read is the client's mistake, as with a real provider.
                    status, body, headers = 400, {"errors": [{"detail": f"malformed request: {type(error).__name__}"}]}, None
                if fault and fault.kind == "kill_before_answer":
                    os.kill(fault.pid, signal.SIGKILL)
                    time.sleep(0.2)
                self._answer(status, body, headers)
                if fault and fault.kind == "kill_after_answer":
                    os.kill(fault.pid, signal.SIGKILL)

            def do_GET(self) -> None:
                if self.path == "/_stats":
                    state = standin.state
                    with standin.lock:
                        stats = {"requests": dict(state.requests), "throttled": state.throttled, "profile_rows_received": state.profile_rows_received}
                    return self._answer(200, stats)
                self._handle()

            do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        return Handler

    def _process(self, method: str, path: str, query: dict, raw: bytes, headers) -> tuple[int, dict | None, dict | None]:
        body = json.loads(raw) if raw and "json" in (headers.get("Content-Type") or "") else None
        with self.lock:
            if path.startswith("/api/"):
                return self._klaviyo(method, path, query, body)
            if path.startswith("/v3/"):
                return self._sendgrid(method, path, query, body)
            if path.startswith("/2010-04-01/") and path.endswith("/Messages.json"):
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                self.state.twilio_messages.append(form)
                self.state.messages["twilio"] += 1
                return 201, {"sid": self._next_id("SM"), "status": "queued"}, None
            if re.match(r"^/v\d+\.\d+/[^/]+/messages$", path):
                self.state.whatsapp_messages.append(body)
                self.state.messages["whatsapp_cloud"] += 1
                return 200, {"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"].lstrip("+")}],
                             "messages": [{"id": self._next_id("wamid.")}]}, None
            if path.startswith("/apps/") or path == "/notifications":
                return self._onesignal(method, path, body)
            if path == "/token":
                return self._token(raw)
            if re.match(r"^/v1/projects/[^/]+/messages:send$", path):
                if self.state.access_tokens and not self._token_accepted(headers.get("Authorization") or ""):
                    return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "invalid or expired access token"}}, None
                message = body["message"]
                self._deliver("fcm", message["data"]["message_key"])
                return 200, {"name": f"{path.rsplit('/messages', 1)[0].removeprefix('/v1/')}/messages/{self._next_id('')}"}, None
            if path == self.webhook_path:
                return self._webhook(raw, headers)
        return 404, {"error": f"no such path {path}"}, None

    def _token(self, raw: bytes):
        """Google's OAuth 2 token endpoint for a service account's signed JWT (RFC 7523)."""
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type"}, None
        header_part, claims_part, signature_part = form["assertion"].split(".")
        claims = json.loads(_unbase64(claims_part))
        public_key = self.service_accounts.get(claims.get("iss"))
        if public_key is not None:
            try:
                public_key.verify(_unbase64(signature_part), f"{header_part}.{claims_part}".encode(), padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, None
        elif self.service_accounts:
            return 400, {"error": "invalid_grant", "error_description": "Invalid grant: account not found"}, None
        # The audience is Google's token endpoint whichever URI the request went to, as google-auth signs it.
        if claims.get("aud") != "https://oauth2.googleapis.com/token" or "firebase.messaging" not in claims.get("scope", "") or claims.get("exp", 0) < time.time():
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: audience, scope or expiry"}, None
        token = f"ya29.standin-{secrets.token_hex(16)}"
        self.state.access_tokens[token] = time.monotonic() + self.token_lifetime_seconds
        return 200, {"access_token": token, "expires_in": self.token_lifetime_seconds, "token_type": "Bearer"}, None

    def _token_accepted(self, authorization: str) -> bool:
        expiry = self.state.access_tokens.get(authorization.removeprefix("Bearer "))
        return expiry is not None and expiry > time.monotonic()

    def _deliver(self, provider: str, message_key: str, idempotency_key: str | None = None) -> None:
        if idempotency_key is not None:
            if idempotency_key in self.state.idempotency_keys:
                return
            self.state.idempotency_keys.add(idempotency_key)
        self.state.deliveries[message_key] += 1
        self.state.messages[provider] += 1

    # Klaviyo ------------------------------------------------------------------------
    def _klaviyo(self, method: str, path: str, query: dict, body: dict | None):
        state = self.state
        if path == "/api/profile-bulk-import-jobs" and method == "POST":
            profiles = body["data"]["attributes"]["profiles"]["data"]
            bad = [i for i, p in enumerate(profiles) if BAD_EMAIL_MARK in str(p["attributes"].get("email") or "")]
            if bad:
                return 400, {"errors": [{"detail": "invalid email", "source": {"pointer": f"/data/attributes/profiles/data/{i}"}} for i in bad]}, None
            lists = [entry["id"] for entry in (body["data"].get("relationships") or {}).get("lists", {}).get("data", [])]
            job = ImportJob("klaviyo", total=len(profiles))
            for position, profile in enumerate(profiles):
                attributes = profile["attributes"]
                if JOB_ERROR_MARK in str(attributes.get("email") or ""):
                    job.failures.append((position, attributes))
                    continue
                key = attributes["external_id"]
                merged = state.profiles.setdefault(key, {})
                merged.update({k: v for k, v in attributes.items() if k != "properties"})
                merged.update(attributes.get("properties") or {})
                for list_id in lists:
                    state.members.setdefault(list_id, set()).add(key)
            state.profile_rows_received += len(profiles)
            job_id = self._next_id("job-")
            state.jobs[job_id] = job
            return 202, {"data": {"type": "profile-bulk-import-job", "id": job_id}}, None
        match = re.match(r"^/api/profile-bulk-import-jobs/([^/]+)(/import-errors)?$", path)
        if match and method == "GET":
            job = state.jobs.get(unquote(match.group(1)))
            if job is None or job.provider != "klaviyo":
                return 404, {"errors": [{"detail": "job not found"}]}, None
            if match.group(2):
                return 200, self._klaviyo_import_errors(match.group(1), job, query), None
            job.checks += 1
            done = job.checks > self.job_checks_pending
            attributes = {
                "status": "complete" if done else "processing",
                "total_count": job.total,
                "completed_count": job.total - len(job.failures) if done else 0,
                "failed_count": len(job.failures) if done else 0,
            }
            return 200, {"data": {"type": "profile-bulk-import-job", "id": match.group(1), "attributes": attributes}}, None
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
        if path.startswith("/api/profile-subscription-bulk-"):
            consent = "SUBSCRIBED" if "create" in path else "UNSUBSCRIBED"
            for profile in body["data"]["attributes"]["profiles"]["data"]:
                attributes = profile["attributes"]
                for channel in attributes.get("subscriptions", {}):
                    address = attributes.get("email") if channel == "email" else attributes.get("phone_number")
                    state.subscriptions[(channel, address)] = consent
            return 202, None, None
        if path == "/api/events":
            key = body["data"]["attributes"]["unique_id"]
            self._deliver("klaviyo", key, idempotency_key=key)
            return 202, None, None
        return 404, {"errors": [{"detail": f"no such path {path}"}]}, None

    def _klaviyo_import_errors(self, job_id: str, job: ImportJob, query: dict) -> dict:
        size = int(query.get("page[size]", [20])[0])
        start = int(query.get("page[cursor]", [0])[0])
        page = job.failures[start:start + size]
        data = [{
            "type": "import-error", "id": f"{job_id}-{position}",
            "attributes": {"code": "invalid", "title": "Invalid input", "detail": "The e-mail address is not deliverable.",
                           "source": {"pointer": f"/data/attributes/profiles/data/{position}"}, "original_payload": attributes},
        } for position, attributes in page]
        following = start + size if start + size < len(job.failures) else None
        next_link = f"{self.url}/api/profile-bulk-import-jobs/{job_id}/import-errors?page%5Bcursor%5D={following}" if following else None
        return {"data": data, "links": {"self": "", "next": next_link}}

    # SendGrid -----------------------------------------------------------------------
    def _sendgrid(self, method: str, path: str, query: dict, body: dict | None):
        state = self.state
        if path == "/v3/marketing/contacts" and method == "PUT":
            contacts = body["contacts"]
            if any(BAD_EMAIL_MARK in str(c.get("email") or "") for c in contacts):
                return 400, {"errors": [{"field": "contacts", "message": "invalid email"}]}, None
            job = ImportJob("sendgrid", total=len(contacts))
            for position, contact in enumerate(contacts):
                if JOB_ERROR_MARK in str(contact.get("email") or ""):
                    job.failures.append((position, contact))
                    continue
                stored = state.contacts.setdefault(contact["email"], {"id": self._next_id("sg-"), "list_ids": set()})
                stored.update({k: v for k, v in contact.items()})
                stored["list_ids"] |= set(body.get("list_ids") or [])
            job_id = self._next_id("sgjob-")
            state.jobs[job_id] = job
            return 202, {"job_id": job_id}, None
        match = re.match(r"^/v3/marketing/contacts/imports/([^/]+)$", path)
        if match and method == "GET":
            job = state.jobs.get(unquote(match.group(1)))
            if job is None or job.provider != "sendgrid":
                return 404, {"errors": [{"message": "job not found"}]}, None
            job.checks += 1
            if job.checks <= self.job_checks_pending:
                return 200, {"id": match.group(1), "status": "pending", "job_type": "upsert", "results": {}}, None
            errored = len(job.failures)
            results = {"requested_count": job.total, "created_count": job.total - errored, "updated_count": 0, "errored_count": errored}
            if errored:
                results["errors_url"] = f"{self.url}/_errors/{match.group(1)}.csv"
            return 200, {"id": match.group(1), "status": "errored" if errored else "completed", "job_type": "upsert", "results": results}, None
        if path == "/v3/marketing/contacts/search/emails":
            found = {email: {"contact": {"id": state.contacts[email]["id"], "email": email}} for email in body["emails"] if email in state.contacts}
            if not found:
                return 404, {"errors": [{"message": "No contacts found"}]}, None
            return 200, {"result": found}, None
        match = re.match(r"^/v3/marketing/lists/([^/]+)/contacts$", path)
        if match and method == "DELETE":
            ids = set(query.get("contact_ids", [""])[0].split(","))
            for contact in state.contacts.values():
                if contact["id"] in ids:
                    contact["list_ids"].discard(match.group(1))
            return 202, {"job_id": self._next_id("sgjob-")}, None
        if path == "/v3/mail/send":
            for personalization in body["personalizations"]:
                self._deliver("sendgrid", personalization["custom_args"]["message_key"])
            return 202, None, {"X-Message-Id": self._next_id("sgmsg-")}
        return 404, {"errors": [{"message": f"no such path {path}"}]}, None

    # OneSignal ----------------------------------------------------------------------
    def _onesignal(self, method: str, path: str, body: dict | None):
        users = self.state.onesignal_users
        if path == "/notifications":
            self._deliver("onesignal", body["data"]["message_key"], idempotency_key=body.get("idempotency_key"))
            return 200, {"id": self._next_id("os-notification-"), "external_id": None}, None
        match = re.match(r"^/apps/[^/]+/users(?:/by/external_id/([^/]+))?$", path)
        if match and method == "POST" and match.group(1) is None:
            key = body["identity"]["external_id"]
            users.setdefault(key, {}).update((body.get("properties") or {}).get("tags") or {})
            return 201, {"identity": {"external_id": key, "onesignal_id": f"os-{key}"}, "properties": {"tags": users[key]}}, None
        if match and method == "PATCH" and match.group(1):
            key = unquote(match.group(1))
            if key not in users:
                return 404, {"errors": [{"title": "user not found"}]}, None
            tags = users[key]
            for name, value in ((body.get("properties") or {}).get("tags") or {}).items():
                if value == "":
                    tags.pop(name, None)
                else:
                    tags[name] = value
            return 202, {"properties": {"tags": tags}}, None
        return 404, {"errors": [{"title": f"no such path {path}"}]}, None

    # Webhook ------------------------------------------------------------------------
    def _webhook(self, raw: bytes, headers):
        state = self.state
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
                    state.messages["webhook"] += 1
        else:
            state.webhook_rows.extend(document["rows"])
        return 200, {"ok": True}, {"X-Request-Id": f"req-{len(state.webhook_rows)}"}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # A client that gave up waiting (a timeout under test) is expected, not news.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def _unbase64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _path_class(path: str) -> str:
    if path.startswith("/api/lists/"):
        return "list_membership"
    return path


def main() -> None:
    """Serve in its own process (the benchmark keeps client and server off one interpreter lock).

    Usage: python -m activation.standin [--limit PATH=PER_SECOND:BURST ...]; prints the
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
