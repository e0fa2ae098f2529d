"""Policies by name: ``--policy NAME|PATH``, ``cardpilot policy list | show NAME``, the local
policy folder of ``cardpilot.toml``, and currency errors that name the policy to use."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import cardpilot
import cardpilot.cli.policy
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.config import Settings, get_settings
from cardpilot.policy.catalogue import (
    LIMITS,
    OVERDUE,
    UnknownPolicyError,
    currency_hint,
    policy_entries,
    resolve_policy,
    shipped_dir,
)

runner = CliRunner()
PACKAGE = Path(cardpilot.__file__).resolve().parent


def _local(tmp_path: Path) -> Path:
    """A local policy folder: ``bank-hkd`` (limits only, in HKD) and a ``default`` of its own."""
    root = tmp_path / "bank-policies"
    hkd = root / "bank-hkd"
    shutil.copytree(shipped_dir() / "default", hkd, ignore=shutil.ignore_patterns(OVERDUE))
    limits = yaml.safe_load((hkd / LIMITS).read_text(encoding="utf-8"))
    limits["version"], limits["currency"] = "2026.12-hkd", "HKD"
    (hkd / LIMITS).write_text(yaml.safe_dump(limits, allow_unicode=True), encoding="utf-8")
    shutil.copytree(shipped_dir() / "uci-twd", root / "default")
    return root


def test_a_shipped_policy_is_found_by_name_inside_the_package() -> None:
    assert resolve_policy("uci-twd", kind=LIMITS, settings=Settings()) == PACKAGE / "policies" / (
        "uci-twd"
    )
    names = {e.name: e for e in policy_entries(Settings())}
    assert names["default"].currency == "CNY"
    assert names["uci-twd"].currency == "TWD"
    assert "templates" not in names  # not a policy: no limits.yaml, no overdue.yaml


def test_an_existing_path_is_a_path_and_none_keeps_the_default(tmp_path: Path) -> None:
    folder = shutil.copytree(shipped_dir() / "uci-twd", tmp_path / "uci-twd")
    assert resolve_policy(str(folder)) == folder
    assert resolve_policy(None) is None


def test_an_unknown_name_is_refused_with_the_names_there_are() -> None:
    with pytest.raises(UnknownPolicyError, match="credit-data, default, uci-twd"):
        resolve_policy("uci-usd", settings=Settings())
    with pytest.raises(UnknownPolicyError, match="no such file or folder"):
        resolve_policy("no/such/folder", settings=Settings())


def test_a_local_policy_folder_adds_names_and_shadows_a_shipped_one(tmp_path: Path) -> None:
    settings = Settings(policy_dir=_local(tmp_path))
    entries = {(e.name, e.source): e for e in policy_entries(settings)}
    assert entries[("bank-hkd", "local")].currency == "HKD"
    assert entries[("default", "shipped")].shadowed
    assert resolve_policy("default", settings=settings) == tmp_path / "bank-policies" / "default"
    assert resolve_policy("uci-twd", settings=settings) == shipped_dir() / "uci-twd"
    with pytest.raises(UnknownPolicyError, match=r"holds no overdue\.yaml"):
        resolve_policy("bank-hkd", kind=OVERDUE, settings=settings)


def test_the_currency_hint_names_the_policy_in_the_accounts_currency(tmp_path: Path) -> None:
    assert currency_hint("TWD", settings=Settings()) == "Use --policy uci-twd, the policy in TWD."
    assert "--policy bank-hkd" in currency_hint(
        "HKD", settings=Settings(policy_dir=_local(tmp_path))
    )
    assert "No shipped or local policy is in USD" in currency_hint("USD", settings=Settings())


@pytest.mark.parametrize(("kind", "job"), [(LIMITS, "review"), (OVERDUE, "treat")])
def test_the_currency_error_names_the_policy_in_the_accounts_currency(
    store_url: str, kind: str, job: str
) -> None:
    from cardpilot.batch.currency import require_currency
    from cardpilot.store.db import make_engine, unit_of_work, upgrade
    from cardpilot.store.models import Account, Customer

    upgrade(store_url)
    engine = make_engine(store_url)
    try:
        with unit_of_work(engine) as session:
            session.add(Customer(customer_id="C1"))
            session.flush()
            session.add(
                Account(account_id="A1", customer_id="C1", credit_limit_minor=1, currency="TWD")
            )
        with pytest.raises(ValueError, match="in TWD but") as refused:
            require_currency(
                engine,
                "CNY",
                error=ValueError,
                amounts="the policy's amounts",
                fix=f"{job.title()} with a policy in the accounts' currency.",
                kind=kind,
            )
    finally:
        engine.dispose()
    assert str(refused.value).endswith("Use --policy uci-twd, the policy in TWD.")


@pytest.fixture
def in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Commands run from an empty folder with a cardpilot.toml naming the local policies."""
    local = _local(tmp_path)
    (tmp_path / "cardpilot.toml").write_text(
        f'[cardpilot]\npolicy_dir = "{local.name}"\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CARDPILOT_CONFIG", raising=False)
    monkeypatch.delenv("CARDPILOT_POLICY_DIR", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_policy_list_shows_shipped_and_local_policies_with_currency_and_version(
    in_folder: Path,
) -> None:
    result = runner.invoke(app, ["policy", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = {(p["name"], p["source"]): p for p in envelope_data(result.stdout)["policies"]}
    hkd = listed[("bank-hkd", "local")]
    assert hkd["currency"] == "HKD"
    assert hkd["files"][LIMITS]["recorded_version"].startswith("2026.12-hkd+")
    assert OVERDUE not in hkd["files"]
    twd = listed[("uci-twd", "shipped")]["files"]
    assert twd[LIMITS]["recorded_version"].startswith("2026.11.0-uci-twd+")
    assert twd[OVERDUE]["recorded_version"].startswith("2026.11-overdue-2-uci-twd+")
    assert listed[("default", "shipped")]["shadowed"]
    table = runner.invoke(app, ["policy", "list"])
    assert table.exit_code == 0, table.output
    assert "bank-hkd" in table.stdout
    assert "HKD" in table.stdout


def test_policy_show_validate_and_diff_take_names(in_folder: Path) -> None:
    shown = runner.invoke(app, ["policy", "show", "bank-hkd", "--json"])
    assert shown.exit_code == 0, shown.output
    assert envelope_data(shown.stdout)["currency"] == "HKD"
    assert runner.invoke(app, ["policy", "validate", "uci-twd"]).exit_code == 0
    diff = runner.invoke(app, ["policy", "diff", "uci-twd", "bank-hkd", "--json"])
    assert diff.exit_code == 0, diff.output
    assert {"path": "limits.currency", "kind": "changed", "old": "TWD", "new": "HKD"} in (
        envelope_data(diff.stdout)["changes"]
    )
    unknown = runner.invoke(app, ["policy", "show", "uci-usd"])
    assert unknown.exit_code == 2
    assert "bank-hkd, credit-data, default, uci-twd" in " ".join(unknown.output.split())


def test_an_overdue_command_takes_a_policy_name(in_folder: Path) -> None:
    quote = runner.invoke(
        app,
        [
            "plan",
            "quote",
            "--principal",
            "12000",
            "--months",
            "12",
            "--policy",
            "uci-twd",
            "--json",
        ],
    )
    assert quote.exit_code == 0, quote.output
    assert envelope_data(quote.stdout)["policy_version"].startswith("2026.11-overdue-2-uci-twd+")
    refused = runner.invoke(
        app, ["plan", "quote", "--principal", "12000", "--months", "12", "--policy", "bank-hkd"]
    )
    assert refused.exit_code == 2
    said = " ".join(refused.output.split())
    assert "holds no overdue.yaml" in said or "中没有 overdue.yaml" in said  # en | zh-CN


def test_a_name_works_from_an_installed_package_without_a_source_checkout(tmp_path: Path) -> None:
    """The package copied to a site folder of its own, run from an empty folder: names resolve
    inside that copy (importlib.resources), never through a path like src/cardpilot/..."""
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "cardpilot", ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDPILOT_")}
    env.update(PYTHONPATH=str(site), CARDPILOT_HOME=str(work / ".cardpilot"))
    code = "import sys; from cardpilot.cli import app; sys.argv[0] = 'cardpilot'; app()"
    result = subprocess.run(
        [sys.executable, "-c", code, "policy", "show", "uci-twd", "--json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    shown = envelope_data(result.stdout)
    assert shown["currency"] == "TWD"
    assert Path(shown["path"]) == site / "cardpilot" / "policies" / "uci-twd"
