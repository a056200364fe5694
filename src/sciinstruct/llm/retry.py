"""When to retry an HTTP request, and how long to wait before the next try."""

from __future__ import annotations

import email.utils
import random
import time

# 408 request timeout, 409 conflict (some gateways), 425 too early, 429 rate limited, 5xx server.
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


def is_retryable_status(status: int) -> bool:
    """A status that a later identical request may well not get (overload, rate limit, outage)."""
    return status in RETRYABLE_STATUS or status >= 500


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half of `base * 2**attempt` (capped) is fixed,
    the other half random, so many clients that failed together do not retry together, yet each
    still waits at least half the exponential step."""
    step = min(cap, base * (2**attempt))
    return step / 2 + (rng or random).uniform(0, step / 2)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
