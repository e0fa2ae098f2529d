"""The early-warning triggers (``warning.yaml``, ``warning.triggers.decide``) on the events of a
batch, inside the batch's store transaction.

Every applied event is judged: the batch's plan holds each event's account as the rules see it
right after that event (``AccountFeatures.trigger_row``: statement figures, what is unpaid of
the minimum, utilisation, spending against the six-month average, days since a cash advance),
as of the day the event happened, with what the store knows of the account
(``warning.state.with_store_facts``: its customer, the latest early-warning score of a
``cardpilot warn run`` with its change and reasons, its latest limit increase). With the
registered early-warning model (an ``OnlineScorer``) the score, its change, reasons and model
version are the model's, fresh for the event's state (``stream.online_scores``); without one
they are the stored run's. The batch is
one frame: the rules' conditions pick the events where some rule holds, and those are decided
in waves (at most one event of an account and one day each) with the batch's ``decide``,
against the interventions stored before and those of the earlier waves (cool-downs, the
contact cap). A rule fires once per account and cycle (its ``decision_ref``), for the first
event that makes it fire and with that event's figures, whatever the batch boundaries were:
the same as deciding event by event.

What fired is stored and queued in the same transaction
(``notify.warning_decisions.store_and_queue``: the interventions with their reasons and
advice, their messages in the outbox), so it commits with the batch's postings and features or
not at all, and a batch delivered again adds nothing twice. The advice quotes the plan terms
of the shipped overdue policy in the warning policy's currency.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Connection

from cardpilot.events.batch_features import TRIGGER_COLUMNS
from cardpilot.notify.compose import default_composer
from cardpilot.notify.warning_decisions import FIGURES, store_and_queue
from cardpilot.notify.warning_notices import AdviceTerms, intervention_rows
from cardpilot.store.warning_interventions import history_of, online_inputs
from cardpilot.stream.online_scores import OnlineScorer
from cardpilot.warning.policy import WarningPolicy
from cardpilot.warning.state import (
    facts_frame,
    with_store_facts,
    without_store_facts,
)
from cardpilot.warning.triggers import (
    FIRED_SCHEMA,
    HISTORY_SCHEMA,
    decide,
    holding_rules,
    holding_rules_of,
    reason_list,
)


def trigger_frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """The trigger rows of a batch (``AccountFeatures.trigger_row``) as one frame, in order."""
    return pl.DataFrame(
        {c: [r.get(c) for r in rows] for c in TRIGGER_COLUMNS}, schema=TRIGGER_COLUMNS
    )


def _candidates(frame: pl.DataFrame, policy: WarningPolicy) -> pl.DataFrame:
    """The rows of ``frame`` that can fire something, each numbered by its place among its
    account's (``_wave``).

    A row where no rule holds fires nothing. A row whose day, cycle and holding rules are
    those of the account's previous candidate decides nothing new either: what fired at the
    previous one is stored, and what the cool-downs or the cap held back then is held back
    again on the same day. Both are left out before ``decide``."""
    holding = holding_rules(frame, policy)
    marked = frame.with_columns(
        holding["rules"].list.join(",").alias("_rules"), holding["cycle_key"].alias("_cycle")
    ).filter(pl.col("_rules") != "")
    same = pl.all_horizontal(
        (pl.col(c) == pl.col(c).shift(1).over("account_id")).fill_null(False)
        for c in ("as_of", "_cycle", "_rules")
    )
    return (
        marked.filter(~same)
        .with_columns(pl.int_range(pl.len()).over("account_id").alias("_wave"))
        .drop("_rules", "_cycle")
    )


def fired_for_events(
    rows: pl.DataFrame | Sequence[dict[str, Any]],
    policy: WarningPolicy,
    history: Sequence[dict[str, Any]] | Callable[[list[str]], Sequence[dict[str, Any]]] = (),
    reasons: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """The interventions the rules give for ``rows`` (one per applied event, in order), each
    with the statement figures of the event that fired it (``FIRED_SCHEMA`` and ``FIGURES``):
    as if every event were decided on its own as of its day, against ``history``
    (``HISTORY_SCHEMA`` rows, or what gives them for some accounts: read only for the
    accounts where some rule holds) and what the events before it fired; one row per
    ``decision_ref`` (the first).

    Events are decided in waves, each holding at most one event of an account (its first
    candidate, then its second, …) and one day, so the order per account is kept while
    accounts are decided together. ``reasons`` gives the model's reasons of the events that
    fired (``OnlineScorer.reasons_for``), when the rows do not carry them."""
    if isinstance(rows, pl.DataFrame):
        frame = rows
    elif rows:
        frame = pl.DataFrame(list(rows), infer_schema_length=None)
    else:
        return pl.DataFrame(schema={**FIRED_SCHEMA, **_FIGURE_SCHEMA})
    frame = frame.with_row_index("_event").filter(pl.col("as_of").is_not_null())
    candidates = _candidates(frame, policy)
    if not candidates.height:
        return pl.DataFrame(schema={**FIRED_SCHEMA, **_FIGURE_SCHEMA})
    if callable(history):
        history = history(candidates.get_column("account_id").unique().sort().to_list())
    past = [pl.DataFrame(list(history), schema=HISTORY_SCHEMA)]
    parts = []
    groups = candidates.partition_by("_wave", "as_of", as_dict=True, maintain_order=True)
    # Waves in order (an account's candidates in its order), days within a wave in order.
    for (_, as_of), group in sorted(groups.items(), key=_wave_day):
        assert isinstance(as_of, dt.date)
        known = pl.concat(past, how="vertical_relaxed")
        fired = decide(group.drop("as_of", "_event", "_wave"), policy, as_of, known)
        if fired.height:
            figures = group.select("_event", *(c for c in FIGURES if c in group.columns))
            parts.append(fired.join(figures, on="account_id", how="left"))
            past.append(
                fired.select(
                    "account_id",
                    "rule",
                    "cycle_date",
                    pl.lit(as_of).alias("fired_on"),
                    "sends",
                ).cast(HISTORY_SCHEMA)  # type: ignore[arg-type]
            )
    if not parts:
        return pl.DataFrame(schema={**FIRED_SCHEMA, **_FIGURE_SCHEMA})
    out = pl.concat(parts, how="diagonal_relaxed").sort("_event", maintain_order=True)
    out = out.with_columns(
        pl.lit(None).cast(t).alias(c) for c, t in _FIGURE_SCHEMA.items() if c not in out.columns
    )
    out = out.unique("decision_ref", keep="first", maintain_order=True)
    if reasons is not None:
        out = _with_model_reasons(out, frame, reasons)
    return out.drop("_event")


# The columns of ``without_store_facts`` per columns of the trigger rows (a schema costs as
# much to resolve as the rules to run).
_BARE_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}


def holding_without_facts(frame: pl.DataFrame, policy: WarningPolicy) -> list[str]:
    """The accounts of ``frame`` (trigger rows) where some rule holds on some row when the
    store knows of the account only that it is open: no score, no limit increase. For every
    other account with neither, no rule holds on any row, so nothing can fire."""
    bare = without_store_facts(frame.lazy())
    names = _BARE_NAMES.get(tuple(frame.columns))
    if names is None:
        names = _BARE_NAMES[tuple(frame.columns)] = tuple(bare.collect_schema().names())
    holding = holding_rules_of(bare, policy, keep=("account_id",), names=names)
    hit = holding.filter(pl.col("rules").list.len() > 0).select(pl.col("account_id").unique())
    return sorted(hit.collect().get_column("account_id").to_list())


def _with_model_reasons(
    fired: pl.DataFrame,
    frame: pl.DataFrame,
    reasons: Callable[[pl.DataFrame], pl.DataFrame],
) -> pl.DataFrame:
    """``fired`` with the model's reasons after each rule's, worked out (``reasons``) for the
    events that fired, only: a GBM's contributions cost many times its prediction."""
    events = frame.join(fired.select("_event").unique(), on="_event", how="semi")
    model = reasons(events).select("_event", pl.col("reason_codes").alias("_model"))
    return (
        fired.join(model, on="_event", how="left", maintain_order="left")
        .with_columns(reason_list(pl.col("reason"), pl.col("_model")).alias("reason_codes"))
        .drop("_model")
    )


