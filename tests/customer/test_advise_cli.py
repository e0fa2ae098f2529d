"""``cardpilot advise ACCOUNT`` on a store: at most three actions from the policy, each with the
points it gains, the promised grade reached when the actions are applied and rescored."""

from __future__ import annotations

from sqlalchemy import text
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.store.db import make_engine

from .conftest import UCI_MODEL

runner = CliRunner()


def _accounts(url: str) -> list[str]:
    db = make_engine(url)
    try:
        with db.connect() as conn:
            rows = conn.execute(text("SELECT account_id FROM accounts ORDER BY account_id"))
            return [r[0] for r in rows][:40]
    finally:
        db.dispose()


def test_advise_gives_at_most_three_actions_with_their_points(portfolio_store):
    seen_actions = 0
    for account in _accounts(portfolio_store):
        result = runner.invoke(
            app,
            ["advise", account, "--model", str(UCI_MODEL), "--database", portfolio_store,
             "--json"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        out = envelope_data(result.stdout)
        assert out["account_id"] == account
        assert len(out["actions"]) <= 3
        assert out["promised_score"] - out["score"] == sum(a["points"] for a in out["actions"])
        assert out["model_version"]
        assert out["customer_policy_version"].startswith("2026.12.0+")
        for action in out["actions"]:
            assert action["zh-CN"]
            assert action["en"]
            assert action["points"] != 0 or len(out["actions"]) > 1
        seen_actions += len(out["actions"])
    assert seen_actions > 0


def test_advise_names_an_unknown_account(portfolio_store):
    result = runner.invoke(
        app, ["advise", "NOPE", "--model", str(UCI_MODEL), "--database", portfolio_store]
    )
    assert result.exit_code == 2
    assert "'NOPE' is not in the store" in result.output
