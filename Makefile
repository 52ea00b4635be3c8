# voxgate: `make run` serves the shipped offline config; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
TORCH_VERSION := 2.13.0
# llama-cpp-python builds from source; skip the parts voxgate does not use. Without OpenMP,
# because OpenMP worker pools left by torch-based engines in the same daemon slow llama.cpp ~3x.
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_OPENMP=OFF
CONFIG ?= config/ai_backend.yaml

.PHONY: install install-dev run test lint format bench clean qwen-test-env

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel setuptools

# torch is pinned and installed first: an unpinned torch pulls a multi-GB CUDA build.
$(VENV)/.torch: | $(BIN)/python
	$(PIP) install --quiet torch==$(TORCH_VERSION)
	touch $@

$(VENV)/.embedded: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e ".[embedded]"
	touch $@

$(VENV)/.all: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e ".[all,dev]"
	touch $@

install: $(VENV)/.embedded

install-dev: $(VENV)/.all

run: install
	$(BIN)/voxgate serve --config $(CONFIG)

test: install-dev
	$(BIN)/python -m pytest

# The Qwen3-TTS worker environment its tests use (~1.9 GB from PyPI), built once and cached.
# The tests build it themselves on first use; this target does it ahead of time.
QWEN_TEST_ENV ?= $(HOME)/.cache/voxgate/test-envs/tts_qwen3
qwen-test-env: install-dev
	$(BIN)/voxgate plugins install tts_qwen3 --path $(QWEN_TEST_ENV)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
