"""SendGrid's stand-in: marketing contacts on lists, contact import jobs, contact search, mail.

A contact upsert refuses the whole request (400) when an e-mail carries BAD_EMAIL_MARK,
and its job errors the contacts marked JOB_ERROR_MARK, which it then does not hold.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from activation.standins.common import BAD_EMAIL_MARK, JOB_ERROR_MARK, Answer, ImportJob, ProviderStandin, Request

_IMPORT = re.compile(r"^/v3/marketing/contacts/imports/([^/]+)$")
_LIST_CONTACTS = re.compile(r"^/v3/marketing/lists/([^/]+)/contacts$")


class SendGridStandin(ProviderStandin):
    type_name = "sendgrid"

    def __init__(self, server):
        super().__init__(server)
        self.contacts: dict[str, dict] = {}  # e-mail -> contact (id, external_id, list_ids, fields)

    def answers(self, path: str) -> bool:
        return path.startswith("/v3/")

    def holdings(self) -> dict[str, int]:
        return {"sendgrid contacts on a list": sum(1 for c in self.contacts.values() if c["list_ids"])}

    def answer(self, request: Request) -> Answer:
        path, method, body = request.path, request.method, request.json
        if path == "/v3/marketing/contacts" and method == "PUT":
            return self._upsert(body)
        if path == "/v3/marketing/contacts" and method == "DELETE":
            ids = set(request.query.get("ids", [""])[0].split(","))
            for email in [e for e, c in self.contacts.items() if c["id"] in ids]:
                del self.contacts[email]
            return 202, {"job_id": self.server.next_id("sgjob-")}, None
        match = _IMPORT.match(path)
        if match and method == "GET":
            return self._import_status(match.group(1))
        if path == "/v3/marketing/contacts/search/emails":
            found = {
                email: {"contact": {"id": self.contacts[email]["id"], "email": email}}
                for email in body["emails"]
                if email in self.contacts
            }
            if not found:
                return 404, {"errors": [{"message": "No contacts found"}]}, None
            return 200, {"result": found}, None
        match = _LIST_CONTACTS.match(path)
        if match and method == "DELETE":
            ids = set(request.query.get("contact_ids", [""])[0].split(","))
            for contact in self.contacts.values():
                if contact["id"] in ids:
                    contact["list_ids"].discard(match.group(1))
            return 202, {"job_id": self.server.next_id("sgjob-")}, None
        if path == "/v3/mail/send":
            for personalization in body["personalizations"]:
                self.server.deliver(self.type_name, personalization["custom_args"]["message_key"])
            return 202, None, {"X-Message-Id": self.server.next_id("sgmsg-")}
        return 404, {"errors": [{"message": f"no such path {path}"}]}, None

    def _upsert(self, body: dict) -> Answer:
        contacts = body["contacts"]
        if any(BAD_EMAIL_MARK in str(c.get("email") or "") for c in contacts):
            return 400, {"errors": [{"field": "contacts", "message": "invalid email"}]}, None
        job = ImportJob(self.type_name, total=len(contacts))
        for position, contact in enumerate(contacts):
            if JOB_ERROR_MARK in str(contact.get("email") or ""):
                job.failures.append((position, contact))
                continue
            stored = self.contacts.setdefault(contact["email"], {"id": self.server.next_id("sg-"), "list_ids": set()})
            stored.update(contact)
            stored["list_ids"] |= set(body.get("list_ids") or [])
        job_id = self.server.next_id("sgjob-")
        self.server.jobs[job_id] = job
        return 202, {"job_id": job_id}, None

    def _import_status(self, job_id: str) -> Answer:
        job = self.server.jobs.get(unquote(job_id))
        if job is None or job.provider != self.type_name:
            return 404, {"errors": [{"message": "job not found"}]}, None
        if not self.server.job_done(job):
            return 200, {"id": job_id, "status": "pending", "job_type": "upsert", "results": {}}, None
        errored = len(job.failures)
        results = {
            "requested_count": job.total,
            "created_count": job.total - errored,
            "updated_count": 0,
            "errored_count": errored,
        }
        if errored:
            results["errors_url"] = f"{self.server.url}/_errors/{job_id}.csv"
        status = "errored" if errored else "completed"
        return 200, {"id": job_id, "status": status, "job_type": "upsert", "results": results}, None
