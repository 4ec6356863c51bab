# The course's commands. `make book` and `make test` do all the set-up they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The oldest supported environment (as on Colab: a newer Python, an older TensorFlow).
OLDEST_PYTHON ?= python3.12
OLDEST_TF ?= 2.16.2
OLDEST_VENV ?= .venv-oldest
OLDEST_STAMP := $(OLDEST_VENV)/.installed

.PHONY: book test test-oldest install system-deps bench execute drift release clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $(STAMP)

## install: the virtual environment (.venv) with everything in requirements.txt
install: system-deps $(STAMP)

## system-deps: graphviz (graph drawings) and Debian's Fashion-MNIST, where apt-get can install them
system-deps:
	@bash scripts/system_deps.sh

## book: build the HTML book into _build/html from the chapters' stored full-length outputs
book: install
	$(BIN)/jupyter-book build . -n -W --keep-going

## test: every notebook under nbval (short runs: VAELIB_QUICK=1), then the unit tests, a file per worker process
## (in this order, not xdist's most-tests-first: the notebooks take longest, so short test files end the run)
test: install
	VAELIB_QUICK=1 $(BIN)/python -m pytest book tests --nbval-lax --durations=10 -n auto --dist loadfile --no-loadscope-reorder

## test-oldest: the same tests with $(OLDEST_PYTHON) and TensorFlow $(OLDEST_TF), in $(OLDEST_VENV)
$(OLDEST_STAMP): requirements.txt pyproject.toml
	$(OLDEST_PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install -q --upgrade pip
	grep -v '^tensorflow==' requirements.txt > $(OLDEST_VENV)/requirements.txt
	$(OLDEST_VENV)/bin/python -m pip install -q "tensorflow==$(OLDEST_TF)" -r $(OLDEST_VENV)/requirements.txt
	touch $(OLDEST_STAMP)

test-oldest: system-deps $(OLDEST_STAMP)
	VAELIB_QUICK=1 $(OLDEST_VENV)/bin/python -m pytest book tests --nbval-lax --durations=5 -n auto --dist loadfile --no-loadscope-reorder \
	  --deselect tests/test_browser.py

## execute: re-run chapters at full length and store their outputs (all, or NB=book/07_evaluation.ipynb)
NB ?= book/*.ipynb
execute: install
	env -u VAELIB_QUICK $(BIN)/python scripts/execute_notebooks.py $(NB)

## drift: re-run chapters at full length into _build/drift; report glued values that moved (all, or NB=...)
drift: install
	env -u VAELIB_QUICK $(BIN)/python scripts/drift.py --scratch _build/drift --report _build/drift/report.txt $(NB)

## bench: the speed benchmarks, interleaved rounds against PyTorch and JAX (installs the bench extra)
bench: install
	$(BIN)/python -m pip install -q -e ".[bench]" || echo "bench: the bench extra (torch, jax, optax) did not install; missing peers are skipped"
	$(BIN)/python benchmarks/train_step.py
	$(BIN)/python benchmarks/evaluation.py

## release: set vaelib's version, pin every chapter's Colab install cell to it, commit, tag (VERSION=x.y.z)
release:
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=x.y.z"; exit 2; }
	$(BIN)/python scripts/release.py $(VERSION)

clean:
	rm -rf _build .pytest_cache
