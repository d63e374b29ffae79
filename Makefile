# skillforge — every target installs what it needs (pinned) into .venv, idempotently.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
REQS := requirements-lambda.txt requirements-detect.txt requirements-training.txt requirements-dev.txt constraints.txt pyproject.toml
STAMP := $(VENV)/.installed-$(shell cat $(REQS) 2>/dev/null | sha256sum | cut -c1-16)
NODE_STAMP := node_modules/.installed-$(shell cat package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
# checkov pins its own boto3 and friends: it lives in a tool environment of its own, not in .venv.
CHECKOV_VERSION := 3.3.30
CHECKOV := .work/tools/checkov-$(CHECKOV_VERSION)/bin/checkov

# Offline model weights and real photos: ../shared when it is there, overridable.
SHARED ?= $(abspath ../shared)
export SKILLFORGE_MODELS_DIR ?= $(if $(wildcard $(SHARED)/models),$(SHARED)/models,)
export SKILLFORGE_SHARED_DATA ?= $(if $(wildcard $(SHARED)/data),$(SHARED)/data,)
export YOLO_OFFLINE := 1
export PYTHONDONTWRITEBYTECODE := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help setup node browser demo skills test lint typecheck unit integration infra e2e bench soak synth clean artifacts-check validate

help:
	@echo "make demo   - run the local end-to-end pipeline on the bundled sample photos (out/)"
	@echo "make skills - train the make skill, the all-models skill and the 4 variant skills from ../shared/data (out/skills/)"
	@echo "make test   - lint, type-check and run every test suite"
	@echo "make bench  - speed / memory benchmarks"
	@echo "make soak   - load + fault test of local mode (2,000 images, loopback only)"
	@echo "make synth  - synthesize the CDK app (no AWS account needed)"
	@echo "make artifacts-check - per function: artifact, size, handler import, sample event handled"
	@echo "make validate - cfn-lint, checkov and asl-validator on the synthesized templates"

$(STAMP): $(REQS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	@# openvino sends a telemetry event on import unless this package is absent
	$(BIN)/pip uninstall -q -y openvino-telemetry || true
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@rm -f node_modules/.installed-*
	@touch $@

node: $(NODE_STAMP)

browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; }

demo: setup
	$(BIN)/skillforge demo --out out

skills: setup
	nice -n 5 $(BIN)/python -m scripts.real_skills --direct --compare training/configs/car-make-compare.json --out out/skills --results docs/training-results

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

# OMP_WAIT_POLICY=PASSIVE: OpenMP threads (torch) sleep instead of spin-waiting between parallel regions.
# Two test workers, their training subprocesses and ONNX Runtime share 2 cores; spinning threads made a
# train-and-gate test 12x slower beside the demo test (307 s vs 24 s alone); the suite ran 654 s -> 381 s.
TEST_PYTEST := OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest
test: setup node browser lint typecheck validate
	$(TEST_PYTEST) -n 2 --timeout=600 -m "not isolated" tests
	$(TEST_PYTEST) -p no:xdist --timeout=600 -m isolated tests

unit: setup
	$(BIN)/python -m pytest tests/unit

integration: setup
	$(BIN)/python -m pytest tests/integration

infra: setup node
	$(BIN)/python -m pytest tests/infra

e2e: setup browser
	$(BIN)/python -m pytest tests/e2e

bench: setup
	$(BIN)/python -m scripts.bench

soak: setup
	$(BIN)/python -m scripts.soak --images 2000 --out out

synth: setup node
	PATH=$(abspath $(BIN)):$$PATH npx cdk synth --quiet

$(CHECKOV):
	@test -x $@ || $(PYTHON) -m venv $(dir $(@D))
	$(dir $(@D))bin/pip install -q --disable-pip-version-check checkov==$(CHECKOV_VERSION)

validate: setup node $(CHECKOV)
	SKILLFORGE_CHECKOV=$(abspath $(CHECKOV)) $(BIN)/python -m scripts.validate_templates

artifacts-check: setup node
	$(BIN)/python -m scripts.artifacts_check

clean:
	rm -rf out cdk.out .pytest_cache .mypy_cache .ruff_cache
