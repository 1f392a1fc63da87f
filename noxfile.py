# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The version matrix: unit, integration and sanity tests on every supported ansible-core, molecule on the ends.

`make test` runs the main line (ansible-core pinned in requirements-dev.txt) itself, then `nox -t ci` (see
CI_SESSIONS); `nox -t matrix` runs every session. One session runs one suite on one ansible-core: `nox -l` lists them, `nox -s "integration-2.16"` runs one.
Each core runs on a controller Python it supports; the pyenv versions of this machine provide them.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

import nox

REPO = Path(__file__).resolve().parent

# ansible-core -> the controller Python it is tested with. The main line (requirements-dev.txt) is not repeated here.
CORES = {"2.16": "3.11", "2.17": "3.11", "2.18": "3.11", "2.20": "3.12", "2.21": "3.13"}
MAIN = "2.19"
# molecule on the oldest and the newest core (the main line runs it too).
MOLECULE_CORES = ("2.16", "2.21")
# The integration tests that go through what changes between cores (module execution, argument specs, check mode
# and diff, no_log, the lookup's and the inventory's templating and caching, the role's handlers, host Pythons).
# The drills (faults, kills, concurrency), issuance polling, bundle validation and the production-shape rows test
# the collection's own Python, which is the same on every core: they run on the main line (`make test-integration`).
INTEGRATION = [
    "tests/integration/test_host_python.py",
    "tests/integration/test_modules_acme_account.py",
    "tests/integration/test_modules_assign.py",
    "tests/integration/test_modules_certificate.py",
    "tests/integration/test_modules_device_info.py",
    "tests/integration/test_modules_errors.py",
    "tests/integration/test_plugins_inventory.py",
    "tests/integration/test_plugins_inventory_devices.py",
    "tests/integration/test_plugins_lookup.py",
    "tests/integration/test_plugins_lookup_api.py",
    "tests/integration/test_plugins_templating.py",
    "tests/integration/test_secret_der.py",
    "tests/integration/test_service_reload.py",
]
# On the oldest and the newest core, the role's and the bad-input tests as well.
INTEGRATION_ENDS = ["tests/integration/test_role_deploy.py", "tests/integration/test_bad_input.py"]
# pylint is the slowest sanity test; it runs on the main line and on the oldest core.
PYLINT_CORES = ("2.16",)
# The sessions `make test` runs (tag "ci"): units, integration and sanity on every core, molecule on the ends
# (about 40 minutes on two cores beside the main line's 30).
CI_SESSIONS = {
    *(f"{suite}-{core}" for suite in ("units", "integration", "sanity") for core in CORES),
    *(f"molecule-{core}" for core in MOLECULE_CORES),
}
# molecule's scenarios on the oldest and newest cores: the first deployment and the rollback (all on the main line).
MOLECULE_SCENARIOS = ("default", "rollback")
# The emulator's answer shape per core: both profiles run across the matrix (the main line runs both itself).
PROFILES = {"2.16": "production", "2.17": "contract", "2.18": "production", "2.20": "contract", "2.21": "production"}
# The core whose unit tests run through `ansible-test units` instead of plain pytest, so both stay working.
ANSIBLE_TEST_UNITS = "2.21"
# The oldest Python each core manages on hosts (its target support); the host tests use it when it is installed.
HOST_PYTHON = {"2.16": "3.6", "2.17": "3.7", "2.18": "3.8", "2.19": "3.8", "2.20": "3.9", "2.21": "3.9"}

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


def interpreter(version: str) -> str:
    """An absolute path to python<version>: pyenv's versions first (its shims fail for versions not selected)."""
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    if found:
        return found[-1]
    path = shutil.which(f"python{version}")
    if path and "/shims/" not in path:
        return path
    return f"python{version}"  # nox then names the missing interpreter and fails the session


def install(session: nox.Session, core: str, *extra: str) -> None:
    session.install(f"ansible-core~={core}.0", "-r", "tests/requirements.txt", *extra)
    session.install("-e", "tests/emulator")


