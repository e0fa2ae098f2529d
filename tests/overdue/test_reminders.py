"""Reminders and education: the planner's scheduling rules, the opt-in gate, the daily cap,
the policy's validation, and the exact minimum-payment arithmetic (no store)."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.overdue.loading import (
    OverduePolicyError,
    load_overdue_policy,
    overdue_policy_from_data,
    read_overdue_data,
)
from cardpilot.overdue.reminders import (
    DECISION_REF_CHARS,
    decision_ref,
    due_messages,
    minimum_due_of,
    minimum_payment_cost,
    minimum_payment_costs,
    plan_reminders,
    reminder_input,
)
from cardpilot.overdue.schema import MinimumPayment, Revolving

POLICY = load_overdue_policy()
CYCLE = dt.date(2026, 10, 31)
DUE = dt.date(2026, 11, 20)


def _statements(**accounts: tuple[int, int | None, int]) -> pl.DataFrame:
    """account → (balance, minimum due or None, days past due at the cycle)."""
    ids = list(accounts)
    return pl.DataFrame(
        {
            "account_id": ids,
            "cycle_date": [CYCLE] * len(ids),
            "due_date": [DUE] * len(ids),
            "statement_balance_minor": [accounts[i][0] for i in ids],
            "minimum_due_minor": [accounts[i][1] for i in ids],
            "amount_paid_minor": [0] * len(ids),
            "days_past_due": [accounts[i][2] for i in ids],
        },
        schema_overrides={"minimum_due_minor": pl.Int64},
    )


def _accounts(ids: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"account_id": ids, "customer_id": [f"c-{i}" for i in ids], "currency": ["CNY"] * len(ids)}
    )


def _plan(
    day: dt.date,
    statements: pl.DataFrame,
    *,
    payments: pl.DataFrame | None = None,
    segments: dict[str, str] | None = None,
    opted_in: list[str] | None = None,
    policy=POLICY,  # type: ignore[no-untyped-def]
) -> pl.DataFrame:
    ids = statements["account_id"].to_list()
    treatments = None
    if segments:
        treatments = pl.DataFrame(
            {
                "account_id": list(segments),
                "as_of": [CYCLE] * len(segments),
                "risk_segment": list(segments.values()),
            }
        )
    table = reminder_input(
        statements,
        _accounts(ids),
        day,
        policy,
        payments=payments,
        treatments=treatments,
        opt_ins=pl.DataFrame({"customer_id": [f"c-{i}" for i in opted_in or []]}),
    )
    return plan_reminders(table, day, policy)


def _rules(plan: pl.DataFrame) -> set[tuple[str, str]]:
    return set(plan.select("account_id", "rule").iter_rows())


# ----------------------------------------------------------------------------- schedule


def test_before_due_reminders_go_five_and_one_day_before_the_due_date_only_while_unpaid() -> None:
    statements = _statements(a=(500_000, 50_000, 0), paid=(500_000, 50_000, 0), zero=(0, 0, 0))
    payments = pl.DataFrame(
        {"account_id": ["paid"], "paid_on": [dt.date(2026, 11, 10)], "amount_minor": [50_000]}
    )
    seen = {}
    for day in (DUE - dt.timedelta(days=d) for d in range(0, 8)):
        seen[day] = _rules(_plan(day, statements, payments=payments))
    assert seen[DUE - dt.timedelta(days=5)] == {("a", "before_due_5")}
    assert seen[DUE - dt.timedelta(days=1)] == {("a", "before_due_1")}
    others = [d for d in seen if (DUE - d).days not in (1, 5)]
    assert all(seen[d] == set() for d in others)


def test_a_partial_payment_leaves_the_rest_of_the_minimum_in_the_reminder() -> None:
    statements = _statements(a=(500_000, 50_000, 0))
    payments = pl.DataFrame(
        {"account_id": ["a"], "paid_on": [dt.date(2026, 11, 2)], "amount_minor": [20_000]}
    )
    plan = _plan(DUE - dt.timedelta(days=5), statements, payments=payments)
    assert plan.select("minimum_due_minor", "unpaid_minimum_minor").row(0) == (50_000, 30_000)


def test_a_payment_before_the_statement_does_not_count_for_it() -> None:
    statements = _statements(a=(500_000, 50_000, 0))
    payments = pl.DataFrame(
        {"account_id": ["a"], "paid_on": [CYCLE], "amount_minor": [50_000]}  # on the cycle day
    )
    plan = _plan(DUE - dt.timedelta(days=1), statements, payments=payments)
    assert _rules(plan) == {("a", "before_due_1")}


def test_first_day_overdue_fires_the_day_after_the_due_date_with_the_minimum_unpaid() -> None:
    statements = _statements(a=(500_000, 50_000, 0), b=(500_000, 50_000, 0))
    payments = pl.DataFrame(
        {"account_id": ["b"], "paid_on": [DUE], "amount_minor": [50_000]}  # paid on the due date
    )
    day1 = _plan(DUE + dt.timedelta(days=1), statements, payments=payments)
    assert _rules(day1) == {("a", "first_day_overdue")}
    assert day1["days_past_due"].to_list() == [1]
    assert day1["bucket"].to_list() == ["M1"]
    assert _rules(_plan(DUE + dt.timedelta(days=2), statements, payments=payments)) == set()


def test_treatment_path_steps_follow_the_segment_day_3_day_7_and_weekly_for_high_risk() -> None:
    statements = _statements(
        low=(500_000, 50_000, 0), high=(500_000, 50_000, 0), untreated=(500_000, 50_000, 0)
    )
    segments = {"low": "low_risk", "high": "high_risk"}
    by_day = {
        dpd: _rules(_plan(DUE + dt.timedelta(days=dpd), statements, segments=segments))
        for dpd in range(2, 40)
    }
    assert by_day[3] == {("low", "path_day_3")}
    assert by_day[7] == {("low", "path_day_7"), ("high", "path_high_weekly")}
    weekly = sorted(d for d, got in by_day.items() if ("high", "path_high_weekly") in got)
    assert weekly == [7, 14, 21, 28, 35]
    # The untreated account (no segment yet) gets no treatment-path message.
    assert not any(acc == "untreated" for got in by_day.values() for acc, _ in got)


def test_treatment_path_stops_after_until_dpd() -> None:
    statements = _statements(deep=(500_000, 50_000, 170))
    segments = {"deep": "high_risk"}
    # At the cycle the account is 170 days past due; it keeps aging by the calendar.
    fired = [
        d
        for d in range(0, 30)
        if ("deep", "path_high_weekly")
        in _rules(_plan(CYCLE + dt.timedelta(days=d), statements, segments=segments))
    ]
    dpds = [170 + d for d in fired]
    assert dpds == [175]  # 182 would be past until_dpd 180


def test_education_goes_only_to_customers_who_opted_in() -> None:
    statements = _statements(yes=(500_000, 50_000, 0), no=(500_000, 50_000, 0))
    day = CYCLE + dt.timedelta(days=1)
    plan = _plan(day, statements, opted_in=["yes"])
    assert _rules(plan) == {("yes", "edu_minimum_payment")}
    assert plan["topic"].to_list() == ["minimum_payment_cost"]
    assert _rules(_plan(CYCLE + dt.timedelta(days=2), statements, opted_in=["yes"])) == {
        ("yes", "edu_interest_fees")
    }


def test_small_balances_get_no_minimum_payment_illustration() -> None:
    statements = _statements(small=(49_999, 10_000, 0))
    plan = _plan(CYCLE + dt.timedelta(days=1), statements, opted_in=["small"])
    assert plan.height == 0


def test_the_daily_cap_keeps_the_most_important_message_and_is_deterministic() -> None:
    data = copy.deepcopy(read_overdue_data())
    # Make the minimum-payment illustration fall on the due date - 1 too.
    data["reminders"]["education"][0]["days_after_statement"] = 19
    policy = overdue_policy_from_data(data)
    statements = _statements(a=(500_000, 50_000, 0))
    day = DUE - dt.timedelta(days=1)
    table = reminder_input(
        statements, _accounts(["a"]), day, policy, opt_ins=pl.DataFrame({"customer_id": ["c-a"]})
    )
    assert due_messages(table, day, policy)["rule"].sort().to_list() == [
        "before_due_1",
        "edu_minimum_payment",
    ]
    assert plan_reminders(table, day, policy)["rule"].to_list() == ["before_due_1"]


def test_a_statement_without_a_minimum_gets_the_contract_minimum() -> None:
    statements = _statements(big=(500_000, None, 0), small=(5_000, None, 0))
    plan = _plan(DUE - dt.timedelta(days=5), statements)
    mins = dict(plan.select("account_id", "minimum_due_minor").iter_rows())
    assert mins == {"big": 50_000, "small": 5_000}  # 10 %, and never more than the balance


def test_decision_refs_are_deterministic_and_fit_the_outbox_column() -> None:
    statements = _statements(a=(500_000, 50_000, 0))
    day = DUE - dt.timedelta(days=5)
    first, again = _plan(day, statements), _plan(day, statements)
    assert first["decision_ref"].to_list() == again["decision_ref"].to_list()
    assert first["decision_ref"][0] == "reminder:before_due_5:20261031:a"
    assert first["policy_version"][0] == POLICY.version
    long = decision_ref("path_high_weekly", day, "X" * 64)
    assert len(long) <= DECISION_REF_CHARS
    assert long == decision_ref("path_high_weekly", day, "X" * 64)


def test_plan_runs_on_many_accounts_as_one_frame() -> None:
    n = 20_000
    ids = [f"A{i:07d}" for i in range(n)]
    statements = pl.DataFrame(
        {
            "account_id": ids,
            "cycle_date": [CYCLE] * n,
            "due_date": [DUE] * n,
            "statement_balance_minor": [100_000 + i for i in range(n)],
            "minimum_due_minor": [10_000] * n,
            "amount_paid_minor": [0] * n,
            "days_past_due": [0] * n,
        }
    )
    payments = pl.DataFrame(
        {
            "account_id": ids[::2],
            "paid_on": [dt.date(2026, 11, 5)] * len(ids[::2]),
            "amount_minor": [10_000] * len(ids[::2]),
        }
    )
    plan = _plan(DUE - dt.timedelta(days=5), statements, payments=payments)
    assert plan.height == n // 2
    assert set(plan["account_id"]) == set(ids[1::2])


# ------------------------------------------------------------------------------- policy


def _variant(edit) -> dict:  # type: ignore[no-untyped-def]
    data = copy.deepcopy(read_overdue_data())
    edit(data["reminders"])
    return data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda r: r["rules"][3].update(from_dpd=2, segments=["low_risk"]),
            "before the first contact day 3 of segment low_risk",
        ),
        (lambda r: r["rules"][0].update(segments=["low_risk"]), "are for treatment_path rules"),
        (lambda r: r["rules"][5].update(segments=["vip"]), "unknown segments"),
        (lambda r: r["rules"][0].pop("days"), "before_due needs days"),
        (lambda r: r["rules"].append(dict(r["rules"][0])), "codes must be unique"),
        (lambda r: r.update(fee_basis_segment="nobody"), "fee_basis_segment"),
        (
            lambda r: r["rules"][0].update(channels=["fax"]),
            r"reminders\.rules\[0\]\.channels\[0\]: Input should be .sms.",
        ),
    ],
)
def test_a_reminders_section_that_breaks_a_rule_never_loads(edit, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OverduePolicyError, match=message):
        overdue_policy_from_data(_variant(edit))


def test_both_shipped_policies_have_a_reminders_section_recorded_in_the_version() -> None:
    from pathlib import Path

    import cardpilot

    twd = load_overdue_policy(Path(cardpilot.__file__).parent / "policies" / "uci-twd")
    for policy in (POLICY, twd):
        assert policy.file.reminders is not None
    data = copy.deepcopy(read_overdue_data())
    data["reminders"]["revolving"]["daily_rate"] = 0.0004
    assert overdue_policy_from_data(data).version != POLICY.version


# ------------------------------------------------------------------ minimum-payment cost

TERMS = MinimumPayment(
    share_of_principal=Decimal(10), floor_yuan=100, includes_interest_and_fees=True
)  # type: ignore[arg-type]
REVOLVING = Revolving(daily_rate=Decimal("0.0005"), cycle_days=30, max_months=600)


def _reference(
    balance: int, terms: MinimumPayment, revolving: Revolving
) -> tuple[int | None, int, int]:
    """An independent Decimal walk of the same rules: (months, total interest, total paid)."""
    one = Decimal(1)
    share = terms.share_of_principal / 100
    rate = revolving.daily_rate * revolving.cycle_days
    bal, charges, interest, paid = Decimal(balance), Decimal(0), Decimal(0), Decimal(0)
    for month in range(1, revolving.max_months + 1):
        if bal == 0:
            return month - 1, int(interest), int(paid)
        if terms.includes_interest_and_fees:
            due = ((bal - charges) * share).quantize(one, ROUND_HALF_UP) + charges
        else:
            due = (bal * share).quantize(one, ROUND_HALF_UP)
        pay = min(bal, max(due, Decimal(terms.floor_yuan)))
        paid += pay
        bal -= pay
        charges = (bal * rate).quantize(one, ROUND_HALF_UP)
        interest += charges
        bal += charges
    return (revolving.max_months if bal == 0 else None), int(interest), int(paid)


def test_the_minimum_payment_walk_by_hand() -> None:
    # 1,000.00 yuan, 10 % + interest, at least 100 yuan, 0.05 %/day × 30 days = 1.5 %/month.
    cost = minimum_payment_cost(100_000, TERMS, REVOLVING)
    assert cost.first_minimum_minor == 10_000
    # Month 1: pay 100.00 → 900.00, interest 13.50; month 2: minimum 90.00 + 13.50 = 103.50
    # → 810.00, interest 12.15; month 3: 81.00 + 12.15 = 93.15 < floor → pay 100.00 → 722.15.
    assert minimum_due_of(91_350, TERMS, charges_minor=1_350) == 10_350
    assert minimum_due_of(82_215, TERMS, charges_minor=1_215) == 10_000
    assert cost.total_paid_minor == 100_000 + cost.total_interest_minor
    assert (cost.months, cost.total_interest_minor, cost.total_paid_minor) == _reference(
        100_000, TERMS, REVOLVING
    )


def test_ten_thousand_yuan_paying_only_the_minimum() -> None:
    cost = minimum_payment_cost(1_000_000, TERMS, REVOLVING)
    assert (cost.months, cost.total_interest_minor) == (33, 128_876)  # 33 months, 1,288.76 yuan


def test_with_no_interest_the_minimum_repays_in_steps_of_the_share_or_floor() -> None:
    free = Revolving(daily_rate=Decimal(0), cycle_days=30, max_months=600)
    cost = minimum_payment_cost(100_000, TERMS, free)
    assert (cost.months, cost.total_interest_minor, cost.total_paid_minor) == (10, 0, 100_000)


def test_a_minimum_below_the_interest_never_repays_and_says_so() -> None:
    terms = MinimumPayment(
        share_of_principal=Decimal(1), floor_yuan=0, includes_interest_and_fees=False
    )  # type: ignore[arg-type]
    cost = minimum_payment_cost(
        1_000_000, terms, Revolving(daily_rate=Decimal("0.0005"), max_months=120)
    )
    assert cost.months is None
    assert not cost.repaid
    assert cost.total_interest_minor > 0


@settings(max_examples=150, deadline=None)
@given(
    balances=st.lists(st.integers(0, 50_000_000), min_size=1, max_size=20),
    share=st.sampled_from([Decimal(1), Decimal(2), Decimal(5), Decimal(10), Decimal("12.5")]),
    floor=st.integers(0, 20_000),
    includes=st.booleans(),
    rate=st.sampled_from([Decimal(0), Decimal("0.0003"), Decimal("0.0005"), Decimal("0.00065")]),
    days=st.integers(28, 31),
)
def test_minimum_payment_cost_is_exact_and_the_vector_form_agrees(
    balances: list[int], share: Decimal, floor: int, includes: bool, rate: Decimal, days: int
) -> None:
    terms = MinimumPayment(
        share_of_principal=share, floor_yuan=floor, includes_interest_and_fees=includes
    )  # type: ignore[arg-type]
    revolving = Revolving(daily_rate=rate, cycle_days=days, max_months=240)
    vector = minimum_payment_costs(np.array(balances, dtype=np.int64), terms, revolving)
    for i, balance in enumerate(balances):
        cost = minimum_payment_cost(balance, terms, revolving)
        assert (cost.months, cost.total_interest_minor, cost.total_paid_minor) == _reference(
            balance, terms, revolving
        )
        if cost.repaid:
            assert cost.total_paid_minor == balance + cost.total_interest_minor
        if rate == 0:
            assert cost.total_interest_minor == 0
        months = int(vector["months"][i])
        assert (None if months < 0 else months) == cost.months
        assert int(vector["total_interest_minor"][i]) == cost.total_interest_minor
        assert int(vector["total_paid_minor"][i]) == cost.total_paid_minor
        assert int(vector["first_minimum_minor"][i]) == cost.first_minimum_minor


@settings(max_examples=60, deadline=None)
@given(balance=st.integers(10_000, 20_000_000), extra=st.integers(1, 5_000_000))
def test_a_larger_balance_never_costs_less_interest(balance: int, extra: int) -> None:
    small = minimum_payment_cost(balance, TERMS, REVOLVING)
    big = minimum_payment_cost(balance + extra, TERMS, REVOLVING)
    assert big.total_interest_minor >= small.total_interest_minor


# ------------------------------------------------------------------------------ templates


def test_every_reminder_template_renders_in_both_languages_on_every_channel() -> None:
    from cardpilot.notify.compose import Composer
    from cardpilot.notify.reminder_notices import build_notices

    statements = _statements(a=(1_000_000, 100_000, 0))
    composer = Composer()
    days = {
        "payment_due_reminder": DUE - dt.timedelta(days=5),
        "overdue_first_day": DUE + dt.timedelta(days=1),
        "overdue_followup": DUE + dt.timedelta(days=3),
        "education_minimum_payment": CYCLE + dt.timedelta(days=1),
        "education_interest_fees": CYCLE + dt.timedelta(days=2),
    }
    for message_type, day in days.items():
        plan = _plan(day, statements, segments={"a": "low_risk"}, opted_in=["a"])
        assert plan["message_type"].to_list() == [message_type]
        (notice,) = build_notices(plan, POLICY)
        for locale in ("zh-CN", "en"):
            for channel in ("sms", "app", "email"):
                msg = composer.render(notice, channel, locale)
                assert "None" not in msg.body_text, (message_type, channel, locale)
                assert msg.category == (
                    "education_opt_in" if message_type.startswith("education") else "service"
                )
        app_zh = composer.render(notice, "app", "zh-CN").body_text
        if message_type == "education_minimum_payment":
            # 10,000.00 yuan paying only the minimum: 33 months, 1,288.76 yuan of interest.
            assert "需要33个月" in app_zh
            assert "人民币1288.76元" in app_zh
            assert "日利率0.05%" in app_zh
        if message_type == "education_interest_fees":
            assert "银发〔2016〕111号" in app_zh
            assert "不计复利" in app_zh
        if message_type == "payment_due_reminder":
            assert "人民币1000.00元" in app_zh


@settings(max_examples=40, deadline=None)
@given(
    dpds=st.lists(st.sampled_from([0, 0, 0, 30, 60, 90, 120]), min_size=3, max_size=3),
    offset=st.integers(0, 45),
)
def test_reminder_days_past_due_agree_with_the_aging_while_nothing_is_unpaid(
    dpds: list[int], offset: int
) -> None:
    from cardpilot.overdue.aging import age_accounts

    cycles = [dt.date(2026, 8, 31), dt.date(2026, 9, 30), CYCLE]
    statements = pl.DataFrame(
        {
            "account_id": ["a"] * 3,
            "cycle_date": cycles,
            "due_date": [c + dt.timedelta(days=20) for c in cycles],
            "statement_balance_minor": [100_000] * 3,
            "minimum_due_minor": [0] * 3,  # nothing due: no live days past due
            "amount_paid_minor": [0] * 3,
            "days_past_due": dpds,
        }
    )
    day = CYCLE + dt.timedelta(days=offset)
    table = reminder_input(statements, _accounts(["a"]), day, POLICY)
    aged = age_accounts(statements, day, POLICY)
    assert table.select("days_past_due", "bucket").row(0) == aged.select(
        "days_past_due", "bucket"
    ).row(0)
