"""A generic HTTPS endpoint, signed with HMAC-SHA256: any system that is not built in.

Every request is a JSON document `{"sync", "operation", "rows": [...]}` POSTed to
`base_url` + `settings.path`. Headers: `X-CDP-Timestamp` (Unix seconds) and
`X-CDP-Signature: sha256=<hex HMAC of "<timestamp>.<body>" with the shared secret>`, so
the receiver can check origin and freshness, and `Idempotency-Key` (the message_key for
a send, a digest of the rows otherwise) so the receiver can drop a repeat. It takes
state syncs (upsert, remove, merge) and messages on every channel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, ClassVar

from activation.channels import ChannelRegistry
from activation.config_schema import DestinationSettings, SyncConfig
from activation.destinations.base import Destination, Message, Outcome, Record, ok
from activation.http import RateLimit

# How old a request's timestamp may be before the receiver refuses it (a replay).
SIGNATURE_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_problem(secret: str, timestamp: str, body: bytes, signed: str, now: float | None = None) -> str | None:
    """What a receiver finds wrong with a request's signature, or None when it is good and fresh.

    The check a receiving system runs (the stand-in does): the HMAC compared in constant
    time, and the timestamp within SIGNATURE_TOLERANCE_SECONDS of the receiver's clock."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return "no timestamp"
    if not hmac.compare_digest(signed.encode(), signature(secret, timestamp, body).encode()):
        return "bad signature"
    if abs((time.time() if now is None else now) - sent_at) > SIGNATURE_TOLERANCE_SECONDS:
        return "stale timestamp"
    return None


class WebhookSettings(DestinationSettings):
    path: str = ""  # appended to base_url


class Webhook(Destination):
    type_name = "webhook"
    default_base_url = ""
    credential_names = ("signing_secret",)
    Settings = WebhookSettings
    supports_state = True
    partial_updates = True
    supports_rekey = True
    idempotent_sends = True
    uses_templates = False  # the receiver renders the content
    default_batch_sizes: ClassVar[dict[str, int]] = {"upsert": 500, "remove": 500, "send": 1, "rekey": 500}
    default_rate_limits: ClassVar[dict[str, RateLimit]] = {"requests": RateLimit(per_second=10.0, burst=10)}

    @classmethod
    def supported_channels(cls, channel_registry: ChannelRegistry) -> frozenset[str]:
        return frozenset(channel_registry.names)  # the receiver delivers on every channel

    @classmethod
    def demo_credential(cls, name: str, standin: Any) -> str:
        return standin.signing_secret  # the stand-in checks every request's signature

    def _post(
        self, sync: SyncConfig, operation: str, rows: list[dict[str, Any]], idempotency_key: str | None = None
    ) -> Any:
        body = json.dumps(
            {"sync": sync.name, "operation": operation, "rows": rows}, separators=(",", ":"), sort_keys=True
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-CDP-Timestamp": timestamp,
            "X-CDP-Signature": signature(self.config.credential("signing_secret"), timestamp, body),
            "Idempotency-Key": idempotency_key or hashlib.sha256(body).hexdigest(),
        }
        return self.http.request("requests", "POST", self.url(self.settings.path), data=body, headers=headers)

    def upsert(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        self._post(sync, "upsert", [{"key": r.key, "fields": r.fields, "is_new": r.previous is None} for r in records])
        return [ok() for _ in records]

    def remove(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        self._post(sync, "remove", [{"key": r.key} for r in records])
        return [ok() for _ in records]

    def rekey(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        self._post(sync, "merge", [{"key": r.key, "merged_into": r.new_key} for r in records])
        return [ok() for _ in records]

    def send_one(self, message: Message, template: Any, sync: SyncConfig) -> Outcome:
        m = message
        row = {
            "message_key": m.message_key,
            "person_id": m.person_id,
            "channel": m.channel,
            "journey": m.journey,
            "step": m.step,
            "fields": m.fields,
        }
        response = self._post(sync, "send", [row], idempotency_key=m.message_key)
        return ok(response.headers.get("X-Request-Id") or m.message_key)
