# The project's vocabulary. `make demo` and `make test` do their own set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.cache/collections
STAMP := $(VENV)/.setup-stamp
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
# The tools call each other by name (antsibull-docs runs `ansible`, ansible-lint runs `ansible-galaxy`).
export PATH := $(CURDIR)/$(BIN):/usr/sbin:$(PATH)
export ANSIBLE_HOME := $(CURDIR)/.cache/ansible-home
# The tests that run a real ACME server fail, not skip, when pebble is missing (CERTCTRL_REQUIRE_PEBBLE=0 to skip them).
export CERTCTRL_REQUIRE_PEBBLE ?= 1
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider -q

.PHONY: setup system-packages demo test test-emulator test-unit test-integration test-molecule test-matrix lint sanity docs-lint changelog-lint build ee bench clean

setup: $(STAMP) $(COLLECTIONS)/ansible_collections/cjj365/certctrl

$(STAMP): requirements-dev.txt tests/emulator/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check -e tests/emulator
	touch $@

# The checkout, importable as ansible_collections.cjj365.certctrl wherever it was cloned.
$(COLLECTIONS)/ansible_collections/cjj365/certctrl:
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

demo: setup
	bash tools/system_packages.sh nginx
	bash tools/system_packages.sh --optional pebble
	$(BIN)/python tools/demo.py

test: setup system-packages test-emulator test-unit test-integration test-molecule sanity lint docs-lint changelog-lint build ee test-matrix
	@echo "make test: every suite passed"

# nginx for the role's tests, pebble (a real ACME server) behind the emulator, shellcheck and curl for lint and tests.
system-packages:
	bash tools/system_packages.sh nginx shellcheck curl pebble

# The emulator answers in production's shape by default (tests/emulator/README.md). The emulator suite runs against
# both shapes; the integration suite against production's, its shape rows and role drills against the contract's
# too, and the version matrix (noxfile.py) alternates the two across the ansible-core versions.
test-emulator: setup
	CERTCTRL_EMULATOR_PROFILE=production $(PYTEST) -n 2 tests/emulator/tests
	CERTCTRL_EMULATOR_PROFILE=contract $(PYTEST) -n 2 tests/emulator/tests

test-unit: setup
	CERTCTRL_EMULATOR_PROFILE=production $(PYTEST) -n 2 tests/unit

test-integration: setup
	CERTCTRL_EMULATOR_PROFILE=production $(PYTEST) -n 2 tests/integration
	CERTCTRL_EMULATOR_PROFILE=contract $(PYTEST) -n 2 tests/integration/test_production_shape.py tests/integration/test_role_deploy_drills.py

test-molecule: setup
	bash extensions/molecule/run-all.sh

# The other supported ansible-core versions (noxfile.py): the oldest and the newest in `make test` (tag ci);
# `make test-matrix NOX_ARGS='-t matrix'` runs every core, `NOX_ARGS='-s units-2.17'` one session.
NOX_ARGS ?= -t ci
test-matrix: setup system-packages
	$(BIN)/nox --no-color $(NOX_ARGS)

sanity: setup
	bash tools/ansible_test.sh sanity --python 3.11

lint: setup
	$(BIN)/ruff check .
	$(BIN)/black -l 160 --check -q plugins tests tools
	$(BIN)/ansible-lint --profile production
	shellcheck tools/*.sh .ci/run extensions/molecule/*.sh

docs-lint: setup
	$(BIN)/antsibull-docs lint-collection-docs --plugin-docs --skip-rstcheck .

changelog-lint: setup
	$(BIN)/antsibull-changelog lint

# Build the tarball, check its contents, install it and render every plugin's docs from the install.
build: setup
	bash tools/build_check.sh

# The execution environment: ansible-builder's build context and its introspection of the built collection.
ee: build
	bash tools/ee_check.sh

bench: setup
	$(BIN)/python tools/bench.py

clean:
	rm -rf .cache *.tar.gz tests/output
