"""Firebase Cloud Messaging HTTP v1: app and web push to a device token, one per request.

The message's `push_token` column is the FCM registration token. The title and body come
from `settings.templates` ({title, body} per journey step, `{field}` placeholders filled
from the message's fields); the plan's keys travel in the data payload. The credential
is an OAuth 2 access token for the project's service account (e.g. minted by the
scheduler from the service-account key). FCM takes no idempotency key, so a send whose
answer is lost is recorded as unknown, never repeated. FCM allows 600,000 messages per
minute per project and asks clients to back off at least a minute after a 429.
"""

from __future__ import annotations

import string
from typing import Any

from activation.config import DestinationConfig, RateLimit, SyncConfig
from activation.destinations.base import Destination, Message, Outcome, ok, rejected, text_fields


class Fcm(Destination):
    type_name = "fcm"
    default_base_url = "https://fcm.googleapis.com"
    credential_names = ("access_token",)
    channels = frozenset({"app_push", "web_push"})
    required_message_fields = {"app_push": ("push_token",), "web_push": ("push_token",)}
    default_batch_sizes = {"send": 1}
    default_rate_limits = {"messages": RateLimit(per_second=10_000.0, burst=10_000)}
    min_wait_after_429 = 60.0

    @classmethod
    def check_settings(cls, config: DestinationConfig, context: str) -> None:
        cls.required_settings(config, context, "project_id")

    def send_one(self, message: Message, template: Any, sync: SyncConfig) -> Outcome:
        variables = text_fields(message.fields, exclude=("push_token",))
        try:
            notification = {part: string.Formatter().vformat(str(template.get(part, "")), (), variables) for part in ("title", "body")}
        except (KeyError, IndexError, ValueError, AttributeError) as error:
            return rejected(f"template for {message.journey}.{message.step} cannot be filled: {error}")
        body = {
            "message": {
                "token": str(message.fields["push_token"]),
                "notification": notification,
                "data": {"message_key": message.message_key, "journey": message.journey, "step": str(message.step)},
            }
        }
        response = self.http.request(
            "messages", "POST", self.url(f"/v1/projects/{self.settings['project_id']}/messages:send"),
            json=body, headers={"Authorization": f"Bearer {self.config.credential('access_token')}"}, repeatable=False,
        )
        return ok(response.json().get("name"))
