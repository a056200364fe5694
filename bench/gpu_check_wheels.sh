#!/usr/bin/env bash
# Download, here, the wheels bench/gpu_check.sh installs on the lent GPU machine, which has
# PyTorch, transformers, accelerate and peft but no TRL, cannot download, and takes at most
# 64 MiB of working tree per call. They land in .whl/ (ignored by git; carry it: carry=[".whl"]).
# The versions are the ones pyproject.toml pins or this venv resolved, so the device runs what CI
# tests. transformers and peft travel too: the device's transformers (5.17) is older than the
# pinned 5.23, and peft must match it.
set -eu
cd "$(dirname "$0")/.."
# .whl/ is in .gitignore, so nothing here touches git
PY=${PY:-python3}
# The device's Python is 3.12; bench/gpu_check_simulate.sh asks for this machine's own instead.
PYVER=${PYVER:-3.12}
WHL=${WHL:-.whl}
WHEELS=(
  trl==1.16.0 transformers==5.23.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
  math-verify==0.9.0 latex2sympy2_extended==1.11.0 antlr4-python3-runtime==4.13.2
  pint==0.25.3 flexcache==0.3 flexparser==0.4 platformdirs==4.14.9
  pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
  typing-extensions==4.16.0 rdkit==2026.9.1 datasketch==2.0.0 peft==0.21.2
)
mkdir -p "$WHL"
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  -d "$WHL" "${WHEELS[@]}"
# The embedded model's config and tokenizer (no weights): gpu_check builds its tiny model from them.
WHL="$WHL" PYTHONPATH=src "$PY" - <<'PYEOF'
import os
from pathlib import Path
from transformers import AutoConfig, AutoTokenizer
from sciinstruct.embedded_model import hf_model_dir
source, out = hf_model_dir(), Path(os.environ["WHL"]) / "model"
AutoConfig.from_pretrained(source).save_pretrained(out)
AutoTokenizer.from_pretrained(source).save_pretrained(out)
print("model config and tokenizer:", sorted(p.name for p in out.iterdir()))
PYEOF
du -sh "$WHL"
