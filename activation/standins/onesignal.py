"""OneSignal's stand-in: users by external_id with their tags, and push notifications."""

from __future__ import annotations

import re
from urllib.parse import unquote

from activation.standins.common import Answer, ProviderStandin, Request

_USERS = re.compile(r"^/apps/[^/]+/users(?:/by/external_id/([^/]+))?$")


class OneSignalStandin(ProviderStandin):
    type_name = "onesignal"

    def __init__(self, server):
        super().__init__(server)
        self.users: dict[str, dict] = {}  # external id -> tags

    def answers(self, path: str) -> bool:
        return path.startswith("/apps/") or path == "/notifications"

    def holdings(self) -> dict[str, int]:
        # A remove clears the user's tags, which takes it out of every tag segment.
        return {"onesignal users with tags": sum(1 for tags in self.users.values() if tags)}

    def answer(self, request: Request) -> Answer:
        path, method, body = request.path, request.method, request.json
        if path == "/notifications":
            self.server.deliver(self.type_name, body["data"]["message_key"], body.get("idempotency_key"))
            return 200, {"id": self.server.next_id("os-notification-"), "external_id": None}, None
        match = _USERS.match(path)
        if match and method == "POST" and match.group(1) is None:
            key = body["identity"]["external_id"]
            self.users.setdefault(key, {}).update((body.get("properties") or {}).get("tags") or {})
            identity = {"external_id": key, "onesignal_id": f"os-{key}"}
            return 201, {"identity": identity, "properties": {"tags": self.users[key]}}, None
        if match and method == "PATCH" and match.group(1):
            key = unquote(match.group(1))
            if key not in self.users:
                return 404, {"errors": [{"title": "user not found"}]}, None
            tags = self.users[key]
            for name, value in ((body.get("properties") or {}).get("tags") or {}).items():
                if value == "":
                    tags.pop(name, None)
                else:
                    tags[name] = value
            return 202, {"properties": {"tags": tags}}, None
        if match and method == "DELETE" and match.group(1):
            if self.users.pop(unquote(match.group(1)), None) is None:
                return 404, {"errors": [{"title": "user not found"}]}, None
            return 200, None, None
        return 404, {"errors": [{"title": f"no such path {path}"}]}, None
