# BeatFlow build entry points. `make run` starts the local stack, `make test` runs the suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
# The pyright wheel bundles pyright and runs it with the system node; the variable stops its
# check for a newer release on PyPI, so type checking needs no network.
PYRIGHT := PYRIGHT_PYTHON_IGNORE_WARNINGS=1 $(VENV)/bin/pyright
BUF := tools/node_modules/.bin/buf
HELM := tools/bin/helm
GEN := gen/python
DESCRIPTOR_SET := gen/beatflow.pb
THIRD_PARTY := protos/third_party
PROTO_SOURCES := $(shell find protos/beatflow -name '*.proto' 2>/dev/null)
# googleapis protos the contracts import, copied from the pinned googleapis-common-protos package.
GOOGLEAPIS_PROTOS := google/api/annotations.proto google/api/http.proto google/rpc/status.proto google/rpc/error_details.proto

.PHONY: help setup system-packages protos lint typecheck lint-protos breaking-protos test bench soak run client-wheel clean

help:
	@echo "make run    - set up and run the whole local stack, restarting what crashes (ARGS='--scale generator=2')"
	@echo "make test   - set up and run the test suite (with proto lint)"
	@echo "make setup  - install Python, npm and Debian dependencies and build the stubs"
	@echo "make protos - regenerate Python stubs and the Envoy descriptor set"
	@echo "make typecheck - pyright over libs/ and services/ (part of make test)"
	@echo "make bench  - run the benchmarks, writing bench/results/<area>.json"
	@echo "make soak   - run the load mix for 15 minutes (bench/results/soak.json)"
	@echo "make client-wheel - build dist/beatflow_client-*.whl (stubs, SDK and CLI; docs/clients.md)"

$(PY):
	python3 -m venv $(VENV)

$(VENV)/.deps: requirements/base.txt requirements/dev.txt requirements/no-deps.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements/no-deps.txt
	$(PYRIGHT) --version
	touch $@

$(BUF): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund
	touch $@

# ... and buf/validate/validate.proto, printed from the descriptor in the pinned protovalidate wheel.
$(THIRD_PARTY)/.copied: $(VENV)/.deps Makefile scripts/write_validate_proto.py
	@set -e; src=$$($(PY) -c 'import pathlib, google.api.annotations_pb2 as m; print(pathlib.Path(m.__file__).parents[2])'); \
	for f in $(GOOGLEAPIS_PROTOS); do install -D -m 0644 "$$src/$$f" "$(THIRD_PARTY)/$$f"; done
	$(PY) scripts/write_validate_proto.py $(THIRD_PARTY)
	touch $@

$(GEN)/.stamp: $(PROTO_SOURCES) $(THIRD_PARTY)/.copied scripts/gen_protos.py scripts/write_validate_proto.py
	$(PY) scripts/gen_protos.py --out $(GEN) --descriptor-set $(DESCRIPTOR_SET)
	touch $@

$(VENV)/.installed: $(GEN)/.stamp pyproject.toml
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: system-packages $(VENV)/.deps $(BUF) $(HELM) $(VENV)/.installed

$(HELM): scripts/install_helm.sh
	scripts/install_helm.sh

system-packages:
	@scripts/ensure_system_packages.sh

protos: $(GEN)/.stamp

# Formatting is checked on our contracts only: third_party/ is copied or printed from descriptors.
lint-protos: $(BUF) $(THIRD_PARTY)/.copied
	cd protos && ../$(BUF) lint
	cd protos && ../$(BUF) format --diff --exit-code --path beatflow

# Compares the contracts with those on main; skipped where main has no protos yet.
breaking-protos: $(BUF) $(THIRD_PARTY)/.copied
	@scripts/buf_breaking.sh $(BUF)

lint: $(VENV)/.deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Static types of libs/ and services/ ([tool.pyright] in pyproject.toml, docs/development.md).
typecheck: $(VENV)/.installed
	$(PYRIGHT) --pythonpath $(PY)

test: setup lint typecheck lint-protos breaking-protos
	$(PY) -m pytest

bench: setup
	@scripts/ensure_system_packages.sh wrk
	$(PY) -m bench

# Fifteen minutes of the load mix (bench/soak.py -> bench/results/soak.json).
soak: setup
	$(PY) -m bench soak

# ARGS go to the launcher, e.g. make run ARGS='--scale generator=2' (see --help).
run: setup
	$(PY) -m beatflow_devtools.stack $(ARGS)

client-wheel: setup
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist clients/python

clean:
	rm -rf gen $(THIRD_PARTY) $(VENV)/.installed
