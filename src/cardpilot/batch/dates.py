"""The date a batch job runs as of, when the user names none."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from cardpilot.store.portfolio_facts import latest_cycle_date


class EmptyStoreError(ValueError):
    """The store holds no statements to run on."""


def default_as_of(db: Engine) -> dt.date:
    """The day after the latest statement cycle in the store."""
    latest = latest_cycle_date(db)
    if latest is None:
        raise EmptyStoreError("the store has no statements; import a portfolio first")
    return latest + dt.timedelta(days=1)
