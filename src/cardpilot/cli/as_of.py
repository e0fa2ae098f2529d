"""The one ``--as-of`` rule, for every command that takes one.

- **Parsing.** ``--as-of DATE`` is an ISO date, ``YYYY-MM-DD``. Anything else ends the command
  before it does any work, in one line: ``error: --as-of '2005/10/01': give a date as
  YYYY-MM-DD``. The root group checks it (``conventions.apply`` sets ``check_as_of`` on every
  ``--as-of`` in the tree), so a new command gets the same parsing without doing anything.
- **Default.** Without ``--as-of`` a command works as of **the day after the latest statement
  cycle in the store** (``batch.dates.default_as_of``): the day a review, a treatment, a report
  of the newest data would run. ``assign``, which reads no store, works as of today in the
  issuer's time zone (``CARDPILOT_TIMEZONE``).

``conventions.apply`` ends every ``--as-of`` help with ``AS_OF_DEFAULT``; a command's own help
says only what the date means to it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from cardpilot.cli.output import fail

AS_OF_DEFAULT = "YYYY-MM-DD; default: the day after the latest statement cycle in the store."
AS_OF_TODAY = "YYYY-MM-DD; default: today in the issuer's time zone (CARDPILOT_TIMEZONE)."
# The commands that read no store, and so default to today.
TODAY_COMMANDS = frozenset(
    {
        ("assign",),
        ("apply",),
        ("request", "increase"),
        ("request", "expire"),
        ("limits", "apply-pending"),
    }
)


def as_of_help(own: str | None, path: tuple[str, ...]) -> str:
    """A command's ``--as-of`` help (what the date means to it, already in the locale) ended
    by the rule, in the locale."""
    from cardpilot.cli.i18n import tr

    rule = tr(AS_OF_TODAY if path in TODAY_COMMANDS else AS_OF_DEFAULT)
    own = (own or "").strip().rstrip(".。") or tr("The date to work as of")
    return tr("{own}, {rule}").format(own=own, rule=rule)


def parse_as_of(value: str | None) -> dt.date | None:
    """``--as-of`` as a date (``None`` when not given); one ``error:`` line when not a date."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise fail(f"--as-of {value!r}: give a date as YYYY-MM-DD") from None


def check_as_of(ctx: Any, param: Any, value: Any) -> Any:
    """The click callback every ``--as-of`` gets: refuse a bad date before the command runs."""
    if isinstance(value, str):
        parse_as_of(value)
    return value


def as_of_or_default(value: str | None, db: Engine) -> dt.date:
    """``--as-of``, or the day after the latest statement cycle in the store at ``db``."""
    from cardpilot.batch.dates import EmptyStoreError, default_as_of

    given = parse_as_of(value)
    if given is not None:
        return given
    try:
        return default_as_of(db)
    except EmptyStoreError as exc:
        raise fail(f"{exc} (or give --as-of)") from None


def as_of_for_url(value: str | None, url: str) -> dt.date:
    """``as_of_or_default`` for a command that hands its job the store's URL."""
    from cardpilot.store.db import make_engine

    given = parse_as_of(value)
    if given is not None:
        return given
    db = make_engine(url)
    try:
        return as_of_or_default(None, db)
    finally:
        db.dispose()


def as_of_or_today(value: str | None) -> dt.date:
    """``--as-of``, or today in the issuer's time zone: for commands that read no store."""
    from cardpilot.config import get_settings

    given = parse_as_of(value)
    return given or dt.datetime.now(ZoneInfo(get_settings().timezone)).date()
