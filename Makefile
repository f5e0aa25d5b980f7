# EventBridge — every target sets up what it needs first, on a fresh machine too.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT    := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: setup system-deps test lint unit integration acceptance e2e topology run bench load load-cluster hostile clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip==25.3
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

# redis-server + redis-cli (local Redis, replica, Cluster when there is no Docker), nginx (the
# gateways' load balancer in the topology tier), Chromium + driver (browser tests).
system-deps:
	@if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null || ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! [ -x /usr/sbin/nginx ]; then \
	  $(APT) update -qq && $(APT) install -y -qq redis-server redis-tools nginx chromium chromium-driver >/dev/null; fi

setup: $(STAMP) system-deps
	$(BIN)/python -m simulator prefetch

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The whole suite: lint, unit, integration (real Kafka + Redis), acceptance (BDD), e2e.
test: setup lint
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest -m unit

integration acceptance e2e: setup
	$(BIN)/pytest -m $@

# Multi-node topologies (Redis Cluster 3+3, Redis primary+replica, 3 Kafka brokers, nginx over
# two gateways): they start, serve, fail over and stop with nothing left. Part of `make test`.
topology: setup
	$(BIN)/pytest -m topology

# Local Kafka + Redis, bridge + gateway, the simulator at a gentle rate, the demo page.
run: setup
	$(BIN)/python -m simulator demo

bench: setup
	$(BIN)/python -m bench

load: setup
	$(BIN)/python -m simulator load --duration 60

# SPEC §14's whole topology on this machine: 3 Kafka brokers, the 3+3 Redis Cluster, 2 bridges,
# 2 gateways behind nginx, and a SIGKILL of a leading broker, a Redis master, a bridge and a
# gateway, each restarted 3 s later; the report times each fault (docs/benchmarks.md). Durable
# acknowledgement on (MIN_REPLICAS=0 to see what a master's SIGKILL costs without it).
load-cluster: setup
	EVENTBRIDGE__REDIS__MIN_REPLICAS=$(or $(MIN_REPLICAS),1) \
	  $(BIN)/python -m simulator load --topology cluster --duration 100 --rate 200 --users 100 \
	  --report docs/load-report-cluster.png

# 20,000 records, a quarter of them hostile, through a real bridge; RECORDS=, SEED= to change.
hostile: setup
	$(BIN)/python -m simulator hostile --records $(or $(RECORDS),20000) --seed $(or $(SEED),15)

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
