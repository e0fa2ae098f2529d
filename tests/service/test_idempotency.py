"""``Idempotency-Key`` on the state-changing routes: a retry with the same key and request gets
the first answer again without a second effect, the same key with another request 422, a
failed request frees its key, keys are each caller's own, and the OpenAPI document declares
the header on the state-changing routes only."""

from __future__ import annotations

import uuid

import httpx
from service_support import Service

from cardpilot.service.idempotency import HEADER, REPLAYED_HEADER


def _open_case(service: Service, key: str, reason: str, role: str = "analyst") -> httpx.Response:
    return httpx.post(
        f"{service.url}/v1/cases",
        json={"account_id": service.account_id, "reason": reason},
        headers={**service.headers[role], HEADER: key},
        timeout=60,
    )


def _cases(service: Service) -> int:
    reply = httpx.get(f"{service.url}/v1/cases", headers=service.headers["admin"], timeout=60)
    return len(reply.json()["cases"])


def test_a_retry_with_the_same_key_gets_the_first_answer_and_acts_once(service):
    key = uuid.uuid4().hex
    before = _cases(service)
    first = _open_case(service, key, "please look again")
    again = _open_case(service, key, "please look again")

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers[REPLAYED_HEADER] == "true"
    assert REPLAYED_HEADER not in first.headers
    assert _cases(service) == before + 1


def test_the_same_key_with_another_request_is_refused_as_problem_json(service):
    key = uuid.uuid4().hex
    assert _open_case(service, key, "first reason").status_code == 201
    other = _open_case(service, key, "another reason")
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert HEADER in other.json()["detail"]


def test_a_failed_request_frees_its_key_for_the_retry(service):
    key = uuid.uuid4().hex
    missing = httpx.post(
        f"{service.url}/v1/cases",
        json={"account_id": "no-such-account", "reason": "why"},
        headers={**service.headers["analyst"], HEADER: key},
        timeout=60,
    )
    assert missing.status_code == 404
    assert _open_case(service, key, "the right account now").status_code == 201


def test_a_key_is_its_callers_own(service):
    key = uuid.uuid4().hex
    before = _cases(service)
    assert _open_case(service, key, "same words", role="analyst").status_code == 201
    theirs = _open_case(service, key, "same words", role="admin")
    assert theirs.status_code == 201
    assert REPLAYED_HEADER not in theirs.headers
    assert _cases(service) == before + 2


def test_the_openapi_document_declares_the_key_on_state_changing_routes_only(service):
    document = httpx.get(f"{service.url}/openapi.json", timeout=60).json()
    declaring = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if any(p["name"] == HEADER for p in operation.get("parameters", []))
    }
    assert declaring == {
        "POST /v1/accounts/{account_id}/decisions",
        "POST /v1/accounts/{account_id}/plans",
        "POST /v1/cases",
        "POST /v1/cases/{case_id}/decision",
        "POST /v1/events",
        "POST /v1/plans/{plan_id}/accept",
        "POST /v1/plans/{plan_id}/decline",
        "POST /v1/policies",
    }
