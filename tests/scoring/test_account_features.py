"""One account's features (``scoring.account_features``) equal the Polars plan's
(``scoring.features.behaviour_features``) row for that account: on generated statement
histories (Hypothesis: nulls, zero and missing limits, one to ten cycles, any as-of day), each
the plan's one-account frame (what the service read before), and on 3,000 real accounts in one
frame (what a review reads). Floats compare as their bit patterns; the float sums and means
(``summed_aggregations``) too against a one-account frame, and to ``SUMMED_CLOSE`` against the
many-account frame, whose grouped reductions add in an order of Polars'
own (it differs with the number of threads and accounts; ``payment_volatility`` is not even
reproducible from run to run there: tests/scoring/test_features_equality.py).
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardpilot.domain.plans import add_months
from cardpilot.scoring.account_features import account_features
from cardpilot.scoring.features import FEATURE_NAMES, behaviour_features, summed_aggregations
from cardpilot.store.account_chunks import REVIEW_STATEMENT_COLUMNS, ChunkFrames

# A sum of up to six in another order (with cancellation: utilisations of either sign), and a
# square root or a division after it: how far apart two orders of addition leave the result.
SUMMED_CLOSE = {"rel_tol": 1e-12, "abs_tol": 1e-15}
# and the features divided from them
SUMMED = frozenset(summed_aggregations()) | {"payment_to_limit_avg_6m", "spend_to_limit_avg_6m"}
FIRST_CYCLE = dt.date(2026, 1, 25)
ACCOUNT_SCHEMA = {
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "credit_limit_minor": pl.Int64(),
    "open_date": pl.Date(),
}
CUSTOMER_SCHEMA = {
    "customer_id": pl.String(),
    "birth_year": pl.Int32(),
    "education": pl.String(),
    "annual_income_minor": pl.Int64(),
}


def _bits(x: float) -> int:
    return int(struct.unpack("<q", struct.pack("<d", x))[0])


def same_value(name: str, fast: Any, plan: Any, close: bool = False) -> bool:
    if fast is None or plan is None:
        return fast is None and plan is None
    if isinstance(plan, float):
        if math.isnan(plan):
            return math.isnan(fast)
        if close and name in SUMMED:
            return isinstance(fast, float) and math.isclose(fast, plan, **SUMMED_CLOSE)
        return isinstance(fast, float) and _bits(fast) == _bits(plan)
    return bool(fast == plan) and type(fast) is type(plan)


def plan_row(statements: list[dict], account: dict, customer: dict, as_of: dt.date) -> dict | None:
    frames = ChunkFrames(
        statements=pl.DataFrame(statements, schema=REVIEW_STATEMENT_COLUMNS, orient="row"),
        accounts=pl.DataFrame([account], schema=ACCOUNT_SCHEMA, orient="row"),
        customers=pl.DataFrame([customer], schema=CUSTOMER_SCHEMA, orient="row"),
    )
    features = behaviour_features(frames, as_of)
    return features.row(0, named=True) if features.height else None


def differences(fast: dict | None, plan: dict | None, close: bool = False) -> list[str]:
    if fast is None or plan is None:
        return [] if fast is None and plan is None else [f"fast {fast} plan {plan}"]
    assert list(fast) == list(FEATURE_NAMES)
    return [
        f"{n}: fast {fast[n]!r} plan {plan[n]!r}"
        for n in FEATURE_NAMES
        if not same_value(n, fast[n], plan[n], close)
    ]


money = st.one_of(st.none(), st.integers(-50_000, 5_000_000))
positive_money = st.one_of(st.none(), st.integers(0, 5_000_000))


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[dict], dict, dict, dt.date]:
    n = draw(st.integers(1, 10))
    months = sorted(draw(st.sets(st.integers(0, 14), min_size=n, max_size=n)))
    statements = [
        {
            "account_id": "A1",
            "cycle_date": add_months(FIRST_CYCLE, m),
            "credit_limit_minor": draw(
                st.one_of(st.none(), st.sampled_from([0, 100_000, 2_000_000]))
            ),
            "statement_balance_minor": draw(money),
            "amount_paid_minor": draw(positive_money),
            "purchases_minor": draw(positive_money),
            "cash_advances_minor": draw(positive_money),
            "repayment_status": draw(st.one_of(st.none(), st.integers(-2, 9))),
            "days_past_due": draw(st.one_of(st.none(), st.integers(0, 200))),
        }
        for m in months
    ]
    account = {
        "account_id": "A1",
        "customer_id": "C1",
        "credit_limit_minor": draw(st.one_of(st.none(), st.integers(0, 5_000_000))),
        "open_date": draw(st.one_of(st.none(), st.dates(dt.date(2000, 1, 1), dt.date(2026, 1, 1)))),
    }
    customer = {
        "customer_id": "C1",
        "birth_year": draw(st.one_of(st.none(), st.integers(1940, 2005))),
        "education": draw(st.one_of(st.none(), st.sampled_from(["graduate", "university"]))),
        "annual_income_minor": draw(st.one_of(st.none(), st.integers(0, 10_000_000))),
    }
    as_of = add_months(FIRST_CYCLE, draw(st.integers(-1, 16)))
    return statements, account, customer, as_of


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_one_account_features_equal_the_plan_on_generated_histories(history):
    statements, account, customer, as_of = history
    fast = account_features(statements, account, customer, as_of)
    assert differences(fast, plan_row(statements, account, customer, as_of)) == []


def test_one_account_features_equal_the_plan_for_3000_real_accounts(uci_read):
    frames = uci_read
    ids = frames.accounts["account_id"].sort().head(3000)
    statements = frames.statements.filter(pl.col("account_id").is_in(ids.implode()))
    accounts = frames.accounts.filter(pl.col("account_id").is_in(ids.implode()))
    customers = {r["customer_id"]: r for r in frames.customers.iter_rows(named=True)}
    by_account: dict[str, list[dict]] = {}
    for r in statements.iter_rows(named=True):
        by_account.setdefault(r["account_id"], []).append(r)
    latest = statements["cycle_date"].max()
    for as_of in (latest, dt.date(2005, 6, 30)):
        part = ChunkFrames(statements, accounts, frames.customers)
        plan = {r["account_id"]: r for r in behaviour_features(part, as_of).iter_rows(named=True)}
        for account in accounts.iter_rows(named=True):
            customer = customers.get(account["customer_id"], {})
            rows = by_account.get(account["account_id"], [])
            fast = account_features(rows, account, customer, as_of)
            found = differences(fast, plan.get(account["account_id"]), close=True)
            assert found == [], account["account_id"]
