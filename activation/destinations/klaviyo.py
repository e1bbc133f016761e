"""Klaviyo: profiles with traits, list membership, email/SMS subscriptions, flow events.

State syncs upsert profiles with the bulk import job (up to 10,000 per request), which
also adds them to `settings.list_id`. Profiles are matched by external_id (the sync key)
and email. Klaviyo merges profile attributes on import, so a change carries only the
changed fields. The consent fields of its channels in the channel registry
(`consent_email`, `consent_sms`) become subscription jobs for the channel's address.
Removes take the profile out of the list (Klaviyo's DELETE takes Klaviyo profile ids,
which the single-profile import returns). Message sends are events (POST /api/events)
that trigger a flow; the event's unique_id is the message_key, so Klaviyo drops a repeat.

A bulk import job runs after Klaviyo acknowledged it: check_job reads its status
(GET /api/profile-bulk-import-jobs/{id}) and, when profiles failed, the job's import
errors (GET .../import-errors), matched to keys by the profile's external_id (else its
e-mail, else the error's pointer into the request). The subscription jobs have no status
operation in Klaviyo's published contract, so their per-profile outcome is not followed.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, urlparse

from pydantic import Field

from activation.config_schema import DestinationSettings, SyncConfig
from activation.destinations.base import Destination, Job, JobResult, Message, Outcome, Record, ok
from activation.errors import ConfigError
from activation.http import PermanentError, RateLimit

REVISION = "2026-07-15"
MEDIA_TYPE = "application/vnd.api+json"
_PROFILE_ATTRIBUTES = {"email": "email", "phone": "phone_number", "first_name": "first_name", "last_name": "last_name"}
_ERRORS_PAGE_SIZE = 100  # the most import errors Klaviyo returns per page
_POINTER = re.compile(r"/profiles/data/(\d+)")


def _bucket(burst_per_second: int, steady_per_minute: int) -> RateLimit:
    # Klaviyo publishes a 1 s burst window and a 1 min steady window; a bucket refilling at
    # the steady rate with the burst as capacity stays inside both.
    return RateLimit(per_second=steady_per_minute / 60.0, burst=burst_per_second)


class KlaviyoSettings(DestinationSettings):
    list_id: str | None = None  # the list that mirrors the audience (state syncs)
    metric_name: str = Field(default="CDP Planned Message", min_length=1)  # the event a send records


class Klaviyo(Destination):
    type_name = "klaviyo"
    default_base_url = "https://a.klaviyo.com"
    credential_names = ("api_key",)
    Settings = KlaviyoSettings
    channels = frozenset({"email", "sms"})
    supports_state = True
    partial_updates = True
    supports_rekey = True
    idempotent_sends = True
    async_upserts = True
    uses_templates = False  # the event triggers a flow; the flow holds the content
    required_message_fields: ClassVar[dict[str, tuple[str, ...]]] = {"email": ("email",), "sms": ("phone",)}
    default_batch_sizes: ClassVar[dict[str, int]] = {"upsert": 10_000, "remove": 1_000, "send": 1, "rekey": 1}
    # x-klaviyo-ratelimit of each operation in the 2026-07-15 contract.
    default_rate_limits: ClassVar[dict[str, RateLimit]] = {
        "bulk_import": _bucket(10, 150),
        "list_membership": _bucket(10, 150),
        "profile_import": _bucket(75, 750),
        "subscriptions": _bucket(75, 750),
        "events": _bucket(350, 3500),
        # Job status and import errors: 10/s burst, 150/min steady each.
        "jobs": _bucket(10, 150),
        # Data-privacy deletion requests: 3/s burst, 60/min steady.
        "privacy": _bucket(3, 60),
    }
    deletes_persons = True
    deletion_fields = ("email", "phone")

    def delete_person(self, key: str, address: dict[str, Any]) -> str | None:
        """A data-privacy deletion request (POST /api/data-privacy-deletion-jobs): Klaviyo deletes
        every profile with the e-mail (else the phone) synced, asynchronously, and takes exactly
        one identifier. The profile's Klaviyo id is not kept, so the address is what is used."""
        identifier = (
            {"email": address["email"]}
            if address.get("email")
            else ({"phone_number": address["phone"]} if address.get("phone") else None)
        )
        if identifier is None:
            return "no e-mail or phone was synced: nothing Klaviyo can delete by"
        body = {
            "data": {
                "type": "data-privacy-deletion-job",
                "attributes": {"profile": {"data": {"type": "profile", "attributes": identifier}}},
            }
        }
        self.http.request(
            "privacy", "POST", self.url("/api/data-privacy-deletion-jobs"), json=body, headers=self._headers()
        )
        return None

    def check_sync(self, sync: SyncConfig) -> None:
        if sync.kind == "state" and not self.settings.list_id:
            raise ConfigError(
                f"sync {sync.name!r}: destination {self.config.name!r} needs settings.list_id for state syncs"
            )

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Klaviyo-API-Key {self.config.credential('api_key')}",
            "revision": REVISION,
            "Content-Type": MEDIA_TYPE,
            "Accept": MEDIA_TYPE,
        }

    def _profile(self, key: str, fields: dict[str, Any]) -> dict[str, Any]:
        attributes: dict[str, Any] = {"external_id": key}
        properties = {}
        for name, value in fields.items():
            if name in _PROFILE_ATTRIBUTES:
                attributes[_PROFILE_ATTRIBUTES[name]] = value
            else:
                properties[name] = value
        if properties:
            attributes["properties"] = properties
        return {"type": "profile", "attributes": attributes}

    def upsert(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        list_id = self.settings.list_id
        body = {
            "data": {
                "type": "profile-bulk-import-job",
                "attributes": {"profiles": {"data": [self._profile(r.key, r.fields) for r in records]}},
                "relationships": {"lists": {"data": [{"type": "list", "id": list_id}]}},
            }
        }
        response = self.http.request(
            "bulk_import", "POST", self.url("/api/profile-bulk-import-jobs"), json=body, headers=self._headers()
        )
        job_id = (response.json().get("data") or {}).get("id")
        self._subscriptions(records, list_id)
        return [ok(job_id) for _ in records]

    def _subscriptions(self, records: list[Record], list_id: str) -> None:
        """Consent fields that were sent become subscribe / unsubscribe jobs per channel."""
        for entry in self.channel_registry.channels:
            if entry.channel not in self.channels:
                continue
            # Klaviyo names its subscription channels as the registry does (email, sms).
            channel, field_name, address_field = entry.channel, entry.consent_column, entry.address_field
            attribute = _PROFILE_ATTRIBUTES[address_field]
            for consent in (True, False):
                profiles = []
                for record in records:
                    if field_name not in record.fields or bool(record.fields[field_name]) is not consent:
                        continue
                    address = record.fields.get(address_field) or (record.previous or {}).get(address_field)
                    if address:
                        state = "SUBSCRIBED" if consent else "UNSUBSCRIBED"
                        profiles.append(
                            {
                                "type": "profile",
                                "attributes": {
                                    attribute: address,
                                    "subscriptions": {channel: {"marketing": {"consent": state}}},
                                },
                            }
                        )
                job = "profile-subscription-bulk-create-job" if consent else "profile-subscription-bulk-delete-job"
                for start in range(0, len(profiles), 1000):
                    body = {
                        "data": {
                            "type": job,
                            "attributes": {"profiles": {"data": profiles[start : start + 1000]}},
                            "relationships": {"list": {"data": {"type": "list", "id": list_id}}},
                        }
                    }
                    self.http.request(
                        "subscriptions", "POST", self.url(f"/api/{job}s"), json=body, headers=self._headers()
                    )

    def _profile_id(self, record: Record, key: str) -> str:
        """Klaviyo's id for a profile, from the single-profile import (an idempotent upsert)."""
        fields = {"email": (record.previous or {}).get("email")} if (record.previous or {}).get("email") else {}
        body = {"data": self._profile(key, fields)}
        response = self.http.request(
            "profile_import", "POST", self.url("/api/profile-import"), json=body, headers=self._headers()
        )
        return response.json()["data"]["id"]

    def remove(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        ids = [self._profile_id(r, r.key) for r in records]
        body = {"data": [{"type": "profile", "id": i} for i in ids]}
        self.http.request(
            "list_membership",
            "DELETE",
            self.url(f"/api/lists/{self.settings.list_id}/relationships/profiles"),
            json=body,
            headers=self._headers(),
        )
        return [ok(i) for i in ids]

    def rekey(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        outcomes = []
        for record in records:
            email = (record.previous or {}).get("email")
            if not email:
                outcomes.append(
                    Outcome(
                        ok=False,
                        error="no email last synced for the merged profile; it is removed and re-added instead",
                    )
                )
                continue
            body = {"data": self._profile(record.new_key, {"email": email})}
            try:
                response = self.http.request(
                    "profile_import", "POST", self.url("/api/profile-import"), json=body, headers=self._headers()
                )
            except PermanentError as error:
                outcomes.append(Outcome(ok=False, error=error.detail or str(error), status=error.status))
                continue
            outcomes.append(ok(response.json()["data"]["id"]))
        return outcomes

    def check_job(self, job: Job) -> JobResult:
        response = self.http.request(
            "jobs",
            "GET",
            self.url(f"/api/profile-bulk-import-jobs/{quote(job.job_id, safe='')}"),
            headers=self._headers(),
        )
        attributes = (response.json().get("data") or {}).get("attributes") or {}
        status = attributes.get("status")
        if status == "cancelled":
            return JobResult(
                "failed", rows_failed=attributes.get("total_count"), detail="Klaviyo cancelled the bulk import job"
            )
        if status != "complete":
            return JobResult("pending")
        failed = int(attributes.get("failed_count") or 0)
        if not failed:
            return JobResult("completed", rows_failed=0)
        rejected = {}
        for error in self.import_errors(job.job_id, failed):
            key = _error_key(error.get("attributes") or {}, job)
            if key is not None:
                rejected[key] = _error_text(error.get("attributes") or {})
        unmatched = failed - len(rejected)
        detail = f"{unmatched} failed profiles could not be matched to a key" if unmatched > 0 else None
        return JobResult("errored", rejected, failed, detail)

    def import_errors(self, job_id: str, expected: int) -> list[dict[str, Any]]:
        """The job's import errors, page by page (bounded by the failures Klaviyo counted)."""
        errors: list[dict[str, Any]] = []
        cursor = None
        for _ in range(expected // _ERRORS_PAGE_SIZE + 2):
            params = {"page[size]": _ERRORS_PAGE_SIZE} | ({"page[cursor]": cursor} if cursor else {})
            body = self.http.request(
                "jobs",
                "GET",
                self.url(f"/api/profile-bulk-import-jobs/{quote(job_id, safe='')}/import-errors"),
                params=params,
                headers=self._headers(),
            ).json()
            errors += body.get("data") or []
            following = (body.get("links") or {}).get("next")
            # Only the cursor is taken from the link: requests stay on the configured base URL.
            cursor = parse_qs(urlparse(following).query).get("page[cursor]", [None])[0] if following else None
            if not cursor:
                break
        return errors

    def send_one(self, message: Message, template: Any, sync: SyncConfig) -> Outcome:
        profile: dict[str, Any] = {"external_id": message.person_id}
        if message.fields.get("email"):
            profile["email"] = message.fields["email"]
        if message.fields.get("phone"):
            profile["phone_number"] = message.fields["phone"]
        properties = {k: v for k, v in message.fields.items() if k not in ("email", "phone")}
        body = {
            "data": {
                "type": "event",
                "attributes": {
                    "properties": {
                        "journey": message.journey,
                        "step": message.step,
                        "channel": message.channel,
                        "message_key": message.message_key,
                        **properties,
                    },
                    "metric": {
                        "data": {
                            "type": "metric",
                            "attributes": {"name": self.settings.metric_name},
                        }
                    },
                    "profile": {"data": {"type": "profile", "attributes": profile}},
                    "unique_id": message.message_key,
                },
            }
        }
        self.http.request("events", "POST", self.url("/api/events"), json=body, headers=self._headers())
        # Klaviyo answers 202 with no body: the unique_id is the event's handle.
        return ok(message.message_key)


def _error_key(attributes: dict[str, Any], job: Job) -> str | None:
    """The key of the profile an import error is about: external_id, else e-mail, else position."""
    payload = attributes.get("original_payload") if isinstance(attributes.get("original_payload"), dict) else {}
    profile = payload.get("data", payload) if isinstance(payload.get("data", payload), dict) else {}
    profile = profile.get("attributes", profile) if isinstance(profile.get("attributes", profile), dict) else profile
    keys = [record.key for record in job.records]
    if profile.get("external_id") in keys:
        return profile["external_id"]
    email = profile.get("email")
    if email:
        matches = [r.key for r in job.records if r.fields and r.fields.get("email") == email]
        if len(matches) == 1:
            return matches[0]
    pointer = _POINTER.search(str((attributes.get("source") or {}).get("pointer") or ""))
    if pointer and int(pointer.group(1)) < len(keys):
        return keys[int(pointer.group(1))]
    return None


def _error_text(attributes: dict[str, Any]) -> str:
    parts = [str(attributes.get(name)) for name in ("code", "title", "detail") if attributes.get(name)]
    return ": ".join(parts)[:300] or "failed in Klaviyo's bulk import job"
