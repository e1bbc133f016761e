"""The one HTTP policy every destination uses: rate limiting, retries, error classes.

* Before each request the destination's token bucket for that operation is drawn.
* 429, 5xx, timeouts and connection errors are retried with exponential backoff and
  full jitter; Retry-After and rate-limit reset headers set the wait instead when given,
  and a 429 also pauses the whole bucket so no other request hits the same wall.
* Any other 4xx fails at once (PermanentError): retrying cannot change the answer.
* A request that must not be repeated blindly (a message send without a provider-side
  idempotency key) is not retried once it may have reached the provider (read timeout,
  500); it raises AmbiguousError and the send ledger records the outcome as unknown.

Errors carry the status code and a truncated provider message, never the request
body or headers, so no address or secret ends up in a log or exception.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from dataclasses import dataclass

import requests
import urllib3

from activation.config import RateLimit

USER_AGENT = "retail-cdp-activation/0.1.0"
_MAX_ERROR_TEXT = 500
# Statuses after which the request certainly was not processed: safe to repeat even
# for sends that the provider cannot deduplicate.
_NOT_PROCESSED = {429, 502, 503, 504}


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
        while True:
            attempt += 1
            bucket.acquire()
            with self._count_lock:
                self.stats.requests += 1
            self._per_thread.requests = self.requests_in_this_thread() + 1
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.RequestException as error:
                reason = type(error).__name__
                if not repeatable and not _never_sent(error):
                    raise AmbiguousError(f"{operation}: no answer from the provider ({reason})", attempts=attempt) from None
                if attempt >= self.max_attempts:
                    raise TransientError(f"{operation}: no answer after {attempt} attempts ({reason})", attempts=attempt) from None
                self.stats.retries += 1
                self._retry_wait(attempt, None)
                continue

            status = response.status_code
            if status < 300:
                return response
            detail = response.text[:_MAX_ERROR_TEXT]
            if status == 429 or status >= 500:
                if status == 429:
                    with self._count_lock:
                        self.stats.throttled += 1
                if not repeatable and status not in _NOT_PROCESSED:
                    raise AmbiguousError(f"{operation}: HTTP {status}; the provider may have processed it", status, detail, attempt)
                if attempt >= self.max_attempts:
                    raise TransientError(f"{operation}: HTTP {status} after {attempt} attempts", status, detail, attempt)
                asked = wait_from_headers(response)
                self.stats.retries += 1
                if status == 429:
                    # Pausing the bucket (not just this call) keeps every later request behind the wall too.
                    wait = max(asked if asked is not None else self.backoff.delay(attempt), self.backoff.min_wait_after_429)
                    bucket.pause_for(wait + random.uniform(0, 0.05))
                else:
                    self._retry_wait(attempt, asked)
                continue
            raise PermanentError(f"{operation}: HTTP {status}", status, detail, attempt)

    def _retry_wait(self, attempt: int, asked: float | None) -> None:
        wait = asked if asked is not None else self.backoff.delay(attempt)
        # Small jitter even on a provider-given wait so parallel clients do not return in lockstep.
        self._sleep(min(wait, self.backoff.max_seconds * 10) + random.uniform(0, 0.05))


def _never_sent(error: requests.RequestException) -> bool:
    """True when the request certainly did not reach the provider (no connection was made)."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.ConnectionError) and isinstance(reason, urllib3.exceptions.NewConnectionError)
