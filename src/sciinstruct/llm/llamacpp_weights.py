"""Weights type of the `llamacpp` engine: a GGUF file converted once, with llama.cpp's own
`llama_model_quantize`, to a type whose matrix products have batched CPU kernels.

Why: the embedded model ships as Q4_1, and ggml's CPU backend has no llamafile-sgemm (tinyBLAS)
kernel for Q4_1, so prompt tokens and batched decoding take the per-row vec_dot path and a
16-sequence step costs nearly 16 one-sequence steps of arithmetic. Q8_0 and F16 have sgemm
kernels (`ggml-cpu/llamafile/sgemm.cpp`), so the same step runs as matrix products. Q8_0 is 16x
finer than Q4_1's grid (requantizing Q4_1 to Q8_0 is practically lossless).

The converted file is cached under `cache_home()/models/gguf/`, keyed by the source file's sha256
and the target type; it is written to a temporary file and renamed, so a second process sees
either no file or a whole one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from sciinstruct.embedded_model import cache_home
from sciinstruct.errors import InputError

# `weights` option -> llama.cpp's file type name (LLAMA_FTYPE_MOSTLY_<name>); None: as shipped
WEIGHTS = {"source": None, "q4_1": "Q4_1", "q8_0": "Q8_0", "q4_0": "Q4_0", "f16": "F16"}


def check_weights(weights: str) -> str:
    """The normalised `weights` option, or a one-line error listing the accepted values."""
    name = str(weights).lower()
    if name not in WEIGHTS:
        raise InputError(
            f"unknown weights {weights!r}; use one of {', '.join(WEIGHTS)}", field="weights"
        )
    return name


def gguf_file_type(path: Path) -> str | None:
    """The `general.file_type` of a GGUF file as a `weights` name (e.g. `q4_1`), or None
    (unknown, or the `gguf` package is not installed)."""
    try:
        import gguf
    except ImportError:  # the type llama.cpp's own exports put in the name (`model.Q4_1.gguf`)
        return next((w for w, t in WEIGHTS.items() if t and f".{t}." in path.name), None)
    field = gguf.GGUFReader(str(path)).fields.get("general.file_type")
    if field is None:
        return None
    try:
        name = gguf.LlamaFileType(int(field.parts[field.data[0]][0])).name
    except ValueError:
        return None
    return name.removeprefix("MOSTLY_").lower()


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:  # size/mtime: a changed file re-hashes
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def converted_path(source: Path, weights: str) -> Path:
    """Where the `weights` copy of `source` is cached, whether or not it exists yet."""
    return (
        cache_home()
        / "models"
        / "gguf"
        / f"{source.stem}.{file_sha256(source)[:16]}.{weights}.gguf"
    )


def weights_file(source: Path, weights: str, *, n_threads: int = 1) -> Path:
    """The GGUF file to load for `weights`: `source` itself for `source` (or its own type),
    else its converted copy, made once with `llama_model_quantize` (requantizing allowed)."""
    weights = check_weights(weights)
    if WEIGHTS[weights] is None or gguf_file_type(source) == weights:
        return source  # requantizing to its own type would only add rounding
    target = converted_path(source, weights)
    if target.is_file():
        return target
    import llama_cpp

    target.parent.mkdir(parents=True, exist_ok=True)
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = n_threads
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{WEIGHTS[weights]}")
    params.allow_requantize = True
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        rc = llama_cpp.llama_model_quantize(str(source).encode(), tmp.encode(), params)
        if rc != 0:
            raise InputError(
                f"llama.cpp could not convert the model to {weights} (rc={rc}); "
                "use weights: source",
                file=str(source),
                field="weights",
            )
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the cache from other users
        os.replace(tmp, target)  # atomic: another process sees no file or a whole one
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
