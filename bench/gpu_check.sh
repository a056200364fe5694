#!/usr/bin/env bash
# The GPU check of issue 23, sized for the lent device: real SFT, DPO and GRPO steps on a tiny
# random model in bf16, the transformers backend's batched generation, a short annotate and eval,
# one table, under 8 minutes. The device has PyTorch, transformers, accelerate and peft and
# nothing else; what it lacks travels as wheels:
#
#   bash bench/gpu_check_wheels.sh                    # here: fills .whl/ (about 52 MB)
#   device run, carry [".whl"]:  bash bench/gpu_check.sh
#   bash bench/gpu_check.sh --device cpu              # the same steps on CPU: a dry run
#   bash bench/gpu_check_simulate.sh                  # the device's image and wheels, on CPU
#
# Exit status: the number of failed steps (bench/gpu_check.py has the steps).
set -u
cd "$(dirname "$0")/.."
PY=${PY:-python3}
if ls .whl/*.whl >/dev/null 2>&1 && ! "$PY" -c "import trl" 2>/dev/null; then
  # the device's own line (its README): wheels into a target folder, first on the path
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || { echo "installing .whl/ failed"; exit 1; }
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
exec "$PY" bench/gpu_check.py "$@"
