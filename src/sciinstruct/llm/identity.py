"""A local model's identity for the response cache: its name plus a fingerprint of its weights.

A folder name alone is not an identity: fine-tuning runs save to `merged/` or `model/` again and
again, and a cache keyed by that name would serve the old model's answers after retraining. The
fingerprint hashes the resolved absolute path and the size and modification time (ns) of the
config and weight files, so another folder, or the same folder saved again, is another model;
stat calls only, no reading of gigabytes of weights.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# Files whose change means a different model: the config and every weight format we can load.
_WEIGHT_PATTERNS = ("config.json", "*.safetensors", "*.bin", "*.gguf", "*.pt", "*.pth")
FINGERPRINT_CHARS = 8  # 32 bits: collisions among one user's local models are negligible


def fingerprint(path: Path) -> str:
    """Hex digest of the resolved path and (name, size, mtime_ns) of its weight files.

    `path` is a weight file (e.g. a GGUF) or a model directory; in a directory the config and
    weight files at its top level count, in name order.
    """
    path = path.resolve()
    if path.is_dir():
        files = sorted({f for pattern in _WEIGHT_PATTERNS for f in path.glob(pattern)})
    else:
        files = [path]
    digest = hashlib.sha256(str(path).encode())
    for f in files:
        stat = f.stat()
        digest.update(f"\0{f.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:FINGERPRINT_CHARS]


def model_identity(path: Path, name: str | None = None) -> str:
    """`name@fingerprint`, e.g. `merged@3f2a9c1d`; `name` defaults to the file stem or folder."""
    path = Path(path)
    shown = name or (path.stem if path.is_file() else path.resolve().name)
    return f"{shown}@{fingerprint(path)}"
