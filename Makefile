# voxgate: `make run` serves the shipped offline config; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
TORCH_VERSION := 2.13.0
# llama-cpp-python builds from source; skip the parts voxgate does not use. Without OpenMP,
# because OpenMP worker pools left by torch-based engines in the same daemon slow llama.cpp ~3x.
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_OPENMP=OFF
# A native x86 build takes every instruction set of the build host, AMX included, which virtual
# machines often do not enable (the wheel then dies with SIGILL elsewhere): name the level instead.
ifeq ($(shell uname -s)-$(shell uname -m),Linux-x86_64)
LLAMA_CMAKE_ARGS += -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
ifneq ($(shell grep -m1 -ow avx512bw /proc/cpuinfo),)
LLAMA_CMAKE_ARGS += -DGGML_AVX512=ON
endif
endif
export CMAKE_ARGS ?= $(LLAMA_CMAKE_ARGS)
LLAMA_CPP_VERSION := $(shell grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml | head -1 | cut -d= -f3)
# pip's own wheel cache ignores CMAKE_ARGS, so the wheel built with these flags is kept apart.
LLAMA_WHEELS := $(HOME)/.cache/voxgate/wheels/llama-cpp-python-$(LLAMA_CPP_VERSION)-$(shell echo '$(CMAKE_ARGS)' | md5sum | cut -c1-10)
CONFIG ?= config/ai_backend.yaml

.PHONY: install install-dev systemd-tools fleet-tools browser-tools container-tools llama-wheel-info \
	run test test-container lint format bench clean qwen-test-env

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel setuptools

# torch is pinned and installed first: an unpinned torch pulls a multi-GB CUDA build.
$(VENV)/.torch: | $(BIN)/python
	$(PIP) install --quiet torch==$(TORCH_VERSION)
	touch $@

# llama-cpp-python compiles from source (~6 min); built once per version and flags.
$(VENV)/.llama: pyproject.toml | $(VENV)/.torch
	@if ! ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1; then \
		echo "building llama-cpp-python $(LLAMA_CPP_VERSION) (about 6 minutes, once)"; \
		rm -rf $(LLAMA_WHEELS).tmp && \
		$(PIP) wheel --quiet --no-deps --no-cache-dir --wheel-dir $(LLAMA_WHEELS).tmp \
			llama-cpp-python==$(LLAMA_CPP_VERSION) && \
		rm -rf $(LLAMA_WHEELS) && mv $(LLAMA_WHEELS).tmp $(LLAMA_WHEELS); \
	fi
	$(PIP) install --quiet --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	touch $@

$(VENV)/.embedded: pyproject.toml $(VENV)/.torch $(VENV)/.llama
	$(PIP) install --quiet -e ".[embedded]"
	touch $@

$(VENV)/.all: pyproject.toml $(VENV)/.torch $(VENV)/.llama
	$(PIP) install --quiet -e ".[all,dev,bench]"
	touch $@

install: $(VENV)/.embedded

install-dev: $(VENV)/.all systemd-tools fleet-tools browser-tools

# systemd-analyze, systemd-socket-activate and systemd-nspawn for the service tests (Linux only;
# Debian packages are installed when run as root, a newer systemd-analyze is unpacked if needed).
systemd-tools:
	@bash tests/support/systemd_tools.sh

# valkey-server and HAProxy for the fleet tests (Linux; HAProxy from Debian as root, Valkey from
# Debian backports unpacked under ~/.cache/voxgate/fleet-tools where it is not installed).
fleet-tools:
	@bash tests/support/fleet_tools.sh

# Debian's chromium for the web console's browser tests (Playwright drives it; no browser download).
browser-tools:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && { apt-get update -qq && apt-get install -y -qq chromium; } \
		|| echo "browser-tools: install Debian's chromium (apt-get install chromium) as root"; }

# podman, debootstrap and runc for the container image test (Debian packages, installed as root).
container-tools:
	@bash tests/support/container_tools.sh

# The folder and flags of the llama-cpp-python wheel built above: the container test hands it to
# the image build instead of compiling llama.cpp a second time.
llama-wheel-info:
	@echo "$(LLAMA_WHEELS)"
	@echo "$(CMAKE_ARGS)"

run: install
	$(BIN)/voxgate serve --config $(CONFIG)

test: install-dev
	$(BIN)/python -m pytest

# Builds the Containerfile with podman on a Debian base image made here, then runs and stops it
# (about 14 minutes the first time on 2 cores, 3 once podman has the layers); `make test` and CI
# leave it out.
test-container: install-dev container-tools
	$(BIN)/python -m pytest -m container tests/container

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
