# The only set-up a user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WORKSPACE ?= $(or $(ROSTRO_WORKSPACE),workspace)
STAMP := $(VENV)/.installed

.PHONY: run test venv demo clean bench

venv: $(STAMP)

# torch is pinned first so pip takes the local CPU wheel instead of a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[all]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m curate --workspace $(WORKSPACE) demo --if-missing

run: demo
	$(PY) -m curate --workspace $(WORKSPACE) serve

# Two workers (pytest-xdist); the browser tests run on one of them, in turn (tests/conftest.py).
TEST_JOBS ?= 2

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadgroup $(PYTEST_ARGS)

bench: $(STAMP)
	for b in benchmarks/*.py; do $(PY) $$b; done

clean:
	rm -rf $(VENV) $(WORKSPACE)
