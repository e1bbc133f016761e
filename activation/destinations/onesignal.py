"""OneSignal: user tags (state) and app or web push notifications (messages).

Users are addressed by the alias external_id = person_id. A state sync creates the user
with its tags on add (POST .../users), patches only the changed tags on change (OneSignal
merges tags) and clears the synced tags on remove (an empty value deletes a tag), which
takes the person out of tag-based segments. A push is one notification per message, with
the message_key (as a UUID) in idempotency_key so OneSignal drops a repeat. The real API
authenticates with `Authorization: Key <REST API key>`; its published contract says
Bearer, so the scheme is `settings.auth_scheme` (default Key).
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import Field, field_validator, model_validator

from activation.config_schema import Strict, SyncConfig
from activation.destinations.base import Destination, Message, Outcome, Record, TemplateSettings, ok, text_fields
from activation.http import PermanentError, RateLimit

# Stable namespace so one message_key always maps to the same idempotency UUID.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c3a52-8d0e-4c1b-9a57-2f4e0b7d9c11")


def idempotency_uuid(message_key: str) -> str:
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, message_key))


class OneSignalTemplate(Strict):
    """A template of OneSignal's (template_id), or the notification's own title and body."""

    template_id: str | None = None
    title: str = ""
    body: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> OneSignalTemplate:
        if self.template_id and (self.title or self.body):
            raise ValueError("a template is a template_id or a title and body, not both")
        return self


class OneSignalSettings(TemplateSettings):
    app_id: str
    # The live API takes `Key`; its published contract declares Bearer.
    auth_scheme: Literal["Key", "Bearer"] = "Key"
    # A template id, or {title, body}.
    templates: dict[str, OneSignalTemplate] = Field(default_factory=dict)

    @field_validator("templates", mode="before")
    @classmethod
    def _template_ids(cls, templates: Any) -> Any:
        if not isinstance(templates, dict):
            return templates
        return {step: {"template_id": t} if isinstance(t, str) else t for step, t in templates.items()}


class OneSignal(Destination):
    type_name = "onesignal"
    default_base_url = "https://api.onesignal.com"
    credential_names = ("api_key",)
    Settings = OneSignalSettings
    channels = frozenset({"app_push", "web_push"})
    supports_state = True
    partial_updates = True
    idempotent_sends = True
    default_batch_sizes: ClassVar[dict[str, int]] = {"upsert": 1, "remove": 1, "send": 1}
    # OneSignal allows one update per second to the same user (each user is touched once
    # per run) and publishes no global figure for these endpoints; these defaults are
    # deliberately modest and the Retry-After of a 429 governs beyond them.
    default_rate_limits: ClassVar[dict[str, RateLimit]] = {
        "users": RateLimit(per_second=50.0, burst=50),
        "notifications": RateLimit(per_second=50.0, burst=50),
    }

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"{self.settings.auth_scheme} {self.config.credential('api_key')}"}

    def _user_url(self, key: str) -> str:
        return self.url(f"/apps/{self.settings.app_id}/users/by/external_id/{quote(key, safe='')}")

    deletes_persons = True

    def delete_person(self, key: str, address: dict[str, Any]) -> str | None:
        """Delete the user with its subscriptions and aliases (DELETE /apps/{app_id}/users/by/external_id/{key}).
        The alias is our key, so nothing personal is needed; a user OneSignal does not know is already gone."""
        try:
            self.http.request("users", "DELETE", self._user_url(key), headers=self._headers())
        except PermanentError as error:
            if error.status != 404:
                raise
        return None

    def upsert(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        outcomes = []
        for record in records:
            tags = text_fields(record.fields)
            if record.previous is None:
                body = {"identity": {"external_id": record.key}, "properties": {"tags": tags}}
                response = self.http.request(
                    "users",
                    "POST",
                    self.url(f"/apps/{self.settings.app_id}/users"),
                    json=body,
                    headers=self._headers(),
                )
                outcomes.append(ok((response.json().get("identity") or {}).get("onesignal_id")))
            else:
                self.http.request(
                    "users",
                    "PATCH",
                    self._user_url(record.key),
                    json={"properties": {"tags": tags}},
                    headers=self._headers(),
                )
                outcomes.append(ok())
        return outcomes

    def remove(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        for record in records:
            cleared = {name: "" for name in (record.previous or {})}
            self.http.request(
                "users",
                "PATCH",
                self._user_url(record.key),
                json={"properties": {"tags": cleared}},
                headers=self._headers(),
            )
        return [ok() for _ in records]

    def send_one(self, message: Message, template: OneSignalTemplate, sync: SyncConfig) -> Outcome:
        body = {
            "app_id": self.settings.app_id,
            "include_aliases": {"external_id": [message.person_id]},
            "target_channel": "push",
            "idempotency_key": idempotency_uuid(message.message_key),
            "data": {"message_key": message.message_key, "journey": message.journey, "step": message.step},
            "custom_data": text_fields(message.content()),
        }
        if template.template_id:
            body["template_id"] = template.template_id
        else:
            body["headings"] = {"en": template.title}
            body["contents"] = {"en": template.body}
        # A web push reaches browsers only; an app push only the apps.
        if message.channel == "web_push":
            body["isAnyWeb"] = True
        else:
            body["isIos"] = True
            body["isAndroid"] = True
        response = self.http.request(
            "notifications", "POST", self.url("/notifications"), json=body, headers=self._headers()
        )
        return ok(response.json().get("id"))
