"""Tilt, skaffold and compose: evaluated or parsed here (no cluster, no Docker), and every
path, image target, resource and setting they name must exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import starlark as sl
import yaml
from jobyard_devstack.settings_doc import settings_docs

from tests.chart.conftest import VALUES, render

ROOT = Path(__file__).parents[2]
DOCKER_TARGETS = set(
    re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "deploy/Dockerfile").read_text(), re.MULTILINE)
)
SERVICES = {"auth", "api", "monitor", "console", "worker", "scheduler", "operator"}


class Tilt:
    """Tilt's builtins as stubs that record their calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def stub(self, name: str, returns: Any = None) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            return returns if returns is not None else name

        return record

    def called(self, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(a, k) for n, a, k in self.calls if n == name]

    def evaluate(self, path: Path) -> None:
        module = sl.Module()
        for name in ("allow_k8s_contexts", "k8s_yaml", "k8s_resource", "local_resource", "sync", "run"):
            module.add_callable(name, self.stub(name))
        module.add_callable("helm", self.stub("helm", returns="<rendered chart>"))

        def load(name: str) -> sl.FrozenModule:
            assert name == "ext://restart_process", name
            extension = sl.Module()
            extension.add_callable("docker_build_with_restart", self.stub("docker_build"))
            return extension.freeze()

        ast = sl.parse(path.name, path.read_text(), sl.Dialect.extended())  # as Tilt: top-level for and if
        sl.eval(module, ast, sl.Globals.standard(), sl.FileLoader(load))


def test_the_tiltfile_builds_every_service_and_deploys_the_dev_chart() -> None:
    tilt = Tilt()
    tilt.evaluate(ROOT / "Tiltfile")
    builds = tilt.called("docker_build")
    assert {k["target"] for _, k in builds} == SERVICES
    for args, kwargs in builds:
        assert args[0] == f"jobyard-{kwargs['target']}"
        assert kwargs["target"] in DOCKER_TARGETS
        assert (ROOT / kwargs["dockerfile"]).exists()
        assert all((ROOT / p).exists() for p in kwargs["only"])
    for (source, destination), _ in tilt.called("sync"):
        assert (ROOT / source).is_dir(), source
        assert destination.startswith("/app/.venv/lib/python3.11/site-packages/jobyard_")
    [(chart, options)] = tilt.called("helm")
    assert (ROOT / chart[0]).is_dir()
    assert all((ROOT / v).exists() for v in options["values"])
    # every resource Tilt names is a workload the chart renders with the dev values
    workloads = {
        d["metadata"]["name"] for d in render(VALUES["dev"]) if d["kind"] in {"Deployment", "StatefulSet"}
    }
    named = {args[0] for args, _ in tilt.called("k8s_resource")}
    assert named <= workloads, named - workloads
    assert {f"jobyard-{s}" for s in SERVICES - {"worker"}} <= named
    # and every image the chart runs with the dev values is one Tilt builds
    images = {
        c["image"].split(":")[0]
        for d in render(VALUES["dev"])
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert images <= {args[0] for args, _ in builds}


def test_skaffold_names_only_what_exists() -> None:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    artifacts = config["build"]["artifacts"]
    assert {a["docker"]["target"] for a in artifacts} == SERVICES
    for artifact in artifacts:
        assert artifact["image"] == f"jobyard-{artifact['docker']['target']}"
        assert artifact["docker"]["target"] in DOCKER_TARGETS
        assert (ROOT / artifact["docker"]["dockerfile"]).exists()
        for rule in artifact["sync"]["manual"]:
            assert list(ROOT.glob(rule["src"])), rule["src"]
    [release] = config["deploy"]["helm"]["releases"]
    assert (ROOT / release["chartPath"] / "Chart.yaml").exists()
    assert all((ROOT / v).exists() for v in release["valuesFiles"])


def test_compose_builds_real_targets_and_sets_real_settings() -> None:
    compose = yaml.safe_load((ROOT / "deploy/compose.yaml").read_text())
    known = {d.env for d in settings_docs()}
    built = {name: s["build"]["target"] for name, s in compose["services"].items() if "build" in s}
    assert set(built.values()) >= SERVICES - {"operator"}  # the operator needs Kubernetes
    assert set(built.values()) <= DOCKER_TARGETS
    for name, service in compose["services"].items():
        for env in service.get("environment", {}):
            assert not env.startswith("JOBYARD_") or env in known, f"{name}: {env} is not a setting"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / "deploy" / source).resolve().exists(), f"{name}: {source}"
