"""The permission matrix walked on a running server: every route of permissions.yaml × every
role answers 2xx when the matrix allows the role and 403 when it does not, and 401 without
credentials; the matrix names exactly the application's routes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from routes_support import ANSWER_ON, OFFER_ON, offered_plans
from service_support import ROLES, Service

from cardpilot.policy.catalogue import shipped_dir
from cardpilot.policy.permissions import PUBLIC, load_permissions
from cardpilot.service.app import declared_routes


def _open_case(service: Service) -> int:
    reply = httpx.post(
        f"{service.url}/v1/cases",
        json={"account_id": service.account_id, "reason": "customer asked"},
        headers=service.headers["admin"],
    )
    assert reply.status_code == 201, reply.text
    return int(reply.json()["id"])


_DEFAULT_FILES = {
    f: (shipped_dir() / "default" / f).read_text(encoding="utf-8")
    for f in ("limits.yaml", "reasons.yaml")
}
_PLANS: dict[str, list[str]] = {}


def _plan(service: Service, which: int) -> str:
    """Plans offered in the seeded store: 0 is read and offered again, 1 accepted, 2 declined."""
    if service.url not in _PLANS:
        _PLANS[service.url] = offered_plans(service.database_url, service.state.db, 3)  # type: ignore[attr-defined]
    return _PLANS[service.url][which]


def _event(service: Service) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": f"walk-{uuid.uuid4().hex}",
        "account_id": service.account_id,
        "sequence": 1,
        "occurred_at": "2026-11-02T10:00:00+08:00",
        "type": "purchase",
        "amount_minor": 12_000,
        "currency": "CNY",
    }


def _request(service: Service, route: str) -> tuple[str, str, dict[str, Any]]:
    """A valid call of ``route`` (``METHOD /template``) against the seeded store."""
    method, template = route.split(" ", 1)
    values = {
        "account_id": service.account_id,
        "run_id": str(service.run_id),
        "name": "default",
        "other": "uci-twd",
    }
    kwargs: dict[str, Any] = {}
    if template == "/v1/cases/{case_id}/decision":
        values["case_id"] = str(_open_case(service))
        kwargs["json"] = {"outcome": "uphold", "reason": "checked the statements"}
    elif template == "/v1/cases":
        kwargs["json"] = {"account_id": service.account_id, "reason": "please look again"}
    elif template == "/v1/plans/quote":
        kwargs["json"] = {"principal": "12000", "months": 6}
    elif template == "/v1/accounts/{account_id}/plans":
        values["account_id"] = _plan(service, 0).split("-")[1]
        kwargs["json"] = {"months": 6, "on": OFFER_ON.isoformat()}
    elif template == "/v1/plans/{plan_id}":
        values["plan_id"] = _plan(service, 0)
    elif template in ("/v1/plans/{plan_id}/accept", "/v1/plans/{plan_id}/decline"):
        values["plan_id"] = _plan(service, 1 if template.endswith("accept") else 2)
        kwargs["json"] = {"on": ANSWER_ON.isoformat()}
    elif template == "/v1/policies" and method == "POST":
        kwargs["json"] = {"name": f"walk-{uuid.uuid4().hex[:12]}", "files": _DEFAULT_FILES}
    elif template == "/v1/events":
        kwargs["json"] = {"events": [_event(service)]}
    elif template == "/v1/auth/token":
        kwargs["data"] = {"username": "admin-1", "password": "correct horse battery"}
    path = template.format(**values) if "{" in template else template
    return method, path, kwargs


MATRIX = load_permissions()
PROTECTED = sorted(r for r, allowed in MATRIX.routes.items() if allowed != PUBLIC)


def test_the_matrix_names_every_route_of_the_application_and_no_other():
    assert sorted(MATRIX.routes) == sorted(declared_routes())


@pytest.mark.parametrize("route", PROTECTED)
def test_every_role_gets_2xx_where_the_matrix_allows_it_and_403_elsewhere(service, route):
    for role in ROLES:
        method, path, kwargs = _request(service, route)
        reply = httpx.request(
            method, f"{service.url}{path}", headers=service.headers[role], timeout=60, **kwargs
        )
        if MATRIX.allows(route, role):
            assert 200 <= reply.status_code < 300, (route, role, reply.text)
        else:
            assert reply.status_code == 403, (route, role, reply.text)
            assert reply.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("route", PROTECTED)
def test_every_protected_route_answers_401_without_credentials(service, route):
    method, path, kwargs = _request(service, route)
    reply = httpx.request(method, f"{service.url}{path}", timeout=60, **kwargs)
    assert reply.status_code == 401, (route, reply.text)
    assert reply.json()["status"] == 401
    assert "WWW-Authenticate" in reply.headers


@pytest.mark.parametrize("route", sorted(r for r, a in MATRIX.routes.items() if a == PUBLIC))
def test_public_routes_answer_without_credentials(service, route):
    method, path, kwargs = _request(service, route)
    reply = httpx.request(method, f"{service.url}{path}", timeout=60, **kwargs)
    assert 200 <= reply.status_code < 300, (route, reply.text)
