"""The service's JSON response: every figure in the project's one convention."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from cardpilot.domain.figures import json_value


class FiguresResponse(JSONResponse):
    """JSON in the project's one convention for figures (``cardpilot.domain.figures``, as the
    CLI's ``--json``): money as decimal strings in major units beside a currency, rates as
    decimal strings, never floats."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(json_value(content), ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8")


class ConventionResponse(JSONResponse):
    """JSON of content built in the convention already (the account story, whose own test
    holds it there): sent as it is, without :class:`FiguresResponse`'s walk over every value,
    which costs more than the read on a busy route."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
