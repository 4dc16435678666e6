# Two commands matter: `make run` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install browser promtool kubectl gateway run test stack docs bench bench-sla bench-intake bench-router bench-notifier bench-kb bench-insights chaos train-router eval-kb fuzz lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,localstack]"
	touch $(STAMP)

install: $(STAMP)

## Start the local broker and database, all six services, feed sample contacts; Ctrl-C stops.
run: install gateway
	$(PY) -m devstack.demo $(ARGS)

## The whole suite: unit, handler, integration and end-to-end tests on the local stack.
test: install browser promtool kubectl gateway
	$(PY) -m pytest $(PYTEST_ARGS)

## Chromium for the agent console's browser test (Debian's package; Playwright drives it).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the console's browser test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

## Prometheus's promtool for the alert rules' tests: unpacked from Debian's prometheus package
## into the venv (no service installed, nothing started).
PROMTOOL := $(VENV)/bin/promtool
promtool: $(PROMTOOL)
$(PROMTOOL): $(STAMP)
	@echo "unpacking promtool from Debian's prometheus package"
	@tmp=$$(mktemp -d) && cd $$tmp && \
	  { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus >/dev/null; }; } && \
	  dpkg-deb -x prometheus_*.deb . && install -m 755 usr/bin/promtool $(CURDIR)/$(PROMTOOL) && \
	  rm -rf $$tmp

## nginx, the gateway that gives the browser one origin (deploy/gateway/): unpacked from Debian's
## nginx package into the venv, as promtool is (no service installed, nothing started).
NGINX := $(VENV)/bin/nginx
gateway: $(NGINX)
$(NGINX): $(STAMP)
	@command -v nginx >/dev/null 2>&1 && ln -sf "$$(command -v nginx)" $(CURDIR)/$(NGINX) && exit 0; \
	  echo "unpacking nginx from Debian's nginx package"; \
	  tmp=$$(mktemp -d) && cd $$tmp && \
	  { apt-get download nginx >/dev/null 2>&1 || { apt-get update -qq && apt-get download nginx >/dev/null; }; } && \
	  dpkg-deb -x nginx_*.deb . && install -m 755 usr/sbin/nginx $(CURDIR)/$(NGINX) && \
	  rm -rf $$tmp

## kubectl (1.27+, with kustomize v5) renders deploy/k8s for its test; Debian's is too old.
kubectl:
	@command -v kubectl >/dev/null 2>&1 || { echo "the manifests' test needs kubectl 1.27+ (kustomize v5) on PATH"; exit 1; }

## Only the local broker and database (prints how to reach them).
stack: install
	$(PY) -m devstack $(ARGS)

## AsyncAPI (Kafka) and OpenAPI (HTTP) documents of every service, into docs/.
docs: install
	$(PY) -m devstack.docs

## Pipeline throughput and latency beside a raw aiokafka baseline on the same broker.
bench: install
	$(PY) -m bench.pipeline $(ARGS)

## SLA deadlines at scale (1,000,000 armed): memory, arming, firing lateness, reload; beside asyncio.
bench-sla: install
	$(PY) -m bench.sla $(ARGS)

## Email normalisation (charsets, HTML, quotes, attachments) beside the bare stdlib parse.
bench-intake: install
	$(PY) -m bench.intake $(ARGS)

## Router assignment choice over 10,000 agents (tiers, skills, languages) beside plain least loaded.
bench-router: install
	$(PY) -m bench.router $(ARGS)

## Live-push latency from sla.breached to 1,000 WebSocket consoles, slow webhook or not; beside a bare broadcast.
bench-notifier: install
	$(PY) -m bench.notifier $(ARGS)

## Knowledge-base search over 100,000 articles (en, fa, ru, el): index rate, latency p50/p99; beside plain BM25.
bench-kb: install
	$(PY) -m bench.kb $(ARGS)

## Insights over the events of 1,000,000 tickets: ingest beside a bare insert, reports beside bare aggregations.
bench-insights: install
	$(PY) -m bench.insights $(ARGS)

## The whole desk under load and faults at once (10,000 contacts; every service killed, replicas,
## the broker and the database restarted on disk); prints what was lost or doubled (nothing).
chaos: install
	$(PY) -m devstack.chaos $(ARGS)

## Search quality on eval/kb's labelled queries: nDCG@10 and MRR per language beside plain BM25.
eval-kb: install
	$(PY) -m bench.kb_eval $(ARGS)

## Train the router's classifier: accuracy per language on a held-out split, then save the model.
train-router: install
	$(PY) -m services.router.train --model .run/router-model.joblib $(ARGS)

## Long fuzzing: every operation of every service's API with many examples each, from a seed
## (printed; FUZZ_SEED=N repeats a run), and the mail parser on generated hostile mail.
FUZZ_EXAMPLES ?= 200
FUZZ_SEED ?= $(shell date +%s)
fuzz: install
	@echo "fuzzing with seed $(FUZZ_SEED), $(FUZZ_EXAMPLES) examples per operation"
	HELPDESK_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) HELPDESK_FUZZ_SEED=$(FUZZ_SEED) \
	  $(PY) -m pytest -p no:cacheprovider tests/handler/test_api_fuzz.py \
	  tests/unit/test_mail_fuzz.py tests/unit/test_mail_hostile.py $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy shared services devstack bench tests

clean:
	rm -rf $(VENV) .run docs/asyncapi docs/openapi .pytest_cache .mypy_cache .ruff_cache
