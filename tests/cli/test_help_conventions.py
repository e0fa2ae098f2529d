"""Every leaf command's help shows placeholders and choices, never a bare type."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.conventions import leaves, nodes

TREE = typer.main.get_command(app)
LEAVES = leaves(TREE)
NODES = nodes(TREE)
TYPE_SHOWN = re.compile(r"<(str|int|float|bool|path|text|integer|choice)[^>]*>", re.IGNORECASE)


def _options(command: Any) -> list[Any]:
    return [p for p in command.params if not isinstance(p, typer.core.TyperArgument)]


def test_the_tree_has_every_group_of_commands() -> None:
    groups = {path[0] for path, _ in LEAVES}
    assert {"import", "summary", "review", "model", "policy", "plan", "overdue"} <= groups


@pytest.mark.parametrize("path", [p for p, _ in NODES], ids=" ".join)
def test_help_shows_placeholders_not_types(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert not TYPE_SHOWN.search(result.output), TYPE_SHOWN.search(result.output)


@pytest.mark.parametrize(("path", "command"), NODES, ids=[" ".join(p) for p, _ in NODES])
def test_every_option_that_takes_a_value_has_a_placeholder(
    path: tuple[str, ...], command: Any
) -> None:
    for option in _options(command):
        if option.is_flag:
            assert option.metavar == "", (path, option.opts)
        else:
            assert option.metavar, (path, option.opts)
            assert option.metavar == option.metavar.strip()


def test_options_with_choices_list_them() -> None:
    by_path = dict(NODES)
    fmt = {o.opts[0]: o.metavar for o in _options(by_path[("import",)])}
    assert fmt["--format"] == "uci|generic"
    review = {o.opts[0]: o.metavar for o in _options(by_path[("review",)])}
    assert review["--engine"] == "local|spark"
    assert review["--as-of"] == "DATE"
    assert review["--database"] == "URL"


RST_MARKUP = re.compile(r"``|:(func|class|meth|mod|ref|attr):`|^\.\. |\\\\", re.MULTILINE)


@pytest.mark.parametrize("path", [p for p, _ in NODES], ids=" ".join)
def test_help_shows_no_restructuredtext_markup(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert not RST_MARKUP.search(result.output), RST_MARKUP.search(result.output)
