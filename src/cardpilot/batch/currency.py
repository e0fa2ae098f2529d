"""Policies and accounts in one currency: the engines never convert."""

from __future__ import annotations

from sqlalchemy import Engine

from cardpilot.store.portfolio_facts import other_currencies

UCI_HINT = "e.g. --policy src/cardpilot/policies/uci-twd for the UCI data (NT$)"


def require_currency(
    db: Engine, currency: str, *, error: type[Exception], amounts: str, fix: str
) -> None:
    """Raise ``error`` when the store holds accounts in a currency other than ``currency``.

    ``amounts``: whose amounts are in ``currency`` (``"the policy's amounts"``); ``fix``: what
    to do instead, a sentence.
    """
    other = other_currencies(db, currency)
    if other:
        raise error(
            f"the store holds accounts in {', '.join(other)} but {amounts} are in {currency};"
            f" the engine does not convert currencies. {fix}"
        )
