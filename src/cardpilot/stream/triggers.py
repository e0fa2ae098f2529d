"""The early-warning triggers (``warning.yaml``, ``warning.triggers.decide``) on the events of a
batch, inside the batch's store transaction.

Every applied event is judged: the batch's plan holds each event's account as the rules see it
right after that event (``AccountFeatures.trigger_row``: statement figures, what is unpaid of
the minimum, utilisation, spending against the six-month average, days since a cash advance),
as of the day the event happened, with what the store knows of the account
(``warning.state.with_store_facts``: its customer, the latest early-warning score of a
``cardpilot warn run`` with its change and reasons, its latest limit increase). The rows are
decided one day at a time with the batch's ``decide``, against the interventions stored
before and those of the batch's earlier days (cool-downs, the contact cap); a rule fires once
per account and cycle (its ``decision_ref``), so the first event that makes it fire is the one
it is for, whatever the batch boundaries were.

What fired is stored and queued in the same transaction
(``notify.warning_decisions.store_and_queue``: the interventions with their reasons and
advice, their messages in the outbox), so it commits with the batch's postings and features or
not at all, and a batch delivered again adds nothing twice. The advice quotes the plan terms
of the shipped overdue policy in the warning policy's currency.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Connection

from cardpilot.notify.compose import default_composer
from cardpilot.notify.warning_decisions import decided_rows, store_and_queue
from cardpilot.notify.warning_notices import AdviceTerms
from cardpilot.store.warning_interventions import history_of, online_inputs
from cardpilot.warning.policy import WarningPolicy
from cardpilot.warning.state import with_store_facts
from cardpilot.warning.triggers import FIRED_SCHEMA, HISTORY_SCHEMA, decide


def fired_for_events(
    rows: Sequence[dict[str, Any]],
    policy: WarningPolicy,
    history: Sequence[dict[str, Any]] = (),
) -> pl.DataFrame:
    """The interventions the rules give for ``rows`` (one per applied event, in order): each
    day's rows decided as of that day against ``history`` (``HISTORY_SCHEMA`` rows) and what
    the earlier days fired, one row per ``decision_ref`` (the first)."""
    if not rows:
        return pl.DataFrame(schema=FIRED_SCHEMA)
    frame = pl.DataFrame(list(rows), infer_schema_length=None).with_row_index("_event")
    frame = frame.filter(pl.col("as_of").is_not_null())
    past = list(history)
    parts = []
    for (as_of,), day in frame.partition_by("as_of", as_dict=True, maintain_order=True).items():
        assert isinstance(as_of, dt.date)
        known = pl.DataFrame(past, schema=HISTORY_SCHEMA) if past else None
        fired = decide(day.drop("as_of", "_event"), policy, as_of, known)
        if fired.height:
            # Each account's first event of the day that fires the rule comes first.
            first = day.group_by("account_id").agg(pl.col("_event").min())
            parts.append(fired.join(first, on="account_id", how="left"))
            past += [
                {
                    "account_id": r["account_id"],
                    "rule": r["rule"],
                    "cycle_date": r["cycle_date"],
                    "fired_on": as_of,
                    "sends": r["sends"],
                }
                for r in fired.iter_rows(named=True)
            ]
    if not parts:
        return pl.DataFrame(schema=FIRED_SCHEMA)
    out = pl.concat(parts, how="vertical_relaxed").sort("_event", maintain_order=True)
    return out.unique("decision_ref", keep="first", maintain_order=True).drop("_event")


_TERMS: dict[str, AdviceTerms] = {}


def advice_terms(policy: WarningPolicy) -> AdviceTerms:
    """The advice terms of ``policy`` with the shipped overdue policy in its currency (once
    per policy version)."""
    terms = _TERMS.get(policy.version)
    if terms is None:
        from cardpilot.overdue.loading import load_overdue_policy
        from cardpilot.policy.catalogue import OVERDUE, find_policy, policies_in

        currency = policy.file.currency
        names = policies_in(currency, OVERDUE)
        entry = find_policy(names[0]) if names else None
        if entry is None:
            raise ValueError(
                f"no overdue policy in {currency} for the advice of warning policy "
                f"{policy.version} (cardpilot policy list)"
            )
        terms = _TERMS[policy.version] = AdviceTerms.of(policy, load_overdue_policy(entry.path))
    return terms


def evaluate_triggers(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    policy: WarningPolicy | None,
    now: dt.datetime,
) -> pl.DataFrame:
    """The interventions due for the batch's events (``FIRED_SCHEMA``), stored and queued in
    the caller's transaction (none without a warning policy)."""
    days = [r["as_of"] for r in rows if r.get("as_of") is not None]
    if policy is None or not days:
        return pl.DataFrame(schema=FIRED_SCHEMA)
    from cardpilot.config import get_settings

    zone = ZoneInfo(get_settings().timezone)
    accounts = sorted({r["account_id"] for r in rows})
    stored = online_inputs(conn, accounts, max(days), zone)
    known = with_store_facts(rows, stored)
    fired = fired_for_events(known, policy, history_of(conn, accounts, max(days)))
    if fired.height:
        terms = advice_terms(policy)
        states = pl.DataFrame(known, infer_schema_length=None).drop("as_of")
        decided = decided_rows(states, fired, policy, terms)
        store_and_queue(conn, decided, policy, terms, default_composer(), now)
    return fired
