"""``make messages`` gathers a table's headings where they are written once: literals handed to
``titled_table``/``tr``, and a tuple of literals handed as ``*columns``, followed to the name's
assignment in the calling function (or one around it) or the module."""

from __future__ import annotations

import ast
import textwrap
from collections import Counter
from pathlib import Path

from cardpilot.cli.messages import module_texts, source_texts

CLI = Path(__file__).resolve().parents[2] / "src" / "cardpilot" / "cli"


def _texts(source: str) -> list[str]:
    return module_texts(ast.parse(textwrap.dedent(source)))


def test_a_starred_name_is_followed_to_its_tuple_of_literals_in_the_module() -> None:
    texts = _texts(
        """
        CHANNELS = ("sms", "app")

        def show():
            return titled_table("state", *CHANNELS, "total")
        """
    )
    assert sorted(texts) == ["app", "sms", "state", "total"]


def test_a_starred_name_of_the_function_wins_over_the_module_one() -> None:
    texts = _texts(
        """
        columns = ("module heading",)

        def show(rows):
            columns = ("segment", "roll forward")
            for row in rows:
                table = titled_table(*columns, title=tr("by segment"), right=columns)

        def other():
            def inner():
                return titled_table(*columns)
            columns = ["outer heading", ("pair heading", 2)]
            return inner()
        """
    )
    assert Counter(texts) == Counter(
        ["segment", "roll forward", "by segment", "outer heading", "pair heading"]
    )


def test_calls_in_methods_and_lambdas_see_the_names_around_them() -> None:
    texts = _texts(
        """
        HEADINGS = ("account", "grade")

        class Report:
            def table(self):
                return titled_table(*HEADINGS, title=tr("report"))

        make = lambda: titled_table("state", *HEADINGS)
        """
    )
    assert sorted(texts) == ["account", "account", "grade", "grade", "report", "state"]


def test_a_starred_name_with_no_literals_gives_nothing() -> None:
    texts = _texts(
        """
        from somewhere import HEADINGS

        def show(names):
            return titled_table("kept", *HEADINGS, *names, *[x for x in names])
        """
    )
    assert texts == ["kept"]


def test_the_overdue_simulation_table_spells_its_headings_once_and_they_are_gathered() -> None:
    source = (CLI / "simulate.py").read_text(encoding="utf-8")
    headings = ("segment", "treatment", "roll forward", "write-off", "contact cost", "unrated")
    assert [h for h in headings[2:] if source.count(f'"{h}"') != 1] == []
    assert set(headings) <= set(source_texts())
