"""SendGrid: marketing contacts on a list, and transactional/marketing mail sends.

State syncs upsert contacts (PUT /v3/marketing/contacts, up to 30,000 per request) onto
`settings.list_id`; the sync key travels as external_id. Fields other than SendGrid's
reserved ones go to custom fields, whose SendGrid ids are mapped in
`settings.custom_fields` (field -> id). Removing takes contacts off the list, which needs
SendGrid contact ids: they are looked up by email (100 per search). Mail sends go through
POST /v3/mail/send with a dynamic template per journey step (`settings.templates`),
grouped up to 1,000 personalizations per request. SendGrid takes no idempotency key, so
a send whose answer is lost is recorded as unknown, never repeated.

A contact upsert is a job SendGrid runs after acknowledging it: check_job reads its
status (GET /v3/marketing/contacts/imports/{id}). SendGrid gives the reasons of errored
rows only in a file at the job's `errors_url`, a download its API contract does not
describe; so the rows of an errored job that SendGrid did not create are found by
searching their e-mails (in the contract), and rejected with the job's error count.
An update that errored is not visible that way; the job's unmatched count says so.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import quote

from activation.config import ConfigError, DestinationConfig, RateLimit, SyncConfig
from activation.destinations.base import Destination, Job, JobResult, Message, Outcome, Record, no_template, ok, rejected
from activation.http import PermanentError

_SEARCH_LIMIT = 100  # e-mails per contact search
_RESERVED = {"email", "first_name", "last_name", "address_line_1", "address_line_2", "city", "postal_code", "country", "state_province_region"}


class SendGrid(Destination):
    type_name = "sendgrid"
    default_base_url = "https://api.sendgrid.com"
    credential_names = ("api_key",)
    channels = frozenset({"email"})
    supports_state = True
    supports_rekey = True
    async_upserts = True
    required_state_fields = ("email",)
    required_message_fields = {"email": ("email",)}
    default_batch_sizes = {"upsert": 30_000, "remove": 100, "send": 1_000, "rekey": 30_000}
    # SendGrid publishes no fixed figure for these endpoints; it reports the budget in
    # X-RateLimit-* headers and the policy waits for X-RateLimit-Reset on a 429. The
    # defaults follow the 600 requests per minute it documents for most v3 endpoints.
    default_rate_limits = {
        "contacts": RateLimit(per_second=10.0, burst=10),
        "search": RateLimit(per_second=10.0, burst=10),
        "list_membership": RateLimit(per_second=10.0, burst=10),
        "mail": RateLimit(per_second=10.0, burst=10),
        "jobs": RateLimit(per_second=10.0, burst=10),
    }

    @classmethod
    def check_settings(cls, config: DestinationConfig, context: str) -> None:
        custom = config.settings.get("custom_fields") or {}
        if not isinstance(custom, dict):
            raise ConfigError(f"{context}: settings.custom_fields maps field names to SendGrid custom field ids")

    def check_sync(self, sync: SyncConfig) -> None:
        if sync.kind == "state":
            if not self.settings.get("list_id"):
                raise ConfigError(f"sync {sync.name!r}: destination {self.config.name!r} needs settings.list_id for state syncs")
            custom = self.settings.get("custom_fields") or {}
            unmapped = [f for f in sync.fields if f not in _RESERVED and f not in custom]
            if unmapped:
                raise ConfigError(f"sync {sync.name!r}: fields {', '.join(unmapped)} need SendGrid custom field ids in settings.custom_fields")
        elif not self.settings.get("from_email"):
            raise ConfigError(f"sync {sync.name!r}: destination {self.config.name!r} needs settings.from_email to send mail")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.credential('api_key')}"}

    def _contact(self, key: str, fields: dict[str, Any]) -> dict[str, Any]:
        custom_ids = self.settings.get("custom_fields") or {}
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
        body = {"list_ids": [self.settings["list_id"]], "contacts": [self._contact(r.key, r.fields) for r in records]}
        response = self.http.request("contacts", "PUT", self.url("/v3/marketing/contacts"), json=body, headers=self._headers())
        job_id = response.json().get("job_id")
        return [ok(job_id) for _ in records]

    def rekey(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        movable = [r for r in records if (r.previous or {}).get("email")]
        if movable:
            body = {"contacts": [{"email": r.previous["email"], "external_id": r.new_key} for r in movable]}
            self.http.request("contacts", "PUT", self.url("/v3/marketing/contacts"), json=body, headers=self._headers())
        return [ok() if (r.previous or {}).get("email") else rejected("no email last synced for the merged contact") for r in records]

    def contact_ids(self, emails: list[str]) -> dict[str, str]:
        """SendGrid's contact id per e-mail it knows (searched 100 at a time)."""
        found: dict[str, str] = {}
        for start in range(0, len(emails), _SEARCH_LIMIT):
            try:
                result = self.http.request(
                    "search", "POST", self.url("/v3/marketing/contacts/search/emails"),
                    json={"emails": emails[start:start + _SEARCH_LIMIT]}, headers=self._headers(),
                ).json().get("result") or {}
            except PermanentError as error:
                if error.status == 404:  # SendGrid's answer when it knows none of them
                    continue
                raise
            found |= {email: entry["contact"]["id"] for email, entry in result.items() if (entry.get("contact") or {}).get("id")}
        return found

    def check_job(self, job: Job) -> JobResult:
        body = self.http.request(
            "jobs", "GET", self.url(f"/v3/marketing/contacts/imports/{quote(job.job_id, safe='')}"), headers=self._headers()
        ).json()
        status = body.get("status")
        errored = int((body.get("results") or {}).get("errored_count") or 0)
        if status == "failed":
            return JobResult("failed", rows_failed=errored or len(job.records), detail="SendGrid failed the contact import job")
        if status not in ("completed", "errored"):
            return JobResult("pending")
        if not errored:
            return JobResult("completed", rows_failed=0)
        emails = {r.fields["email"]: r.key for r in job.records if r.fields and r.fields.get("email")}
        known = self.contact_ids(list(emails))
        error = f"not created by SendGrid's import job ({errored} rows errored; SendGrid states the reasons only in the job's errors_url file)"
        missing = {key: error for email, key in emails.items() if email not in known}
        unmatched = errored - len(missing)
        detail = f"{unmatched} errored rows are not missing contacts (failed updates?) and could not be matched to a key" if unmatched > 0 else None
        return JobResult("errored", missing, errored, detail)

    def remove(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        emails = [(r.previous or {}).get("email") for r in records]
        contact_ids = self.contact_ids([e for e in emails if e])
        ids = [contact_ids.get(e) for e in emails if e and contact_ids.get(e)]
        if ids:
            self.http.request(
                "list_membership", "DELETE", self.url(f"/v3/marketing/lists/{self.settings['list_id']}/contacts"),
                params={"contact_ids": ",".join(ids)}, headers=self._headers(),
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
        sender = {"email": self.settings["from_email"]}
        if self.settings.get("from_name"):
            sender["name"] = self.settings["from_name"]
        for template, group in by_template.items():
            body = {
                "from": sender,
                "template_id": template,
                "personalizations": [
                    {
                        "to": [{"email": m.fields["email"]}],
                        "dynamic_template_data": {k: v for k, v in m.fields.items() if k != "email"} | {"journey": m.journey, "step": m.step},
                        "custom_args": {"message_key": m.message_key, "person_id": m.person_id},
                    }
                    for m in group
                ],
            }
            response = self.http.request("mail", "POST", self.url("/v3/mail/send"), json=body, headers=self._headers(), repeatable=False)
            provider_id = response.headers.get("X-Message-Id")
            for m in group:
                outcomes[m.message_key] = ok(provider_id)
        return [outcomes[m.message_key] for m in messages]
