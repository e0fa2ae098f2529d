"""The early-warning triggers (``warning.yaml``, ``warning.triggers.decide``) on the events of a
batch, inside the batch's store transaction.

Every applied event is judged: the batch's plan holds each event's account as the rules see it
right after that event (``AccountFeatures.trigger_row``: statement figures, what is unpaid of
the minimum, utilisation, spending against the six-month average, days since a cash advance),
as of the day the event happened. The rows are decided one day at a time with the batch's
``decide``; a rule fires once per account and cycle (its ``decision_ref``), so the first event
that makes it fire is the one it is for, whatever the batch boundaries were.

What fired is stored as interventions (reasons, advice in the customer's own figures, policy
version) and their messages queued to the outbox, with the batch's ``warn run`` code
(``batch.warnings``), in the batch's transaction: a batch delivered again adds nothing (an
intervention's reference and an outbox key are unique). The cool-downs and the contact cap read
the interventions stored before the batch. What events do not tell (the model's score and its
change, limit increases) is unknown to the rules here, so the rules that need it do not fire
online.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection

from cardpilot.batch.warnings import decided_rows, store_and_queue
from cardpilot.notify.compose import Composer
from cardpilot.notify.warning_notices import AdviceTerms
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.store.events import account_customers
from cardpilot.store.warning_interventions import history_of
from cardpilot.warning.policy import WarningPolicy, load_warning_policy
from cardpilot.warning.triggers import FIRED_SCHEMA, HISTORY_SCHEMA, decide


def fired_for_events(
    rows: Sequence[dict[str, Any]], policy: WarningPolicy, history: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The interventions the rules give for ``rows`` (one per applied event, in order): each
    day's rows decided as of that day, one row per ``decision_ref`` (the first)."""
    if not rows:
        return pl.DataFrame(schema=FIRED_SCHEMA)
    frame = pl.DataFrame(list(rows), infer_schema_length=None).with_row_index("_event")
    frame = frame.filter(pl.col("as_of").is_not_null())
    parts = []
    for (as_of,), day in frame.partition_by("as_of", as_dict=True, maintain_order=True).items():
        assert isinstance(as_of, dt.date)
        fired = decide(day.drop("as_of", "_event"), policy, as_of, history)
        if fired.height:
            # Each account's first event of the day that fires the rule comes first.
            first = day.group_by("account_id").agg(pl.col("_event").min())
            parts.append(fired.join(first, on="account_id", how="left"))
    if not parts:
        return pl.DataFrame(schema=FIRED_SCHEMA)
    out = pl.concat(parts, how="vertical_relaxed").sort("_event", maintain_order=True)
    return out.unique("decision_ref", keep="first", maintain_order=True).drop("_event")


@dataclass(frozen=True, slots=True)
class Triggers:
    """What the consumer's early-warning step needs: the rules, the advice's terms (from the
    overdue policy's plans), the message composer."""

    warning: WarningPolicy
    terms: AdviceTerms
    composer: Composer

    @classmethod
    def load(cls, warning: Path | None = None, overdue: Path | None = None) -> Triggers:
        rules = load_warning_policy(warning)
        return cls(rules, AdviceTerms.of(rules, load_overdue_policy(overdue)), Composer())


def evaluate_triggers(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    triggers: Triggers | None,
    now: dt.datetime,
) -> pl.DataFrame:
    """The interventions due for the batch's events (``FIRED_SCHEMA``), stored and queued in
    the caller's transaction (none without ``triggers``)."""
    if triggers is None or not rows:
        return pl.DataFrame(schema=FIRED_SCHEMA)
    days = [r["as_of"] for r in rows if r["as_of"] is not None]
    accounts = sorted({str(r["account_id"]) for r in rows})
    history = history_of(conn, accounts, max(days)) if days else []
    past = pl.DataFrame(history, schema=HISTORY_SCHEMA) if history else None
    fired = fired_for_events(rows, triggers.warning, past)
    if fired.height == 0:
        return fired
    customers = account_customers(conn, fired["account_id"].unique().to_list())
    fired = fired.with_columns(
        pl.col("account_id").replace_strict(customers, default=None).alias("customer_id")
    )
    states = pl.DataFrame(list(rows), infer_schema_length=None).drop("as_of")
    decided = decided_rows(states, fired, triggers.warning, triggers.terms)
    store_and_queue(conn, decided, triggers.warning, triggers.terms, triggers.composer, now)
    return fired
