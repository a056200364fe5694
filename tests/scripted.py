"""The one scripted backend of the tests: the answer to each prompt is decided by the test.

A fake is right here: a real model cannot be told to be right on exactly the questions a test
needs, to fail on demand, or to be slow on demand. Everything behind it (prompting, grading,
caching, voting, writing results) is the real code. Tests get it from the `scripted` fixture
(tests/conftest.py); a test run in a subprocess imports it from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from sciinstruct.llm.base import Completion, GenerationRequest, OnDone, SyncBackend, cache_key

Reply = Callable[[str, int | None], str | None]


class ScriptedBackend(SyncBackend):
    """`reply(last_user_message, seed)` returns the response text, or None for a failed request.

    Every request it really receives is logged in `requests` (so a test can count what got past
    a cache); `error`, the token counts, `finish_reason` and `delay` (seconds per request, one
    request after another) shape the completions as the code under test needs them. Like every
    backend of the package it tells `on_done` about each completion as it finishes.
    """

    def __init__(
        self,
        reply: Reply,
        model: str = "scripted-model",
        *,
        name: str = "scripted",
        error: str = "HTTP 500",
        prompt_tokens: int = 0,
        completion_tokens: int = 5,
        finish_reason: str | None = None,
        delay: float = 0.0,
    ) -> None:
        self.reply, self.model, self.name = reply, model, name
        self.error, self.delay, self.finish_reason = error, delay, finish_reason
        self.tokens = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
        self.requests: list[GenerationRequest] = []

    @property
    def keys(self) -> list[str]:
        """The response-cache key of every request received, in order."""
        return [cache_key(self.name, self.model, r) for r in self.requests]

    def generate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]:
        out = []
        for index, request in enumerate(requests):
            self.requests.append(request)
            if self.delay:
                time.sleep(self.delay)  # in agenerate's worker thread: the event loop goes on
            out.append(self._complete(request))
            if on_done is not None:
                on_done(index, out[-1])
        return out

    def _complete(self, request: GenerationRequest) -> Completion:
        text = self.reply(request.messages_list()[-1]["content"], request.params.seed)
        if text is None:
            return Completion(error=self.error)
        completion = Completion(text=text, **self.tokens)
        if self.finish_reason:
            completion.finish_reason = self.finish_reason
        return completion
