"""Twilio Programmable Messaging: SMS and WhatsApp, one message per request.

`settings.templates` maps a journey step to either a Content template SID (`HX...`,
sent as ContentSid with the message's fields as ContentVariables) or a plain body text
with `{field}` placeholders. The sender is `settings.messaging_service_sid` or
`settings.from` (and `settings.whatsapp_from` for WhatsApp). Twilio takes no idempotency
key, but it can be asked: a send whose answer was lost (a crash between the call and its
record) is looked up in the recipient's message list by the next run (find_sent) and
closed as sent, or sent then if Twilio has no such message. 429 (error 20429) is always
safe to retry.
"""

from __future__ import annotations

import email.utils
import json
import string
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import Field, model_validator

from activation.config_schema import SyncConfig
from activation.destinations.base import Destination, Message, Outcome, TemplateSettings, ok, rejected
from activation.errors import ConfigError
from activation.http import RateLimit

_LOOKUP_PAGE_SIZE = 50  # the newest messages to one recipient: an interrupted send is among them
# Twilio's clock against ours: a message created this long before our intent still counts.
_CLOCK_SKEW = timedelta(minutes=5)


class TwilioSettings(TemplateSettings):
    from_: str | None = Field(default=None, alias="from")  # the sending number
    messaging_service_sid: str | None = None  # or a messaging service's sender pool
    whatsapp_from: str | None = None  # e.g. "whatsapp:+15005550006"
    # A Content SID (HX...) or a text with {field} placeholders.
    templates: dict[str, str] = Field(default_factory=dict)
    validity_period_seconds: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _a_sender(self) -> TwilioSettings:
        if not (self.messaging_service_sid or self.from_):
            raise ValueError("need messaging_service_sid or from (the sending number)")
        return self


class Twilio(Destination):
    type_name = "twilio"
    default_base_url = "https://api.twilio.com"
    credential_names = ("account_sid", "auth_token")
    Settings = TwilioSettings
    channels = frozenset({"sms", "whatsapp"})
    required_message_fields: ClassVar[dict[str, tuple[str, ...]]] = {"sms": ("phone",), "whatsapp": ("phone",)}
    default_batch_sizes: ClassVar[dict[str, int]] = {"send": 1}
    looks_up_sends = True
    # 1 message per second per US long code; raise it for short codes (100/s) or a
    # messaging service with a larger sender pool.
    # Lookups of interrupted sends read the message list, outside the sender's limit; Twilio
    # publishes no figure for reads (its concurrency limit answers 429).
    default_rate_limits: ClassVar[dict[str, RateLimit]] = {
        "messages": RateLimit(per_second=1.0, burst=1),
        "lookups": RateLimit(per_second=10.0, burst=10),
    }

    def check_sync(self, sync: SyncConfig) -> None:
        if "whatsapp" in sync.channels and not (self.settings.messaging_service_sid or self.settings.whatsapp_from):
            raise ConfigError(
                f"sync {sync.name!r}: WhatsApp through Twilio needs settings.whatsapp_from or messaging_service_sid"
            )

    def _to(self, message: Message) -> str:
        prefix = "whatsapp:" if message.channel == "whatsapp" else ""
        return f"{prefix}{message.fields['phone']}"

    def _body(self, message: Message, template: Any) -> str:
        """The text of a plain-text template, filled; raises KeyError/IndexError/ValueError for a missing field."""
        return string.Formatter().vformat(str(template), (), _variables(message))

    def send_one(self, message: Message, template: Any, sync: SyncConfig) -> Outcome:
        whatsapp = message.channel == "whatsapp"
        form = {"To": self._to(message)}
        if self.settings.messaging_service_sid:
            form["MessagingServiceSid"] = self.settings.messaging_service_sid
        else:
            form["From"] = self.settings.whatsapp_from if whatsapp else self.settings.from_
        if str(template).startswith("HX"):
            form["ContentSid"] = template
            form["ContentVariables"] = json.dumps(_variables(message))
        else:
            try:
                form["Body"] = self._body(message, template)
            except (KeyError, IndexError, ValueError) as error:
                return rejected(
                    f"template for {message.journey}.{message.step} uses a field the message lacks: {error}"
                )
        if self.settings.validity_period_seconds:
            form["ValidityPeriod"] = str(self.settings.validity_period_seconds)
        account = self.config.credential("account_sid")
        response = self.http.request(
            "messages",
            "POST",
            self._messages_url(account),
            data=form,
            auth=(account, self.config.credential("auth_token")),
            repeatable=False,
        )
        return ok(response.json().get("sid"))

    def _messages_url(self, account: str) -> str:
        return self.url(f"/2010-04-01/Accounts/{quote(account, safe='')}/Messages.json")

    def find_sent(self, message: Message, intent_at: datetime) -> str | None:
        """The newest messages to the recipient (GET Messages.json?To=...): one created after
        the intent (less the clock skew allowed), with the same text where the template is
        plain text, is the interrupted send.

        Not filtered by DateSent: a message still queued has no date_sent yet, and hiding it
        would send it a second time."""
        account = self.config.credential("account_sid")
        to = self._to(message)
        template = self.template_for(message)
        body = None
        if template is not None and not str(template).startswith("HX"):
            try:
                body = self._body(message, template)
            except (KeyError, IndexError, ValueError):
                return None  # such a send was rejected before any request: it never went out
        answer = self.http.request(
            "lookups",
            "GET",
            self._messages_url(account),
            params={"To": to, "PageSize": _LOOKUP_PAGE_SIZE},
            auth=(account, self.config.credential("auth_token")),
        ).json()
        earliest = intent_at - _CLOCK_SKEW
        for sent in answer.get("messages") or []:
            created = _twilio_time(sent.get("date_created"))
            if sent.get("to") != to or created is None or created < earliest:
                continue
            if body is not None and body not in (sent.get("body") or ""):
                continue
            return sent.get("sid")
        return None


def _variables(message: Message) -> dict[str, str]:
    return {k: "" if v is None else str(v) for k, v in message.content(exclude=("phone",)).items()}


def _twilio_time(text: str | None) -> datetime | None:
    """Twilio's RFC 2822 timestamps as naive UTC, like the ledger's."""
    if not text:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
