"""The WhatsApp Cloud API's stand-in: template messages, kept as sent."""

from __future__ import annotations

import re

from activation.standins.common import Answer, ProviderStandin, Request

_MESSAGES = re.compile(r"^/v\d+\.\d+/[^/]+/messages$")


class WhatsAppCloudStandin(ProviderStandin):
    type_name = "whatsapp_cloud"

    def __init__(self, server):
        super().__init__(server)
        self.messages: list[dict] = []  # the bodies of the messages accepted

    def answers(self, path: str) -> bool:
        return bool(_MESSAGES.match(path))

    def answer(self, request: Request) -> Answer:
        body = request.json
        self.messages.append(body)
        self.server.messages[self.type_name] += 1
        return (
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"].lstrip("+")}],
                "messages": [{"id": self.server.next_id("wamid.")}],
            },
            None,
        )
