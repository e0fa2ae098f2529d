"""Small modules named after what they hold: no module over 600 lines, no function over 80
lines (migrations aside), no private name (``_x``) used across modules, and none of the names
that hid what they held (found by parsing every module, not by searching its text)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "cardpilot"
MIGRATIONS = SRC / "store" / "migrations"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80

# Names that said nothing about what they held: ``run`` for a SQL helper where review runs
# exist, ``tally``, ``_Decider``.
BANNED_NAMES = frozenset({"tally", "_Decider"})
# ``run`` is banned only where it names a SQL helper: in the store, or as a module-level
# function taking a connection or session.
SQL_HELPER_NAME = "run"

# PENDING_ELSEWHERE: modules other helpers are editing in this wave, as paths below
# src/cardpilot/, with the branch that owns them. The lead fixes their findings after merging
# those branches and empties this list; a module with no finding must leave it
# (test_the_pending_list_holds_only_modules_with_findings).
PENDING_ELSEWHERE: dict[str, str] = {}


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _rel(path: Path) -> str:
    return str(path.relative_to(SRC))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    package = base if module.endswith("__init__") else base[:-1]
    if node.level > 1:
        package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *([node.module] if node.module else [])])


def findings(path: Path, module: str | None = None) -> list[str]:
    """Every breach of the size and naming rules in ``path`` as ``line: what``."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, str(path))
    module = module or _module_name(path)
    found: list[str] = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(f"1: module is {lines} lines (at most {MAX_MODULE_LINES})")
    in_migrations = MIGRATIONS in path.parents
    in_store = (SRC / "store") in path.parents
    imported_modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and not in_migrations:
                found.append(
                    f"{node.lineno}: {node.name} is {length} lines (at most {MAX_FUNCTION_LINES})"
                )
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node.name in BANNED_NAMES
        ):
            found.append(f"{node.lineno}: {node.name} does not say what it holds")
        if isinstance(node, ast.Name | ast.arg):
            name = node.id if isinstance(node, ast.Name) else node.arg
            if name in BANNED_NAMES:
                found.append(f"{node.lineno}: {name} does not say what it holds")
        if isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            for alias in node.names:
                if _is_private(alias.name) and source != module:
                    found.append(f"{node.lineno}: imports private {alias.name} from {source}")
                else:
                    imported_modules.add(alias.asname or alias.name)
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported_modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _is_private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in imported_modules
        ):
            found.append(f"{node.lineno}: uses private {node.value.id}.{node.attr}")
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == SQL_HELPER_NAME:
            params = {a.arg for a in node.args.args}
            if in_store or params & {"connection", "conn", "session", "engine"}:
                found.append(f"{node.lineno}: a SQL helper named {SQL_HELPER_NAME!r}")
    return found


def test_modules_and_functions_are_small_and_names_say_what_they_hold() -> None:
    offending = {
        _rel(path): found
        for path in _modules()
        if _rel(path) not in PENDING_ELSEWHERE and (found := findings(path))
    }
    assert not offending, f"split or rename (docs/architecture.md, 'Sizes and names'): {offending}"


def test_the_pending_list_holds_only_modules_with_findings() -> None:
    stale = sorted(m for m in PENDING_ELSEWHERE if not (SRC / m).exists() or not findings(SRC / m))
    assert not stale, f"nothing left to fix in {stale}: remove them from PENDING_ELSEWHERE"


def test_the_check_finds_each_kind_of_breach(tmp_path: Path) -> None:
    package = tmp_path / "cardpilot" / "store"
    package.mkdir(parents=True)
    long_body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    module = package / "sample.py"
    module.write_text(
        "from cardpilot.policy.limits import _by_grade\n"
        "from cardpilot.store import statements\n"
        "from ._local import _helper\n"
        "class _Decider: ...\n"
        "tally = statements._rows\n"
        "def run(connection, sql): ...\n"
        f"def long():\n{long_body}\n",
        encoding="utf-8",
    )
    lines = sorted(int(found.split(":")[0]) for found in findings(module, "x.store.sample"))
    # private imports (absolute and relative), _Decider, tally and statements._rows, run, long
    assert lines == [1, 3, 4, 5, 5, 6, 7]
