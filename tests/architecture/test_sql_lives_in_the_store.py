"""SQL lives in ``src/cardpilot/store/`` only: no string literal outside it starts a SQL
statement (found by parsing every module, not by searching its text)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "cardpilot"
STORE = SRC / "store"
STATEMENT = re.compile(
    r"^\s*\(?\s*(SELECT|INSERT|UPDATE|DELETE|COPY|PRAGMA)\b|^\s*WITH\s+\w+\s+AS\s*\("
)

# PENDING_ELSEWHERE: modules other helpers are moving their SQL out of in this wave, as paths
# below src/cardpilot/. The lead empties this list once their branches are merged; a module
# whose SQL has gone must leave it (test_the_pending_list_holds_only_modules_with_sql).
PENDING_ELSEWHERE: frozenset[str] = frozenset()


def _leading_text(node: ast.AST) -> str | None:
    """The text a string literal starts with (an f-string's up to its first field)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        head = []
        for part in node.values:
            if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                head.append("x")  # a field: a word, so "SELECT {cols}" still reads as one
                break
            head.append(part.value)
        return "".join(head)
    return None


def sql_statements(path: Path) -> list[tuple[int, str]]:
    """(line, first words) of each string literal in ``path`` that starts a SQL statement."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    # The literal parts of an f-string are read with it, not alone.
    parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = []
    for node in ast.walk(tree):
        if id(node) in parts:
            continue
        text = _leading_text(node)
        if text is not None and STATEMENT.match(text):
            found.append((getattr(node, "lineno", 0), " ".join(text.split())[:60]))
    return found


def _modules_outside_the_store() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if STORE not in p.parents)


def test_no_sql_statement_outside_the_store() -> None:
    offending = {
        str(path.relative_to(SRC)): statements
        for path in _modules_outside_the_store()
        if str(path.relative_to(SRC)) not in PENDING_ELSEWHERE
        and (statements := sql_statements(path))
    }
    assert not offending, (
        "SQL outside src/cardpilot/store/: move each statement into a store module (one per"
        f" aggregate) and call it from there: {offending}"
    )


def test_the_pending_list_holds_only_modules_with_sql() -> None:
    stale = sorted(
        m for m in PENDING_ELSEWHERE if not (SRC / m).exists() or not sql_statements(SRC / m)
    )
    assert not stale, f"no SQL left in {stale}: remove them from PENDING_ELSEWHERE"


def test_the_check_finds_statements_in_plain_and_formatted_strings(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text(
        'a = "SELECT 1"\n'
        'b = f"  INSERT INTO {table} VALUES (1)"\n'
        'c = ("UPDATE accounts"\n     " SET x = 1")\n'
        "d = '''\\nWITH latest AS (SELECT 1)'''\n"
        'e = "Select the accounts to update"\n'
        'f = f"{kind} DELETE"\n',
        encoding="utf-8",
    )
    assert [line for line, _ in sql_statements(module)] == [1, 2, 3, 5]


def test_prose_and_frame_code_that_read_like_sql_are_not_statements(tmp_path: Path) -> None:
    """What once passed for SQL in policy/calibration.py, scoring/registry.py and
    scoring/scorecard.py is none: docstrings opening with a SQL verb in sentence case ("Copy the
    policy folder ...", "Copy a model directory in ...") and polars' ``frame.select(...)``. Only
    a keyword in capitals opens a statement, so they are not flagged, and SQL in capitals is."""
    module = tmp_path / "sample.py"
    module.write_text(
        'def calibrate():\n    """Copy the policy folder ``source`` to ``out``."""\n'
        'def register():\n    """Copy a model directory in; the first version wins."""\n'
        "table = frame.select(list(SCHEMA))\n"
        'report = {"selected": kept, "note": "Update the limits, then delete the draft"}\n'
        'q = "COPY accounts FROM STDIN"\n',
        encoding="utf-8",
    )
    assert [line for line, _ in sql_statements(module)] == [7]
    for name in ("policy/calibration.py", "scoring/registry.py", "scoring/scorecard.py"):
        assert sql_statements(SRC / name) == [], name
