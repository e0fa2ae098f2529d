"""The help conventions every command follows, applied once to the whole command tree.

A command declares its options as usual; the root group fills in what it left out, so a command
added anywhere under ``cardpilot`` follows them without doing anything:

- every option that takes a value shows a placeholder (``--as-of DATE``, ``--database URL``)
  instead of a type (``<str>``); flags show none;
- an option with choices shows them as its placeholder (``uci|generic``);
- an argument shows its placeholder in the usage line and in its own panel;
- every ``--as-of`` is parsed and defaulted by one rule (``cli.as_of``), said in its help;
- help is written in the configured locale, zh-CN or en (``cli.i18n``).
"""

from __future__ import annotations

import datetime as dt
import enum
from pathlib import Path
from typing import Any

import typer

# Placeholders by option name, where the name says more than the type.
BY_NAME = {
    "database": "URL",
    "as_of": "DATE",
    "start": "DATE",
    "policy": "NAME|PATH",
    "locale": "zh-CN|en",
    "encoding": "ENCODING",
    "currency": "CODE",
    "cycle": "CYCLE",
    "spark_master": "URL",
    "lock_timeout": "SECONDS",
    "on": "DATE",
    "kind": "equal-principal|amortising|deferral",
    "principal": "AMOUNT",
    "penalty_fees": "AMOUNT",
    "new_limit": "AMOUNT",
    "plan": "PLAN-ID",
    "shares": "PERCENT,…",
    "protected": "NAME,…",
    "engine": "local|spark",
}
# ``--format`` takes different choices in different commands: by the command's path.
FORMATS = {
    ("import",): "uci|generic",
    ("model", "train"): "store|uci",
    ("segments", "cluster"): "store|uci",
    ("segments", "profile"): "store|uci",
}
BY_TYPE: dict[Any, str] = {
    Path: "PATH",
    int: "N",
    float: "NUMBER",
    dt.date: "DATE",
    dt.datetime: "DATETIME",
}


def placeholder(param: Any, path: tuple[str, ...] = ()) -> str:
    """What ``param`` shows after its name in help: empty for a flag."""
    if getattr(param, "is_flag", False):
        return ""
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "|".join(str(member.value) for member in annotation)
    choices = getattr(descriptor, "choices", None)
    if choices:
        return "|".join(str(c) for c in choices)
    if "--format" in param.opts and path in FORMATS:
        return FORMATS[path]
    if param.name in BY_NAME:
        return BY_NAME[param.name]
    if annotation in BY_TYPE:
        return BY_TYPE[annotation]
    return str(param.name).upper()


def _no_type(ctx: Any) -> None:
    return None


def leaves(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every leaf command under ``command`` with its path of names."""
    subs = getattr(command, "commands", None)
    if not subs:
        return [(path, command)]
    found = []
    for name, sub in subs.items():
        found += leaves(sub, (*path, name))
    return found


def nodes(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command under ``command``, groups (which may take options too) and leaves."""
    found = [(path, command)]
    for name, sub in (getattr(command, "commands", None) or {}).items():
        found += nodes(sub, (*path, name))
    return found


def _one_as_of_rule(param: Any, path: tuple[str, ...]) -> None:
    """``--as-of``: the one parsing (checked before the command runs) and the one default,
    said at the end of its help (``cli.as_of``)."""
    from cardpilot.cli.as_of import as_of_help, check_as_of

    if "--as-of" not in getattr(param, "opts", ()) or param.callback is check_as_of:
        return
    param.callback = check_as_of
    param.own_help = param.help  # what the date means to the command (for the catalogue)
    param.help = as_of_help(param.help, path)


def apply(command: Any) -> None:
    """Give every option of every command under ``command`` its placeholder, every ``--as-of``
    the one rule, and every help the configured locale (``cli.i18n``)."""
    from cardpilot.cli.i18n import localise_tree

    tree = nodes(command)
    for _path, cmd in tree:
        cmd.get_help_option(typer.Context(cmd))  # made (and cached) now, to be given one too
    localise_tree(tree)
    for path, cmd in tree:
        for param in [*cmd.params, cmd._help_option]:
            if param is None:
                continue
            _one_as_of_rule(param, path)
            if param.metavar is None or getattr(param, "is_flag", False):
                param.metavar = placeholder(param, path)
            if isinstance(param, typer.core.TyperArgument):
                # its name column already shows the placeholder: no type column beside it
                param.display_type_rich = _no_type  # type: ignore[method-assign]
