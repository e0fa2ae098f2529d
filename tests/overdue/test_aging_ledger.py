"""Days past due and the aging bucket from what the ledger shows due and unpaid, where it can:
a statement with a minimum due and a due date the payment data reaches is judged by the
payments after its cycle date; otherwise (no minimum stated, as in the UCI file, or beyond the
data) the statements' own days past due stand."""

from __future__ import annotations

import datetime as dt

import polars as pl

from cardpilot.overdue.aging import LEDGER_PAYMENTS, LedgerPayments, age_accounts
from cardpilot.overdue.loading import load_overdue_policy

POLICY = load_overdue_policy()
CYCLE = dt.date(2025, 9, 30)
DUE = dt.date(2025, 10, 20)
MINIMUM = 50_000


def _statements(rows: list[tuple[str, int, int | None]]) -> pl.DataFrame:
    """One September statement per (account, statement days past due, minimum due)."""
    return pl.DataFrame(
        [(a, CYCLE, DUE, 500_000, minimum, dpd) for a, dpd, minimum in rows],
        schema={
            "account_id": pl.String(),
            "cycle_date": pl.Date(),
            "due_date": pl.Date(),
            "statement_balance_minor": pl.Int64(),
            "minimum_due_minor": pl.Int64(),
            "days_past_due": pl.Int32(),
        },
        orient="row",
    )


