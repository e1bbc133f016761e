"""Firebase Cloud Messaging HTTP v1: app and web push to a device token, one per request.

The message's `push_token` column is the FCM registration token. The title and body come
from `settings.templates` ({title, body} per journey step, `{field}` placeholders filled
from the message's fields); the plan's keys travel in the data payload. FCM takes no
idempotency key, so a send whose answer is lost is recorded as unknown, never repeated.
FCM allows 600,000 messages per minute per project and asks clients to back off at least
a minute after a 429.

FCM v1 takes OAuth 2 access tokens, which live an hour. Configure one credential:
`service_account_key` (an environment variable holding the path of the project's
service-account key file, or its JSON): google-auth signs a token request with the key
at the token endpoint the key names, and again when the token nears expiry; or
`access_token` (a token minted elsewhere, for short runs and tests).
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any, ClassVar

import google.auth.exceptions
import google.auth.transport.requests
from google.oauth2 import service_account
from pydantic import Field

from activation.config_schema import Strict, SyncConfig
from activation.destinations.base import Destination, Message, Outcome, TemplateSettings, ok, rejected, text_fields
from activation.errors import ConfigError
from activation.http import RateLimit, TransientError

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
CREDENTIAL_CHOICES = ("service_account_key", "access_token")


class FcmTemplate(Strict):
    title: str = ""  # `{field}` placeholders are filled from the message's fields
    body: str = ""


class FcmSettings(TemplateSettings):
    project_id: str
    templates: dict[str, FcmTemplate] = Field(default_factory=dict)


class Fcm(Destination):
    type_name = "fcm"
    default_base_url = "https://fcm.googleapis.com"
    optional_credential_names = CREDENTIAL_CHOICES  # exactly one (check_credentials)
    Settings = FcmSettings
    channels = frozenset({"app_push", "web_push"})
    required_message_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "app_push": ("push_token",),
        "web_push": ("push_token",),
    }
    default_batch_sizes: ClassVar[dict[str, int]] = {"send": 1}
    default_rate_limits: ClassVar[dict[str, RateLimit]] = {"messages": RateLimit(per_second=10_000.0, burst=10_000)}
    min_wait_after_429 = 60.0

    _service_account: service_account.Credentials | None = None

    @classmethod
    def check_credentials(cls, credentials: dict[str, str]) -> None:
        if sum(name in credentials for name in CREDENTIAL_CHOICES) != 1:
            raise ValueError(f"need exactly one of {' or '.join(CREDENTIAL_CHOICES)} (an environment variable name)")

    @classmethod
    def demo_credential(cls, name: str, standin: Any) -> str:
        # A fresh key whose token endpoint is the stand-in, which then checks the tokens it issues.
        return (
            standin.service_account_key() if name == "service_account_key" else super().demo_credential(name, standin)
        )

    def prepare(self) -> None:
        super().prepare()
        if "service_account_key" in self.config.credentials:
            # The key is read now; the token is minted at the first send (a run with
            # nothing to send asks nothing of Google).
            self._service_account = self._load_service_account()

    def _load_service_account(self) -> service_account.Credentials:
        value = self.config.credential("service_account_key")
        variable = self.config.credentials["service_account_key"]
        try:
            text = value if value.lstrip().startswith("{") else Path(value).read_text()
            return service_account.Credentials.from_service_account_info(json.loads(text), scopes=[SCOPE])
        except OSError as error:
            raise ConfigError(
                f"destination {self.config.name!r}: the key file named by {variable} cannot be read ({error.strerror})"
            ) from None
        except (ValueError, KeyError) as error:
            # Never the key's text: only which kind of problem it has.
            raise ConfigError(
                f"destination {self.config.name!r}: {variable} does not hold a service-account key "
                f"({type(error).__name__})"
            ) from None

    def _bearer_token(self) -> str:
        if self._service_account is None:
            return self.config.credential("access_token")
        if not self._service_account.valid:
            try:
                self._service_account.refresh(google.auth.transport.requests.Request())
            except google.auth.exceptions.RefreshError as error:
                # A refused key is wrong for every message: the message is recorded as
                # failed (it was not sent; the next run tries again) and the sync stops.
                reason = str(error.args[0]) if error.args else "refused"
                raise TransientError(
                    f"messages: the token endpoint refused the service-account key ({reason[:200]})"
                ) from None
            except google.auth.exceptions.TransportError as error:
                raise TransientError(f"messages: no answer from the token endpoint ({type(error).__name__})") from None
        return self._service_account.token

    def send_one(self, message: Message, template: FcmTemplate, sync: SyncConfig) -> Outcome:
        variables = text_fields(message.content(exclude=("push_token",)))
        try:
            notification = {
                part: string.Formatter().vformat(getattr(template, part), (), variables) for part in ("title", "body")
            }
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
            "messages",
            "POST",
            self.url(f"/v1/projects/{self.settings.project_id}/messages:send"),
            json=body,
            headers={"Authorization": f"Bearer {self._bearer_token()}"},
            repeatable=False,
        )
        return ok(response.json().get("name"))
