"""``cardpilot notify``: preview, dispatch and status on the embedded default (outbox folder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

import cardpilot.cli.notify  # noqa: F401  (registers the group until cli/__init__ imports it)
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.config import Settings, get_settings
from cardpilot.notify import enqueue_notices
from cardpilot.privacy import FieldCipher
from cardpilot.store.db import unit_of_work

from .conftest import add_customers, notice_for


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, store: Engine, tmp_path: Path
) -> dict[str, str]:
    values = {
        "CARDPILOT_HOME": str(settings.home),
        "CARDPILOT_PII_KEYS": settings.pii_keys or "",
        "CARDPILOT_DATABASE_URL": str(store.url),
    }
    for key in ("CARDPILOT_SMTP_URL", "CARDPILOT_SMPP_URL", "CARDPILOT_PUSH_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return values


def test_dispatch_writes_the_outbox_folder_and_status_counts_per_state_and_channel(
    env: dict[str, str], store: Engine, cipher: FieldCipher, settings: Settings
) -> None:
    add_customers(store, cipher, 4)
    with unit_of_work(store) as session:
        enqueue_notices(session, [notice_for(i) for i in range(4)])
    runner = CliRunner()
    before = runner.invoke(app, ["notify", "status", "--json"])
    assert before.exit_code == 0, before.output
    assert envelope_data(before.stdout)["states"]["queued"] == {"sms": 4, "app": 4, "email": 4}
    result = runner.invoke(app, ["notify", "dispatch", "--json"])
    assert result.exit_code == 0, result.output
    report = envelope_data(result.stdout)
    # Sent now, or held by quiet hours when the test runs at night in Shanghai.
    assert report["sent"] + report["held"] == 12
    after = envelope_data(runner.invoke(app, ["notify", "status", "--json"]).stdout)
    assert after["totals"].get("sent", 0) == report["sent"]
    files = list((settings.home / "outbox").rglob("*.*"))
    assert len(files) == report["sent"]


def test_preview_renders_every_channel_for_an_account(
    env: dict[str, str], store: Engine, cipher: FieldCipher
) -> None:
    add_customers(store, cipher, 1)
    result = CliRunner().invoke(
        app, ["notify", "preview", "--account", "A00000000", "--new-limit", "8000"]
    )
    assert result.exit_code == 0, result.output
    assert "¥80.00" not in result.stdout
    assert "¥8,000.00" in result.stdout
    for channel in ("sms", "app", "email"):
        assert f"{channel} · zh-CN" in result.stdout


def test_preview_of_an_unknown_account_says_so(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["notify", "preview", "--account", "NOPE"])
    assert result.exit_code == 2
    assert "no such account" in result.output or "没有这个账户" in result.output  # en | zh-CN


def test_demo_step_queues_dispatches_and_shows_the_stored_review_decisions(
    env: dict[str, str],
    store: Engine,
    cipher: FieldCipher,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sqlalchemy import text

    from cardpilot.cli.notify import demo_step
    from cardpilot.notify.review import has_decisions

    add_customers(store, cipher, 3)
    with store.begin() as conn:
        if not has_decisions(conn):
            pytest.skip("the limit review's tables are not in this schema")
        conn.execute(
            text(
                "INSERT INTO review_runs (id, cycle_id, as_of, policy_version, engine, status,"
                " started_at, skipped, decided, increases, keeps, decreases, watched)"
                " VALUES (1, '2026-11', '2026-11-30', 'limits-test', 'local', 'finished',"
                " '2026-11-30 00:00:00', 0, 3, 1, 1, 1, 0)"
            )
        )
        for i, new in enumerate((1_500_000, 1_000_000, 800_000)):
            conn.execute(
                text(
                    "INSERT INTO limit_decisions (run_id, cycle_id, account_id, as_of,"
                    " due_for_review, action, old_limit_minor, new_limit_minor, reason_codes,"
                    " reason_texts_zh, reason_texts_en, policy_version)"
                    " VALUES (1, '2026-11', :acc, '2026-11-30', 1, 'x', 1000000, :new,"
                    " '[\"R\"]', '[\"中文原因\"]', '[\"English reason\"]', 'limits-test')"
                ),
                {"acc": f"A{i:08d}", "new": new},
            )
    demo_step(str(store.url))
    out = capsys.readouterr().out
    # The two limit changes are told on three channels each; the kept limit is not.
    assert "queued 6 messages" in out
    assert "中文原因" in out or "English reason" in out


def _queue_emails(store: Engine, cipher: FieldCipher, n: int) -> None:
    add_customers(store, cipher, n)
    with unit_of_work(store) as session:
        enqueue_notices(session, [notice_for(i) for i in range(n)], channels=("email",))


def test_dispatch_records_outcomes_as_they_arrive_in_the_window_given(
    env: dict[str, str], store: Engine, cipher: FieldCipher
) -> None:
    _queue_emails(store, cipher, 6)
    runner = CliRunner()
    assert runner.invoke(app, ["notify", "dispatch", "--window", "0"]).exit_code != 0
    result = runner.invoke(app, ["notify", "dispatch", "--window", "2", "--json"])
    assert result.exit_code == 0, result.output
    report = envelope_data(result.stdout)
    assert report["sent"] == 6
    assert report["outcome_writes"] >= 3  # no write holds more than the window


def test_the_dispatch_window_can_be_set_in_the_environment(
    env: dict[str, str],
    store: Engine,
    cipher: FieldCipher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _queue_emails(store, cipher, 8)
    monkeypatch.setenv("CARDPILOT_DISPATCH_WINDOW", "1")
    result = CliRunner().invoke(app, ["notify", "dispatch", "--json"])
    assert result.exit_code == 0, result.output
    assert envelope_data(result.stdout)["outcome_writes"] == 8  # one message at a time
