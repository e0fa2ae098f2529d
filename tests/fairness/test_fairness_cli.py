"""``cardpilot fairness report``: JSON, text, an offline HTML page, locales and errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.config import get_settings
from cardpilot.fairness.html import FONT_STACK

runner = CliRunner()
GROUP_KEYS = {"increase_share", "decrease_share", "air_increase", "air_decrease", "auc"}


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["fairness", "report", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_lists_every_attribute_with_its_groups_measures(reviewed_store: str) -> None:
    code, out, _ = _run("--database", reviewed_store, "--min-group", "10", "--json")
    assert code == 0, out
    report = envelope_data(out)
    assert [a["attribute"] for a in report["attributes"]] == ["sex", "marital_status", "age_band"]
    for attribute in report["attributes"]:
        for group in attribute["groups"]:
            assert set(group) >= GROUP_KEYS
    assert {(f["attribute"], f["group"]) for f in report["flagged"]} == {
        ("sex", "male"),
        ("marital_status", "single"),
        ("marital_status", "married"),
    }


def test_html_page_is_self_contained_with_the_cjk_font_stack(
    reviewed_store: str, tmp_path: Path, fresh_settings: None
) -> None:
    page = tmp_path / "out" / "fairness.html"
    code, out, _ = _run("--database", reviewed_store, "--out", str(page))
    assert code == 0, out
    html = page.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html
    assert "公平性报告" in html
    assert "提额不利影响比" in html
    assert FONT_STACK in html
    # Nothing the browser would fetch: no scripts, links, images, frames or URLs.
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", html, re.IGNORECASE)
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]", html, re.IGNORECASE)
    assert "url(" not in html
    assert "@import" not in html
    # a measures table and a calibration table per attribute, and the whole portfolio
    assert html.count("<table>") == 2 * 3 + 1


def test_english_labels_follow_cardpilot_locale(
    reviewed_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv("CARDPILOT_LOCALE", "en")
    get_settings.cache_clear()
    page = tmp_path / "fairness.html"
    code, out, _ = _run("--database", reviewed_store, "--json", "--out", str(page))
    assert code == 0
    report = envelope_data(out)
    assert report["locale"] == "en"
    assert report["attributes"][0]["name"] == "Sex"
    html = page.read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    assert "AIR (increase)" in html


def test_text_output_names_the_flagged_groups(reviewed_store: str) -> None:
    code, out, _ = _run("--database", reviewed_store, "--min-group", "10", "--locale", "en")
    assert code == 0, out
    assert "Fairness report" in out
    assert "2026-H1" in out
    assert "Sex / male: AIR (increase) 0.6667" in out


def test_an_unknown_cycle_is_a_clear_error(reviewed_store: str) -> None:
    code, _, err = _run("--database", reviewed_store, "--cycle", "2030-H1", "--json")
    assert code == 2
    assert "2030-H1" in err
    assert "--cycle" in err
