"""Property-based tests from the served OpenAPI document (schemathesis) against the running
server with a seeded store, signed in as admin: no server error, and every response matches
the schema the document gives for it."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api_schema(service):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_url(f"{service.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_never_fails_and_answers_as_its_document_says(case, service):  # type: ignore[no-untyped-def]
    case.call_and_validate(headers=service.headers["admin"], checks=CHECKS)
