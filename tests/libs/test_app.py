from __future__ import annotations

import httpx
from jobyard_devstack.net import free_port
from jobyard_libs.settings import HttpServiceSettings
from prometheus_client import REGISTRY

from tests.libs.conftest import demo_app
from tests.support.asgi import client_for


async def test_request_id_is_honoured_and_echoed(demo_client: httpx.AsyncClient) -> None:
    response = await demo_client.get("/widgets/1", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await demo_client.get("/widgets/1")
    assert len(generated.headers["x-request-id"]) == 32
    hostile = await demo_client.get("/widgets/1", headers={"X-Request-ID": "x" * 500})
    assert hostile.headers["x-request-id"] != "x" * 500


async def test_validation_error_names_the_field(demo_client: httpx.AsyncClient) -> None:
    response = await demo_client.post("/widgets", json={"name": "ok", "size": 0})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"] == "size"
    assert error["message"].startswith("size:")


async def test_malformed_json_is_422(demo_client: httpx.AsyncClient) -> None:
    response = await demo_client.post(
        "/widgets", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_domain_error_shape(demo_client: httpx.AsyncClient) -> None:
    response = await demo_client.post("/widgets", json={"name": "taken", "size": 1})
    assert response.status_code == 409
    assert response.json() == {"error": {"code": "conflict", "message": "widget exists", "field": "name"}}


async def test_unexpected_error_hides_the_stack(demo_client: httpx.AsyncClient) -> None:
    response = await demo_client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "internal server error", "field": None}
    }
    assert "passwd" not in response.text and "Traceback" not in response.text


async def test_unknown_path_is_404_in_the_error_shape(demo_client: httpx.AsyncClient) -> None:
    response = await demo_client.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_readyz_ok(demo_client: httpx.AsyncClient) -> None:
    assert (await demo_client.get("/healthz")).json() == {"status": "ok"}
    ready = await demo_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"mongodb": "ok", "redis": "ok"}}


async def test_readyz_names_what_failed(demo_settings: HttpServiceSettings) -> None:
    broken = demo_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with client_for(demo_app(broken)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["mongodb"] == "ok"
    assert checks["redis"].startswith("error: ")


async def test_metrics_use_route_templates_not_raw_paths(demo_client: httpx.AsyncClient) -> None:
    def count(route: str, status: str) -> float:
        value = REGISTRY.get_sample_value(
            "jobyard_http_requests_total",
            {"service": "demo", "method": "GET", "route": route, "status": status},
        )
        return value or 0.0

    before = count("/widgets/{widget_id}", "200")
    await demo_client.get("/widgets/65f0aa")
    await demo_client.get("/widgets/65f0bb")
    await demo_client.get("/no/such/path")
    assert count("/widgets/{widget_id}", "200") == before + 2
    assert count("<unmatched>", "404") >= 1
    exposition = (await demo_client.get("/metrics")).text
    assert "65f0aa" not in exposition
    assert 'route="/widgets/{widget_id}"' in exposition
