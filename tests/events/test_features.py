"""Each account's running features: payment against the due date, spending against its average,
cash advances, utilisation; the same whatever order the events arrive in within the window."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.events.features import AccountFeatures, apply_event, features_from_json
from cardpilot.events.schema import Event

from .factories import START, event

TZ = ZoneInfo("Asia/Shanghai")
WINDOW = dt.timedelta(hours=72)


def fold(events: list[Event], state: AccountFeatures | None = None) -> AccountFeatures:
    state = state or AccountFeatures("A1")
    for e in events:
        state = apply_event(state, e, TZ, 6, WINDOW)
    return state


def at(days: float) -> dt.datetime:
    return START + dt.timedelta(days=days)


def test_the_minimum_paid_before_the_due_date_counts_its_days_early() -> None:
    state = fold(
        [
            event("statement_issued", 1),
            event("payment", 2, at=at(5), amount_minor=5_000),
            event("payment", 3, at=at(15), amount_minor=15_000),
        ]
    )
    assert state.minimum_paid_on == at(15).date()
    assert state.payment_days_before_due == 5
    assert state.paid_since_statement_minor == 20_000


def test_a_minimum_paid_after_the_due_date_counts_negative_days() -> None:
    state = fold(
        [event("statement_issued", 1), event("payment", 2, at=at(23), amount_minor=30_000)]
    )
    assert state.payment_days_before_due == -3


def test_spending_against_the_average_of_the_months_before() -> None:
    def month(m: int) -> dt.datetime:  # the 5th of the m-th month after START's
        return START.replace(year=2026 + (10 + m) // 12, month=(10 + m) % 12 + 1, day=5)

    history = [event("purchase", m, at=month(m), amount_minor=10_000) for m in range(1, 7)]
    spike = event("purchase", 7, at=month(7), amount_minor=50_000)
    state = fold([*history, spike])
    assert state.spend_ratio_bp(6) == 50_000  # five times the average: 500 %
    assert fold(history[:1]).spend_ratio_bp(6) is None  # no month before the first


def test_a_cash_advance_is_dated_and_counted_in_the_cycle() -> None:
    state = fold([event("statement_issued", 1), event("cash_advance", 2, at=at(3))])
    assert state.last_cash_advance_on == at(3).date()
    assert state.cash_advances_this_cycle == 1


def test_utilisation_is_the_balance_now_over_the_limit_and_its_change_since_the_statement() -> None:
    state = fold([event("statement_issued", 1), event("purchase", 2, amount_minor=300_000)])
    assert state.balance_minor == 500_000
    assert state.utilisation_bp == 5_000
    assert state.utilisation_change_bp == 3_000


def test_a_late_statement_counts_only_what_happened_after_it() -> None:
    before = event("purchase", 2, at=at(-0.5), amount_minor=7_000)
    after = event("purchase", 3, at=at(0.5), amount_minor=9_000)
    statement = event("statement_issued", 1, at=at(0))
    assert fold([before, after, statement]).balance_since_statement_minor == 9_000
    assert fold([statement, before, after]).balance_since_statement_minor == 9_000


def test_the_state_survives_its_stored_json() -> None:
    state = fold([event("statement_issued", 1), event("payment", 2), event("contact_outcome", 3)])
    assert features_from_json(state.to_json()) == state


KINDS = st.sampled_from(["purchase", "cash_advance", "refund", "payment", "contact_outcome"])


@settings(max_examples=60, deadline=None)
@given(
    kinds=st.lists(KINDS, min_size=1, max_size=12),
    hours=st.lists(st.integers(1, 70 * 60), min_size=12, max_size=12, unique=True),
    order=st.randoms(use_true_random=False),
)
def test_the_features_are_the_same_in_any_arrival_order_within_the_window(
    kinds: list[str], hours: list[int], order: object
) -> None:
    statement = event("statement_issued", 1, at=START - dt.timedelta(minutes=30))
    events: list[Event] = [statement] + [
        event(k, n, at=START + dt.timedelta(minutes=m), amount_minor=1_000 * n)
        if k != "contact_outcome"
        else event(k, n, at=START + dt.timedelta(minutes=m))
        for n, (k, m) in enumerate(zip(kinds, hours, strict=False), start=2)
    ]
    shuffled = list(events)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    assert fold(shuffled).as_record(6) == fold(events).as_record(6)
