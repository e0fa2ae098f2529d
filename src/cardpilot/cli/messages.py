"""``make messages``: gather the command line's texts into the zh-CN catalogue (Babel).

``python -m cardpilot.cli.messages`` collects every help text of the command tree (built in
English), typer's fixed texts, the ``--as-of`` rule and every text ``cardpilot.cli`` hands
``tr`` or ``titled_table`` (table headings), and merges them with Babel into
``locale/zh_CN/LC_MESSAGES/cardpilot.po``: new texts arrive untranslated, texts no longer used
are dropped, translations are kept. The error templates (context ``error``) are written by
hand in the ``.po`` and kept as they are. ``--check`` only reports what is missing (exit 1
when a text has no translation).
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path
from typing import Any

from cardpilot.cli.i18n import DOMAIN, ERROR_CONTEXT, TYPER_TEXTS, USAGE, catalogue_path

CLI_DIR = Path(__file__).resolve().parent


def tree_texts() -> list[str]:
    """Every help text of the command tree, in English, in tree order."""
    import typer

    from cardpilot.config import get_settings

    before = os.environ.get("CARDPILOT_LOCALE")
    os.environ["CARDPILOT_LOCALE"] = "en"
    get_settings.cache_clear()
    try:
        from cardpilot.cli import app
        from cardpilot.cli.conventions import nodes

        root = typer.main.get_command(app)
        texts: list[str] = []
        for _path, cmd in nodes(root):
            texts += [t for t in (cmd.help, cmd.short_help) if t]
            for param in [*cmd.params, getattr(cmd, "_help_option", None)]:
                own = getattr(param, "own_help", None) or getattr(param, "help", None)
                if own:
                    texts.append(own)
        return texts
    finally:
        if before is None:
            os.environ.pop("CARDPILOT_LOCALE", None)
        else:
            os.environ["CARDPILOT_LOCALE"] = before
        get_settings.cache_clear()


MARKERS = frozenset({"tr", "titled_table"})


def _constants(node: ast.AST) -> list[str]:
    """The string constants of ``node``: itself, or a tuple's items (the first item of an inner
    tuple: ``("action", result.by_action)``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List):
        found: list[str] = []
        for item in node.elts:
            found += _constants(item.elts[0] if isinstance(item, ast.Tuple) else item)
        return found
    return []


def _marked(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Name) and call.func.id in MARKERS


def source_texts() -> list[str]:
    """Every text a command line module hands ``tr`` or ``titled_table`` (as literals, or as
    the loop variable of a ``for`` over literals: table columns)."""
    texts: list[str] = []
    for path in sorted(CLI_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _marked(node):
                for arg in [*node.args, *(k.value for k in node.keywords if k.arg == "title")]:
                    texts += _constants(arg)
            if isinstance(node, ast.For) and isinstance(node.target, ast.Name | ast.Tuple):
                names = {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
                used = any(
                    isinstance(c, ast.Call)
                    and _marked(c)
                    and any(isinstance(a, ast.Name) and a.id in names for a in c.args)
                    for c in ast.walk(node)
                )
                if used:
                    texts += _constants(node.iter)
    return texts


def fixed_texts() -> list[str]:
    from cardpilot.cli.as_of import AS_OF_DEFAULT, AS_OF_TODAY

    return [*TYPER_TEXTS.values(), USAGE, AS_OF_DEFAULT, AS_OF_TODAY]


def template() -> Any:
    """The catalogue template: every text the command line may show."""
    from babel.messages.catalog import Catalog

    pot = Catalog(domain=DOMAIN, project="cardpilot")
    for text in [*fixed_texts(), *tree_texts(), *source_texts()]:
        if isinstance(text, str) and text:
            pot.add(text)
    return pot


def merged(pot: Any) -> Any:
    """The zh-CN catalogue updated to ``pot``, its translations and error templates kept."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po

    path = catalogue_path()
    if path.exists():
        with path.open("rb") as fh:
            po = read_po(fh, locale="zh_CN", domain=DOMAIN)
    else:
        po = Catalog(locale="zh_CN", domain=DOMAIN, project="cardpilot")
    errors = [m for m in po if m.context == ERROR_CONTEXT]
    for m in errors:
        pot.add(m.id, context=ERROR_CONTEXT)
    po.update(pot, no_fuzzy_matching=True)
    po.obsolete.clear()
    return po


def untranslated(po: Any) -> list[str]:
    return [str(m.id) for m in po if m.id and not m.string]


def main(argv: list[str]) -> int:
    from babel.messages.pofile import write_po

    po = merged(template())
    missing = untranslated(po)
    if "--check" not in argv:
        path = catalogue_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, po, width=100, sort_output=False, omit_header=False)
        print(f"{path}: {len(po)} texts, {len(missing)} untranslated")
    for text in missing:
        print(f"untranslated: {text!r}", file=sys.stderr)
    return 1 if missing and "--check" in argv else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
