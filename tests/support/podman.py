"""The chart's rendered manifests run as podman containers: a small kubelet for the tests.

Each Deployment of ``helm template`` becomes ``replicas`` containers started exactly as its
pod spec says: the image, ``args`` after the image's entrypoint, every ``env`` entry (values,
Secret keys, optional ones left out when absent), Secret volumes as read-only files, each
``emptyDir`` as a tmpfs, the user and group of its security context, a read-only root file
system, every capability dropped, and ``restartPolicy: Always``. Each Service's name is a
network alias of the containers it selects, so the names the chart wires together resolve
as cluster DNS would. Probes are the chart's own ``httpGet`` paths and ports, reached from the
host through a port published on 127.0.0.1 (as the kubelet reaches a pod from outside it).

What a kubelet does that this does not: scheduling, resource limits (podman here has no real
cgroup limits), probes acting on their own (the tests call them), and CronJobs (a test runs
the CronJob's pod spec once, as a one-off container).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from jobyard_devstack.net import free_port

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / ".tools" / "helm"
CONF = Path(os.environ.get("JOBYARD_CONTAINERS_CONF", ROOT / ".tools" / "containers" / "containers.conf"))
Manifest = dict[str, Any]


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args],
        env={**os.environ, "CONTAINERS_CONF": str(CONF)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)}: {result.stderr.strip()[-2000:]}")
    return result


def engine_answers() -> bool:
    try:
        return (
            podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False, timeout=30).returncode == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def render_chart(values: Path, *, release: str = "jobyard", namespace: str = "jobyard") -> list[Manifest]:
    rendered = subprocess.run(
        [
            str(HELM),
            "template",
            release,
            str(ROOT / "charts" / "jobyard"),
            "-f",
            str(values),
            "-n",
            namespace,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def of_kind(manifests: Iterable[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m.get("kind") == kind]


def named(manifests: Iterable[Manifest], kind: str, name: str) -> Manifest:
    [found] = [m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name]
    return found


def probes_of(spec: Manifest) -> dict[str, tuple[str, int]]:
    """A container's ``httpGet`` probes: liveness/readiness → (path, container port)."""
    named_ports = {p.get("name"): p["containerPort"] for p in spec.get("ports", [])}
    probes = {}
    for which in ("livenessProbe", "readinessProbe"):
        if which in spec:
            get = spec[which]["httpGet"]
            probes[which.removesuffix("Probe")] = (
                get["path"],
                int(named_ports.get(get["port"], get["port"])),
            )
    return probes


@dataclass
class Container:
    """One replica of a Deployment, as podman runs it."""

    name: str
    ports: dict[int, int]  # container port → the host port on 127.0.0.1
    probes: dict[str, tuple[str, int]]  # liveness/readiness → (path, container port)

    def probe(self, which: str) -> int | None:
        """The chart's probe, as the kubelet makes it: the HTTP status, None when refused."""
        path, port = self.probes[which]
        try:
            return httpx.get(f"http://127.0.0.1:{self.ports[port]}{path}", timeout=3).status_code
        except httpx.HTTPError:
            return None

    def host_pid(self) -> int:
        return int(podman("inspect", "--format", "{{.State.Pid}}", self.name).stdout.strip())

    def restarts(self) -> int:
        return int(podman("inspect", "--format", "{{.RestartCount}}", self.name).stdout.strip() or 0)

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr


