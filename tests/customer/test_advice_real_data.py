"""``advise`` on 1,000 real UCI accounts (real data; skipped when absent) with the fixture
scorecard and the uci-twd policy: applying every advice's actions to the account's statements and
rescoring reaches the promised score and grade, at most three actions each, and no action moves a
pinned (immutable) feature or reads a protected one."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import polars as pl
import pytest

from cardpilot.customer.advice import PINNED, SimFrames, advise, advised_features
from cardpilot.policy.catalogue import shipped_dir
from cardpilot.policy.condition_syntax import PROTECTED_ATTRIBUTES
from cardpilot.policy.customer import load_customer_policy
from cardpilot.policy.limit_arithmetic import grade_expr
from cardpilot.policy.loading import load_policy
from cardpilot.scoring.registry import load_model_dir

pytestmark = [pytest.mark.realdata, pytest.mark.slow]
MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "uci-scorecard"
AS_OF = dt.date(2005, 10, 1)
ACCOUNTS = 1_000


@pytest.fixture(scope="module")
def sample(uci_read) -> SimFrames:  # type: ignore[no-untyped-def]
    read = uci_read
    ids = read.accounts.get_column("account_id").sort().head(ACCOUNTS)
    keep = pl.col("account_id").is_in(ids.implode())
    accounts = read.accounts.filter(keep)
    customers = read.customers.join(accounts.select("customer_id"), on="customer_id", how="semi")
    return SimFrames(read.statements.filter(keep), accounts, customers)


@pytest.fixture(scope="module")
def advised(sample: SimFrames):  # type: ignore[no-untyped-def]
    folder = shipped_dir() / "uci-twd"
    limits, customer = load_policy(folder), load_customer_policy(folder)
    assert customer.advice is not None
    model = load_model_dir(MODEL)
    return advise(sample, AS_OF, model, limits, customer.advice), model, limits, customer.advice


def test_every_advice_applied_and_rescored_reaches_its_promised_grade(sample, advised):
    advice, model, limits, policy = advised
    assert len(advice) == ACCOUNTS
    ranks = {g.code: i for i, g in enumerate(limits.limits.grades)}
    by_actions: dict[tuple[str, ...], list[dict]] = defaultdict(list)
    for a in advice:
        assert len(a["actions"]) <= 3
        assert sum(x["points"] for x in a["actions"]) == a["promised_score"] - a["score"]
        if a["actions"]:
            by_actions[tuple(x["code"] for x in a["actions"])].append(a)
    actions = {x.code: x for x in policy.actions}
    checked = 0
    for codes, items in by_actions.items():
        ids = pl.Series([a["account_id"] for a in items]).implode()
        keep = pl.col("account_id").is_in(ids)
        frames = SimFrames(
            sample.statements.filter(keep), sample.accounts.filter(keep), sample.customers
        )
        moved = advised_features(
            frames, AS_OF, [actions[c] for c in codes], policy.minimum_payment_pct
        )
        rescored = model.score(moved).with_columns(grade_expr(limits.limits).alias("grade"))
        got = {r["account_id"]: r for r in rescored.iter_rows(named=True)}
        for a in items:
            assert got[a["account_id"]]["score"] == a["promised_score"]
            assert ranks[got[a["account_id"]]["grade"]] <= ranks[a["promised_grade"]]
            if a["reaches_next_grade"]:
                assert ranks[a["promised_grade"]] < ranks[a["grade"]]
            checked += 1
    assert checked > ACCOUNTS // 2
    below_best = [a for a in advice if a["grade"] != limits.limits.grades[0].code]
    reaching = sum(a["reaches_next_grade"] for a in below_best)
    assert reaching / len(below_best) > 0.3


def test_no_action_moves_a_pinned_feature_or_reads_a_protected_one(sample, advised):
    _, model, _, policy = advised
    now = advised_features(sample, AS_OF, [], 0)
    assert not PROTECTED_ATTRIBUTES & set(now.columns)
    for action in policy.actions:
        moved = advised_features(sample, AS_OF, [action], policy.minimum_payment_pct)
        pinned = ["account_id", *PINNED]
        assert moved.select(pinned).sort("account_id").equals(now.select(pinned).sort("account_id"))
    assert not PROTECTED_ATTRIBUTES & set(model.features)
