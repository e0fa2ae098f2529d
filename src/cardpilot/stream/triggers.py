"""The early-warning triggers (``warning.yaml``, ``warning.triggers.decide``) on the events of a
batch, inside the batch's store transaction.

Every applied event is judged: the batch's plan holds each event's account as the rules see it
right after that event (``AccountFeatures.trigger_row``: statement figures, what is unpaid of
the minimum, utilisation, spending against the six-month average, days since a cash advance),
as of the day the event happened. The rows are decided one day at a time with the batch's
``decide``; a rule fires once per account and cycle (its ``decision_ref``), so the first event
that makes it fire is the one it is for, whatever the batch boundaries were.

What events do not tell (the model's score and its change, limit increases) is unknown to the
rules here, so the rules that need it do not fire online. Storing the interventions and
queueing their messages (the warning interventions table and the outbox, written by the batch
``warn run``) is not wired in yet: ``evaluate_triggers`` returns what fired, and the count is
reported; the store step goes at the end of it, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl
from sqlalchemy import Connection

from cardpilot.warning.policy import WarningPolicy
from cardpilot.warning.triggers import FIRED_SCHEMA, decide


def fired_for_events(rows: Sequence[dict[str, Any]], policy: WarningPolicy) -> pl.DataFrame:
    """The interventions the rules give for ``rows`` (one per applied event, in order): each
    day's rows decided as of that day, one row per ``decision_ref`` (the first)."""
    if not rows:
        return pl.DataFrame(schema=FIRED_SCHEMA)
    frame = pl.DataFrame(list(rows), infer_schema_length=None).with_row_index("_event")
    frame = frame.filter(pl.col("as_of").is_not_null())
    parts = []
    for (as_of,), day in frame.partition_by("as_of", as_dict=True, maintain_order=True).items():
        assert isinstance(as_of, dt.date)
        fired = decide(day.drop("as_of", "_event"), policy, as_of)
        if fired.height:
            # Each account's first event of the day that fires the rule comes first.
            first = day.group_by("account_id").agg(pl.col("_event").min())
            parts.append(fired.join(first, on="account_id", how="left"))
    if not parts:
        return pl.DataFrame(schema=FIRED_SCHEMA)
    out = pl.concat(parts, how="vertical_relaxed").sort("_event", maintain_order=True)
    return out.unique("decision_ref", keep="first", maintain_order=True).drop("_event")


def evaluate_triggers(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    policy: WarningPolicy | None,
    now: dt.datetime,
) -> pl.DataFrame:
    """The interventions due for the batch's events (``FIRED_SCHEMA``), in the caller's
    transaction (none without a warning policy)."""
    del conn, now  # the store step (interventions, outbox) is not wired in yet
    if policy is None:
        return pl.DataFrame(schema=FIRED_SCHEMA)
    return fired_for_events(rows, policy)
