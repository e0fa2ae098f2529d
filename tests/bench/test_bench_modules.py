"""What two benchmarks share lives in a shared bench module (``machine``, ``portfolio``,
``summary``): no benchmark script imports another one."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found


def test_no_benchmark_imports_another_benchmark() -> None:
    scripts = sorted(BENCH.glob("bench_*.py"))
    names = {p.stem for p in scripts}
    assert {"bench_review", "bench_simulate", "bench_api"} <= names
    for script in scripts:
        assert not (_imported_modules(script) & (names - {script.stem})), script.name


def test_the_shared_modules_give_what_the_review_simulation_and_api_benches_use() -> None:
    shared = {p.stem for p in BENCH.glob("*.py") if not p.stem.startswith("bench_")}
    assert {"machine", "portfolio", "summary"} <= shared
    for script in ("bench_review", "bench_simulate", "bench_api"):
        assert "portfolio" in _imported_modules(BENCH / f"{script}.py"), script
