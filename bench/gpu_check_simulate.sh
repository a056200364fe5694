#!/usr/bin/env bash
# bench/gpu_check.sh as the lent device would run it, on this machine's CPU: a fresh virtualenv
# holding only what the device's image holds that the check can touch (torch 2.13, the image's
# older transformers 5.17, accelerate and the image's data packages; see the device tool's
# KINDS.md), a copy of the committed tree with the wheels of gpu_check_wheels.sh as `.whl/`, and
# the check run from there, so the wheel install is exercised and a missing package shows up
# here rather than in device time.
#
#   bash bench/gpu_check_simulate.sh        # about 3 minutes the first time, 90 s after
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
SIM=${SIM:-/tmp/sciinstruct_gpu_sim}
PY=${PY:-python3}
IMAGE=(torch==2.13.0 transformers==5.17.0 accelerate numpy pandas pyarrow xxhash fsspec sympy
  scipy pyyaml requests httpx aiohttp psutil regex jinja2 tqdm safetensors filelock)
if [ ! -x "$SIM/venv/bin/python" ]; then
  "$PY" -m venv "$SIM/venv"
  "$SIM/venv/bin/python" -m pip install -q "${IMAGE[@]}"
fi
rm -rf "$SIM/tree" && mkdir -p "$SIM/tree"
git archive HEAD | tar -x -C "$SIM/tree"
if ! git diff --quiet HEAD -- bench src; then
  echo "note: uncommitted changes under bench/ or src/ are not in the simulated tree" >&2
fi
# wheels for this machine's Python (the device's is 3.12), written into the copy's .whl/
PYVER=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
PY="$ROOT/.venv/bin/python" PYVER="$PYVER" WHL="$SIM/tree/.whl" bash bench/gpu_check_wheels.sh
cd "$SIM/tree"
PY="$SIM/venv/bin/python" exec bash bench/gpu_check.sh --device cpu "$@"
