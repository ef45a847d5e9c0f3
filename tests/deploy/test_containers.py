"""The platform as its users run it: the images `make images` built, started as the chart's
rendered manifests say (tests/support/podman.py), one container per replica on a podman
network, with Redis, the MongoDB stand-in, the sample feeds and an nginx ingress routed as
the chart's Ingress. Every check goes from outside the containers: the chart's own probes
on each container's published port (as the kubelet makes them), everything else through
the ingress only. Run by `make test-containers` (after `make images`), in this order.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jobyard_devstack.net import free_port, wait_until
from jobyard_libs.feeds.parser import ItemFailure, iter_feed
from jobyard_libs.queue.liveness import WORKER_LOST

from tests.support.auth_service import ADMIN_EMAIL, ADMIN_PASSWORD, USER_PASSWORD, AuthService
from tests.support.podman import (
    ROOT,
    Container,
    Manifest,
    Pods,
    engine_answers,
    leftovers,
    named,
    of_kind,
    podman,
    render_chart,
)

VALUES = Path(__file__).parent / "values-containers.yaml"
FEEDS = ROOT / "tests" / "fixtures" / "feeds"
SAMPLES = ("jobicy.xml", "higheredjobs.xml", "atom.xml")
BASE = "localhost/bookworm-python:local"
SERVICES = ("auth", "api", "scheduler", "worker", "monitor", "console")
HEARTBEAT_S, SWEEP_S = 30.0, 5.0  # the chart's (and the code's) defaults: nothing shortened here


@dataclass
class Platform:
    pods: Pods
    url: str  # the ingress, on 127.0.0.1
    ready_after: dict[str, float]
    auth: AuthService

    def container(self, deployment: str, replica: int = 0) -> Container:
        return self.pods.containers[deployment][replica]

    def api(self, email: str) -> httpx.Client:
        password = ADMIN_PASSWORD if email == ADMIN_EMAIL else USER_PASSWORD
        headers = {"Authorization": f"Bearer {self.auth.token(email, password)}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def _signing_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _routes(manifests: list[Manifest], addresses: dict[str, str]) -> str:
    """nginx locations for the chart's Ingress paths (Prefix: the longest match wins), each to
    its Service's port; names resolve per request, as the pods come and go (under kube play,
    which has no Services, to the address of the Service's first pod)."""
    [ingress] = of_kind(manifests, "Ingress")
    blocks = []
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            service = named(manifests, "Service", backend["name"])
            [port] = [p for p in service["spec"]["ports"] if p.get("name") == backend["port"].get("name")]
            prefix = path["path"]
            location = "/" if prefix == "/" else f"^~ {prefix}"
            blocks.append(
                f"location {location} {{ set $upstream http://{addresses.get(backend['name'], backend['name'])}:{port['port']}; "
                "proxy_pass $upstream; }"
            )
    return "\n".join(blocks) + "\n"