def _payments(rows: list[tuple[str, dt.date, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=LEDGER_PAYMENTS, orient="row")


def _dpd(
    statements: pl.DataFrame, as_of: dt.date, ledger: LedgerPayments | None
) -> dict[str, tuple[int, str]]:
    snap = age_accounts(statements, as_of, POLICY, ledger)
    return {r["account_id"]: (r["days_past_due"], r["bucket"]) for r in snap.iter_rows(named=True)}


STATEMENTS = _statements(
    [
        ("paid", 0, MINIMUM),  # current, paid its minimum on 10-15
        ("unpaid", 0, MINIMUM),  # current, paid nothing
        ("short", 0, MINIMUM),  # current, paid less than the minimum
        ("late-cured", 30, MINIMUM),  # 30 days past due at the cycle, then paid its minimum
        ("late-unpaid", 30, MINIMUM),  # 30 days past due at the cycle, paid nothing
        ("no-minimum", 0, None),  # the statement states no minimum (the UCI file)
    ]
)
PAYMENTS = _payments(
    [
        ("paid", dt.date(2025, 10, 15), MINIMUM),
        ("short", dt.date(2025, 10, 15), MINIMUM - 1),
        ("late-cured", dt.date(2025, 10, 5), MINIMUM),
        ("paid", dt.date(2025, 9, 20), 999_999),  # before the cycle: not towards it
    ]
)


def test_a_payment_due_and_not_made_in_the_ledger_makes_the_account_past_due_from_its_due_date():
    as_of = dt.date(2025, 10, 25)
    ledger = LedgerPayments(PAYMENTS, known_through=as_of)
    assert _dpd(STATEMENTS, as_of, ledger) == {
        "paid": (0, "current"),
        "unpaid": (5, "M1"),
        "short": (5, "M1"),
        "late-cured": (0, "current"),
        "late-unpaid": (55, "M2"),
        "no-minimum": (0, "current"),
    }


def test_without_the_ledger_the_statements_own_days_past_due_stand():
    as_of = dt.date(2025, 10, 25)
    assert _dpd(STATEMENTS, as_of, None) == {
        "paid": (0, "current"),
        "unpaid": (0, "current"),
        "short": (0, "current"),
        "late-cured": (55, "M2"),
        "late-unpaid": (55, "M2"),
        "no-minimum": (0, "current"),
    }


def test_payment_data_that_ends_before_the_due_date_judges_nobody_missed():
    # The data reaches the cycle date only (the UCI file's case): whether the minimum was paid
    # by 10-20 is unknown, so nobody is past due for it.
    as_of = dt.date(2025, 10, 25)
    ledger = LedgerPayments(_payments([]), known_through=CYCLE)
    assert _dpd(STATEMENTS, as_of, ledger) == _dpd(STATEMENTS, as_of, None)
    assert _dpd(STATEMENTS, as_of, LedgerPayments(PAYMENTS, known_through=None)) == _dpd(
        STATEMENTS, as_of, None
    )


def test_a_minimum_met_in_the_ledger_cures_even_before_the_data_reaches_the_due_date():
    as_of = dt.date(2025, 10, 25)
    got = _dpd(STATEMENTS, as_of, LedgerPayments(PAYMENTS, known_through=dt.date(2025, 10, 15)))
    assert got["late-cured"] == (0, "current")
    assert got["unpaid"] == (0, "current")  # its due date is beyond the data: not judged


def test_before_the_due_date_only_a_cure_moves_the_days_past_due():
    as_of = dt.date(2025, 10, 10)
    ledger = LedgerPayments(PAYMENTS, known_through=as_of)
    got = _dpd(STATEMENTS, as_of, ledger)
    assert got["unpaid"] == (0, "current")
    assert got["late-cured"] == (0, "current")
    assert got["late-unpaid"] == (40, "M2")


def test_a_cycle_date_snapshot_is_the_statements_own():
    ledger = LedgerPayments(PAYMENTS, known_through=dt.date(2025, 12, 31))
    assert _dpd(STATEMENTS, CYCLE, ledger) == _dpd(STATEMENTS, CYCLE, None)


def test_a_statement_older_than_the_payments_read_is_not_judged_by_them():
    as_of = dt.date(2026, 1, 10)
    ledger = LedgerPayments(_payments([]), known_through=as_of, since=as_of - dt.timedelta(days=62))
    assert _dpd(STATEMENTS, as_of, ledger) == _dpd(STATEMENTS, as_of, None)


# --------------------------------------------------------------------------- over the store

LATE_AS_OF = dt.date(2005, 10, 25)  # five days after the September statements' due date


def _pay(url: str, payments: list[tuple[str, dt.date, int]]) -> None:
    from zoneinfo import ZoneInfo

    from cardpilot.store.db import make_engine
    from cardpilot.store.payments import Payment, insert_payments

    zone = ZoneInfo("Asia/Shanghai")
    engine = make_engine(url)
    try:
        insert_payments(
            engine,
            [
                Payment(f"pay-{a}-{day}", a, dt.datetime.combine(day, dt.time(10), zone), m, "CNY")
                for a, day, m in payments
            ],
        )
    finally:
        engine.dispose()


def test_the_treatment_ages_accounts_by_the_ledger_where_its_payment_data_reaches(
    overdue_store: str, scorer
) -> None:
    from cardpilot.jobs.overdue import treat_overdue
    from cardpilot.store.db import make_engine
    from cardpilot.store.overdue_treatments import read_treatments

    _pay(
        overdue_store,
        [
            ("a-low", dt.date(2005, 10, 5), 50_000),  # its minimum: cured
            ("c-medium", LATE_AS_OF, 1_000),  # short of its minimum
        ],
    )
    result = treat_overdue(overdue_store, scorer, as_of=LATE_AS_OF, timezone="Asia/Shanghai")
    assert result.payments_known_through == LATE_AS_OF
    stored = read_treatments(make_engine(overdue_store), LATE_AS_OF)
    dpd = dict(zip(stored["account_id"], stored["days_past_due"], strict=True))
    # d-current's statement was current; its minimum was due on 10-20 and the ledger shows no
    # payment: five days past due. a-low paid its minimum: current, not treated.
    assert dpd["d-current"] == 5
    assert "a-low" not in dpd
    assert dpd["c-medium"] == 30 + 25  # still short: the statement's 30 days keep aging
    assert dpd["b-deep"] == 120 + 25


def test_the_aging_job_reports_how_far_the_ledger_judged(overdue_store: str) -> None:
    from cardpilot.jobs.aging import run_aging
    from cardpilot.store.db import make_engine
    from cardpilot.store.frames import read_portfolio_frames

    _pay(overdue_store, [("a-low", dt.date(2005, 10, 5), 50_000)])
    engine = make_engine(overdue_store)
    try:
        statements = read_portfolio_frames(engine).statements
        # The payment data reaches 10-05 only: the due date (10-20) is beyond it, so only the
        # cure it shows counts.
        early = run_aging(engine, statements, LATE_AS_OF, POLICY, timezone="Asia/Shanghai")
        assert early.payments_known_through == dt.date(2005, 10, 5)
        _pay(overdue_store, [("c-medium", LATE_AS_OF, 1_000)])
        late = run_aging(engine, statements, LATE_AS_OF, POLICY, timezone="Asia/Shanghai")
    finally:
        engine.dispose()
    buckets = {b["bucket"]: b["accounts"] for b in late.as_json()["buckets"] if b["accounts"]}
    assert late.as_json()["payments_known_through"] == LATE_AS_OF.isoformat()
    # current: a-low (cured); M1: d-current (5 days); the rest keep their statements' days.
    assert buckets["current"] == 1
    assert buckets["M1"] == 1
    early_current = {b["bucket"]: b["accounts"] for b in early.as_json()["buckets"]}["current"]
    assert early_current == 1 + 1  # a-low cured; d-current not yet judged
