"""The signed webhook's stand-in: checks every request's signature and its freshness (as a
receiver should, with signature_problem), keeps rows and sends.

A send is accepted once per Idempotency-Key, as a receiver that honours it would.
"""

from __future__ import annotations

import json

from activation.config_schema import DestinationConfig
from activation.destinations.webhook import signature_problem
from activation.standins.common import Answer, ProviderStandin, Request


class WebhookStandin(ProviderStandin):
    type_name = "webhook"

    def __init__(self, server):
        super().__init__(server)
        self.path = "/hook"
        self.signing_secret = "demo-webhook-secret"
        self.rows: list[dict] = []  # rows of state operations (upsert, remove, merge), as received
        self.refused = 0  # requests refused for a wrong, missing or stale signature

    def configure(self, destination: DestinationConfig) -> None:
        self.path = destination.settings.path

    def answers(self, path: str) -> bool:
        return path == self.path

    def answer(self, request: Request) -> Answer:
        timestamp = request.headers.get("X-CDP-Timestamp", "")
        signed = request.headers.get("X-CDP-Signature", "")
        problem = signature_problem(self.signing_secret, timestamp, request.raw, signed)
        if problem:
            self.refused += 1
            return 401, {"error": problem}, None
        document = json.loads(request.raw)
        if document["operation"] == "send":
            key = request.headers.get("Idempotency-Key")
            if key not in self.server.idempotency_keys:
                self.server.idempotency_keys.add(key)
                for row in document["rows"]:
                    self.server.deliveries[row["message_key"]] += 1
                    self.server.messages[self.type_name] += 1
        else:
            self.rows.extend(document["rows"])
        return 200, {"ok": True}, {"X-Request-Id": f"req-{len(self.rows)}"}
