"""Firebase Cloud Messaging's stand-in, with Google's OAuth 2 token endpoint (`/token`).

It answers a service-account token request (a JWT signed with the key, checked against
the key's public half when the key was made by `service_account_key()`) with an access
token, and once it has issued one it accepts sends only with a token it issued that has
not expired. Other credentials are not checked.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from activation.standins.common import Answer, ProviderStandin, Request

_SEND = re.compile(r"^/v1/projects/[^/]+/messages:send$")
# The audience google-auth signs, whichever token URI the key names.
_GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


class FcmStandin(ProviderStandin):
    type_name = "fcm"

    def __init__(self, server):
        super().__init__(server)
        self.service_accounts: dict[str, rsa.RSAPublicKey] = {}  # client e-mail -> public key of the key it made
        self.access_tokens: dict[str, float] = {}  # token issued at /token -> expiry (monotonic)
        self.token_lifetime_seconds = 3600

    def answers(self, path: str) -> bool:
        return path == "/token" or bool(_SEND.match(path))

    def service_account_key(self, client_email: str = "cdp-demo@retail-cdp.iam.gserviceaccount.com") -> str:
        """A fresh service-account key (JSON, as Google issues them) whose token endpoint is this stand-in."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.service_accounts[client_email] = private_key.public_key()
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return json.dumps(
            {
                "type": "service_account",
                "project_id": "retail-cdp",
                "private_key_id": secrets.token_hex(20),
                "private_key": pem,
                "client_email": client_email,
                "client_id": "1",
                "token_uri": f"{self.server.url}/token",
            }
        )

    def answer(self, request: Request) -> Answer:
        if request.path == "/token":
            return self._token(request.form)
        if self.access_tokens and not self._token_accepted(request.headers.get("Authorization") or ""):
            error = {"code": 401, "status": "UNAUTHENTICATED", "message": "invalid or expired access token"}
            return 401, {"error": error}, None
        self.server.deliver(self.type_name, request.json["message"]["data"]["message_key"])
        name = f"{request.path.rsplit('/messages', 1)[0].removeprefix('/v1/')}/messages/{self.server.next_id('')}"
        return 200, {"name": name}, None

    def _token(self, form: dict[str, str]) -> Answer:
        """Google's OAuth 2 token endpoint for a service account's signed JWT (RFC 7523)."""
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type"}, None
        header_part, claims_part, signature_part = form["assertion"].split(".")
        claims = json.loads(_unbase64(claims_part))
        public_key = self.service_accounts.get(claims.get("iss"))
        if public_key is not None:
            try:
                public_key.verify(
                    _unbase64(signature_part),
                    f"{header_part}.{claims_part}".encode(),
                    padding.PKCS1v15(),
                    hashes.SHA256(),
                )
            except InvalidSignature:
                return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, None
        elif self.service_accounts:
            return 400, {"error": "invalid_grant", "error_description": "Invalid grant: account not found"}, None
        if (
            claims.get("aud") != _GOOGLE_TOKEN_AUDIENCE
            or "firebase.messaging" not in claims.get("scope", "")
            or claims.get("exp", 0) < time.time()
        ):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: audience, scope or expiry"}, None
        token = f"ya29.standin-{secrets.token_hex(16)}"
        self.access_tokens[token] = time.monotonic() + self.token_lifetime_seconds
        return 200, {"access_token": token, "expires_in": self.token_lifetime_seconds, "token_type": "Bearer"}, None

    def _token_accepted(self, authorization: str) -> bool:
        expiry = self.access_tokens.get(authorization.removeprefix("Bearer "))
        return expiry is not None and expiry > time.monotonic()


def _unbase64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