@dataclass
class Pods:
    """The platform's containers on one podman network; ``close`` leaves nothing behind."""

    manifests: list[Manifest]
    secrets: dict[str, dict[str, bytes]]  # Secret name → key → value (the cluster's Secrets)
    workdir: Path
    network: str = field(default_factory=lambda: f"jobyard-test-{uuid.uuid4().hex[:8]}")
    containers: dict[str, list[Container]] = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)  # containers not of the chart (databases, proxy)
    played: Path | None = None  # the manifests `podman kube play` ran, if it ran them
    podman_secrets: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)  # named volumes kube play made of Secrets
    service_addresses: dict[str, str] = field(default_factory=dict)  # kube play: no DNS for Services

    def __post_init__(self) -> None:
        for secret in of_kind(self.manifests, "Secret"):  # what the chart makes itself
            data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
            data |= {k: v.encode() for k, v in (secret.get("stringData") or {}).items()}
            self.secrets.setdefault(secret["metadata"]["name"], data)
        self.subnet = f"10.89.{secrets.randbelow(200) + 20}"
        podman("network", "create", "--subnet", f"{self.subnet}.0/24", self.network)

    # -- pod specs --------------------------------------------------------------------------------

    def aliases(self, labels: dict[str, str]) -> list[str]:
        """The Services that select pods with ``labels``: their names resolve to these pods."""
        return [
            service["metadata"]["name"]
            for service in of_kind(self.manifests, "Service")
            if (selector := service["spec"].get("selector"))
            and all(labels.get(k) == v for k, v in selector.items())
        ]

    def _env(self, spec: Manifest) -> list[str]:
        flags = []
        for entry in spec.get("env", []):
            if "value" in entry:
                flags += ["--env", f"{entry['name']}={entry['value']}"]
                continue
            ref = entry["valueFrom"]["secretKeyRef"]
            value = self.secrets.get(ref["name"], {}).get(ref["key"])
            if value is None:
                if ref.get("optional"):
                    continue
                raise KeyError(f"{entry['name']}: Secret {ref['name']} has no key {ref['key']}")
            flags += ["--env", f"{entry['name']}={value.decode()}"]
        return flags

    def _volumes(self, pod: Manifest, spec: Manifest, name: str) -> list[str]:
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        flags = []
        for mount in spec.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            if "emptyDir" in volume:
                flags += ["--tmpfs", f"{mount['mountPath']}:rw,mode=1777"]
            elif "secret" in volume:
                folder = self.workdir / name / mount["name"]
                folder.mkdir(parents=True, exist_ok=True)
                for key, value in self.secrets[volume["secret"]["secretName"]].items():
                    (folder / key).write_bytes(value)
                    (folder / key).chmod(0o644)
                flags += ["--volume", f"{folder}:{mount['mountPath']}:ro,Z"]
            else:
                raise ValueError(f"{name}: volume {mount['name']} of an unsupported type")
        return flags

    def _security(self, pod: Manifest, spec: Manifest) -> list[str]:
        pod_context, context = pod.get("securityContext", {}), spec.get("securityContext", {})
        user = context.get("runAsUser", pod_context.get("runAsUser"))
        group = context.get("runAsGroup", pod_context.get("runAsGroup"))
        flags = ["--user", f"{user}:{group}"] if user is not None else []
        if context.get("readOnlyRootFilesystem"):
            flags.append("--read-only")
        if "ALL" in context.get("capabilities", {}).get("drop", []):
            flags += ["--cap-drop", "ALL"]
        if context.get("allowPrivilegeEscalation") is False:
            flags += ["--security-opt", "no-new-privileges"]
        return flags

    def run_pod_spec(
        self,
        name: str,
        pod: Manifest,
        labels: dict[str, str],
        *,
        restart: str = "always",
        detach: bool = True,
        extra_env: dict[str, str] | None = None,
    ) -> Container | subprocess.CompletedProcess[str]:
        [spec] = pod["containers"]
        ports = {p["containerPort"]: free_port() for p in spec.get("ports", [])}
        probes = probes_of(spec)
        flags = ["--name", name, "--hostname", name, "--network", self.network, "--restart", restart]
        for alias in self.aliases(labels):
            flags += ["--network-alias", alias]
        for container_port, host_port in ports.items():
            flags += ["--publish", f"127.0.0.1:{host_port}:{container_port}"]
        flags += self._env(spec) + self._volumes(pod, spec, name) + self._security(pod, spec)
        for key, value in (extra_env or {}).items():
            flags += ["--env", f"{key}={value}"]
        image = spec["image"]
        if not detach:
            return podman("run", "--rm", *flags, image, *spec.get("args", []), check=False, timeout=600)
        podman("run", "--detach", "--stop-timeout", "60", *flags, image, *spec.get("args", []))
        return Container(name, ports, probes)

    def start_deployments(self, names: Iterable[str] | None = None) -> None:
        for deployment in of_kind(self.manifests, "Deployment"):
            name = deployment["metadata"]["name"]
            if names is not None and name not in names:
                continue
            template = deployment["spec"]["template"]
            for replica in range(deployment["spec"].get("replicas", 1)):
                started = self.run_pod_spec(
                    f"{name}-{replica}", template["spec"], template["metadata"]["labels"]
                )
                assert isinstance(started, Container)
                self.containers.setdefault(name, []).append(started)

    def run_extra(
        self, name: str, image: str, *args: str, aliases: Iterable[str] = (), flags: Iterable[str] = ()
    ) -> None:
        """A container that is not the chart's (a database, the ingress, the feeds)."""
        alias_flags = [f for alias in aliases for f in ("--network-alias", alias)]
        network = ["--name", name, "--hostname", name, "--network", self.network, *alias_flags]
        podman("run", "--detach", *network, *flags, image, *args)
        self.extra.append(name)

    def play_deployments(self) -> None:
        """The same Deployments through `podman kube play`, with what podman 4.3 needs said:

        - Secrets become podman secrets (kube play reads one used by ``env`` as a JSON map of
          base64 values; one mounted as a volume as a Secret document whose ``data`` it writes
          to the files as given, without decoding: so the values go in plain), and the named
          volume it makes of a mounted Secret is removed with the rest;
        - each secret volume says ``optional: false`` (4.3 dereferences it unset);
        - each ``containerPort`` gets ``hostIP: 127.0.0.1`` and a free ``hostPort`` (4.3
          publishes every container port on the host's every address otherwise);
        - kube play has no Services: each pod gets a static address (``--ip``) and every pod
          ``hostAliases`` naming each Service's first pod, as cluster DNS would;
        - replicas of one Deployment would share its host ports: each replica is played as a
          one-replica Deployment of its own (``<name>``, ``<name>-r1``, ...).
        Readiness probes are ignored by kube play; the tests make them, as with `podman run`.
        """
        deployments, owners = [], []  # each one-replica Deployment, and the chart's it came from
        for deployment in of_kind(self.manifests, "Deployment"):
            for replica in range(deployment["spec"].get("replicas", 1)):
                one = copy.deepcopy(deployment)
                one["spec"]["replicas"] = 1
                one["metadata"]["name"] += f"-r{replica}" if replica else ""
                deployments.append(one)
                owners.append(deployment["metadata"]["name"])
        env_secrets, volume_secrets = set(), set()
        addresses: list[str] = []
        first_address: dict[str, str] = {}
        for deployment in deployments:
            template = deployment["spec"]["template"]
            pod = template["spec"]
            for volume in pod.get("volumes", []):
                if "secret" in volume:
                    volume["secret"]["optional"] = False
                    volume_secrets.add(volume["secret"]["secretName"])
            for spec in pod["containers"]:
                for entry in spec.get("env", []):
                    if "secretKeyRef" in entry.get("valueFrom", {}):
                        env_secrets.add(entry["valueFrom"]["secretKeyRef"]["name"])
                for port in spec.get("ports", []):
                    port.update(hostIP="127.0.0.1", hostPort=free_port())
            addresses.append(f"{self.subnet}.{10 + len(addresses)}")
            for alias in self.aliases(template["metadata"]["labels"]):
                first_address.setdefault(alias, addresses[-1])
        self.service_addresses = first_address
        for deployment in deployments:
            pod = deployment["spec"]["template"]["spec"]
            pod["hostAliases"] = [{"ip": ip, "hostnames": [name]} for name, ip in first_address.items()]
        for name in sorted(env_secrets | volume_secrets):
            values = self.secrets.get(name, {})
            if name in env_secrets:
                document: dict[str, Any] = {k: base64.b64encode(v).decode() for k, v in values.items()}
            else:
                plain = {k: v.decode() for k, v in values.items()}
                document = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": plain}
                podman("volume", "rm", "--force", name, check=False)  # a crashed run's files would stay in it
                self.volumes.append(name)
            path = self.workdir / f"secret-{name}.json"
            path.write_text(json.dumps(document))
            podman("secret", "rm", name, check=False)
            podman("secret", "create", name, str(path))
            self.podman_secrets.append(name)
        self.played = self.workdir / "kube-play.yaml"
        self.played.write_text(yaml.safe_dump_all(deployments))
        ips = [flag for address in addresses for flag in ("--ip", address)]
        podman("kube", "play", "--network", self.network, *ips, str(self.played), timeout=300)
        for deployment, owner in zip(deployments, owners, strict=True):
            name = deployment["metadata"]["name"]
            [spec] = deployment["spec"]["template"]["spec"]["containers"]
            ports = {p["containerPort"]: p["hostPort"] for p in spec.get("ports", [])}
            probes = probes_of(spec)
            container = Container(f"{name}-pod-0-{spec['name']}", ports, probes)
            self.containers.setdefault(owner, []).append(container)

    # -- waiting and tearing down -----------------------------------------------------------------

    def wait_ready(self, timeout: float = 180) -> dict[str, float]:
        """Every container's readiness probe answers 200; how long each took."""
        started, ready = time.monotonic(), {}
        waiting = {c.name: c for group in self.containers.values() for c in group if "readiness" in c.probes}
        while waiting and time.monotonic() - started < timeout:
            for name, container in list(waiting.items()):
                if container.probe("readiness") == 200:
                    ready[name] = round(time.monotonic() - started, 2)
                    del waiting[name]
            time.sleep(0.2)
        if waiting:
            logs = {name: c.logs()[-1500:] for name, c in waiting.items()}
            raise TimeoutError(f"not ready after {timeout}s: {json.dumps(logs, indent=1)}")
        return ready

    def everything(self) -> list[str]:
        return [c.name for group in self.containers.values() for c in group] + self.extra

    def close(self) -> None:
        if self.played is not None:
            podman("kube", "down", str(self.played), check=False, timeout=180)
        names = self.everything() if self.played is None else self.extra
        if names:
            podman("rm", "--force", "--time", "5", *names, check=False, timeout=180)
        for name in self.podman_secrets:
            podman("secret", "rm", name, check=False)
        for name in self.volumes:
            podman("volume", "rm", "--force", name, check=False)
        podman("network", "rm", "--force", self.network, check=False)


def leftovers(prefix: str = "jobyard-test-") -> Iterator[str]:
    """Networks this harness made that still exist."""
    listed = podman("network", "ls", "--format", "{{.Name}}", check=False).stdout.split()
    yield from (name for name in listed if name.startswith(prefix))
