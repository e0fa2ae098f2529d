"""``make messages``: gather the command line's texts into the zh-CN catalogue (Babel).

``python -m cardpilot.cli.messages`` collects every help text of the command tree (built in
English), typer's fixed texts, the ``--as-of`` rule and every text ``cardpilot.cli`` hands
``tr`` or ``titled_table`` (table headings), and merges them with Babel into
``locale/zh_CN/LC_MESSAGES/cardpilot.po``: new texts arrive untranslated, texts no longer used
are dropped, translations are kept.

Errors are translated by template (context ``error``, ``cli.i18n.translate_error``). Every
error the command line writes itself (``fail(...)`` with a literal or f-string message, the
error handler's explanations, the configuration's and the store access's errors) is gathered
as a template (``f"--kind {kind!r} is not known"`` → ``"--kind {kind} is not known"``) and
counts as translated when a template of the catalogue fits it; one that none fits is added to
the ``.po`` untranslated. Templates written by hand for other errors are kept as they are.
``--check`` only reports what is missing (exit 1 when a text has no translation).
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cardpilot.cli.i18n import DOMAIN, ERROR_CONTEXT, TYPER_TEXTS, USAGE, catalogue_path

CLI_DIR = Path(__file__).resolve().parent
PACKAGE_DIR = CLI_DIR.parent


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


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _own_nodes(scope: ast.AST) -> list[ast.AST]:
    """The nodes of ``scope`` (a module or a function), not those of the functions and classes
    defined in it."""
    found: list[ast.AST] = []
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        found.append(node)
        if not isinstance(node, _SCOPES):
            todo += ast.iter_child_nodes(node)
    return found


def _assigned(scope: ast.AST) -> dict[str, list[ast.expr]]:
    """The values assigned to each plain name in ``scope`` itself (``COLUMNS = (...)``)."""
    found: dict[str, list[ast.expr]] = {}
    for node in _own_nodes(scope):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                found.setdefault(target.id, []).append(value)
    return found


def _marked_calls(tree: ast.Module) -> list[tuple[ast.Call, list[dict[str, list[ast.expr]]]]]:
    """Each ``tr``/``titled_table`` call with the names assigned in the scopes it sees, the
    innermost first (its function's, the functions around it, the module's)."""
    found = []
    todo: list[tuple[ast.AST, list[dict[str, list[ast.expr]]]]] = [(tree, [_assigned(tree)])]
    while todo:
        scope, names = todo.pop()
        for node in _own_nodes(scope):
            if isinstance(node, ast.Call) and _marked(node):
                found.append((node, names))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                todo.append((node, [_assigned(node), *names]))
            elif isinstance(node, ast.ClassDef | ast.Lambda):  # its methods see what it sees
                todo.append((node, names))
    return found


def _argument_texts(arg: ast.expr, names: list[dict[str, list[ast.expr]]]) -> list[str]:
    """The texts of one argument: its literals, or for ``*columns`` the literals assigned to
    ``columns`` in the nearest scope that assigns it."""
    if isinstance(arg, ast.Starred) and isinstance(arg.value, ast.Name):
        for scope in names:
            if arg.value.id in scope:
                return [t for value in scope[arg.value.id] for t in _constants(value)]
        return []
    return _constants(arg)


def source_texts() -> list[str]:
    """Every text a command line module hands ``tr`` or ``titled_table``: literals, a starred
    name's literals (``titled_table(*COLUMNS)`` with ``COLUMNS = ("segment", ...)`` in the
    function or the module), or the loop variable of a ``for`` over literals (table columns)."""
    texts: list[str] = []
    for path in sorted(CLI_DIR.glob("*.py")):
        texts += module_texts(ast.parse(path.read_text(encoding="utf-8")))
    return texts


def module_texts(tree: ast.Module) -> list[str]:
    """``source_texts`` of one module, in the order of its nodes (``ast.walk``)."""
    seen = {id(call): names for call, names in _marked_calls(tree)}
    texts: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _marked(node):
            for arg in [*node.args, *(k.value for k in node.keywords if k.arg == "title")]:
                texts += _argument_texts(arg, seen[id(node)])
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name | ast.Tuple):
            loop_names = {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
            used = any(
                isinstance(c, ast.Call)
                and _marked(c)
                and any(isinstance(a, ast.Name) and a.id in loop_names for a in c.args)
                for c in ast.walk(node)
            )
            if used:
                texts += _constants(node.iter)
    return texts


# The errors the command line writes: ``fail(message)`` in its modules, and the exceptions the
# error handler prints as they are (``cli.errors.explain``): configuration and store access.
ERROR_CALLS = frozenset(
    {
        "fail",
        "ConfigError",
        "StoreURLError",
        "StoreDriverMissingError",
        "StoreUnreachableError",
        "StoreMissingError",
        "StoreBusyError",
    }
)
ERROR_SOURCES = ("config.py", "store/access.py", "store/db.py")


def _field_name(node: ast.expr) -> str:
    """A template field's name for an f-string's expression: ``{exc.encoding}`` → encoding."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return str(node.slice.value)
    if isinstance(node, ast.Call):
        inner = [_field_name(a) for a in node.args]
        return inner[0] if inner and inner[0] != "value" else "value"
    return "value"


