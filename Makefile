# The course's commands. `make book` and `make test` do all the set-up they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test install system-deps bench execute clean

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

## book: build the HTML book into _build/html (executes chapters not yet in the cache)
book: install
	$(BIN)/jupyter-book build . -n -W --keep-going

## test: unit tests and every notebook under nbval (short runs: VAELIB_QUICK=1)
test: install
	VAELIB_QUICK=1 $(BIN)/python -m pytest tests book --nbval-lax --durations=10

## execute: re-run every chapter at full length and store its outputs in the .ipynb
execute: install
	$(BIN)/python scripts/execute_notebooks.py book/*.ipynb

## bench: the speed benchmark (prints examples/s; installs the optional PyTorch extra)
bench: install
	$(BIN)/python -m pip install -q "torch>=2.0" || echo "bench: torch not installed; its line is skipped"
	$(BIN)/python benchmarks/train_step.py

clean:
	rm -rf _build .pytest_cache
