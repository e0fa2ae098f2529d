"""A review with the customer policy's advice in the tips message (``advice.in_tips``): the
customers whose limit is kept get, in their tips message, the actions that would raise their
grade with the points each gains; limit changes and the review's decisions are unchanged."""

from __future__ import annotations

from sqlalchemy import text
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.store.db import make_engine

from .conftest import UCI_MODEL

runner = CliRunner()


def _bodies(url: str, message_type: str) -> list[tuple[str, str]]:
    db = make_engine(url)
    try:
        with db.connect() as conn:
            rows = conn.execute(
                text("SELECT channel, body_text FROM notify_outbox WHERE message_type = :t"),
                {"t": message_type},
            )
            return [(r[0], r[1]) for r in rows]
    finally:
        db.dispose()


def test_kept_limits_get_the_advice_in_their_tips_message(
    portfolio_store, tmp_path, calibrated_policy
):
    result = runner.invoke(
        app,
        [
            "review",
            "--model",
            str(UCI_MODEL),
            "--policy",
            str(calibrated_policy),
            "--database",
            portfolio_store,
            "--json",
        ],
        env={"CARDPILOT_HOME": str(tmp_path / "home")},
    )
    assert result.exit_code == 0, result.output
    assert envelope_data(result.stdout)["decided"] > 0
    tips = _bodies(portfolio_store, "limit_tips")
    assert tips
    advised = [body for channel, body in tips if channel != "sms" and "提额建议" in body]
    assert advised
    assert all("评分约+" in body for body in advised)
    changes = _bodies(portfolio_store, "limit_change")
    assert not any("提额建议" in body for _, body in changes)
