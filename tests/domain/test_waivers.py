"""One waiver source per fee, the unwaived fees in the instalments, a re-offer on the current
balance (``domain.waivers``), and the property that waived ≤ charged for every treatment's
fees across any sequence of treatments and 和谐还款 plan events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.domain.fees import ChargeError, waived_amount
from cardpilot.domain.harmony import (
    Accepted,
    DayClosed,
    HarmonyLedger,
    Instalment,
    Offered,
    PaymentReceived,
    apply,
)
from cardpilot.domain.plans import add_months
from cardpilot.domain.waivers import current_balance, schedule_fees, split_waivers

D = dt.date
SHARE = 5_000


def test_fees_the_treatment_waived_have_no_second_waiver_source() -> None:
    w = split_waivers(54_779, 27_390, SHARE)  # UCI account 10117
    assert (w.plan_waivable_minor, w.plan_waived_minor) == (0, 0)
    assert w.waived_minor == 27_390
    assert w.unwaived_minor == 27_389


def test_fees_nothing_waived_yet_are_waived_by_the_plan() -> None:
    w = split_waivers(568_194, 0, SHARE)  # UCI account 10018
    assert w.plan_waived_minor == 284_097
    assert w.unwaived_minor == 284_097


def test_more_waived_than_charged_is_refused() -> None:
    with pytest.raises(ChargeError):
        split_waivers(100, 101, SHARE)


def test_the_unwaived_fees_are_spread_over_the_instalments_first_takes_the_remainder() -> None:
    due = [(D(2005, 11, 1), 1_000), (D(2005, 12, 1), 1_000), (D(2006, 1, 1), 1_000)]
    assert schedule_fees(due, 100) == [
        (D(2005, 11, 1), 1_034),
        (D(2005, 12, 1), 1_033),
        (D(2006, 1, 1), 1_033),
    ]


def test_a_re_offer_is_priced_on_the_balance_less_what_was_paid() -> None:
    assert current_balance(36_657_700, 12_753_829) == 23_903_871
    assert current_balance(100, 500) == 0


@dataclass
class _Treatment:
    charged: int
    waived: int


@st.composite
def _steps(draw: st.DrawFn) -> list[tuple[str, int]]:
    kinds = st.sampled_from(["treat", "offer", "accept", "pay", "close", "take"])
    return draw(st.lists(st.tuples(kinds, st.integers(0, 400_000)), max_size=40))


@settings(max_examples=300, deadline=None)
@given(_steps(), st.sampled_from([0, 2_500, 5_000, 7_500, 10_000]))
def test_waived_never_exceeds_charged_for_any_fee_across_treatments_and_plans(
    steps: list[tuple[str, int]], treatment_share: int
) -> None:
    """Random treatments (each charging fees, low-risk ones waiving a share) and plan events
    (offers resting on the latest treatment with its fees split by ``split_waivers``, accepts,
    payments, days closed that break plans), days moving on: for every treatment,
    treatment waiver + the standing waivers of the plans resting on it ≤ what it charged."""
    ledger = HarmonyLedger()
    treatments: list[_Treatment] = []
    rests_on: dict[str, int] = {}
    day = D(2005, 10, 1)
    latest: str | None = None
    for n, (kind, amount) in enumerate(steps):
        day += dt.timedelta(days=1 + amount % 45)
        if kind == "treat":
            share = treatment_share if amount % 2 else 0
            treatments.append(_Treatment(amount, waived_amount(amount, share)))
        elif kind in ("offer", "take") and treatments:
            latest = f"p{n}"
            rests_on[latest] = len(treatments) - 1
            ledger = apply(ledger, _offer(ledger, treatments, rests_on, latest, day))
            if kind == "take":  # offered, accepted and the first instalment paid at once
                ledger = apply(ledger, Accepted(f"a{n}", day, latest))
                ledger = apply(ledger, PaymentReceived(f"f{n}", day, latest, 1 + amount))
        elif kind == "accept" and latest is not None:
            ledger = apply(ledger, Accepted(f"e{n}", day, latest))
        elif kind == "pay" and latest is not None and amount > 0:
            ledger = apply(ledger, PaymentReceived(f"e{n}", day, latest, amount))
        elif kind == "close" and latest is not None:
            ledger = apply(ledger, DayClosed(f"e{n}", day, latest))
        for i, t in enumerate(treatments):
            assert t.waived + _standing(ledger, rests_on, i) <= t.charged, (i, t)


def _standing(ledger: HarmonyLedger, rests_on: dict[str, int], treatment: int) -> int:
    """The plan waivers standing on a treatment's fees."""
    return sum(p.waived_minor for pid, p in ledger.plans.items() if rests_on[pid] == treatment)


def _offer(
    ledger: HarmonyLedger,
    treatments: list[_Treatment],
    rests_on: dict[str, int],
    plan_id: str,
    day: dt.date,
) -> Offered:
    """A three-month plan on the latest treatment, its fees split by ``split_waivers``."""
    t = rests_on[plan_id]
    w = split_waivers(
        treatments[t].charged, treatments[t].waived + _standing(ledger, rests_on, t), SHARE
    )
    parts = schedule_fees([(add_months(day, m), 10_000) for m in (1, 2, 3)], w.unwaived_minor)
    return Offered(
        event_id=f"o-{plan_id}",
        on=day,
        plan_id=plan_id,
        customer_id="c1",
        penalty_fees_minor=w.plan_waivable_minor,
        waiver_share_bp=SHARE,
        instalments=tuple(Instalment(due, a) for due, a in parts),
        period_months=12,
        grace_days=3,
        accept_by=day + dt.timedelta(days=14),
    )
