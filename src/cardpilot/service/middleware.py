"""Request ids and Prometheus metrics, as plain ASGI middleware (no per-request task).

Each request gets an id: the caller's ``X-Request-ID`` when it sends a sane one, else a new
one; the response carries it back and errors name it. Metrics count requests by route
template, method and status, and time them; with several workers they are collected across
processes (``PROMETHEUS_MULTIPROC_DIR``, set by ``cardpilot serve``).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")

REQUESTS = Counter("cardpilot_http_requests_total", "HTTP requests", ("method", "route", "status"))
LATENCY = Histogram(
    "cardpilot_http_request_seconds",
    "HTTP request time",
    ("method", "route"),
    buckets=(0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/accounts/{account_id}``), never the raw path
    (ids would make a metric series per account)."""
    route: Any = scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER)
        request_id = given.decode("ascii") if given and _SANE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode("ascii")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = route_template(scope)
            method = str(scope.get("method", ""))
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)
