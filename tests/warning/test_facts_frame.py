"""The store's facts per account as one frame: reasons kept as given (none, empty, several)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from cardpilot.warning.state import FACTS_SCHEMA, facts_frame


def test_facts_frame_keeps_missing_empty_and_listed_reasons_apart() -> None:
    base = {"customer_id": "C1", "currency": "CNY", "status": "active"}
    stored = {
        "A1": base,
        "A2": {**base, "score": 0.4, "reason_codes": [], "model_version": "m1"},
        "A3": {
            **base,
            "score": 0.9,
            "score_change": 0.1,
            "reason_codes": ["late_payment", "cash_advance"],
            "increased_on": dt.date(2025, 3, 1),
        },
    }
    frame = facts_frame(stored)
    assert frame.schema == pl.Schema(FACTS_SCHEMA)
    assert frame.get_column("account_id").to_list() == ["A1", "A2", "A3"]
    assert frame.get_column("reason_codes").to_list() == [
        None,
        [],
        ["late_payment", "cash_advance"],
    ]
    assert frame.get_column("facts_currency").to_list() == ["CNY"] * 3
    assert frame.get_column("increased_on").to_list() == [None, None, dt.date(2025, 3, 1)]


def test_facts_frame_of_no_accounts_is_empty_with_the_schema() -> None:
    frame = facts_frame({})
    assert frame.height == 0
    assert frame.schema == pl.Schema(FACTS_SCHEMA)
