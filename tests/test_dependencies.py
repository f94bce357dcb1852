"""Declared dependencies agree with the code and the pins: every third-party distribution a
deployable imports is declared for it (pyproject.toml's core or its extra; clients/python for the
SDK and CLI), and every declared range admits the version requirements/*.txt pins."""

from __future__ import annotations

import ast
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {path.name for base in ("libs", "gen/python") for path in (ROOT / base).iterdir() if path.is_dir()} | {
    path.name for path in (ROOT / "services").glob("*/beatflow_*")
}
# Source folder -> the extras of pyproject.toml that may serve it besides the core.
EXTRAS_FOR = {
    "libs/beatflow_platform": (),
    "libs/beatflow_admin": (),
    "libs/beatflow_audio": ("generator", "separator"),
    "libs/beatflow_devtools": ("local",),
    "services/vcs": ("vcs",),
    "services/gateway": ("gateway",),
    "services/generator": ("generator",),
    "services/separator": ("separator",),
}
CLIENT_SOURCES = ("libs/beatflow_sdk", "libs/beatflow_cli", "gen/python")


def project(path: Path) -> dict:
    return tomllib.loads(path.read_text())["project"]


def names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(line).name) for line in requirements}


@cache
def distributions_of_module() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def imported_distributions(source: str) -> dict[str, str]:
    """Third-party distributions the modules under `source` import (lazy imports too) -> one file that does."""
    found = {}
    for path in sorted((ROOT / source).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in FIRST_PARTY or top == "__future__":
                    continue
                for distribution in distributions_of_module().get(top, [top]):
                    found.setdefault(canonicalize_name(distribution), str(path.relative_to(ROOT)))
    return found


def pins() -> dict[str, str]:
    pinned = {}
    for path in (ROOT / "requirements").glob("*.txt"):
        for line in path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                requirement = Requirement(line)
                (version,) = [spec.version for spec in requirement.specifier if spec.operator == "=="]
                pinned[canonicalize_name(requirement.name)] = version
    return pinned


@pytest.mark.parametrize("source", sorted(EXTRAS_FOR))
def test_each_deployable_declares_what_it_imports(source):
    declared = project(ROOT / "pyproject.toml")
    allowed = names(declared["dependencies"])
    for extra in EXTRAS_FOR[source]:
        allowed |= names(declared["optional-dependencies"][extra])
    undeclared = {name: where for name, where in imported_distributions(source).items() if name not in allowed}
    assert not undeclared, f"imported but not declared for {source}: {undeclared}"


def test_the_client_declares_what_the_sdk_cli_and_stubs_import():
    declared = names(project(ROOT / "clients/python/pyproject.toml")["dependencies"])
    imported = {}
    for source in CLIENT_SOURCES:
        imported |= imported_distributions(source)
    undeclared = {name: where for name, where in imported.items() if name not in declared}
    assert not undeclared, f"the client imports undeclared distributions: {undeclared}"


@pytest.mark.parametrize("pyproject", ["pyproject.toml", "clients/python/pyproject.toml"])
def test_every_declared_range_admits_the_pinned_version(pyproject):
    declared = project(ROOT / pyproject)
    lines = declared["dependencies"] + [
        line for extra in declared.get("optional-dependencies", {}).values() for line in extra
    ]
    pinned = pins()
    for line in lines:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name == canonicalize_name(declared["name"]):
            continue  # the `all` extra names the others
        assert name in pinned, f"{line} ({pyproject}) has no pin in requirements/"
        assert requirement.specifier.contains(pinned[name], prereleases=True), f"{line} excludes the pin {pinned[name]}"