def env(core: str) -> dict[str, str]:
    """What every session passes to the tests: the production profile, and the oldest host Python of this core."""
    host = interpreter(HOST_PYTHON[core])
    return {
        "CERTCTRL_EMULATOR_PROFILE": PROFILES[core],
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".cache" / "collections"),
        "ANSIBLE_HOME": str(REPO / ".cache" / f"ansible-home-{core}"),
        "CERTCTRL_REQUIRE_PEBBLE": os.environ.get("CERTCTRL_REQUIRE_PEBBLE", "1"),
        "CERTCTRL_HOST_PYTHON": host if os.path.isabs(host) else "",
    }


def pytest(session: nox.Session, core: str, *paths: str) -> None:
    """pytest on `paths`; arguments after `--` are added, and replace `paths` when they name tests (`nox -s units-2.16 -- tests/unit/x.py`)."""
    names_tests = any(arg.startswith("tests/") for arg in session.posargs)
    args = [*([] if names_tests else paths), *session.posargs]
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2", *args, env=env(core))


def units(core: str, python: str):
    def session(session: nox.Session) -> None:
        install(session, core)
        if core != ANSIBLE_TEST_UNITS:
            pytest(session, core, "tests/unit")
            return
        # ansible-test builds its own virtualenv from tests/unit/requirements.txt and runs the tests in a real copy.
        session.run(
            "bash",
            "tools/ansible_test.sh",
            "units",
            "--python",
            python,
            *session.posargs,
            external=True,
            env={**env(core), "ANSIBLE_TEST_VENV": session.virtualenv.location},
        )

    return session


def integration(core: str):
    def session(session: nox.Session) -> None:
        install(session, core)
        ends = core in MOLECULE_CORES
        pytest(session, core, *INTEGRATION, *(INTEGRATION_ENDS if ends else []))

    return session


def sanity(core: str, python: str):
    def session(session: nox.Session) -> None:
        session.install(f"ansible-core~={core}.0")
        # The host-side modules are compiled on the oldest host Python this core supports as well (tests/config.yml).
        host = interpreter(HOST_PYTHON[core])
        skip = [] if core in PYLINT_CORES else ["--skip-test", "pylint"]
        session.run("bash", "tools/ansible_test.sh", "sanity", "--python", python, *skip, external=True, env={"ANSIBLE_TEST_VENV": session.virtualenv.location})
        session.run(
            "bash",
            "tools/ansible_test.sh",
            "sanity",
            "--test",
            "compile",
            "--python",
            HOST_PYTHON[core],
            "plugins/modules/",  # what runs on hosts; the unit tests of module_utils run on the controller
            "plugins/module_utils/",
            external=True,
            env={"ANSIBLE_TEST_VENV": session.virtualenv.location, "PATH": f"{Path(host).parent}{os.pathsep}{os.environ['PATH']}"},
        )

    return session


def molecule(core: str):
    def session(session: nox.Session) -> None:
        install(session, core, "molecule==26.10.0", "ansible-compat==26.10.0")  # as tested here
        bin_dir = Path(session.bin)
        scenarios = session.posargs or MOLECULE_SCENARIOS
        session.run("bash", "extensions/molecule/run-all.sh", *scenarios, external=True, env={**env(core), "VENV_BIN": str(bin_dir)})

    return session


def tags(name: str, kind: str) -> list[str]:
    return ["matrix", kind, *(["ci"] if name in CI_SESSIONS else [])]


for _core, _python in CORES.items():
    _where = interpreter(_python)
    nox.session(name=f"units-{_core}", python=_where, tags=tags(f"units-{_core}", "units"))(units(_core, _python))
    nox.session(name=f"integration-{_core}", python=_where, tags=tags(f"integration-{_core}", "integration"))(integration(_core))
    nox.session(name=f"sanity-{_core}", python=_where, tags=tags(f"sanity-{_core}", "sanity"))(sanity(_core, _python))
    if _core in MOLECULE_CORES:
        nox.session(name=f"molecule-{_core}", python=_where, tags=tags(f"molecule-{_core}", "molecule"))(molecule(_core))
