"""The one HTTP policy every destination uses: rate limiting, retries, error classes.

* Before each request the destination's token bucket for that operation is drawn.
* 429, 5xx, timeouts and connection errors are retried with exponential backoff and
  full jitter; Retry-After and rate-limit reset headers set the wait instead when given,
  and a 429 also pauses the whole bucket so no other request hits the same wall.
* Any other 4xx fails at once (PermanentError): retrying cannot change the answer. Except
  a 4xx that follows a 5xx or a lost connection on the same request: a proxy or load
  balancer in trouble answers strangely, so such a 4xx is tried once more on a fresh
  connection (a new session) before it is taken as the provider's final word.
* A request that must not be repeated blindly (a message send without a provider-side
  idempotency key) is not retried once it may have reached the provider (read timeout,
  500); it raises AmbiguousError and the send ledger records the outcome as unknown.

Errors carry the status code and a truncated provider message, never the request
body or headers. Providers echo what they were sent (a first name in a validation
error), so the provider message is masked (mask_personal): every value the request
carried (body, form, query, credentials) is replaced, and so is anything shaped like an
e-mail address or a phone number; error codes and field names stay readable.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import requests
import urllib3
from pydantic import BaseModel, ConfigDict, Field

USER_AGENT = "retail-cdp-activation/0.1.0"
_MAX_ERROR_TEXT = 500
# Statuses after which the request certainly was not processed: safe to repeat even
# for sends that the provider cannot deduplicate.
_NOT_PROCESSED = {429, 502, 503, 504}
MASK = "[masked]"
# Shorter carried values (a step number, "en", "gold") would mask error codes and field names too.
_MIN_MASKED_LENGTH = 4
_EMAIL = re.compile(r"[^\s\"'<>@,;:(){}\[\]]+@[^\s\"'<>@,;:(){}\[\]]+\.[A-Za-z]{2,}")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")  # ASCII: kept as they are by JSON escaping and URL encoding
_SECRET_HEADER_WORDS = ("auth", "key", "token", "secret", "signature")
_PHONE = re.compile(r"\+\d[\d ().-]{5,}\d")


def carried_values(*parts: Any) -> set[str]:
    """Every string (and number) inside a request's parts: what the provider may echo back."""
    found: set[str] = set()

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, (list, tuple, set)):
            for value in node:
                yield from walk(value)
        elif isinstance(node, bytes):
            yield from walk(node.decode("utf-8", "replace"))
        elif isinstance(node, str):
            yield node
            # A JSON string inside a string (ContentVariables) carries its own values.
            if node[:1] in "{[":
                yield from walk(_json_or_none(node))
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            yield str(node)

    for part in parts:
        found.update(v for v in walk(part) if len(v.strip()) >= _MIN_MASKED_LENGTH)
    return found


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def mask_personal(text: str, carried: Iterable[str] = ()) -> str:
    """``text`` with every carried value, e-mail address and phone number replaced by [masked].

    Values are matched as sent, as JSON escapes them and as a form or URL encodes them (a
    provider echoing a body quotes it), longest first so a value inside another is not left half-masked.
    """
    present = set()
    for value in carried:
        # A bulk request carries tens of thousands of values: every form keeps the value's
        # letters and digits, so a value with a run of them absent from the text is not there.
        if not all(run in text for run in _ALNUM_RUN.findall(value)):
            continue
        forms = {value}
        if not value.isalnum():
            forms |= {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
            forms |= {quote_plus(value), quote(value, safe="")}  # a form body echoed as it was sent
        present.update(form for form in forms if len(form) >= _MIN_MASKED_LENGTH and form in text)
    for value in sorted(present, key=len, reverse=True):
        text = text.replace(value, MASK)
    return _PHONE.sub(MASK, _EMAIL.sub(MASK, text))


class DeliveryError(Exception):
    def __init__(self, message: str, status: int | None = None, detail: str = "", attempts: int = 1):
        super().__init__(message)
        self.status = status
        self.detail = detail[:_MAX_ERROR_TEXT]
        self.attempts = attempts


class PermanentError(DeliveryError):
    """A 4xx other than 429: the request is wrong as sent and will stay wrong."""


class TransientError(DeliveryError):
    """Retries ran out on 429/5xx/timeouts: the provider may accept the same request later."""


class AmbiguousError(DeliveryError):
    """The request may or may not have been processed and may not be repeated."""


class RateLimit(BaseModel):
    """A token bucket's figures: `per_second` steady refill, `burst` requests at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_second: float = Field(gt=0)
    burst: int = Field(default=1, ge=1)


class TokenBucket:
    """Steady refill with a burst allowance; `pause_for` honours a provider's cool-down."""

    def __init__(self, limit: RateLimit, clock=time.monotonic, sleep=time.sleep):
        self.rate = limit.per_second
        # One request of the burst stays in reserve: the provider counts from when requests
        # arrive, we from when they leave, and latency jitter between the two would otherwise
        # turn a request at the edge of the allowance into a 429.
        self.capacity = float(max(1, limit.burst - 1))
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                wait = self._paused_until - now
                if wait <= 0:
                    self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                    self._updated = now
                    # The tolerance keeps float rounding from asking for a sleep too small to pass.
                    if self._tokens >= 1.0 - 1e-9:
                        self._tokens = max(self._tokens - 1.0, 0.0)
                        return
                    wait = (1.0 - self._tokens) / self.rate
            self._sleep(wait)

    def pause_for(self, seconds: float) -> None:
        """Take no request for `seconds`, then restart with an empty bucket (no burst into the wall)."""
        with self._lock:
            moment = self._clock() + max(seconds, 0.0)
            self._paused_until = max(self._paused_until, moment)
            self._tokens = 0.0
            self._updated = self._paused_until


class RateLimiter:
    """One per destination: a token bucket per operation (providers limit per endpoint)."""

    def __init__(self, limits: dict[str, RateLimit]):
        self.buckets = {operation: TokenBucket(limit) for operation, limit in limits.items()}

    def bucket(self, operation: str) -> TokenBucket:
        try:
            return self.buckets[operation]
        except KeyError:
            raise KeyError(f"no rate limit configured for operation {operation!r}") from None


@dataclass
class HttpStats:
    requests: int = 0
    throttled: int = 0  # answered 429
    retries: int = 0


@dataclass
class Backoff:
    base_seconds: float = 0.5
    max_seconds: float = 60.0
    min_wait_after_429: float = 0.0  # e.g. FCM asks for at least 60 s after RESOURCE_EXHAUSTED

    def delay(self, attempt: int) -> float:
        # Full jitter: spreads retries of many clients instead of synchronising them.
        return random.uniform(0, min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1)))


