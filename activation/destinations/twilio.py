"""Twilio Programmable Messaging: SMS and WhatsApp, one message per request.

`settings.templates` maps a journey step to either a Content template SID (`HX...`,
sent as ContentSid with the message's fields as ContentVariables) or a plain body text
with `{field}` placeholders. The sender is `settings.messaging_service_sid` or
`settings.from` (and `settings.whatsapp_from` for WhatsApp). Twilio takes no idempotency
key, so a send whose answer is lost is recorded as unknown, never repeated; 429 (error
20429) is always safe to retry.
"""

from __future__ import annotations

import json
import string
from typing import Any

from activation.config import ConfigError, DestinationConfig, RateLimit, SyncConfig
from activation.destinations.base import Destination, Message, Outcome, ok, rejected


class Twilio(Destination):
    type_name = "twilio"
    default_base_url = "https://api.twilio.com"
    credential_names = ("account_sid", "auth_token")
    channels = frozenset({"sms", "whatsapp"})
    required_message_fields = {"sms": ("phone",), "whatsapp": ("phone",)}
    default_batch_sizes = {"send": 1}
    # 1 message per second per US long code; raise it for short codes (100/s) or a
    # messaging service with a larger sender pool.
    default_rate_limits = {"messages": RateLimit(per_second=1.0, burst=1)}

    @classmethod
    def check_settings(cls, config: DestinationConfig, context: str) -> None:
        if not (config.settings.get("messaging_service_sid") or config.settings.get("from")):
            raise ConfigError(f"{context}: settings need messaging_service_sid or from (the sending number)")

    def check_sync(self, sync: SyncConfig) -> None:
        if "whatsapp" in sync.channels and not (self.settings.get("messaging_service_sid") or self.settings.get("whatsapp_from")):
            raise ConfigError(f"sync {sync.name!r}: WhatsApp through Twilio needs settings.whatsapp_from or messaging_service_sid")

    def send_one(self, message: Message, template: Any, sync: SyncConfig) -> Outcome:
        whatsapp = message.channel == "whatsapp"
        prefix = "whatsapp:" if whatsapp else ""
        form = {"To": f"{prefix}{message.fields['phone']}"}
        if self.settings.get("messaging_service_sid"):
            form["MessagingServiceSid"] = self.settings["messaging_service_sid"]
        else:
            form["From"] = self.settings["whatsapp_from"] if whatsapp else self.settings["from"]
        variables = {k: "" if v is None else str(v) for k, v in message.fields.items() if k != "phone"}
        if str(template).startswith("HX"):
            form["ContentSid"] = template
            form["ContentVariables"] = json.dumps(variables)
        else:
            try:
                form["Body"] = string.Formatter().vformat(str(template), (), variables)
            except (KeyError, IndexError, ValueError) as error:
                return rejected(f"template for {message.journey}.{message.step} uses a field the message lacks: {error}")
        if self.settings.get("validity_period_seconds"):
            form["ValidityPeriod"] = str(int(self.settings["validity_period_seconds"]))
        account = self.config.credential("account_sid")
        response = self.http.request(
            "messages", "POST", self.url(f"/2010-04-01/Accounts/{account}/Messages.json"),
            data=form, auth=(account, self.config.credential("auth_token")), repeatable=False,
        )
        return ok(response.json().get("sid"))
