"""Policies and accounts in one currency: the engines never convert."""

from __future__ import annotations

from sqlalchemy import Engine

from cardpilot.policy.catalogue import LIMITS, currency_hint
from cardpilot.store.portfolio_facts import other_currencies


def require_currency(
    db: Engine,
    currency: str,
    *,
    error: type[Exception],
    amounts: str,
    fix: str,
    kind: str = LIMITS,
) -> None:
    """Raise ``error`` when the store holds accounts in a currency other than ``currency``.

    ``amounts``: whose amounts are in ``currency`` (``"the policy's amounts"``); ``fix``: what
    to do instead, a sentence; the message then names the policy (``kind``: its file, limits.yaml
    or overdue.yaml) in the accounts' currency, when there is one.
    """
    other = other_currencies(db, currency)
    if other:
        raise error(
            f"the store holds accounts in {', '.join(other)} but {amounts} are in {currency};"
            f" the engine does not convert currencies. {fix} {currency_hint(other[0], kind)}"
        )
