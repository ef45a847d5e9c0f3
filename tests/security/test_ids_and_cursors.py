"""Forged page cursors and malformed ids: a 422 naming the field, never a 5xx.

Every list route (each operation whose OpenAPI takes ``cursor``) and every route with an id
in its path, on auth and api, read from their OpenAPI so that a new route is covered the
day it appears, get cursors and ids Hypothesis makes up: random text, base64 of random
JSON (huge numbers, nested objects, ``{"o": ...}`` and ``{"d": ...}`` with garbage inside,
the wrong number of values) and well-formed cursors of another listing.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobyard_libs.listing import Cursor

from tests.support.stack import Stack

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$", re.IGNORECASE)
EXAMPLES = 40

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["o", "d", "x"]), inner, max_size=2)
    ),
    max_leaves=8,
)
typed = st.one_of(
    st.builds(lambda v: {"o": v}, st.text(max_size=30) | st.integers()),
    st.builds(lambda v: {"d": v}, st.text(max_size=40) | st.integers()),
    st.builds(lambda n: n, st.integers(min_value=2**63, max_value=2**80)),
)


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


cursors = st.one_of(
    st.text(max_size=80),
    st.builds(_b64, json_values),
    st.builds(_b64, st.lists(st.one_of(typed, json_values), min_size=0, max_size=6)),
    st.builds(lambda n: Cursor(tuple(range(n))).encode(), st.integers(min_value=1, max_value=4)),
)
ids = st.one_of(st.text(alphabet="0123456789abcdefABCDEFxyz-_.~", max_size=40), st.text(max_size=30))


def routes(schema: dict[str, Any]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """GET paths that take a cursor; (method, path, id parameter) of every path with an id."""
    listed, with_ids = [], []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = {p["name"]: p["in"] for p in operation.get("parameters", [])}
            if method == "get" and names.get("cursor") == "query" and "{" not in path:
                listed.append(path)
            with_ids += [
                (method, path, name)
                for name, where in names.items()
                if where == "path" and name.endswith("_id")
            ]
    return listed, with_ids


@pytest.mark.parametrize("service", ["auth", "api"])
def test_forged_cursors_and_malformed_ids_are_422s_naming_the_field(stack: Stack, service: str) -> None:
    base = stack.auth.url if service == "auth" else stack.api
    headers = stack.auth.admin_headers()
    with httpx.Client(base_url=base, timeout=30, headers=headers) as client:
        listed, with_ids = routes(client.get("/openapi.json").json())
        assert listed and with_ids

        @given(cursor=cursors)
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
        )
        def forged_cursor(cursor: str) -> None:
            for path in listed:
                answer = client.get(path, params={"cursor": cursor})
                assert answer.status_code in (200, 422), f"GET {path}?cursor={cursor!r}: {answer.status_code}"
                if answer.status_code == 422:
                    assert answer.json()["error"]["field"] == "cursor", answer.text

        @given(value=ids)
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
        )
        def malformed_id(value: str) -> None:
            for method, path, name in with_ids:
                url = path.replace("{" + name + "}", quote(value, safe="") or "%20")
                answer = client.request(method.upper(), url, json={})
                assert answer.status_code < 500, f"{method.upper()} {url}: {answer.status_code} {answer.text}"
                same_route = "/" not in value and value.strip(".")  # no other path, no dot segment
                if same_route and not OBJECT_ID.match(value):  # a malformed id
                    assert answer.status_code == 422, f"{method.upper()} {url}: {answer.status_code}"
                    assert answer.json()["error"]["field"] == name, answer.text

        forged_cursor()
        malformed_id()
