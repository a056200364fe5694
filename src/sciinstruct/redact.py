"""Secrets never reach disk or the terminal: config values under secret-looking keys, and the
credentials a URL may carry (`user:pass@`, `?api-key=`)."""

from __future__ import annotations

import re
from typing import Any

import httpx

# Keys whose values never reach disk: config.yaml must be shareable.
_SECRET_HINTS = ("key", "apikey", "token", "secret", "password", "credentials")
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")  # a URL inside free text


def redact_url(url: str | httpx.URL) -> str:
    """`url` without userinfo and query string, where credentials ride along in a base URL."""
    try:
        parsed = httpx.URL(str(url))
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<url redacted>"  # unparsable: show nothing rather than a secret
    return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))


def redact_urls(text: str) -> str:
    """Every URL in `text` passed through `redact_url` (exception messages quote URLs)."""
    return _URL.sub(lambda m: redact_url(m.group()), text)


def _is_secret(key: str) -> bool:
    """api_key, token, hf_token, secret, password: yes. max_tokens, tokenizer, api_key_env (the
    name of an environment variable): no. Whole `_`-separated words are matched, not substrings."""
    words = key.lower().replace("-", "_").split("_")
    if words[-1] == "env":
        return False
    return (
        words[-1] in _SECRET_HINTS or words[-2:] == ["api", "key"] or key.lower() == "authorization"
    )


def _redact_value(key: str, value: Any) -> Any:
    if _is_secret(key) and value:
        return "<redacted>"
    if key.lower().endswith("url") and isinstance(value, str):
        # a base URL may carry credentials (user:pass@, ?api-key=): keep only what locates it
        return redact_url(value)
    return redact(value)


def redact(values: Any) -> Any:
    """Drop values whose key looks secret (api_key, token, ...), recursively."""
    if isinstance(values, dict):
        return {k: _redact_value(str(k), v) for k, v in values.items()}
    if isinstance(values, list | tuple):
        return [redact(v) for v in values]
    return values
