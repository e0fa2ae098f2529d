"""zh-CN, the default locale: help, errors and table headings in Chinese from the Babel
catalogue; en on request."""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.conventions import leaves, nodes
from cardpilot.cli.i18n import catalogue, catalogue_path, tr
from cardpilot.config import get_settings

CJK = re.compile(r"[\u4e00-\u9fff]")
TYPE_SHOWN = re.compile(r"<(str|int|float|bool|path|text|integer|choice)[^>]*>", re.IGNORECASE)


@pytest.fixture
def locale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Sets the configured locale (``CARDPILOT_LOCALE``) for the commands run after it."""
    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CARDPILOT_CONFIG", raising=False)
    monkeypatch.delenv("CARDPILOT_DATABASE_URL", raising=False)

    def use(name: str | None) -> None:
        if name is None:
            monkeypatch.delenv("CARDPILOT_LOCALE", raising=False)
        else:
            monkeypatch.setenv("CARDPILOT_LOCALE", name)
        get_settings.cache_clear()

    use(None)
    yield use
    get_settings.cache_clear()


def _tree() -> list[tuple[tuple[str, ...], Any]]:
    return nodes(typer.main.get_command(app))


def test_zh_cn_is_the_default_and_every_help_text_of_the_tree_is_in_chinese(locale: Any) -> None:
    untranslated = []
    for path, cmd in _tree():
        texts = [("help", cmd.help)] + [
            (getattr(p, "opts", [p.name])[0], p.help)
            for p in [*cmd.params, cmd.get_help_option(typer.Context(cmd))]
            if p is not None and getattr(p, "help", None)
        ]
        untranslated += [(path, where, text) for where, text in texts if not CJK.search(text)]
    assert untranslated == []


@pytest.mark.parametrize("path", [p for p, _ in leaves(typer.main.get_command(app))], ids=" ".join)
def test_every_leaf_command_helps_in_chinese_with_placeholders(
    path: tuple[str, ...], locale: Any
) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("用法：", "选项", "显示本帮助后退出。"):
        assert text in out, out
    assert not TYPE_SHOWN.search(out), TYPE_SHOWN.search(out)
    command = dict(_tree())[path]
    assert command.help.splitlines()[0][:20] in out  # its own description, in Chinese
    for option in command.params:
        if getattr(option, "is_flag", True) or isinstance(option, typer.core.TyperArgument):
            continue
        assert f"{option.opts[0]} " in out, (option.opts, out)
        assert option.metavar in out, (option.opts, out)


def test_en_is_there_on_request(locale: Any) -> None:
    locale("en")
    result = CliRunner().invoke(app, ["summary", "--help"], env={"COLUMNS": "200"})
    assert "Usage:" in result.output
    assert "Options" in result.output
    assert not CJK.search(result.output)


def test_an_error_is_one_line_in_chinese_keeping_its_error_prefix(
    locale: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}"
    result = CliRunner().invoke(app, ["summary", "--database", url])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), result.output
    assert "处没有 cardpilot 存储" in lines[0], lines[0]
    assert "x.db" in lines[0], lines[0]
    bad = CliRunner().invoke(app, ["aging", "--as-of", "2005/10/01"])
    assert bad.stderr.strip() == "error: --as-of '2005/10/01'：日期请写作 YYYY-MM-DD"
    locale("en")
    again = CliRunner().invoke(app, ["summary", "--database", url])
    assert "there is no cardpilot store" in again.output


def test_a_usage_error_is_in_chinese_too(locale: Any) -> None:
    result = CliRunner().invoke(app, ["summary", "--nope"])
    assert result.exit_code == 2
    assert "没有这个选项：--nope" in result.output
    assert "错误" in result.output


def test_table_headings_are_in_chinese(locale: Any) -> None:
    result = CliRunner().invoke(app, ["policy", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for heading in ("名称", "来源", "币种", "limits.yaml 版本", "策略（--policy NAME）"):
        assert heading in result.output, heading
    locale("en")
    english = CliRunner().invoke(app, ["policy", "list"], env={"COLUMNS": "200"})
    assert "limits.yaml version" in english.output


def test_policy_show_and_diff_print_their_tables_with_chinese_titles_and_headings(
    locale: Any,
) -> None:
    shown = CliRunner().invoke(app, ["policy", "show", "default"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    for heading in (
        "信用等级",
        "评分",
        "初始额度",
        "提额",
        "降额",
        "上限",
        "客户分组（按先匹配者）",
    ):
        assert heading in shown.output, heading
    for word in ("grades", "initial limit", "segments (first match wins)", "placement pull"):
        assert word not in shown.output, word
    diff = CliRunner().invoke(app, ["policy", "diff", "default", "uci-twd"], env={"COLUMNS": "200"})
    assert diff.exit_code == 0, diff.output
    for heading in ("路径", "变化", "原值", "新值"):
        assert heading in diff.output, heading
    locale("en")
    english = CliRunner().invoke(app, ["policy", "show", "default"], env={"COLUMNS": "200"})
    assert "segments (first match wins)" in english.output
    assert "initial limit" in english.output


def test_every_command_line_table_is_built_by_titled_table() -> None:
    """A bare ``rich.table.Table`` would print its headings in English whatever the locale;
    ``cli.output.titled_table`` writes them in the configured one (and ``make messages`` finds
    them)."""
    cli = Path(__file__).resolve().parents[2] / "src" / "cardpilot" / "cli"
    bare = [
        f"{path.name}:{n}"
        for path in sorted(cli.glob("*.py"))
        if path.name != "output.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bTable\(|from rich.table import", line)
    ]
    assert bare == []


def test_the_catalogue_translates_every_text_the_command_line_shows() -> None:
    from cardpilot.cli.messages import main

    assert main(["--check"]) == 0  # make messages: nothing untranslated


def test_every_error_the_command_line_writes_is_gathered_as_a_template() -> None:
    from cardpilot.cli.messages import error_texts

    found = error_texts()
    for template in (
        "--split {split}: use all or test",  # fail(f"--split {split!r}: ...") in a command
        "{filename}: is a folder; give a file",  # the error handler's own explanation
        "{path}: cannot read it as TOML ({exc})",  # the configuration's
        "the driver {driver} for {parsed} is not installed; use postgresql+psycopg:// "
        "(shipped with cardpilot) or install it",  # the store access's
    ):
        assert template in found, template
    # a module constant in an f-string is shown as written, not as a field
    assert any(t.startswith("{url} is not a database URL; use sqlite:////") for t in found)


def test_an_error_text_no_catalogue_template_fits_is_reported_untranslated() -> None:
    from cardpilot.cli.messages import untranslated_errors

    brand_new = "--colour {value}: use red or green"
    known = "--split {split}: use all or test"
    assert untranslated_errors([brand_new, known]) == [brand_new]


def test_an_error_of_a_command_is_written_in_chinese(locale: Any, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "report.txt")])
    assert result.exit_code == 2
    assert "报告为 HTML 格式；请使用 .html 文件名" in result.stderr, result.stderr


def test_the_catalogue_compiles_with_babel_into_a_mo_gettext_reads(tmp_path: Path) -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with catalogue_path().open("rb") as fh:
        po = read_po(fh, locale="zh_CN", domain="cardpilot")
    assert [(m.id, errors) for m, errors in po.check()] == []  # as pybabel compile checks
    mo = tmp_path / "cardpilot.mo"
    with mo.open("wb") as fh:
        write_mo(fh, po)
    with mo.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    assert compiled.gettext("Options") == "选项"
    assert compiled.pgettext("error", "the store refused the work: {reason}").startswith("存储")
    assert catalogue("zh-CN").messages["Options"] == "选项"
    assert tr("Usage: ") in ("用法：", "Usage: ")  # as the last tree built left the locale


def test_a_compiled_mo_alone_gives_the_messages_and_the_error_templates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    import cardpilot.cli.i18n as i18n

    with catalogue_path().open("rb") as fh:
        po = read_po(fh, locale="zh_CN", domain="cardpilot")
    folder = tmp_path / "zh_CN" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "cardpilot.mo").open("wb") as fh:
        write_mo(fh, po)
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.catalogue.cache_clear()
    try:
        compiled = i18n.catalogue("zh-CN")
    finally:
        i18n.catalogue.cache_clear()
    assert compiled.messages["Options"] == "选项"
    assert compiled.errors["the store refused the work: {reason}"] == "存储拒绝了此操作：{reason}"
