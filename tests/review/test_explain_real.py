"""``cardpilot review explain`` on the real UCI data reviewed with the fixture scorecard and the
uci-twd policy: an increase, a keep and a decrease explained whole, and a case's override."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.scoring.directions import adverse_code, customer_feature
from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import read_decisions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODEL = FIXTURES / "models" / "uci-scorecard"
POLICY = Path(__file__).resolve().parents[2] / "src" / "cardpilot" / "policies" / "uci-twd"

pytestmark = [pytest.mark.realdata, pytest.mark.slow]
runner = CliRunner()


@pytest.fixture(scope="module")
def reviewed(uci_reviewed_copy: Callable[[str], tuple[str, Path]]) -> tuple[str, dict]:
    """The UCI store reviewed as of 2005-10-01 (with the fixture scorecard and the shipped
    uci-twd policy, this file's MODEL and POLICY); its URL and one account per action."""
    url, _home = uci_reviewed_copy("explain")
    db = make_engine(url)
    try:
        decisions = read_decisions(db, "2005-H2")
    finally:
        db.dispose()
    picks = {
        action: decisions.filter(decisions["action"] == action).row(0, named=True)
        for action in ("increase", "keep", "decrease")
    }
    return url, picks


def _explain(url: str, account: str) -> dict:
    args = ["review", "explain", account, "--model", str(MODEL), "--policy", str(POLICY)]
    result = runner.invoke(app, [*args, "--database", url, "--json"])
    assert result.exit_code == 0, result.output
    return envelope_data(result.stdout)


@pytest.mark.parametrize("action", ["increase", "keep", "decrease"])
def test_explain_gives_score_grade_rule_reasons_and_points_of_a_real_decision(reviewed, action):
    url, picks = reviewed
    stored = picks[action]
    e = _explain(url, stored["account_id"])
    d = e["decision"]
    assert (d["action"], d["grade"], d["score"]) == (action, stored["grade"], stored["score"])
    assert float(d["pd"]) == pytest.approx(stored["pd"])  # a decimal string, as rates are
    # Scored again exactly as the review scored it; the points add up to the score.
    assert e["scored_again"]["matches_stored"] is True
    assert sum(c["points"] for c in e["contributions"]) == d["score"]
    assert all(c["lost"] == c["best"] - c["points"] >= 0 for c in e["contributions"])
    # Adverse reasons name characteristics that lost points (a bin-condition characteristic
    # by the feature a customer is told about: scoring.directions.customer_feature).
    lost = {
        adverse_code(customer_feature(c["characteristic"]))
        for c in e["contributions"]
        if c["lost"] > 0
    }
    score_reasons = [r["code"] for r in e["reasons"] if r["code"].startswith("RC_")]
    assert set(score_reasons) <= lost
    # The rule: the grade's own entry of the policy, and the policy reason that decided.
    assert e["rule"]["grade"]["code"] == stored["grade"]
    assert e["rule"]["segment"]["code"] == stored["segment"]
    assert [r["code"] for r in e["rule"]["applied"]] == [stored["reason_codes"][0]]
    assert e["versions"]["policy_matches"]
    assert e["versions"]["model_matches"]
    # A decrease waits for its notice period (notify.yaml); the others took effect at once.
    pending = e["pending_change"]
    if action == "decrease":
        assert (pending["effective_on"], pending["status"]) == ("2005-10-08", "pending")
    else:
        assert pending is None


def test_explain_of_an_override_shows_the_case_and_the_decision_it_overrode(reviewed):
    url, picks = reviewed
    account = picks["decrease"]["account_id"]
    opened = runner.invoke(
        app, ["cases", "open", account, "--reason", "客户申请复核", "--database", url, "--json"]
    )
    assert opened.exit_code == 0, opened.output
    case_id = envelope_data(opened.stdout)["id"]
    new_limit = str(picks["decrease"]["old_limit_minor"] // 100)
    decided = runner.invoke(
        app, ["cases", "decide", str(case_id), "--outcome", "override", "--new-limit", new_limit,
              "--reason", "临时困难已解除", "--policy", str(POLICY), "--database", url],
    )  # fmt: skip
    assert decided.exit_code == 0, decided.output
    e = _explain(url, account)
    assert e["decision"]["source"] == "case"
    assert e["decision"]["action"] == "increase"
    assert e["case"]["id"] == case_id
    assert e["case"]["decision_reason"] == "临时困难已解除"
    assert e["overrode"]["decision"]["action"] == "decrease"
    assert e["overrode"]["scored_again"]["matches_stored"] is True
    text = runner.invoke(
        app, ["review", "explain", account, "--model", str(MODEL), "--policy", str(POLICY),
              "--database", url],
    )  # fmt: skip
    assert text.exit_code == 0, text.output
    assert f"case {case_id} override" in text.output
    verified = runner.invoke(app, ["audit", "verify", "--database", url, "--json"])
    assert verified.exit_code == 0
    assert envelope_data(verified.stdout)["checked"] == 4


def test_explain_names_an_unknown_account(reviewed):
    url, _ = reviewed
    args = ["review", "explain", "no-such", "--model", str(MODEL), "--policy", str(POLICY)]
    result = runner.invoke(app, [*args, "--database", url])
    assert result.exit_code == 2
    assert "not in the store" in result.output
