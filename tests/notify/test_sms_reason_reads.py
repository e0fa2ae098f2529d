"""An SMS too long for its limit is rendered again with a shorter reason only when its template
reads the reason: one that does not renders the same whichever reason it is given."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from cardpilot.notify.compose import _reads, default_composer


def test_the_early_warning_sms_does_not_read_the_reason_and_the_limit_change_sms_does() -> None:
    env = default_composer().env
    for locale in ("zh-CN", "en"):
        assert not _reads(env, f"early_warning/sms.{locale}.j2", "main_reason")
        assert _reads(env, f"limit_change/sms.{locale}.j2", "main_reason")


def test_a_template_that_takes_in_another_counts_as_reading_the_reason(tmp_path: Path) -> None:
    (tmp_path / "outer.j2").write_text("{% include 'inner.j2' %}", encoding="utf-8")
    (tmp_path / "inner.j2").write_text("{{ main_reason }}", encoding="utf-8")
    (tmp_path / "plain.j2").write_text("{{ account_tail }}", encoding="utf-8")
    env = Environment(loader=FileSystemLoader(str(tmp_path)))
    assert _reads(env, "outer.j2", "main_reason")
    assert not _reads(env, "plain.j2", "main_reason")


def test_a_missing_template_counts_as_reading_so_it_fails_as_it_would_render(
    tmp_path: Path,
) -> None:
    env = Environment(loader=FileSystemLoader(str(tmp_path)))
    assert _reads(env, "absent.j2", "subject")


def test_no_shipped_sms_template_quotes_the_subject() -> None:
    env = default_composer().env
    names = [n for n in env.list_templates() if n.split("/")[-1].startswith("sms.")]
    assert names
    assert not any(_reads(env, n, "subject") for n in names)
