"""The grading server's refusals: a status code, a message for the client, headers."""

from __future__ import annotations

from collections.abc import Mapping


class HTTPError(Exception):
    """A request refused with a status code and a message for the client."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})
