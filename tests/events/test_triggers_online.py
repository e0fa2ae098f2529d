"""The early-warning rules on the consumer's events: each applied event judged as of its day,
a rule fired once per account and cycle whatever the batch boundaries."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl

from cardpilot.events.feature_frames import STATE_SCHEMA
from cardpilot.events.intake import BatchLookups, parse_batch, plan_batch
from cardpilot.events.policy import load_events_policy
from cardpilot.stream.triggers import fired_for_events
from cardpilot.warning.policy import load_warning_policy

from .factories import START, line

TZ = ZoneInfo("Asia/Shanghai")
EVENTS = load_events_policy()
WARNING = load_warning_policy()


def _month(m: int) -> dt.datetime:
    return START.replace(year=2026 + (10 + m) // 12, month=(10 + m) % 12 + 1, day=5)


def _spike_lines() -> list[bytes]:
    """Six quiet months, a statement using 85 % of the limit, then two large purchases."""
    quiet = [line("purchase", m, at=_month(m), amount_minor=10_000) for m in range(1, 7)]
    statement = line(
        "statement_issued",
        7,
        at=_month(7),
        statement_balance_minor=850_000,
        cycle_date=_month(7).date().isoformat(),
        due_date=(_month(7) + dt.timedelta(days=20)).date().isoformat(),
    )
    spikes = [
        line("purchase", n, at=_month(7) + dt.timedelta(hours=n), amount_minor=30_000)
        for n in (8, 9)
    ]
    return [*quiet, statement, *spikes]


def _rows(lines: list[bytes], size: int) -> list[dict[str, object]]:
    """The trigger rows of ``lines`` planned in batches of ``size`` (states carried over)."""
    rows: list[dict[str, object]] = []
    states = pl.DataFrame(schema=STATE_SCHEMA)
    for start in range(0, len(lines), size):
        lookups = BatchLookups({}, {}, states, frozenset({"A1"}))
        plan = plan_batch(parse_batch(lines[start : start + size]), lookups, EVENTS, TZ)
        states = pl.concat([states.filter(pl.col("account_id") != "A1"), plan.states])
        rows.extend(plan.trigger_rows)
    return rows


def test_a_spending_spike_at_high_utilisation_fires_once_for_the_cycle() -> None:
    fired = fired_for_events(_rows(_spike_lines(), 50), WARNING)
    assert fired["rule"].to_list() == ["spend_spike_high_use"]
    assert fired["account_id"].to_list() == ["A1"]


def test_what_fires_does_not_depend_on_the_batch_boundaries() -> None:
    one = fired_for_events(_rows(_spike_lines(), 50), WARNING)
    rows = _rows(_spike_lines(), 1)
    many = [fired_for_events(rows[i : i + 1], WARNING) for i in range(len(rows))]
    refs = {r for f in many for r in f["decision_ref"].to_list()}
    assert set(one["decision_ref"].to_list()) == refs


def test_quiet_spending_fires_nothing() -> None:
    quiet = [line("purchase", m, at=_month(m), amount_minor=10_000) for m in range(1, 8)]
    assert fired_for_events(_rows(quiet, 50), WARNING).height == 0
