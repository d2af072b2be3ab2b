# One-code city (一码通城). `make up` starts everything; `make test` runs everything.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export PYTHONPATH := $(CURDIR)
# `make up REPLICAS=2` (and `make test-e2e REPLICAS=2`): two processes of every service.
REPLICAS ?= 1
export REPLICAS

.PHONY: up down install backing lint format test test-unit test-integration test-e2e test-replicas test-faults test-limits test-schema access-table browser-tools bench bench-fixture

up:
	bash deploy/local/up.sh

down:
	bash deploy/local/suite.sh stop
	bash deploy/local/backing.sh stop

install:
	bash deploy/local/install.sh

backing: install
	bash deploy/local/backing.sh start

lint: install
	$(BIN)/ruff check services tests bench deploy
	$(BIN)/ruff format --check services tests bench deploy
	$(BIN)/mypy
	$(BIN)/shellcheck --severity=warning --external-sources deploy/local/*.sh .ci/run

format: install
	$(BIN)/ruff format services tests bench deploy
	$(BIN)/ruff check --fix services tests bench deploy

# Unit tests need nothing running; integration tests run real nameko containers (under
# eventlet, hence `nameko test`) on the real broker and database; end-to-end tests start the
# suite as `make up` does, on its own vhost, databases and port, and drive it over HTTP.
test: lint backing test-unit test-integration test-e2e test-replicas test-faults test-limits test-schema

test-unit:
	$(BIN)/pytest tests/unit -p no:pytest_nameko

test-integration:
	$(BIN)/nameko test tests/integration/common tests/integration/identity tests/integration/certs
	# A process apart: the tasks service imports services.common.remote, which makes nameko
	# raise domain errors where the identity tests expect nameko's RemoteError.
	$(BIN)/nameko test tests/integration/tasks tests/integration/policy

# The browser tests (tests/browser) run in the same session: one suite serves both.
test-e2e: browser-tools
	$(BIN)/pytest tests/e2e tests/integration/gateway tests/browser -p no:pytest_nameko

# The same end-to-end and browser tests against two processes of every service and two
# gateway workers (timers, consumers and sessions must hold with several replicas).
test-replicas:
	$(MAKE) test-e2e REPLICAS=2

# Faults under load (tests/faults): each service SIGKILLed and restarted, RabbitMQ and the
# database restarted, invariants checked; prints each fault and its recovery time.
test-faults: backing
	$(BIN)/pytest tests/faults -p no:pytest_nameko -s

# Rate limits counted across two gateway workers on a suite of their own (tests/limits): every
# answer says how many its window still allows, and the refusal comes exactly at the allowance.
test-limits: backing
	$(BIN)/pytest tests/limits -p no:pytest_nameko

# Schemathesis over every operation of the OpenAPI as each role (tests/hostile), on a suite of
# its own: 50 schema-valid and 10 schema-breaking requests per operation and role; no 5xx,
# every 4xx a problem+json. SCHEMA_EXAMPLES / SCHEMA_SEED change the bound or repeat a run.
test-schema: backing
	$(BIN)/pytest tests/hostile -p no:pytest_nameko -s

# The README's "who may do what" table, printed from the access model (a unit test checks it).
access-table: install
	$(BIN)/python -m tests.access_model

browser-tools: install
	bash deploy/local/install.sh browser

# Figures (JSON on stdout), measured against the suite `make up` started.
# A district's year of data (bench/district_year.py) in the suite `make up` started, loaded
# with the suite's processes stopped (it writes the services' documents in bulk), then the
# suite started again; the figures of #17 are taken on it. A second run does nothing.
bench-fixture: install
	bash deploy/local/suite.sh stop
	set -a; source var/secrets.env; set +a; $(BIN)/python bench/district_year.py
	bash deploy/local/suite.sh start

bench: install
	command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(BIN)/python bench/identity.py
	$(BIN)/python bench/certs.py
	$(BIN)/python bench/tasks.py
	# OpenFisca, for the comparison in bench/policy.py, in a venv of its own (never a service's).
	test -x .venv-bench/bin/python || (python3.11 -m venv .venv-bench && .venv-bench/bin/pip install -q openfisca-core==46.0.1 numpy==2.4.6)
	$(BIN)/python bench/policy.py
	# Starts its own suite (port 19800), once with one process of everything, once with two.
	$(BIN)/python bench/city_day.py
