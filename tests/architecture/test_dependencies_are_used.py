"""Every runtime dependency in ``pyproject.toml`` is imported by the package: a library only the
tests use belongs in the ``dev`` group, and one nothing uses is dropped (a dependency another
loads by name is named below with its reason)."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE_NAME = re.compile(r"^([a-z_][a-z0-9_]*)(?:\.[a-z0-9_]+)*$")

# A dependency another one loads by name without cardpilot importing it, with the reason.
NEEDED_WITHOUT_IMPORT = {
    "python-multipart": "FastAPI reads the token endpoint's form (OAuth2PasswordRequestForm)",
}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_dependencies() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [_normal(re.split(r"[\[<>=!~ ;]", d, maxsplit=1)[0]) for d in project["dependencies"]]


def imported_modules() -> set[str]:
    """The top-level modules ``src/cardpilot`` imports, by statement or by name in a string
    (``importlib.import_module("adbc_driver_sqlite.dbapi")``)."""
    found: set[str] = set()
    for path in (ROOT / "src" / "cardpilot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                found |= set(MODULE_NAME.findall(node.value))
    return found


def test_every_runtime_dependency_is_imported_by_the_package() -> None:
    modules_of: dict[str, set[str]] = {}
    for module, dists in packages_distributions().items():
        for dist in dists:
            modules_of.setdefault(_normal(dist), set()).add(module)
    imported = imported_modules()
    unused = [
        dep
        for dep in runtime_dependencies()
        if dep not in NEEDED_WITHOUT_IMPORT and not (modules_of.get(dep, set()) & imported)
    ]
    assert unused == [], f"nothing in src/cardpilot imports {unused}: drop them (uv remove)"


def test_the_exceptions_are_still_runtime_dependencies() -> None:
    assert set(NEEDED_WITHOUT_IMPORT) <= set(runtime_dependencies())


def test_a_library_only_the_tests_use_is_not_a_runtime_dependency() -> None:
    assert "httpx" not in runtime_dependencies()  # FastAPI's TestClient: the dev group's
    assert "duckdb" not in runtime_dependencies()