def _wave_day(item: tuple[tuple[object, ...], pl.DataFrame]) -> tuple[int, dt.date]:
    wave, day = item[0]
    assert isinstance(wave, int)
    assert isinstance(day, dt.date)
    return wave, day


_FIGURE_SCHEMA: dict[str, pl.DataType] = {
    c: TRIGGER_COLUMNS[c] for c in FIGURES if c != "account_id"
}


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
    rows: pl.DataFrame | Sequence[dict[str, Any]],
    policy: WarningPolicy | None,
    now: dt.datetime,
    scorer: OnlineScorer | None = None,
) -> pl.DataFrame:
    """The interventions due for the batch's events (``FIRED_SCHEMA``; ``rows`` the trigger
    rows, a frame or dicts), stored and queued in the caller's transaction (none without a
    warning policy); ``scorer``: the early-warning model's fresh scores for the rules (none:
    the stored run's)."""
    frame = rows if isinstance(rows, pl.DataFrame) else trigger_frame(rows)
    last = frame.get_column("as_of").max()
    if policy is None or last is None:
        return pl.DataFrame(schema=FIRED_SCHEMA)
    from cardpilot.config import get_settings

    assert isinstance(last, dt.date)
    zone = ZoneInfo(get_settings().timezone)
    accounts = sorted(frame.get_column("account_id").unique().to_list())
    if scorer is None:
        # Without a model only stored scores and increases make the rules differ from an
        # account's bare rows: the store is asked for the accounts with either, and for the
        # few where a rule holds on the rows alone (their status, customer and currency).
        also = holding_without_facts(frame, policy)
        stored = online_inputs(conn, accounts, last, zone, known_only=True, also=also)
        if not stored:
            return pl.DataFrame(schema=FIRED_SCHEMA)
    else:
        stored = online_inputs(conn, accounts, last, zone)
    known = with_store_facts(frame, facts_frame(stored))
    if scorer is not None:
        known = scorer.rescore(conn, known)
    reasons = scorer.reasons_for if scorer is not None else None

    def history(candidates: list[str]) -> list[dict[str, Any]]:
        return history_of(conn, candidates, last)

    fired = fired_for_events(known, policy, history, reasons)
    if fired.height:
        terms = advice_terms(policy)
        decided = intervention_rows(fired.to_dicts(), policy, terms)
        store_and_queue(conn, decided, policy, terms, default_composer(), now)
    return fired
