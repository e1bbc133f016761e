"""SendGrid: marketing contacts on a list, and transactional/marketing mail sends.

State syncs upsert contacts (PUT /v3/marketing/contacts, up to 30,000 per request) onto
`settings.list_id`; the sync key travels as external_id. Fields other than SendGrid's
reserved ones go to custom fields, whose SendGrid ids are mapped in
`settings.custom_fields` (field -> id). Removing takes contacts off the list, which needs
SendGrid contact ids: they are looked up by email (100 per search). Mail sends go through
POST /v3/mail/send with a dynamic template per journey step (`settings.templates`),
grouped up to `batch_sizes.send` personalizations per request (default 10, SendGrid's
limit 1,000). SendGrid takes no idempotency key and its mail contract has no operation to
look a message up afterwards (the Email Activity API is a paid add-on outside the
contract), so a send whose answer is lost is recorded as unknown, never repeated; the
small batch keeps how many that can be.

A contact upsert is a job SendGrid runs after acknowledging it: check_job reads its
status (GET /v3/marketing/contacts/imports/{id}). SendGrid gives the reasons of errored
rows only in a file at the job's `errors_url`, a download its API contract does not
describe; so the rows of an errored job that SendGrid did not create are found by
searching their e-mails (in the contract), and rejected with the job's error count.
An update that errored is not visible that way; the job's unmatched count says so.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import Field

from activation.config_schema import SyncConfig
from activation.destinations.base import (
    Destination,
    Job,
    JobResult,
    Message,
    Outcome,
    Record,
    TemplateSettings,
    no_template,
    ok,
    rejected,
)
from activation.errors import ConfigError
from activation.http import PermanentError, RateLimit

_SEARCH_LIMIT = 100  # e-mails per contact search
_RESERVED = {
    "email",
    "first_name",
    "last_name",
    "address_line_1",
    "address_line_2",
    "city",
    "postal_code",
    "country",
    "state_province_region",
}


class SendGridSettings(TemplateSettings):
    list_id: str | None = None  # the marketing list's UUID (state syncs)
    custom_fields: dict[str, str] = Field(default_factory=dict)  # field -> SendGrid custom field id
    from_email: str | None = None  # the sender (mail sends)
    from_name: str | None = None
    templates: dict[str, str] = Field(default_factory=dict)  # dynamic template ids


class SendGrid(Destination):
    type_name = "sendgrid"
    default_base_url = "https://api.sendgrid.com"
    credential_names = ("api_key",)
    Settings = SendGridSettings
    channels = frozenset({"email"})
    supports_state = True
    supports_rekey = True
    async_upserts = True
    required_state_fields = ("email",)
    required_message_fields: ClassVar[dict[str, tuple[str, ...]]] = {"email": ("email",)}
    # A mail request takes up to 1,000 personalizations, but SendGrid cannot be asked afterwards
    # whether a request whose answer was lost went out: a crash leaves at most one request
    # of messages unknown, so the default keeps that window small.
    default_batch_sizes: ClassVar[dict[str, int]] = {"upsert": 30_000, "remove": 100, "send": 10, "rekey": 30_000}
    max_batch_sizes: ClassVar[dict[str, int]] = {"send": 1_000}
    # SendGrid publishes no fixed figure for these endpoints; it reports the budget in
    # X-RateLimit-* headers and the policy waits for X-RateLimit-Reset on a 429. The
    # defaults follow the 600 requests per minute it documents for most v3 endpoints.
    default_rate_limits: ClassVar[dict[str, RateLimit]] = {
        "contacts": RateLimit(per_second=10.0, burst=10),
        "search": RateLimit(per_second=10.0, burst=10),
        "list_membership": RateLimit(per_second=10.0, burst=10),
        "mail": RateLimit(per_second=10.0, burst=10),
        "jobs": RateLimit(per_second=10.0, burst=10),
    }

    deletes_persons = True
    deletion_fields = ("email",)

    def delete_person(self, key: str, address: dict[str, Any]) -> str | None:
        """Delete the contact (DELETE /v3/marketing/contacts?ids=...), found by the e-mail synced.
        A contact SendGrid does not know is already gone."""
        email = address.get("email")
        if not email:
            return "no e-mail was synced: nothing SendGrid can delete by"
        contact_id = self.contact_ids([email]).get(email)
        if contact_id is None:
            return None
        self.http.request(
            "contacts",
            "DELETE",
            self.url("/v3/marketing/contacts"),
            params={"ids": contact_id},
            headers=self._headers(),
        )
        return None

    def check_sync(self, sync: SyncConfig) -> None:
        if sync.kind == "state":
            if not self.settings.list_id:
                raise ConfigError(
                    f"sync {sync.name!r}: destination {self.config.name!r} needs settings.list_id for state syncs"
                )
            unmapped = [f for f in sync.fields if f not in _RESERVED and f not in self.settings.custom_fields]
            if unmapped:
                raise ConfigError(
                    f"sync {sync.name!r}: fields {', '.join(unmapped)} need SendGrid custom field ids "
                    "in settings.custom_fields"
                )
        elif not self.settings.from_email:
            raise ConfigError(
                f"sync {sync.name!r}: destination {self.config.name!r} needs settings.from_email to send mail"
            )

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.credential('api_key')}"}

    def _contact(self, key: str, fields: dict[str, Any]) -> dict[str, Any]:
        custom_ids = self.settings.custom_fields
        contact: dict[str, Any] = {"external_id": key}
        custom = {}
        for name, value in fields.items():
            if name in _RESERVED:
                if value is not None:
                    contact[name] = value
            elif value is not None:
                custom[custom_ids[name]] = value
        if custom:
            contact["custom_fields"] = custom
        return contact

    def upsert(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        body = {"list_ids": [self.settings.list_id], "contacts": [self._contact(r.key, r.fields) for r in records]}
        response = self.http.request(
            "contacts", "PUT", self.url("/v3/marketing/contacts"), json=body, headers=self._headers()
        )
        job_id = response.json().get("job_id")
        return [ok(job_id) for _ in records]

    def rekey(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        movable = [r for r in records if (r.previous or {}).get("email")]
        if movable:
            body = {"contacts": [{"email": r.previous["email"], "external_id": r.new_key} for r in movable]}
            self.http.request("contacts", "PUT", self.url("/v3/marketing/contacts"), json=body, headers=self._headers())
        return [
            ok() if (r.previous or {}).get("email") else rejected("no email last synced for the merged contact")
            for r in records
        ]

    def contact_ids(self, emails: list[str]) -> dict[str, str]:
        """SendGrid's contact id per e-mail it knows (searched 100 at a time)."""
        found: dict[str, str] = {}
        for start in range(0, len(emails), _SEARCH_LIMIT):
            try:
                result = (
                    self.http.request(
                        "search",
                        "POST",
                        self.url("/v3/marketing/contacts/search/emails"),
                        json={"emails": emails[start : start + _SEARCH_LIMIT]},
                        headers=self._headers(),
                    )
                    .json()
                    .get("result")
                    or {}
                )
            except PermanentError as error:
                if error.status == 404:  # SendGrid's answer when it knows none of them
                    continue
                raise
            found |= {
                email: entry["contact"]["id"]
                for email, entry in result.items()
                if (entry.get("contact") or {}).get("id")
            }
        return found

    def check_job(self, job: Job) -> JobResult:
        body = self.http.request(
            "jobs",
            "GET",
            self.url(f"/v3/marketing/contacts/imports/{quote(job.job_id, safe='')}"),
            headers=self._headers(),
        ).json()
        status = body.get("status")
        errored = int((body.get("results") or {}).get("errored_count") or 0)
        if status == "failed":
            return JobResult(
                "failed", rows_failed=errored or len(job.records), detail="SendGrid failed the contact import job"
            )
        if status not in ("completed", "errored"):
            return JobResult("pending")
        if not errored:
            return JobResult("completed", rows_failed=0)
        emails = {r.fields["email"]: r.key for r in job.records if r.fields and r.fields.get("email")}
        known = self.contact_ids(list(emails))
        error = (
            f"not created by SendGrid's import job ({errored} rows errored; "
            "SendGrid states the reasons only in the job's errors_url file)"
        )
        missing = {key: error for email, key in emails.items() if email not in known}
        unmatched = errored - len(missing)
        detail = (
            f"{unmatched} errored rows are not missing contacts (failed updates?) and could not be matched to a key"
            if unmatched > 0
            else None
        )
        return JobResult("errored", missing, errored, detail)

    def remove(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        emails = [(r.previous or {}).get("email") for r in records]
        contact_ids = self.contact_ids([e for e in emails if e])
        ids = [contact_ids.get(e) for e in emails if e and contact_ids.get(e)]
        if ids:
            self.http.request(
                "list_membership",
                "DELETE",
                self.url(f"/v3/marketing/lists/{self.settings.list_id}/contacts"),
                params={"contact_ids": ",".join(ids)},
                headers=self._headers(),
            )
        # A contact SendGrid no longer knows is not on the list: the remove has happened.
        return [ok(contact_ids.get(e)) for e in emails]

    def send(self, messages: list[Message], sync: SyncConfig) -> list[Outcome]:
        outcomes: dict[str, Outcome] = {}
        by_template: dict[str, list[Message]] = defaultdict(list)
        for message in messages:
            template = self.template_for(message)
            if template is None:
                outcomes[message.message_key] = no_template(message)
            else:
                by_template[str(template)].append(message)
        sender = {"email": self.settings.from_email}
        if self.settings.from_name:
            sender["name"] = self.settings.from_name
        for template, group in by_template.items():
            body = {
                "from": sender,
                "template_id": template,
                "personalizations": [
                    {
                        "to": [{"email": m.fields["email"]}],
                        "dynamic_template_data": m.content(exclude=("email",)) | {"journey": m.journey, "step": m.step},
                        "custom_args": {"message_key": m.message_key, "person_id": m.person_id},
                    }
                    for m in group
                ],
            }
            response = self.http.request(
                "mail", "POST", self.url("/v3/mail/send"), json=body, headers=self._headers(), repeatable=False
            )
            provider_id = response.headers.get("X-Message-Id")
            for m in group:
                outcomes[m.message_key] = ok(provider_id)
        return [outcomes[m.message_key] for m in messages]
