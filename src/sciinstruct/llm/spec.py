"""One engine, declared once: which backend, which model, where it is served and how hard to
drive it.

`EngineSpec` is the engine of every stage that drives a model: annotate, critique and eval, the
grader's judge (as `JudgeSpec`, its options prefixed `--judge-`) and a recipe's `backend:`
section. Its fields are the command-line options (`cli/options.config_options`) and the recipe
keys alike, so a flag and a recipe key are one setting:

    backend: {name: openai, model: Qwen/Qwen2.5-7B-Instruct,
              base_url: http://127.0.0.1:8000/v1, concurrency: 64}

    sciinstruct annotate --backend openai -m Qwen/Qwen2.5-7B-Instruct \\
        --base-url http://127.0.0.1:8000/v1 -j 64

How hard a stage drives the engine is the backend class's own property (`is_server`,
`throughput`); the spec only fills in what the user left unset (`EngineSpec.throughput`).
The API key itself is never part of a spec: `api_key_env` names the variable that holds it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from sciinstruct.errors import InputError
from sciinstruct.llm.base import Backend, Throughput
from sciinstruct.log import logger
from sciinstruct.settings import check_declared, option

# Keys once written under `options:` that are the spec's own now. Still read there (with a
# warning): `backend: {name: openai, options: {concurrency: 64}}` is the README's old recipe.
MOVED_OUT_OF_OPTIONS = ("base_url", "api_key_env", "concurrency")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class EngineSpec:
    """Which LLM a stage drives, where it is served and how hard to drive it."""

    name: str | None = option(
        "embedded",
        "Backend: embedded, openai, transformers, vllm or llamacpp.",
        cli_name="backend",
        short="-b",
    )
    model: str | None = option(None, "Model name or path (default: the backend's).", short="-m")
    base_url: tuple[str, ...] = option(
        (),
        "OpenAI-compatible server URL, e.g. http://127.0.0.1:8080/v1; several for a pool of "
        "servers of one model: each request goes to the least busy.",
    )
    api_key_env: str | None = option(
        None, "Name of the environment variable holding the API key (never the key itself)."
    )
    options: dict[str, Any] = option(
        {},
        "Backend option KEY=VALUE (repeatable), e.g. n_ctx=8192.",
        cli_name="option",
        short="-o",
        assignments=True,
    )
    batch_size: int | None = option(
        None, "Requests per backend call (default: the backend's; 1 for a server, 16 in-process).",
        min=1,
    )  # fmt: skip
    concurrency: int | None = option(
        None, "Backend calls in flight (default: the backend's; 16 for a server, 1 in-process).",
        min=1, short="-j",
    )  # fmt: skip

    def __post_init__(self) -> None:
        self._lift_moved_options()
        urls = self.base_url
        if isinstance(urls, str):
            urls = (urls,)
        split = tuple(u.strip() for item in urls or () for u in str(item).split(",") if u.strip())
        object.__setattr__(self, "base_url", split)
        object.__setattr__(self, "options", dict(self.options or {}))
        check_declared(self)
        if self.name is not None:
            self.backend_class()  # an unknown backend: one line with a "did you mean"
        if self.api_key_env is not None and not _ENV_NAME.fullmatch(self.api_key_env):
            # never echo the value: a pasted key is exactly what this catches
            raise InputError(
                "api_key_env names the environment variable that holds the key "
                "(e.g. OPENAI_API_KEY), not the key itself",
                field="api_key_env",
            )
        if (self.base_url or self.api_key_env) and self.name is not None and not self.is_server:
            given = "base-url" if self.base_url else "api-key-env"
            raise InputError(
                f"{self.FLAG_PREFIX}{given} applies to the {' or '.join(server_backends())} "
                f"backend, not {self.name!r}",
                field=given.replace("-", "_"),
            )

    # how this spec's options are spelt on the command line (`--judge-` for the judge's)
    FLAG_PREFIX: ClassVar[str] = "--"

    def _lift_moved_options(self) -> None:
        moved = [key for key in MOVED_OUT_OF_OPTIONS if key in (self.options or {})]
        if not moved:
            return
        options = dict(self.options)
        for key in moved:
            value = options.pop(key)
            own = getattr(self, key)
            if own not in (None, ()) and own != value:
                raise InputError(
                    f"{key} given twice, {own!r} and options.{key} {value!r}: keep `{key}`",
                    field=key,
                )
            object.__setattr__(self, key, value)
            logger.warning("engine options.%s is deprecated: write `%s:` beside `name:`", key, key)
        object.__setattr__(self, "options", options)

    @property
    def configured(self) -> bool:
        """Whether anything names an engine (a judge spec left empty names none)."""
        return bool(self.name or self.model or self.base_url)

    def backend_class(self) -> type:
        """The class this spec builds: it says whether it is a server and how hard to drive it."""
        from sciinstruct.llm.registry import backend_class

        return backend_class(self.name or "embedded", self.options.get("engine"))

    @property
    def is_server(self) -> bool:
        return bool(getattr(self.backend_class(), "is_server", False))

    def throughput(self) -> Throughput:
        """How hard a stage drives this engine: what the user set, else the backend's own."""
        cls = self.backend_class()
        # a backend whose drive depends on its options (llama.cpp: batched or one at a time)
        fitted_to = getattr(cls, "throughput_for", None)
        own: Throughput = fitted_to(self.options) if fitted_to else cls.throughput
        return Throughput(
            batch_size=self.batch_size or own.batch_size,
            concurrency=self.concurrency or own.concurrency,
        )

    def backend_options(self, concurrency: int | None = None) -> dict[str, Any]:
        """The backend's constructor options. A server's client keeps `concurrency` requests in
        flight (default: the spec's fitted concurrency), the very number of calls the stage
        keeps in flight, so the two cannot disagree."""
        out = dict(self.options)
        if self.base_url:
            out["base_url"] = self.base_url[0] if len(self.base_url) == 1 else list(self.base_url)
        if self.api_key_env:
            out["api_key_env"] = self.api_key_env
        if self.is_server:
            out["concurrency"] = concurrency or self.throughput().concurrency
        return out

    def open(self, concurrency: int | None = None) -> Backend:
        """The backend, built in this process (an executor builds it elsewhere from
        `name`, `model` and `backend_options()`)."""
        from sciinstruct.llm.registry import make_backend

        return make_backend(
            self.name or "embedded", self.model, **self.backend_options(concurrency)
        )

    def to_dict(self) -> dict[str, Any]:
        """For config.yaml: plain types (the run directory redacts credentials in URLs)."""
        return {**asdict(self), "base_url": list(self.base_url)}


def server_backends() -> list[str]:
    """The backends that are clients of a server (`is_server`), by name."""
    from sciinstruct.llm.registry import BACKENDS, backend_class

    return [name for name in BACKENDS if name != "embedded" and backend_class(name).is_server]
