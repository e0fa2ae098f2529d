"""The FastAPI application: ``create_app(config)``, and ``app_from_env`` for uvicorn's workers.

The permission matrix must name exactly the application's routes, or the application does not
start (``PermissionMatrixError``): a route nobody thought about is never left open.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from cardpilot.policy.permissions import route_mismatch
from cardpilot.service import (
    routes_accounts,
    routes_events,
    routes_plans,
    routes_policies,
    routes_public,
    routes_warnings,
    routes_work,
)
from cardpilot.service.figures_response import FiguresResponse
from cardpilot.service.idempotency import IdempotentAnswers, install_replay_handler
from cardpilot.service.middleware import RequestContext
from cardpilot.service.problems import install_problem_handlers
from cardpilot.service.state import ServiceConfig, ServiceState
from cardpilot.version import __version__

API_VERSION = "v1"


class PermissionMatrixError(RuntimeError):
    """The matrix and the application name different routes."""


ROUTERS = (
    routes_public.router,
    routes_accounts.router,
    routes_work.router,
    routes_plans.router,
    routes_warnings.router,
    routes_events.router,
    routes_policies.router,
)


def declared_routes(routers: tuple[APIRouter, ...] = ROUTERS) -> list[str]:
    """Every ``METHOD /path`` the application serves, but its own documentation pages."""
    out: list[str] = []
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                out.extend(f"{m} {route.path}" for m in sorted(route.methods or ()))
    return out


def build_app() -> FastAPI:
    """The application without its state (for the OpenAPI document)."""
    app = FastAPI(
        title="cardpilot decision service",
        version=__version__,
        description="Credit-card limits and overdue accounts, one account at a time: the same"
        " decisions as the batch review, for the bank's other systems and staff"
        " (docs/service.md).",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        default_response_class=FiguresResponse,
    )
    for router in ROUTERS:
        app.include_router(router)
    install_problem_handlers(app)
    install_replay_handler(app)
    app.add_middleware(IdempotentAnswers)
    app.add_middleware(RequestContext)
    return app


def create_app(config: ServiceConfig, state: ServiceState | None = None) -> FastAPI:
    app = build_app()
    state = state or ServiceState.load(config)
    problems = route_mismatch(state.matrix, declared_routes())
    if problems:
        raise PermissionMatrixError("; ".join(problems))
    app.state.service = state
    state.warm()
    return app


def app_from_env() -> FastAPI:
    """uvicorn's factory in each worker: the configuration ``cardpilot serve`` put in the
    environment."""
    return create_app(ServiceConfig.from_env())
