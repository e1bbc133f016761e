"""Meta WhatsApp Cloud API: approved template messages, one per request.

`settings.templates` maps a journey step to a template name, or to
`{name: ..., language: ...}`; the message's fields fill the body parameters in the order
of `settings.body_parameters` (field names). Meta takes no idempotency key, so a send
whose answer is lost is recorded as unknown, never repeated. Throughput is 80 messages
per second per business number (error 130429 past it); Meta also allows only about one
message per six seconds to the same user, which the message plan's caps already respect.
"""

from __future__ import annotations

from typing import Any

from activation.config import DestinationConfig, RateLimit, SyncConfig
from activation.destinations.base import Destination, Message, Outcome, ok, rejected


class WhatsAppCloud(Destination):
    type_name = "whatsapp_cloud"
    default_base_url = "https://graph.facebook.com"
    credential_names = ("access_token",)
    channels = frozenset({"whatsapp"})
    required_message_fields = {"whatsapp": ("phone",)}
    default_batch_sizes = {"send": 1}
    default_rate_limits = {"messages": RateLimit(per_second=80.0, burst=80)}

    @classmethod
    def check_settings(cls, config: DestinationConfig, context: str) -> None:
        cls.required_settings(config, context, "phone_number_id")

    def send_one(self, message: Message, template: Any, sync: SyncConfig) -> Outcome:
        if isinstance(template, str):
            template = {"name": template}
        parameter_fields = self.settings.get("body_parameters") or []
        missing = [f for f in parameter_fields if message.fields.get(f) in (None, "")]
        if missing:
            return rejected(f"template parameters without a value: {', '.join(missing)}")
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": str(message.fields["phone"]),
            "type": "template",
            "template": {
                "name": template["name"],
                "language": {"policy": "deterministic", "code": template.get("language", self.settings.get("language", "en"))},
            },
        }
        if parameter_fields:
            body["template"]["components"] = [
                {"type": "body", "parameters": [{"type": "text", "text": str(message.fields[f])} for f in parameter_fields]}
            ]
        version = self.settings.get("api_version", "v23.0")
        response = self.http.request(
            "messages", "POST", self.url(f"/{version}/{self.settings['phone_number_id']}/messages"),
            json=body, headers={"Authorization": f"Bearer {self.config.credential('access_token')}"}, repeatable=False,
        )
        sent = response.json().get("messages") or [{}]
        return ok(sent[0].get("id"))
