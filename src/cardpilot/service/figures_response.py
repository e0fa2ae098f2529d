"""The service's JSON response: every figure in the project's one convention."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from cardpilot.domain.figures import BP_SUFFIX, MINOR_SUFFIX, json_value

_PLAIN = (str, int, bool, type(None))
_UNIT_SUFFIXES = (MINOR_SUFFIX, BP_SUFFIX)


def figures_value(value: Any, *, currency_known: bool = False) -> Any:
    """``json_value(value)``, equal to it for every value, cheaper on the answers the hot
    routes give: strings, integers, booleans and ``None`` (exactly those types, not a subclass
    such as an enum's) and objects with no unit-suffixed key are passed through or walked here;
    anything else (a float, a ``_minor`` key, a date…) is ``json_value``'s, with the currency
    known as it would be there."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        if not all(type(k) is str and not k.endswith(_UNIT_SUFFIXES) for k in value):
            return json_value(value, currency_known=currency_known)
        known = currency_known or "currency" in value
        return {k: figures_value(v, currency_known=known) for k, v in value.items()}
    if kind is list:
        return [figures_value(v, currency_known=currency_known) for v in value]
    return json_value(value, currency_known=currency_known)


class FiguresResponse(JSONResponse):
    """JSON in the project's one convention for figures (``cardpilot.domain.figures``, as the
    CLI's ``--json``): money as decimal strings in major units beside a currency, rates as
    decimal strings, never floats."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(figures_value(content), ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8")


class ConventionResponse(JSONResponse):
    """JSON of content built in the convention already (the account story, whose own test
    holds it there): sent as it is, without :class:`FiguresResponse`'s walk over every value,
    which costs more than the read on a busy route."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
