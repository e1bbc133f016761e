"""Twilio's stand-in: Programmable Messaging sends (SMS and WhatsApp), kept as sent, and the
message list by recipient (GET Messages.json?To=...), newest first, as Twilio answers it."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

from activation.standins.common import Answer, ProviderStandin, Request


class TwilioStandin(ProviderStandin):
    type_name = "twilio"

    def __init__(self, server):
        super().__init__(server)
        self.messages: list[dict] = []  # the forms of the messages accepted
        self.resources: list[dict] = []  # the message resources Twilio would list, in creation order

    def answers(self, path: str) -> bool:
        return path.startswith("/2010-04-01/") and path.endswith("/Messages.json")

    def answer(self, request: Request) -> Answer:
        if request.method == "GET":
            return self._list(request)
        form = request.form
        self.messages.append(form)
        self.server.messages[self.type_name] += 1
        sid = self.server.next_id("SM")
        self.resources.append(
            {
                "sid": sid,
                "to": form["To"],
                "from": form.get("From"),
                "body": form.get("Body") or "",
                "status": "queued",
                "date_created": email.utils.format_datetime(datetime.now(UTC)),
                "date_sent": None,  # queued: not handed to a carrier yet
            }
        )
        return 201, {"sid": sid, "status": "queued"}, None

    def _list(self, request: Request) -> Answer:
        to = (request.query.get("To") or [None])[0]
        size = int((request.query.get("PageSize") or ["50"])[0])
        found = [m for m in reversed(self.resources) if to is None or m["to"] == to][:size]
        return 200, {"messages": found, "page": 0, "page_size": size, "next_page_uri": None}, None
