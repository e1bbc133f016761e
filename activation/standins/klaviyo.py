"""Klaviyo's stand-in: profiles, list membership, subscriptions, bulk import jobs, events.

A bulk import refuses the whole request (400, with a pointer per bad profile) when a
profile's e-mail carries BAD_EMAIL_MARK, and fails the profiles marked JOB_ERROR_MARK
in the job, reported page by page at the job's import errors.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from activation.standins.common import BAD_EMAIL_MARK, JOB_ERROR_MARK, Answer, ImportJob, ProviderStandin, Request

_LIST_MEMBERSHIP = re.compile(r"^/api/lists/([^/]+)/relationships/profiles$")
_JOB = re.compile(r"^/api/profile-bulk-import-jobs/([^/]+)(/import-errors)?$")


class KlaviyoStandin(ProviderStandin):
    type_name = "klaviyo"

    def __init__(self, server):
        super().__init__(server)
        self.members: dict[str, set[str]] = {}  # list id -> external ids
        self.profiles: dict[str, dict] = {}  # external id -> attributes
        self.klaviyo_ids: dict[str, str] = {}  # Klaviyo id -> external id
        self.subscriptions: dict[tuple[str, str], str] = {}  # (channel, address) -> SUBSCRIBED | UNSUBSCRIBED
        self.profile_rows_received = 0
        self.deleted: list[dict] = []  # the identifiers of data-privacy deletion requests

    def answers(self, path: str) -> bool:
        return path.startswith("/api/")

    def request_class(self, path: str) -> str:
        # Klaviyo limits list membership changes as one endpoint, whichever list.
        return "list_membership" if path.startswith("/api/lists/") else path

    def holdings(self) -> dict[str, int]:
        return {
            "klaviyo list members": sum(len(m) for m in self.members.values()),
            "klaviyo subscriptions": sum(1 for s in self.subscriptions.values() if s == "SUBSCRIBED"),
            "klaviyo unsubscribed": sum(1 for s in self.subscriptions.values() if s == "UNSUBSCRIBED"),
        }

    def stats(self) -> dict[str, int]:
        return {"profile_rows_received": self.profile_rows_received}

    def _delete_profile(self, identifier: dict) -> Answer:
        """Every profile with the e-mail or phone given goes, with its list memberships (Klaviyo: 202)."""
        for key, attributes in list(self.profiles.items()):
            if any(attributes.get(field) == value for field, value in identifier.items() if value):
                del self.profiles[key]
                for members in self.members.values():
                    members.discard(key)
        self.deleted.append(identifier)
        return 202, None, None

    def answer(self, request: Request) -> Answer:
        path, method, body = request.path, request.method, request.json
        if path == "/api/profile-bulk-import-jobs" and method == "POST":
            return self._bulk_import(body)
        match = _JOB.match(path)
        if match and method == "GET":
            job = self.server.jobs.get(unquote(match.group(1)))
            if job is None or job.provider != self.type_name:
                return 404, {"errors": [{"detail": "job not found"}]}, None
            if match.group(2):
                return 200, self._import_errors(match.group(1), job, request.query), None
            done = self.server.job_done(job)
            attributes = {
                "status": "complete" if done else "processing",
                "total_count": job.total,
                "completed_count": job.total - len(job.failures) if done else 0,
                "failed_count": len(job.failures) if done else 0,
            }
            return (
                200,
                {"data": {"type": "profile-bulk-import-job", "id": match.group(1), "attributes": attributes}},
                None,
            )
        if path == "/api/profile-import":
            return self._profile_import(body)
        if path == "/api/data-privacy-deletion-jobs" and method == "POST":
            return self._delete_profile(body["data"]["attributes"]["profile"]["data"]["attributes"])
        match = _LIST_MEMBERSHIP.match(path)
        if match and method == "DELETE":
            for entry in body["data"]:
                self.members.get(match.group(1), set()).discard(self.klaviyo_ids.get(entry["id"]))
            return 204, None, None
        if path.startswith("/api/profile-subscription-bulk-"):
            consent = "SUBSCRIBED" if "create" in path else "UNSUBSCRIBED"
            for profile in body["data"]["attributes"]["profiles"]["data"]:
                attributes = profile["attributes"]
                for channel in attributes.get("subscriptions", {}):
                    address = attributes.get("email") if channel == "email" else attributes.get("phone_number")
                    self.subscriptions[(channel, address)] = consent
            return 202, None, None
        if path == "/api/events":
            key = body["data"]["attributes"]["unique_id"]
            self.server.deliver(self.type_name, key, idempotency_key=key)
            return 202, None, None
        return 404, {"errors": [{"detail": f"no such path {path}"}]}, None

    def _bulk_import(self, body: dict) -> Answer:
        profiles = body["data"]["attributes"]["profiles"]["data"]
        bad = [i for i, p in enumerate(profiles) if BAD_EMAIL_MARK in str(p["attributes"].get("email") or "")]
        if bad:
            errors = [
                {"detail": "invalid email", "source": {"pointer": f"/data/attributes/profiles/data/{i}"}} for i in bad
            ]
            return 400, {"errors": errors}, None
        lists = [entry["id"] for entry in (body["data"].get("relationships") or {}).get("lists", {}).get("data", [])]
        job = ImportJob(self.type_name, total=len(profiles))
        for position, profile in enumerate(profiles):
            attributes = profile["attributes"]
            if JOB_ERROR_MARK in str(attributes.get("email") or ""):
                job.failures.append((position, attributes))
                continue
            key = attributes["external_id"]
            merged = self.profiles.setdefault(key, {})
            merged.update({k: v for k, v in attributes.items() if k != "properties"})
            merged.update(attributes.get("properties") or {})
            for list_id in lists:
                self.members.setdefault(list_id, set()).add(key)
        self.profile_rows_received += len(profiles)
        job_id = self.server.next_id("job-")
        self.server.jobs[job_id] = job
        return 202, {"data": {"type": "profile-bulk-import-job", "id": job_id}}, None

    def _profile_import(self, body: dict) -> Answer:
        attributes = body["data"]["attributes"]
        key = attributes.get("external_id")
        email = attributes.get("email")
        # Matched by email first, as Klaviyo does, so an import can move a profile to a new external id.
        old = next((k for k, p in self.profiles.items() if email and p.get("email") == email), None)
        if old and old != key:
            self.profiles[key] = self.profiles.pop(old) | {"external_id": key}
            for members in self.members.values():
                if old in members:
                    members.discard(old)
                    members.add(key)
        self.profiles.setdefault(key, {"external_id": key})
        klaviyo_id = f"K{key}"
        self.klaviyo_ids[klaviyo_id] = key
        return 200, {"data": {"type": "profile", "id": klaviyo_id}}, None

    def _import_errors(self, job_id: str, job: ImportJob, query: dict) -> dict:
        size = int(query.get("page[size]", [20])[0])
        start = int(query.get("page[cursor]", [0])[0])
        page = job.failures[start : start + size]
        data = [
            {
                "type": "import-error",
                "id": f"{job_id}-{position}",
                "attributes": {
                    "code": "invalid",
                    "title": "Invalid input",
                    "detail": "The e-mail address is not deliverable.",
                    "source": {"pointer": f"/data/attributes/profiles/data/{position}"},
                    "original_payload": attributes,
                },
            }
            for position, attributes in page
        ]
        following = start + size if start + size < len(job.failures) else None
        next_link = (
            f"{self.server.url}/api/profile-bulk-import-jobs/{job_id}/import-errors?page%5Bcursor%5D={following}"
            if following
            else None
        )
        return {"data": data, "links": {"self": "", "next": next_link}}
