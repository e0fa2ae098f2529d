"""Request values the service bounds before they reach the domain: days within the calendar the
store and the date arithmetic handle, free texts without control characters."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator

FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2199, 12, 31)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _in_calendar(day: dt.date) -> dt.date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"use a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def _plain_text(text: str) -> str:
    if _CONTROL.search(text):
        raise ValueError("control characters are not allowed")
    if not text.strip():
        raise ValueError("must not be blank")
    return text


Day = Annotated[dt.date, AfterValidator(_in_calendar)]
PlainText = Annotated[str, AfterValidator(_plain_text)]
