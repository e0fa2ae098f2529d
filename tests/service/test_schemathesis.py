"""Property-based tests from the served OpenAPI document (schemathesis) against the running
server with a seeded store, signed in as admin: for every operation, valid and invalid requests
generated from the document get no server error, and every response has a documented status,
content type and a body matching its schema.

The operations are walked here with schemathesis' strategies under Hypothesis directly (its
pytest plugin does not load under the project's pytest)."""

from __future__ import annotations

import pytest
from service_support import Service

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 30


def _operations(service: Service) -> list:  # type: ignore[type-arg]
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def _exercise(operation, mode: GenerationMode, service: Service) -> None:  # type: ignore[no-untyped-def]
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def run(case) -> None:  # type: ignore[no-untyped-def]
        case.call_and_validate(
            base_url=service.url, headers=service.headers["admin"], checks=CHECKS
        )

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_never_fails_and_answers_as_its_document_says(service, mode):
    operations = _operations(service)
    assert len(operations) >= 20
    failures = []
    for operation in operations:
        try:
            _exercise(operation, mode, service)
        except Unsatisfiable:  # nothing to get wrong: an operation without inputs
            assert mode is GenerationMode.NEGATIVE
        except Exception as exc:  # collect every operation's first failure, then report
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    assert not failures, "\n\n".join(failures)
