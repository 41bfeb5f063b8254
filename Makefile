# The README's two commands: `make run` (set up, provision models, load the sample page, start the app)
# and `make test` (install what the tests need and run them). Everything else here serves those two.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := corpus/sample/wujin_daily_page.txt

# llama-cpp-python is compiled here (it ships only as source). It is built with every x86-64 CPU variant of
# ggml (GGML_CPU_ALL_VARIANTS) and no -march=native, and the model server picks the variant this machine really
# runs by trying them (`newsqa doctor`). The wheel is kept under a name made from these flags: pip's own wheel
# cache is keyed by the source package only and could hand back a native build made on another CPU.
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DLLAVA_BUILD=OFF
LLAMA_WHEELS := $(HOME)/.cache/newsqa/wheels/llama-cpp-python-$(LLAMA_VERSION)-$(shell printf '%s' '$(LLAMA_CMAKE_ARGS)' | sha1sum | cut -c1-10)

.PHONY: run test install install-test llama models sample lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

# about 20 minutes on 2 cores, once per machine
$(LLAMA_WHEELS)/.built: | $(BIN)/python
	mkdir -p $(LLAMA_WHEELS)
	CMAKE_ARGS='$(LLAMA_CMAKE_ARGS)' CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(BIN)/pip wheel --no-deps --no-cache-dir --no-binary llama-cpp-python -w $(LLAMA_WHEELS) \
		llama-cpp-python==$(LLAMA_VERSION)
	touch $@

llama: $(LLAMA_WHEELS)/.built

$(VENV)/.installed: pyproject.toml $(LLAMA_WHEELS)/.built | $(BIN)/python
	$(BIN)/pip install --no-deps --no-index --find-links $(LLAMA_WHEELS) --force-reinstall llama-cpp-python==$(LLAMA_VERSION)
	$(BIN)/pip install -e '.[llm]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -e '.[llm,hf,test]'
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
