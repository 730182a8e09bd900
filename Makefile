# gpufleet.nvidia — developer entry points. `make demo` and `make test` install what they need themselves
# (venv with pinned requirements, Debian's docker.io + debootstrap, a running dockerd, the node image).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
# Scenarios run by `make test` (molecule/demo is the demo, run by `make demo`).
MOLECULE_SCENARIOS ?= default cuda_env container_toolkit docker_runtime command_service real_userland
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Keep ansible-lint/molecule caches inside the checkout's ignored build dir.
export ANSIBLE_HOME := $(CURDIR)/.build/ansible-home

.PHONY: help demo test lint ruff ansible-lint changelog-lint sanity unit integration molecule bench test-gpu venv host-deps \
	image changelog ee-context clean docs

help:
	@echo "make demo      simulated GPU fleet in local systemd containers + playbooks/site.yml"
	@echo "make test      every test layer: lint, sanity, unit, integration, molecule"
	@echo "make test-gpu  tests marked gpu (needs a real NVIDIA GPU)"
	@echo "make bench     benchmarks under bench/"
	@echo "make changelog lint the fragments and release them into CHANGELOG.rst as galaxy.yml's version"
	@echo "make ee-context collection tarball + execution environment build context (.build/ee/context)"

venv:
	@hack/venv.sh

host-deps:
	@hack/host-deps.sh

image: host-deps venv
	@molecule/image/build.sh >/dev/null

demo: host-deps venv
	@hack/demo.sh

test: lint sanity unit integration molecule
	@echo "make test: all layers passed"

lint: ruff ansible-lint changelog-lint

ruff: venv
	ruff check .
	ruff format --check .

ansible-lint: venv
	ansible-lint --offline

changelog-lint: venv
	antsibull-changelog lint

# The release: fragments -> changelogs/changelog.yaml and CHANGELOG.rst, for the version galaxy.yml names.
changelog: changelog-lint
	antsibull-changelog release --version "$$(python -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')"

# What execution-environment.yml builds from: the collection tarball (.build/ee) and the build context. Building the
# image itself needs the base image's registry: `podman build -t gpufleet-ee:<version> .build/ee/context`.
ee-context: venv
	rm -rf .build/ee
	ansible-galaxy collection build --output-path .build/ee .
	ansible-builder create -f execution-environment.yml -c .build/ee/context --output-filename Containerfile

sanity: venv
	hack/sanity.sh

# The module, filter and role tables of README.md and roles/README.md, from DOCUMENTATION, argument_specs and the
# playbooks (tests/unit/test_generated_docs.py fails while they differ).
docs: venv
	python hack/gen_docs.py

# The real burn worker's tests (every dtype x clean/transient/persistent fault) need PyTorch's CPU build. `make unit`
# needs neither root nor Docker (gcc and make build the simulated NVML); under `make test` host-deps comes first, so
# that the sshfs test of tests/command_service runs instead of skipping for want of sshfs.
unit: venv $(if $(filter test,$(MAKECMDGOALS)),host-deps)
	hack/torch-venv.sh >/dev/null
	python -m pytest -m "not gpu" tests/unit tests/simulators tests/container_toolkit tests/command_service

integration: venv host-deps
	hack/torch-venv.sh
	hack/gpu-burn-deps.sh
	python -m pytest -m "not gpu" tests/integration

molecule: host-deps venv
	for s in $(MOLECULE_SCENARIOS); do hack/molecule.sh test -s "$$s"; done

# The interpreter running the GPU tests needs nvidia-ml-py (and pytest); TEST_GPU_PYTHON=/usr/bin/python3 picks a
# host's own. Without a GPU or a CUDA torch the run fails, naming what is missing (tests/gpu/conftest.py).
TEST_GPU_PYTHON ?= python
test-gpu: venv
	$(TEST_GPU_PYTHON) -m pytest -m gpu -p no:cacheprovider tests/gpu

bench: venv
	@for b in bench/*/run.sh; do [[ -e "$$b" ]] || continue; echo "== $$b"; bash "$$b"; done

clean:
	-hack/molecule.sh destroy --all
	rm -rf .build .pytest_cache .ruff_cache tests/output
