"""Meta WhatsApp Cloud API: approved template messages, one per request.

`settings.templates` maps a journey step to a template name, or to
`{name: ..., language: ...}`; the message's fields fill the body parameters in the order
of `settings.body_parameters` (field names). Meta takes no idempotency key, so a send
whose answer is lost is recorded as unknown, never repeated. Throughput is 80 messages
per second per business number (error 130429 past it); Meta also allows only about one
message per six seconds to the same user, which the message plan's caps already respect.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from activation.config_schema import Strict, SyncConfig
from activation.destinations.base import Destination, Message, Outcome, TemplateSettings, ok, rejected
from activation.http import RateLimit


class WhatsAppTemplate(Strict):
    name: str
    language: str | None = None  # default: settings.language


class WhatsAppCloudSettings(TemplateSettings):
    phone_number_id: str
    api_version: str = "v23.0"
    language: str = "en"
    # An approved template's name, or {name, language}.
    templates: dict[str, WhatsAppTemplate] = Field(default_factory=dict)
    body_parameters: tuple[str, ...] = ()  # fields, in the template's parameter order

    @field_validator("templates", mode="before")
    @classmethod
    def _named_templates(cls, templates: Any) -> Any:
        if not isinstance(templates, dict):
            return templates
        return {step: {"name": t} if isinstance(t, str) else t for step, t in templates.items()}


class WhatsAppCloud(Destination):
    type_name = "whatsapp_cloud"
    default_base_url = "https://graph.facebook.com"
    credential_names = ("access_token",)
    Settings = WhatsAppCloudSettings
    channels = frozenset({"whatsapp"})
    required_message_fields: ClassVar[dict[str, tuple[str, ...]]] = {"whatsapp": ("phone",)}
    default_batch_sizes: ClassVar[dict[str, int]] = {"send": 1}
    default_rate_limits: ClassVar[dict[str, RateLimit]] = {"messages": RateLimit(per_second=80.0, burst=80)}

    def send_one(self, message: Message, template: WhatsAppTemplate, sync: SyncConfig) -> Outcome:
        parameter_fields = self.settings.body_parameters
        content = message.content()
        missing = [f for f in parameter_fields if content.get(f) in (None, "")]
        if missing:
            return rejected(f"template parameters without a value: {', '.join(missing)}")
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": str(message.fields["phone"]),
            "type": "template",
            "template": {
                "name": template.name,
                "language": {"policy": "deterministic", "code": template.language or self.settings.language},
            },
        }
        if parameter_fields:
            body["template"]["components"] = [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": str(content[f])} for f in parameter_fields],
                }
            ]
        version = self.settings.api_version
        response = self.http.request(
            "messages",
            "POST",
            self.url(f"/{version}/{self.settings.phone_number_id}/messages"),
            json=body,
            headers={"Authorization": f"Bearer {self.config.credential('access_token')}"},
            repeatable=False,
        )
        sent = response.json().get("messages") or [{}]
        return ok(sent[0].get("id"))