def _constants_of(tree: ast.Module) -> dict[str, str]:
    """The module's text constants (``EXAMPLES = "..."``), which an f-string shows as written."""
    found: dict[str, str] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            found[node.targets[0].id] = node.value.value
    return found


def _template(node: ast.expr, constants: Mapping[str, str] | None = None) -> str | None:
    """``node`` (a literal or an f-string) as an error template; ``None`` for anything else, or
    for one with no words of its own."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, ast.JoinedStr):
        return None
    parts: list[str] = []
    used: dict[str, int] = {}
    for piece in node.values:
        if isinstance(piece, ast.Constant):
            parts.append(str(piece.value).replace("{", "{{").replace("}", "}}"))
        elif isinstance(piece, ast.FormattedValue):
            if isinstance(piece.value, ast.Name) and piece.value.id in (constants or {}):
                fixed = (constants or {})[piece.value.id]
                parts.append(fixed.replace("{", "{{").replace("}", "}}"))
                continue
            name = _field_name(piece.value)
            used[name] = used.get(name, 0) + 1
            parts.append("{" + (name if used[name] == 1 else f"{name}{used[name]}") + "}")
    text = "".join(parts)
    literal = "".join(p for p in parts if not p.startswith("{") or p.startswith("{{"))
    # one with no words of its own (f"{exc}", f"{option} {value!r}: {exc}") shows another
    # error's text, which has nothing to translate
    return text if any(c.isalpha() for c in literal) else None


def _error_nodes(tree: ast.AST, explaining: bool) -> list[ast.expr]:
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in ERROR_CALLS:
                found.append(node.args[0])
        if explaining and isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
            found.append(node.value.elts[0])  # errors.explain: (message, exit code)
    return found


def error_texts() -> list[str]:
    """Every error template the command line writes itself, in source order."""
    paths = [*sorted(CLI_DIR.glob("*.py")), *(PACKAGE_DIR / p for p in ERROR_SOURCES)]
    texts: list[str] = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _constants_of(tree)
        for node in _error_nodes(tree, explaining=path.name == "errors.py"):
            template = _template(node, constants)
            if template is not None and template not in texts:
                texts.append(template)
    return texts


def _filled(template: str) -> str:
    """``template`` with each field filled by a sample value, as an error would show it."""
    import string

    out = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(f"<{name}>")
    return "".join(out)


def untranslated_errors(texts: list[str] | None = None) -> list[str]:
    """The error templates no zh-CN catalogue template fits (``translate_error`` leaves them)."""
    from cardpilot.cli import i18n

    before = i18n.current_locale()
    i18n.use_locale("zh-CN")
    try:
        return [
            t
            for t in (error_texts() if texts is None else texts)
            if i18n.translate_error(_filled(t)) == _filled(t)
        ]
    finally:
        i18n.use_locale(before)


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
    for text in untranslated_errors():
        pot.add(text, context=ERROR_CONTEXT)
    po.update(pot, no_fuzzy_matching=True)
    po.obsolete.clear()
    return po


def untranslated(po: Any) -> list[str]:
    """The catalogue's texts with no translation, and the errors no template fits."""
    missing = [str(m.id) for m in po if m.id and not m.string]
    return missing + [t for t in untranslated_errors() if t not in missing]


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
