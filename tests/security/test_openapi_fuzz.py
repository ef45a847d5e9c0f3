"""schemathesis over the OpenAPI of auth, api and monitor, against the real services:
generated requests never get a 5xx, and every answer matches the schema (status declared,
body shape, content type).

The operations are driven with Hypothesis directly (schemathesis' lazy pytest loader does
not run under pytest 9); every failing operation is reported, not only the first.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.stack import Stack

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 8  # per operation: bounded, so the suite stays fast
STREAMS = {"/api/v1/events"}  # endless streams: exercised by their own tests


def fuzz(schema_url: str, headers: dict[str, str]) -> list[str]:
    """Every operation's failures, as lines; empty when all held."""
    schema = schemathesis.openapi.from_url(schema_url)
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises here, which is what we want
        if operation.path in STREAMS:
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
        )
        def run(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

        try:
            run()
        except Exception as failure:  # one line per failing operation, all of them
            failures.append(f"{operation.method.upper()} {operation.path}: {str(failure)[:2000]}")
    assert operations >= 3, f"no operations found in {schema_url}"
    return failures


@pytest.fixture(scope="module")
def admin(stack: Stack) -> dict[str, str]:
    return stack.auth.admin_headers()


def test_auth_answers_every_generated_request_within_its_schema(stack: Stack, admin: dict[str, str]) -> None:
    failures = fuzz(f"{stack.auth.url}/openapi.json", admin)
    assert not failures, "\n\n".join(failures)


def test_api_answers_every_generated_request_within_its_schema(stack: Stack, admin: dict[str, str]) -> None:
    failures = fuzz(f"{stack.api}/openapi.json", admin)
    assert not failures, "\n\n".join(failures)


def test_monitor_answers_every_generated_request_within_its_schema(
    stack: Stack, admin: dict[str, str]
) -> None:
    assert stack.monitor is not None
    failures = fuzz(f"{stack.monitor}/openapi.json", admin)
    assert not failures, "\n\n".join(failures)
