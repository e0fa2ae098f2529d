"""Overdue treatment and 和谐还款 plans together on the real UCI data (``uci-twd`` policy, the
frozen scorecard of tests/fixtures/models/uci-scorecard): what the plans post to the ledger.
The scenario is ``plans_scenario`` (conftest); the cases the issue found are in
``test_account_over_time.py``. Skipped when ../shared/data is absent.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def plan_postings(db: Any, account: str) -> dict[str, int]:
    """The account's postings other than its import's, by key."""
    from cardpilot.store.ledger import account_postings

    with db.connect() as conn:
        frame = account_postings(conn, account)
    keys = frame.filter(frame["source"] != "import")
    return dict(zip(keys["idempotency_key"], keys["amount_minor"], strict=True))


def test_the_plans_waivers_and_instalments_are_ledger_postings_and_the_ledger_checks_clean(
    plans_scenario: dict[str, Any],
) -> None:
    """10117: its fee and the treatment's waiver, six instalments due, no plan waiver.
    10018: its fees, the plan's waiver of half (284,097) and its reinstatement on the break.
    ``ledger check`` finds no violation: waived ≤ charged for every fee."""
    p117 = plan_postings(plans_scenario["db"], "10117")
    assert sum(v for k, v in p117.items() if ":waiver:" in k) == -27_390
    assert sum(v for k, v in p117.items() if ":due:" in k) == 3_688_719
    assert not any(k.startswith("HP-") and ":waiver:" in k for k in p117)
    p018 = plan_postings(plans_scenario["db"], "10018")
    first = plans_scenario["offer-10018"].plan_id
    assert sum(v for k, v in p018.items() if k.startswith(f"{first}:waiver:")) == -284_097
    assert sum(v for k, v in p018.items() if k.startswith(f"{first}:reinstated:")) == 284_097
    check = plans_scenario["ledger-check"]
    assert check.violations == 0, check.examples


def test_the_treatments_post_their_charges_once_on_the_real_data(
    plans_scenario: dict[str, Any],
) -> None:
    """Every treatment's penalty interest, 违约金, waiver and limit action is a posting; the
    re-run of 2005-12-05 posts nothing."""
    from sqlalchemy import text

    first, retreat = plans_scenario["first"], plans_scenario["retreat"]
    assert first.postings > first.treated > 0
    assert retreat.postings > 0
    assert (plans_scenario["retreat-again"].treated, plans_scenario["retreat-again"].postings) == (
        0,
        0,
    )
    with plans_scenario["db"].connect() as conn:
        stored, posted = conn.execute(
            text(
                "SELECT (SELECT SUM(penalty_interest_minor + late_fee_minor)"
                " FROM overdue_treatments),"
                " (SELECT SUM(amount_minor) FROM ledger_postings WHERE source = 'decision'"
                " AND kind IN ('penalty_interest', 'late_fee'))"
            )
        ).one()
    assert int(posted) == int(stored) > 0
