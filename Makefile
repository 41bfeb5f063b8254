# The README's two commands: `make run` (set up, provision models, load the sample page, start the app)
# and `make test` (install what the tests need and run them). Everything else here serves those two.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := corpus/sample/wujin_daily_page.txt

.PHONY: run test install install-test models sample lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

# llama-cpp-python compiles from source the first time (~13 minutes on 2 cores); pip caches the wheel
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[llm]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -e '.[llm,test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test
	bash .ci/install-browser.sh

models: install
	$(BIN)/newsqa models pull

sample: install
	$(BIN)/newsqa ingest $(SAMPLE) --date 2024-02-02 --source 武进日报
	$(BIN)/newsqa articles

run: models sample
	$(BIN)/newsqa serve

test: install-test
	$(BIN)/newsqa models pull
	$(BIN)/python -m pytest

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
