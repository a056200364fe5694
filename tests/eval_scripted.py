"""A scripted backend for evaluation tests: the answer to each prompt is decided by the test.

A fake is right here: a real model cannot be told to be right on exactly the questions a test
needs. Everything behind it (prompting, grading, voting, writing results) is the real code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sciinstruct.llm.base import Completion, GenerationRequest, SyncBackend


class ScriptedBackend(SyncBackend):
    """`reply(last_user_message, seed)` returns the response text, or None for a failed request."""

    name = "scripted"

    def __init__(
        self, reply: Callable[[str, int], str | None], model: str = "scripted-model"
    ) -> None:
        self.reply = reply
        self.model = model
        self.requests: list[GenerationRequest] = []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        out = []
        for request in requests:
            self.requests.append(request)
            text = self.reply(request.messages_list()[-1]["content"], request.params.seed or 0)
            out.append(
                Completion(error="HTTP 500")
                if text is None
                else Completion(text=text, completion_tokens=5)
            )
        return out
