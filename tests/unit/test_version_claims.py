# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The version claims agree with what is tested: meta/runtime.yml, the EE, tests/config.yml, the README, noxfile.py;
and the collection's own version (galaxy.yml) with the one the client sends in its User-Agent."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from ansible_collections.cjj365.certctrl.plugins.module_utils._client import COLLECTION_VERSION, USER_AGENT

REPO = Path(__file__).resolve().parents[2]


def nox_constants() -> dict:
    """CORES, MAIN, MOLECULE_CORES and HOST_PYTHON of noxfile.py, read without importing nox."""
    tree = ast.parse((REPO / "noxfile.py").read_text())
    wanted = {"CORES", "MAIN", "MOLECULE_CORES", "HOST_PYTHON"}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and node.targets[0].id in wanted:
            found[node.targets[0].id] = ast.literal_eval(node.value)
    assert set(found) == wanted, f"noxfile.py lacks {wanted - set(found)}"
    return found


def minor(version: str) -> tuple[int, int]:
    major, minor_, *_rest = version.split(".")
    return int(major), int(minor_)


def supported_cores() -> list[str]:
    constants = nox_constants()
    return sorted([*constants["CORES"], constants["MAIN"]], key=minor)


def test_the_tested_cores_are_a_contiguous_range_with_the_main_line_inside() -> None:
    cores = [minor(core) for core in supported_cores()]
    assert cores == [(2, m) for m in range(cores[0][1], cores[-1][1] + 1)], f"a core is missing from the matrix: {supported_cores()}"
    pinned = re.search(r"^ansible-core==(\S+)$", (REPO / "requirements-dev.txt").read_text(), re.MULTILINE).group(1)
    assert minor(pinned) == minor(nox_constants()["MAIN"]), "requirements-dev.txt pins another core than noxfile.py's MAIN"
    molecule = nox_constants()["MOLECULE_CORES"]
    assert set(molecule) == {supported_cores()[0], supported_cores()[-1]}, "molecule runs on the oldest and the newest core"


def test_runtime_yml_names_the_oldest_tested_core() -> None:
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == f">={supported_cores()[0]}.0"


def test_the_execution_environment_allows_exactly_the_tested_cores() -> None:
    ee = yaml.safe_load((REPO / "docs" / "execution-environment" / "execution-environment.yml").read_text())
    spec = ee["dependencies"]["ansible_core"]["package_pip"]
    low, high = minor(supported_cores()[0]), minor(supported_cores()[-1])
    assert spec == f"ansible-core>={low[0]}.{low[1]},<{high[0]}.{high[1] + 1}"


def test_tests_config_declares_the_oldest_host_python() -> None:
    config = yaml.safe_load((REPO / "tests" / "config.yml").read_text())
    oldest = nox_constants()["HOST_PYTHON"][supported_cores()[0]]
    assert config["modules"]["python_requires"] == f">={oldest}"


def test_the_readme_states_each_tested_core_and_host_python() -> None:
    readme = " ".join((REPO / "README.md").read_text().split())  # one line: the prose wraps anywhere
    constants = nox_constants()
    for core in supported_cores():
        assert re.search(rf"\b{re.escape(core)}\b", readme), f"README.md does not name ansible-core {core}"
    for core, python in constants["CORES"].items():
        assert re.search(
            rf"{re.escape(core)}[^\n|]*\(Python {re.escape(python)}\)|{re.escape(core)}[^\n]*Python {re.escape(python)}", readme
        ), f"README.md does not say that {core} is tested on Python {python}"
    oldest = constants["HOST_PYTHON"][supported_cores()[0]]
    assert f"{oldest} or later" in readme or f"{oldest}+" in readme, f"README.md does not state the hosts' Python ({oldest} or later)"


def test_the_client_sends_the_version_of_galaxy_yml() -> None:
    # Modules run where galaxy.yml is not, so the client carries the version as a constant: this keeps it honest.
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    assert galaxy["version"] == COLLECTION_VERSION
    assert USER_AGENT.startswith(f"cjj365.certctrl/{galaxy['version']} ansible-core/")
