"""The service's own behaviour on a running server: the OpenAPI 3.1 document, versioned paths,
problem+json errors, request ids, health and readiness, metrics, sign-in and its failures."""

from __future__ import annotations

import datetime as dt

import httpx
import jwt
from service_support import PASSWORD, Service

from cardpilot.service.credentials import SigningKeys, issue_token


def test_the_openapi_document_is_served_as_openapi_3_1_with_versioned_paths(service):
    document = httpx.get(f"{service.url}/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    business = [p for p in document["paths"] if p not in ("/health", "/ready", "/metrics")]
    assert business
    assert all(p.startswith("/v1/") for p in business)
    assert "OAuth2PasswordBearer" in document["components"]["securitySchemes"]


def test_errors_are_problem_json_naming_the_request_id(service):
    reply = httpx.get(
        f"{service.url}/v1/accounts/no-such-account",
        headers={**service.headers["admin"], "X-Request-ID": "req-42"},
    )
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/problem+json"
    body = reply.json()
    assert body["status"] == 404
    assert body["request_id"] == "req-42"
    assert "no-such-account" in body["detail"]
    assert reply.headers["x-request-id"] == "req-42"


def test_a_request_without_an_id_gets_a_new_one(service):
    reply = httpx.get(f"{service.url}/health")
    assert len(reply.headers["x-request-id"]) == 32


def test_invalid_input_is_a_422_problem_naming_the_field(service):
    reply = httpx.post(
        f"{service.url}/v1/plans/quote",
        json={"principal": "12000", "months": 999},
        headers=service.headers["admin"],
    )
    assert reply.status_code == 422
    assert "months" in reply.json()["detail"]


def test_health_and_readiness_say_the_store_is_at_the_migrations_head(service):
    assert httpx.get(f"{service.url}/health").json() == {"status": "ok"}
    assert service.state.warmed.wait(30)  # the worker's start-up read of the store
    ready = httpx.get(f"{service.url}/ready").json()
    assert ready["status"] == "ready"
    assert ready["revision"] == ready["head"]


def test_metrics_count_requests_by_route_template(service):
    httpx.get(f"{service.url}/v1/accounts/{service.account_id}", headers=service.headers["agent"])
    text = httpx.get(f"{service.url}/metrics").text
    assert 'route="/v1/accounts/{account_id}"' in text
    assert "cardpilot_http_request_seconds_bucket" in text


def test_a_wrong_password_or_a_disabled_user_gets_no_token(service):
    from cardpilot.service.callers import disable_user

    wrong = httpx.post(
        f"{service.url}/v1/auth/token", data={"username": "analyst-1", "password": "nope-nope"}
    )
    assert wrong.status_code == 401
    from cardpilot.service.callers import create_user

    create_user(service.state.db, service.state.matrix, "leaver", PASSWORD, "analyst")
    disable_user(service.state.db, "leaver")
    gone = httpx.post(
        f"{service.url}/v1/auth/token", data={"username": "leaver", "password": PASSWORD}
    )
    assert gone.status_code == 401


def test_an_expired_token_or_one_from_an_unknown_key_is_refused(service):
    keys = service.state.signing_keys
    claims = {
        "sub": "admin-1",
        "role": "admin",
        "iss": "cardpilot",
        "exp": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
    }
    expired = jwt.encode(claims, keys.keys[keys.active], "HS256", headers={"kid": keys.active})
    reply = httpx.get(f"{service.url}/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert reply.status_code == 401
    assert "expired" in reply.json()["detail"]
    stranger = SigningKeys.parse("other:" + "x" * 40, None)
    forged, _ = issue_token(stranger, "admin-1", "admin", 5)
    reply = httpx.get(f"{service.url}/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert reply.status_code == 401


def test_a_token_signed_by_a_rotated_out_key_still_verifies_while_the_key_is_in_the_ring():
    old = SigningKeys.parse("k1:" + "a" * 40, None)
    ring = SigningKeys.parse("k1:" + "a" * 40 + ",k2:" + "b" * 40, "k2")
    from cardpilot.service.credentials import verify_token

    token, _ = issue_token(old, "admin-1", "admin", 5)
    assert verify_token(ring, token).subject == "admin-1"
    assert jwt.get_unverified_header(issue_token(ring, "x", "admin", 5)[0])["kid"] == "k2"


def test_a_revoked_api_key_is_refused(service):
    from cardpilot.service.callers import create_key, revoke_key

    row, key = create_key(service.state.db, service.state.matrix, "old-app", "system")
    assert httpx.get(f"{service.url}/v1/me", headers={"X-API-Key": key}).status_code == 200
    revoke_key(service.state.db, row.key_id)
    service.state.cache.entries.clear()  # what a worker trusts for 30 s
    assert httpx.get(f"{service.url}/v1/me", headers={"X-API-Key": key}).status_code == 401
    assert httpx.get(f"{service.url}/v1/me", headers={"X-API-Key": key + "x"}).status_code == 401


def test_me_names_the_caller_and_role(service: Service):
    reply = httpx.get(f"{service.url}/v1/me", headers=service.headers["system"]).json()
    assert reply["role"] == "system"
    assert reply["actor"].startswith("key:")