def wait_from_headers(response: requests.Response, now_epoch: float | None = None) -> float | None:
    """Seconds the provider asked us to wait (Retry-After, or a rate-limit reset), if any."""
    now_epoch = time.time() if now_epoch is None else now_epoch
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        retry_after = retry_after.strip()
        try:
            return max(float(retry_after), 0.0)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(retry_after) if retry_after else None
            if parsed is not None:
                return max(parsed.timestamp() - now_epoch, 0.0)
    for header in ("X-RateLimit-Reset", "RateLimit-Reset", "X-Rate-Limit-Reset"):
        value = response.headers.get(header)
        if not value:
            continue
        try:
            number = float(value.strip())
        except ValueError:
            continue
        # Reset headers come either as an epoch second (SendGrid) or as seconds from now.
        return max(number - now_epoch, 0.0) if number > 1_000_000_000 else max(number, 0.0)
    return None


class HttpPolicy:
    def __init__(
        self,
        limiter: RateLimiter,
        max_attempts: int = 6,
        timeout_seconds: float = 30.0,
        backoff: Backoff | None = None,
        session: requests.Session | None = None,
        sleep=time.sleep,
    ):
        self.limiter = limiter
        self.max_attempts = max(1, max_attempts)
        self.timeout = (min(10.0, timeout_seconds), timeout_seconds)
        self.backoff = backoff or Backoff()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.stats = HttpStats()
        self._sleep = sleep
        self._per_thread = threading.local()
        self._count_lock = threading.Lock()

    def requests_in_this_thread(self) -> int:
        """Requests sent by the calling thread (attempts per row when batches run in parallel)."""
        return getattr(self._per_thread, "requests", 0)

    def request(self, operation: str, method: str, url: str, *, repeatable: bool = True, **kwargs) -> requests.Response:
        """Send with the policy; return the 2xx response or raise a DeliveryError subclass.

        `repeatable` is False for sends the provider cannot deduplicate.
        """
        bucket = self.limiter.bucket(operation)
        attempt = 0
        session, fresh_session = self.session, None
        troubled = False  # a 5xx or a lost connection came before: the next 4xx is suspect
        try:
            while True:
                attempt += 1
                bucket.acquire()
                with self._count_lock:
                    self.stats.requests += 1
                self._per_thread.requests = self.requests_in_this_thread() + 1
                try:
                    response = session.request(method, url, timeout=self.timeout, **kwargs)
                except requests.RequestException as error:
                    reason = type(error).__name__
                    if not repeatable and not _never_sent(error):
                        raise AmbiguousError(
                            f"{operation}: no answer from the provider ({reason})", attempts=attempt
                        ) from None
                    if attempt >= self.max_attempts:
                        raise TransientError(
                            f"{operation}: no answer after {attempt} attempts ({reason})", attempts=attempt
                        ) from None
                    self.stats.retries += 1
                    troubled = True
                    self._retry_wait(attempt, None)
                    continue

                status = response.status_code
                if status < 300:
                    return response
                if status == 429 or status >= 500:
                    if status == 429:
                        with self._count_lock:
                            self.stats.throttled += 1
                    if not repeatable and status not in _NOT_PROCESSED:
                        raise AmbiguousError(
                            f"{operation}: HTTP {status}; the provider may have processed it",
                            status,
                            _masked_detail(response, session, kwargs),
                            attempt,
                        )
                    if attempt >= self.max_attempts:
                        raise TransientError(
                            f"{operation}: HTTP {status} after {attempt} attempts",
                            status,
                            _masked_detail(response, session, kwargs),
                            attempt,
                        )
                    asked = wait_from_headers(response)
                    self.stats.retries += 1
                    troubled = troubled or status >= 500
                    if status == 429:
                        # Pausing the bucket (not just this call) keeps every later request behind the wall too.
                        wait = max(
                            asked if asked is not None else self.backoff.delay(attempt), self.backoff.min_wait_after_429
                        )
                        bucket.pause_for(wait + random.uniform(0, 0.05))
                    else:
                        self._retry_wait(attempt, asked)
                    continue
                if troubled and fresh_session is None:
                    fresh_session = session = self._new_session()
                    self.stats.retries += 1
                    continue
                raise PermanentError(
                    f"{operation}: HTTP {status}", status, _masked_detail(response, session, kwargs), attempt
                )
        finally:
            if fresh_session is not None:
                fresh_session.close()

    def _new_session(self) -> requests.Session:
        """A session with no pooled connection, for the one retry of a suspect 4xx."""
        session = requests.Session()
        session.headers.update(self.session.headers)
        return session

    def _retry_wait(self, attempt: int, asked: float | None) -> None:
        wait = asked if asked is not None else self.backoff.delay(attempt)
        # Small jitter even on a provider-given wait so parallel clients do not return in lockstep.
        self._sleep(min(wait, self.backoff.max_seconds * 10) + random.uniform(0, 0.05))


def _masked_detail(response: requests.Response, session: requests.Session, kwargs: dict[str, Any]) -> str:
    """The start of the provider's answer, masked; only for an error that is raised, so a
    retried 429 costs nothing. Masked over four times what is kept, so that a value cut at
    the window's edge lies beyond the part kept."""
    return mask_personal(response.text[: _MAX_ERROR_TEXT * 4], _request_values(session, kwargs))[:_MAX_ERROR_TEXT]


def _request_values(session: requests.Session, kwargs: dict[str, Any]) -> set[str]:
    """The values a request carried, credentials included (a provider may echo a key it refused)."""
    headers = {**session.headers, **(kwargs.get("headers") or {})}
    secrets = [
        part
        for name, value in headers.items()
        if any(word in name.lower() for word in _SECRET_HEADER_WORDS)
        for part in (str(value), str(value).split(" ", 1)[-1])
    ]
    return carried_values(kwargs.get("json"), kwargs.get("data"), kwargs.get("params"), kwargs.get("auth"), secrets)


def _never_sent(error: requests.RequestException) -> bool:
    """True when the request certainly did not reach the provider (no connection was made)."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.ConnectionError) and isinstance(reason, urllib3.exceptions.NewConnectionError)
