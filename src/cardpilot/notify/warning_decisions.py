"""Early-warning interventions decided, stored and queued: what the batch run and the event
consumer share.

``decided_rows`` turns the interventions ``warning.triggers.decide`` gave for some trigger
states into stored rows (reasons, advice; ``notify.warning_notices.intervention_rows``);
``store_and_queue`` writes them and queues their messages in the caller's transaction (the
transactional outbox): ``warn run`` calls them from its chunk loop, the event consumer
(``stream.triggers``) in each batch's transaction. ``decide_online`` is one whole step for
trigger states a caller builds: their history read in its transaction, the rules, the writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Connection

from cardpilot.notify.compose import Composer
from cardpilot.notify.warning_notices import (
    AdviceTerms,
    QueuedWarnings,
    intervention_rows,
    queue_warning_notices,
)
from cardpilot.store.warning_interventions import (
    INTERVENTION_COLUMNS,
    history_of,
    insert_interventions,
)
from cardpilot.warning.policy import WarningPolicy
from cardpilot.warning.triggers import HISTORY_SCHEMA, decide

FIGURES = (
    "account_id",
    "due_date",
    "statement_balance_minor",
    "minimum_due_minor",
    "unpaid_minimum_minor",
)


def decided_rows(
    states: pl.DataFrame, fired: pl.DataFrame, warning: WarningPolicy, terms: AdviceTerms
) -> list[dict[str, Any]]:
    """The stored rows of ``fired`` (``decide``'s rows for ``states``), with the statement
    figures of each account's state (those ``states`` lacks are unknown)."""
    figures = states.select(
        pl.col(c) if c in states.columns else pl.lit(None).alias(c) for c in FIGURES
    ).unique("account_id", keep="last")
    joined = fired.join(figures, on="account_id", how="left")
    return intervention_rows(joined.to_dicts(), warning, terms)


def store_and_queue(
    conn: Connection,
    rows: list[dict[str, Any]],
    warning: WarningPolicy,
    terms: AdviceTerms,
    composer: Composer,
    now: dt.datetime,
) -> tuple[set[str], QueuedWarnings]:
    """Store ``rows`` and queue their messages in ``conn``'s transaction; returns the
    references this call added and the outbox counts. Both idempotent."""
    added = insert_interventions(conn, [{c: r[c] for c in INTERVENTION_COLUMNS} for r in rows])
    queued = queue_warning_notices(conn, rows, warning, terms, composer, now)
    return added, queued


@dataclass
class OnlineDecision:
    """What one online step decided for the accounts it was given."""

    interventions: list[dict[str, Any]] = field(default_factory=list)
    added: set[str] = field(default_factory=set)  # references this step stored
    queued: QueuedWarnings = field(default_factory=QueuedWarnings)


def decide_online(
    conn: Connection,
    states: pl.DataFrame,
    *,
    warning: WarningPolicy,
    terms: AdviceTerms,
    composer: Composer,
    as_of: dt.date,
    now: dt.datetime,
) -> OnlineDecision:
    """The early warning for ``states`` (``warning.triggers.STATE_SCHEMA`` rows, one per
    account an event touched) in ``conn``'s transaction: history read, rules decided (the
    batch's ``decide``), interventions stored and their messages queued."""
    if states.height == 0:
        return OnlineDecision()
    history = history_of(conn, states["account_id"].to_list(), as_of)
    past = pl.DataFrame(history, schema=HISTORY_SCHEMA) if history else None
    fired = decide(states, warning, as_of, past)
    if fired.height == 0:
        return OnlineDecision()
    rows = decided_rows(states, fired, warning, terms)
    added, queued = store_and_queue(conn, rows, warning, terms, composer, now)
    return OnlineDecision(rows, added, queued)
