"""和谐还款: the conditional one-time waiver as a fold over events."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.domain.harmony import (
    Accepted,
    DayClosed,
    Declined,
    HarmonyLedger,
    HarmonyReason,
    HarmonyStatus,
    Instalment,
    Offered,
    PaymentReceived,
    apply,
    fold,
)

D = dt.date
FEES = 40_000  # 400 yuan of 违约金 + penalty interest
PLAN = (Instalment(D(2026, 2, 28), 100_000), Instalment(D(2026, 3, 31), 100_000))


def offer(
    plan_id: str = "p1", on: dt.date = D(2026, 1, 10), plan: tuple[Instalment, ...] = PLAN
) -> Offered:
    return Offered(
        event_id=f"{plan_id}-offer",
        on=on,
        plan_id=plan_id,
        customer_id="c1",
        penalty_fees_minor=FEES,
        waiver_share_bp=5_000,
        instalments=plan,
        period_months=12,
        grace_days=3,
        accept_by=on + dt.timedelta(days=14),
    )


def kept_events(plan_id: str = "p1") -> list:
    return [
        offer(plan_id),
        Accepted(f"{plan_id}-acc", D(2026, 1, 12), plan_id),
        PaymentReceived(f"{plan_id}-pay1", D(2026, 2, 25), plan_id, 100_000),
        DayClosed(f"{plan_id}-day1", D(2026, 3, 10), plan_id),
        PaymentReceived(f"{plan_id}-pay2", D(2026, 3, 30), plan_id, 100_000),
    ]


def test_kept_plan_walks_offered_accepted_active_kept_and_keeps_the_waiver():
    ledger = fold(kept_events())
    plan = ledger.plans["p1"]
    assert plan.status is HarmonyStatus.KEPT
    assert plan.waived_minor == 20_000
    assert plan.reinstated_minor == 0
    assert [(t.from_status, t.to_status, t.reason) for t in ledger.transitions] == [
        (None, HarmonyStatus.OFFERED, HarmonyReason.OFFERED),
        (HarmonyStatus.OFFERED, HarmonyStatus.ACCEPTED, HarmonyReason.CUSTOMER_ACCEPTED),
        (HarmonyStatus.ACCEPTED, HarmonyStatus.ACTIVE, HarmonyReason.FIRST_PAYMENT),
        (HarmonyStatus.ACTIVE, HarmonyStatus.KEPT, HarmonyReason.ALL_INSTALMENTS_PAID),
    ]


def test_missed_instalment_breaks_the_plan_and_reinstates_the_waived_fees():
    events = [*kept_events()[:3], DayClosed("d", D(2026, 4, 4), "p1")]
    ledger = fold(events)
    plan = ledger.plans["p1"]
    assert plan.status is HarmonyStatus.BROKEN
    assert (plan.waived_minor, plan.reinstated_minor) == (0, 20_000)
    assert ledger.transitions[-1].reason is HarmonyReason.INSTALMENT_MISSED
    assert not plan.suspends_late_fees


def test_payment_within_grace_days_keeps_the_plan():
    events = [*kept_events()[:3], PaymentReceived("late", D(2026, 4, 3), "p1", 100_000)]
    assert fold(events).plans["p1"].status is HarmonyStatus.KEPT


def test_payment_after_a_missed_instalment_is_refused_because_the_plan_ended():
    events = [*kept_events()[:3], PaymentReceived("late", D(2026, 4, 5), "p1", 100_000)]
    ledger = fold(events)
    assert ledger.plans["p1"].status is HarmonyStatus.BROKEN
    assert ledger.rejections[-1].reason is HarmonyReason.PLAN_ENDED
    assert ledger.plans["p1"].paid_minor == 100_000


def test_replaying_the_same_events_gives_the_same_state():
    once = fold(kept_events())
    assert fold(kept_events()) == once
    assert fold(kept_events(), once) == once  # a second replay on top changes nothing


def test_duplicate_payment_events_are_applied_once():
    events = kept_events()
    dup = [events[0], events[1], events[2], events[2], events[2], events[3]]
    ledger = fold(dup)
    assert ledger.plans["p1"].paid_minor == 100_000
    assert ledger.plans["p1"].status is HarmonyStatus.ACTIVE
    assert apply(ledger, events[2]) is ledger


def test_waiver_is_granted_at_most_once_per_policy_period():
    first = fold(kept_events("p1"))
    second = fold(
        [
            offer("p2", on=D(2026, 6, 1)),
            Accepted("p2-acc", D(2026, 6, 2), "p2"),
        ],
        first,
    )
    assert "p2" not in second.plans
    assert [r.reason for r in second.rejections] == [
        HarmonyReason.WAIVER_USED_IN_PERIOD,  # the offer
        HarmonyReason.UNKNOWN_PLAN,  # the acceptance of a plan that was never opened
    ]
    assert second.waivers_granted("c1", D(2026, 6, 1), 12) == 1
    # The window is rolling: the waiver granted on 2026-02-25 blocks until 2027-02-25.
    blocked = apply(second, offer("p3", on=D(2027, 1, 5)))
    assert blocked.rejections[-1].reason is HarmonyReason.WAIVER_USED_IN_PERIOD
    third = fold(
        [
            offer("p3", on=D(2027, 2, 25), plan=(Instalment(D(2027, 3, 25), 200_000),)),
            Accepted("p3-acc", D(2027, 2, 26), "p3"),
            PaymentReceived("p3-pay", D(2027, 2, 27), "p3", 200_000),
        ],
        second,
    )
    assert third.plans["p3"].status is HarmonyStatus.KEPT


def test_a_plan_broken_in_december_is_not_re_offered_a_waiver_in_january():
    """The once-per-period rule does not reset on the calendar year."""
    december = (Instalment(D(2025, 12, 1), 100_000), Instalment(D(2026, 1, 1), 100_000))
    broken = fold(
        [
            offer("p1", on=D(2025, 10, 1), plan=december),
            Accepted("p1-acc", D(2025, 10, 2), "p1"),
            PaymentReceived("p1-pay", D(2025, 11, 20), "p1", 100_000),
            DayClosed("d", D(2026, 1, 6), "p1"),
        ]
    )
    assert broken.plans["p1"].status is HarmonyStatus.BROKEN
    again = apply(broken, offer("p2", on=D(2026, 1, 10)))
    assert "p2" not in again.plans
    assert again.rejections[-1].reason is HarmonyReason.WAIVER_USED_IN_PERIOD


def test_a_broken_plan_uses_the_period_waiver_too():
    broken = fold([*kept_events()[:3], DayClosed("d", D(2026, 4, 4), "p1")])
    again = apply(broken, offer("p2", on=D(2026, 5, 1)))
    assert again.rejections[-1].reason is HarmonyReason.WAIVER_USED_IN_PERIOD


def test_declined_or_expired_offers_grant_nothing_and_free_the_period():
    declined = fold([offer("p1"), Declined("dec", D(2026, 1, 11), "p1")])
    assert declined.plans["p1"].status is HarmonyStatus.DECLINED
    expired = fold([offer("p2"), DayClosed("d", D(2026, 1, 30), "p2")])
    assert expired.transitions[-1].reason is HarmonyReason.OFFER_EXPIRED
    assert fold(kept_events("p3"), expired).plans["p3"].status is HarmonyStatus.KEPT


def test_no_plan_starts_without_the_customers_acceptance():
    ledger = fold([offer("p1"), PaymentReceived("pay", D(2026, 1, 11), "p1", 100_000)])
    assert ledger.plans["p1"].status is HarmonyStatus.OFFERED
    assert ledger.rejections[-1].reason is HarmonyReason.NOT_ALLOWED_IN_STATUS


def test_events_for_unknown_plans_are_recorded_as_rejections():
    ledger = apply(HarmonyLedger(), Accepted("x", D(2026, 1, 1), "nope"))
    assert ledger.rejections[0].reason is HarmonyReason.UNKNOWN_PLAN


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(range(9)), max_size=25))
def test_any_sequence_with_duplicates_is_deterministic_and_grants_at_most_one_waiver(picks):
    pool = [
        *kept_events("p1"),
        DayClosed("late", D(2026, 4, 10), "p1"),
        offer("p2", on=D(2026, 2, 1)),
        Accepted("p2-acc", D(2026, 2, 2), "p2"),
        PaymentReceived("p2-pay", D(2026, 2, 3), "p2", 200_000),
    ]
    events = [pool[i] for i in picks]
    ledger = fold(events)
    assert fold(events) == ledger
    assert fold(events, ledger) == ledger
    first: dict[str, object] = {}
    for e in events:
        first.setdefault(e.event_id, e)
    deduped = list(first.values())  # the first occurrence of each id, in order
    assert fold(deduped) == ledger
    for day in (D(2026, 2, 1), D(2026, 6, 1), D(2026, 12, 31)):
        assert ledger.waivers_granted("c1", day, 12) <= 1
    assert all(p.waived_minor == 0 or p.reinstated_minor == 0 for p in ledger.plans.values())