@pytest.fixture(scope="module", params=["podman run", "kube play"])
def platform(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The platform from the chart's manifests, started by the harness's `podman run` of each
    pod spec, then by `podman kube play` of the Deployments themselves: every test runs on both."""
    if not engine_answers():
        pytest.fail(
            "no container engine answers: make test-containers sets podman up (tools/containers/setup.sh)"
        )
    images = [f"localhost/jobyard-{name}:dev" for name in (*SERVICES, "mongo", "redis", "proxy")]
    missing = [image for image in images if podman("image", "exists", image, check=False).returncode]
    if missing:
        pytest.fail(f"images missing ({', '.join(missing)}): make images builds them")
    work = tmp_path_factory.mktemp("containers")
    manifests = render_chart(VALUES)
    cluster_secrets = {
        "jobyard-secrets": {
            "mongodb-url": b"mongodb://mongo:27017/?directConnection=true",
            "redis-url": b"redis://redis:6379/0",
            "webhook-secret": secrets.token_urlsafe(36).encode(),
        },
        "jobyard-signing-keys": {"20261201T000000Z.pem": _signing_key()},
    }
    pods = Pods(manifests, cluster_secrets, work)
    network = pods.network
    try:
        pods.run_extra("jobyard-test-mongo", "localhost/jobyard-mongo:dev", aliases=["mongo"])
        pods.run_extra("jobyard-test-redis", "localhost/jobyard-redis:dev", aliases=["redis"])
        feeds = ["python3", "-m", "http.server", "8000", "--directory", "/srv"]
        pods.run_extra(
            "jobyard-test-feeds", BASE, *feeds, aliases=["feeds"], flags=["--volume", f"{FEEDS}:/srv:ro"]
        )
        if request.param == "kube play":
            pods.play_deployments()
        else:
            pods.start_deployments()
        routes = work / "routes.conf"
        routes.write_text(_routes(manifests, pods.service_addresses))
        port = free_port()
        pods.run_extra(
            "jobyard-test-ingress",
            "localhost/jobyard-proxy:dev",
            flags=["--volume", f"{routes}:/etc/nginx/routes.conf:ro", "--publish", f"127.0.0.1:{port}:8080"],
        )
        ready = pods.wait_ready()
        auth_pod = pods.containers["jobyard-auth"][0].name
        # what `kubectl exec deploy/jobyard-auth -- jobyard-auth bootstrap-admin` does
        admin = [f"JOBYARD_ADMIN_EMAIL={ADMIN_EMAIL}", f"JOBYARD_ADMIN_PASSWORD={ADMIN_PASSWORD}"]
        podman("exec", "--env", admin[0], "--env", admin[1], auth_pod, "jobyard-auth", "bootstrap-admin")
        yield Platform(pods, f"http://127.0.0.1:{port}", ready, AuthService(f"http://127.0.0.1:{port}"))
    finally:
        pods.close()
    # tear-down leaves no container and no network behind
    left = podman("ps", "--all", "--filter", f"network={network}", "--format", "{{.Names}}", check=False)
    assert not left.stdout.strip(), left.stdout
    assert network not in set(leftovers())


def test_every_service_is_ready_through_the_charts_probes_and_runs_as_it_should(
    platform: Platform, record_property: Callable[[str, object], None]
) -> None:
    deployments = of_kind(platform.pods.manifests, "Deployment")
    assert set(platform.pods.containers) == {d["metadata"]["name"] for d in deployments}
    for deployment in deployments:
        replicas = platform.pods.containers[deployment["metadata"]["name"]]
        assert len(replicas) == deployment["spec"].get("replicas", 1)
        assert all(replica.name in platform.ready_after for replica in replicas)
    for group in platform.pods.containers.values():
        for container in group:
            assert container.probe("liveness") == 200, container.name
            # never root, and nothing but the chart's user
            assert podman("exec", container.name, "id", "-u").stdout.strip() == "10001"
    record_property("seconds_to_ready", max(platform.ready_after.values()))
    # logs are JSON lines on stdout
    lines = [line for line in platform.container("jobyard-api").logs().splitlines() if line.startswith("{")]
    assert lines and all("event" in json.loads(line) for line in lines[:20])


def test_a_person_signs_up_runs_a_task_and_watches_it_live_through_the_ingress(platform: Platform) -> None:
    assert httpx.get(f"{platform.url}/sign-in", timeout=10).status_code == 200  # the console
    assert httpx.get(f"{platform.url}/.well-known/jwks.json", timeout=10).json()["keys"]
    email = "person@example.com"
    with platform.api(email) as api, api.stream("GET", "/api/v1/events", timeout=60) as events:
        assert events.status_code == 200
        lines = events.iter_lines()
        assert next(lines).startswith("retry:")
        created = api.post("/api/v1/tasks", json={"name": "hello", "kind": "noop"})
        assert created.status_code == 201, created.text
        seen: list[str] = []
        for line in lines:
            if line.startswith("data:"):
                seen.append(json.loads(line.removeprefix("data:"))["status"])
                if seen[-1] == "completed":
                    break
        assert seen[-1] == "completed"
        [execution] = api.get(f"/api/v1/tasks/{created.json()['id']}/executions").json()["items"]
        assert execution["status"] == "completed"


def _expected_postings() -> tuple[int, int]:
    """What the sample feeds hold, read by the same parser: (postings, items it refuses)."""
    postings = refused = 0
    for name in SAMPLES:
        with (FEEDS / name).open("rb") as feed:
            items = list(iter_feed(io.BytesIO(feed.read()), f"http://feeds:8000/{name}"))
        failures = sum(1 for item in items if isinstance(item, ItemFailure))
        refused, postings = refused + failures, postings + len(items) - failures
    return postings, refused


def test_the_hourly_import_runs_as_the_cronjob_runs_it(platform: Platform) -> None:
    [cronjob] = of_kind(platform.pods.manifests, "CronJob")
    template = cronjob["spec"]["jobTemplate"]["spec"]["template"]
    run = platform.pods.run_pod_spec(
        "jobyard-import-manual", template["spec"], template["metadata"]["labels"], restart="no", detach=False
    )
    assert not isinstance(run, Container)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["status"] == "ok" and summary["sources"] == len(SAMPLES)
    expected, refused = _expected_postings()
    assert expected > 0 and refused > 0  # the samples hold both
    with platform.api(ADMIN_EMAIL) as admin:

        def logs() -> list[dict[str, Any]]:
            return list(admin.get("/api/v1/imports", params={"limit": 50}).json()["items"])

        wait_until(
            lambda: len(logs()) == 3 and all(x["status"] == "completed" for x in logs()),
            timeout=120,
            what="imports done",
        )
        assert sum(x["newJobs"] for x in logs()) == expected
        assert sum(x["failedCount"] for x in logs()) == refused
        assert admin.get("/api/v1/jobs", params={"limit": 1}).json()["total"] == expected


def _executions(api: httpx.Client, tasks: list[str]) -> list[dict[str, Any]]:
    found = []
    for task_id in tasks:
        found += api.get(f"/api/v1/tasks/{task_id}/executions").json()["items"]
    return found


def _holders(platform: Platform) -> dict[str, Container]:
    """Each task worker's broker id (the `holder` of the attempts it takes), from its log."""
    found = {}
    for container in platform.pods.containers["jobyard-worker-tasks"]:
        for line in container.logs().splitlines():
            if line.startswith("{") and '"worker_beating"' in line:
                found[json.loads(line)["worker_id"]] = container
    return found


@pytest.mark.parametrize("platform", ["kube play"], indirect=True)  # once: the pods as the chart has them
def test_a_killed_worker_container_restarts_and_its_tasks_run_again_within_the_heartbeat_bound(
    platform: Platform, record_property: Callable[[str, object], None]
) -> None:
    """An OOM kill, played by SIGKILL to the container's main process: the container restarts
    under the same name (restart policy Always), and every task it ran — default timeout, or an
    hour — runs again within heartbeat timeout + sweep + 5 s, with the production defaults."""
    with platform.api("killed@example.com") as api:
        # long enough to be running at the kill; the dead worker's run again ~31 s later
        body: dict[str, Any] = {"kind": "sleep", "payload": {"seconds": 10}, "maxRetries": 2}
        hour = {"timeoutMs": 3_600_000}
        tasks = [
            api.post("/api/v1/tasks", json={"name": f"k{i}", **body, **(hour if i % 2 else {})}).json()["id"]
            for i in range(8)
        ]

        def running() -> list[dict[str, Any]]:
            return [e for e in _executions(api, tasks) if e["status"] == "processing"]

        wait_until(lambda: len(running()) >= 4, timeout=60, what="a worker's threads full")
        holders = _holders(platform)
        by_holder = Counter(e["holder"] for e in running())
        doomed_id = by_holder.most_common(1)[0][0]
        doomed = holders[doomed_id]
        on_doomed = {e["id"] for e in running() if e["holder"] == doomed_id}
        restarts_before = doomed.restarts()
        os.kill(doomed.host_pid(), signal.SIGKILL)
        killed = time.monotonic()

        def again() -> bool:
            return all(e["attempts"] == 2 for e in _executions(api, tasks) if e["id"] in on_doomed)

        wait_until(again, timeout=HEARTBEAT_S + SWEEP_S + 60, what="the dead worker's tasks to run again")
        running_again = time.monotonic() - killed
        assert doomed.restarts() > restarts_before  # the same container, restarted by its policy
        wait_until(lambda: doomed.probe("readiness") == 200, timeout=60, what="the restarted worker ready")
        wait_until(
            lambda: all(e["status"] == "completed" for e in _executions(api, tasks)),
            timeout=180,
            what="every task",
        )
        executions = _executions(api, tasks)
    assert len(executions) == len(tasks)  # exactly once: one execution per task, completed once
    for execution in executions:
        lost = execution["id"] in on_doomed
        assert execution["attempts"] == (2 if lost else 1), execution
        if lost:
            assert execution["attemptHistory"][0]["error"] == WORKER_LOST
    record_property("seconds_to_run_again", round(running_again, 1))
    assert running_again <= HEARTBEAT_S + SWEEP_S + 5, running_again


def test_a_stopped_worker_container_drains_its_tasks(platform: Platform) -> None:
    """`podman stop` sends SIGTERM, as a rollout does: in-flight tasks finish, none is retried."""
    stopping = platform.container("jobyard-worker-tasks", 1)
    with platform.api("drained@example.com") as api:
        body = {"kind": "sleep", "payload": {"seconds": 4}}
        tasks = [api.post("/api/v1/tasks", json={"name": f"d{i}", **body}).json()["id"] for i in range(8)]
        wait_until(
            lambda: sum(e["status"] == "processing" for e in _executions(api, tasks)) == 8,
            timeout=120,
            what="all running",
        )
        podman("stop", "--time", "60", stopping.name, timeout=90)
        wait_until(
            lambda: all(e["status"] == "completed" for e in _executions(api, tasks)),
            timeout=60,
            what="every task",
        )
        assert all(e["attempts"] == 1 for e in _executions(api, tasks))
    podman("start", stopping.name)
    wait_until(lambda: stopping.probe("readiness") == 200, timeout=120, what="the worker back")


def test_a_missing_dependency_fails_readiness_not_liveness(platform: Platform) -> None:
    api = platform.container("jobyard-api")
    podman("stop", "--time", "2", "jobyard-test-redis")
    try:
        wait_until(lambda: api.probe("readiness") == 503, timeout=60, what="api unready without Redis")
        assert api.probe("liveness") == 200  # Kubernetes must not restart it for its dependency
    finally:
        podman("start", "jobyard-test-redis")
    wait_until(lambda: api.probe("readiness") == 200, timeout=60, what="api ready again")


@pytest.mark.parametrize("service", [*SERVICES, "operator"])
def test_each_image_is_unprivileged_and_carries_no_build_tools(service: str) -> None:
    image = f"localhost/jobyard-{service}:dev"
    config = json.loads(podman("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    probe = (
        "for tool in gcc cc c++ make uv; do command -v $tool && exit 1; done; "
        "test ! -e /root/.cache && test ! -e /app/.venv/lib/python3.11/site-packages/pip && echo lean"
    )
    answer = podman(
        "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", image, "-c", probe, check=False
    )
    assert answer.stdout.strip() == "lean", answer.stdout + answer.stderr


def test_an_http_service_stops_cleanly_on_sigterm(platform: Platform) -> None:
    """A rollout's SIGTERM ends the console at once and with status 0: never the SIGKILL after
    the grace period (which `podman stop --time` plays)."""
    console = platform.container("jobyard-console")
    started = time.monotonic()
    podman("stop", "--time", "20", console.name, timeout=60)
    took = time.monotonic() - started
    exit_code = int(podman("inspect", "--format", "{{.State.ExitCode}}", console.name).stdout.strip())
    podman("start", console.name)
    assert exit_code == 0 and took < 15, (exit_code, took)
    wait_until(lambda: console.probe("readiness") == 200, timeout=60, what="the console back")
