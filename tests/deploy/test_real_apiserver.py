"""The operator against a real Kubernetes API server, with the chart's RBAC and nothing more.

kube-apiserver 1.20.2 (built once from Debian's source by tools/kube/install.sh) and Debian's
etcd run on loopback. The chart's rendered manifests are applied as a platform team's
`kubectl apply` would (every kind 1.20 serves; the API server validates them), the operator
runs with a token of the chart's own ServiceAccount (TokenRequest, as a pod's projected token
is made), and a WorkerAutoscaler scales the worker Deployment up on real Redis queue depth
and back down, writing its status and events. `kubectl auth can-i` confirms every call the
operator makes is granted, and that nothing beyond them is. No kubelet runs: pods never
start, which the operator does not need (it scales Deployments). Run by `make test-kube`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from jobyard_devstack.net import free_port, wait_until

from tests.support.podman import ROOT, Manifest, of_kind, render_chart
from tests.support.processes import bin_path

KUBE = Path(os.environ.get("JOBYARD_KUBE_CACHE", Path.home() / ".cache" / "jobyard" / "kube-1.20.2"))
KUBECTL = ROOT / ".tools" / "kubectl"
VALUES = Path(__file__).parent / "values-apiserver.yaml"
NAMESPACE = "jobyard"
OPERATOR = "jobyard-operator"
SERVICE_ACCOUNT = f"system:serviceaccount:{NAMESPACE}:{OPERATOR}"
# kinds Kubernetes 1.20 does not serve in the chart's versions (HorizontalPodAutoscaler
# autoscaling/v2, PodDisruptionBudget policy/v1, CronJob batch/v1: all 1.21+) — covered by
# kubernetes-validate against current schemas in tests/chart instead
NOT_IN_1_20 = {"HorizontalPodAutoscaler", "PodDisruptionBudget", "CronJob"}
# every call the operator makes: (verb, resource[#subresource], name or None, namespaced)
OPERATOR_CALLS = [
    ("get", "workerautoscalers.jobyard.io", None, True),
    ("list", "workerautoscalers.jobyard.io", None, True),
    ("watch", "workerautoscalers.jobyard.io", None, True),
    ("patch", "workerautoscalers.jobyard.io", None, True),
    ("patch", "workerautoscalers.jobyard.io#status", None, True),
    ("get", "deployments.apps#scale", None, True),
    ("patch", "deployments.apps#scale", None, True),
    ("get", "secrets", "jobyard-secrets", True),
    ("create", "events", None, True),
    ("get", "kopfpeerings.kopf.dev", None, True),
    ("list", "kopfpeerings.kopf.dev", None, True),
    ("watch", "kopfpeerings.kopf.dev", None, True),
    ("patch", "kopfpeerings.kopf.dev", None, True),
    ("list", "namespaces", None, False),
    ("watch", "namespaces", None, False),
    ("list", "customresourcedefinitions.apiextensions.k8s.io", None, False),
    ("watch", "customresourcedefinitions.apiextensions.k8s.io", None, False),
]
NEVER = [  # what the operator must not be able to do
    ("get", "secrets", "another-secret", True),
    ("list", "secrets", None, True),
    ("delete", "deployments.apps", None, True),
    ("patch", "deployments.apps", None, True),
    ("create", "pods", None, True),
    ("get", "workerautoscalers.jobyard.io", None, False),  # nothing cluster-wide
]


@dataclass
class ApiServer:
    url: str
    workdir: Path
    admin_kubeconfig: Path

    def kubectl(
        self, *args: str, kubeconfig: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        config = str(kubeconfig or self.admin_kubeconfig)
        result = subprocess.run(
            [str(KUBECTL), "--kubeconfig", config, *args], capture_output=True, text=True, timeout=60
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result

    def get(self, *args: str) -> dict[str, Any]:
        return dict(json.loads(self.kubectl("get", "-o", "json", *args).stdout))

    def kubeconfig(self, name: str, token: str) -> Path:
        path = self.workdir / f"{name}.kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "local", "cluster": {"server": self.url, "insecure-skip-tls-verify": True}}
            ],
            "users": [{"name": name, "user": {"token": token}}],
            "contexts": [
                {"name": name, "context": {"cluster": "local", "user": name, "namespace": NAMESPACE}}
            ],
            "current-context": name,
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path


def _wait_ready(url: str, token: str, processes: list[subprocess.Popen[bytes]], log: Path) -> None:
    def ready() -> bool:
        if any(p.poll() is not None for p in processes):
            raise RuntimeError(f"the API server stopped: {log.read_text()[-3000:]}")
        try:
            headers = {"Authorization": f"Bearer {token}"}
            # loopback, to a certificate the server made itself a second ago
            answer = httpx.get(f"{url}/readyz", headers=headers, verify=False, timeout=2)  # noqa: S501
            return answer.status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout=90, what="kube-apiserver /readyz")


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    binary, etcd = KUBE / "bin" / "kube-apiserver", shutil.which("etcd")
    if not binary.exists() or etcd is None or not KUBECTL.exists():
        pytest.fail("kube-apiserver, etcd or kubectl missing: make test-kube builds and installs them")
    work = tmp_path_factory.mktemp("kube")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (work / "sa.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (work / "sa.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    admin_token = os.urandom(16).hex()
    (work / "tokens.csv").write_text(f'{admin_token},admin,admin,"system:masters"\n')
    client, peer, secure = free_port(), free_port(), free_port()
    etcd_url = f"http://127.0.0.1:{client}"
    log = work / "apiserver.log"
    with (work / "etcd.log").open("wb") as etcd_log, log.open("wb") as server_log:
        peer_url = f"http://127.0.0.1:{peer}"
        etcd_flags = {
            "data-dir": work / "etcd",
            "listen-client-urls": etcd_url,
            "advertise-client-urls": etcd_url,
            "listen-peer-urls": peer_url,
            "initial-advertise-peer-urls": peer_url,
            "initial-cluster": f"default={peer_url}",
        }
        store = subprocess.Popen(
            [etcd, *(f"--{k}={v}" for k, v in etcd_flags.items())], stdout=etcd_log, stderr=subprocess.STDOUT
        )
        server_flags = {
            "etcd-servers": etcd_url,
            "bind-address": "127.0.0.1",
            "secure-port": secure,
            "cert-dir": work / "certs",
            "service-account-key-file": work / "sa.pub",
            "service-account-signing-key-file": work / "sa.key",
            "service-account-issuer": "https://kubernetes.default.svc",
            "api-audiences": "https://kubernetes.default.svc",
            "token-auth-file": work / "tokens.csv",
            "authorization-mode": "RBAC",
            "service-cluster-ip-range": "10.96.0.0/16",
            "advertise-address": "127.0.0.1",
            "endpoint-reconciler-type": "none",
            "enable-admission-plugins": "NamespaceLifecycle,ServiceAccount,ResourceQuota",
        }
        server = subprocess.Popen(
            [str(binary), *(f"--{k}={v}" for k, v in server_flags.items())],
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
    url = f"https://127.0.0.1:{secure}"
    try:
        _wait_ready(url, admin_token, [store, server], log)
        api = ApiServer(url, work, work / "admin.kubeconfig")
        api.admin_kubeconfig = api.kubeconfig("admin", admin_token)
        yield api
    finally:
        for process in (server, store):
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def _applied(api: ApiServer, manifests: list[Manifest], secret: Manifest) -> list[str]:
    """Apply the chart as `kubectl apply` would (CRDs first); the kinds applied."""
    api.kubectl("create", "namespace", NAMESPACE)
    crds = [
        _without_cel(doc)
        for path in sorted((ROOT / "charts" / "jobyard" / "crds").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
    (api.workdir / "crds.yaml").write_text(yaml.safe_dump_all(crds))
    api.kubectl("apply", "-f", str(api.workdir / "crds.yaml"))
    api.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    hooks = [m for m in manifests if "helm.sh/hook" in m["metadata"].get("annotations", {})]  # `helm test`'s
    wanted = [m for m in manifests if m["kind"] not in NOT_IN_1_20 and m not in hooks]
    path = api.workdir / "chart.yaml"
    path.write_text(yaml.safe_dump_all([secret, *wanted]))
    api.kubectl("apply", "-n", NAMESPACE, "-f", str(path))
    return sorted({m["kind"] for m in wanted})


def _without_cel(node: Any) -> Any:
    """The CRD as 1.20 takes it: CEL rules (x-kubernetes-validations) came in 1.25; the chart
    tests check them (tests/services/operator/test_crd.py), the API server here checks the rest."""
    if isinstance(node, dict):
        return {k: _without_cel(v) for k, v in node.items() if k != "x-kubernetes-validations"}
    if isinstance(node, list):
        return [_without_cel(v) for v in node]
    return node


def _can(api: ApiServer, verb: str, resource: str, name: str | None, namespaced: bool) -> bool:
    resource, _, subresource = resource.partition("#")
    target = f"{resource}/{name}" if name else resource
    where = ["-n", NAMESPACE] if namespaced else ["--all-namespaces"]
    if subresource:
        where.append(f"--subresource={subresource}")
    answer = api.kubectl("auth", "can-i", verb, target, "--as", SERVICE_ACCOUNT, *where, check=False)
    return answer.stdout.strip() == "yes"


def _operator_token(api: ApiServer) -> str:
    """A token of the chart's ServiceAccount, as the kubelet projects one into the pod."""
    spec = {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600}
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    path = api.workdir / "token-request.json"
    path.write_text(json.dumps(request))
    raw = api.kubectl(
        "create", "--raw", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{OPERATOR}/token", "-f", str(path)
    ).stdout
    return str(json.loads(raw)["status"]["token"])


def test_the_operator_scales_workers_on_queue_depth_with_the_charts_rbac_only(
    apiserver: ApiServer, redis_url: str, tmp_path: Path
) -> None:
    manifests = render_chart(VALUES, namespace=NAMESPACE)
    keys = {"redis-url": redis_url, "mongodb-url": "mongodb://unused", "webhook-secret": "x" * 48}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "jobyard-secrets"},
        "stringData": keys,
    }
    kinds = _applied(apiserver, manifests, secret)
    assert {"WorkerAutoscaler", "Deployment", "Role", "ClusterRole", "ServiceAccount", "KopfPeering"} <= set(
        kinds
    )

    # RBAC: every call the operator makes is granted to its ServiceAccount, and nothing more
    denied = [call for call in OPERATOR_CALLS if not _can(apiserver, *call)]
    assert not denied, f"the chart's RBAC lacks: {denied}"
    granted = [call for call in NEVER if _can(apiserver, *call)]
    assert not granted, f"the chart's RBAC grants too much: {granted}"

    [autoscaler] = [
        w for w in of_kind(manifests, "WorkerAutoscaler") if w["metadata"]["name"] == "jobyard-worker-tasks"
    ]
    target = autoscaler["spec"]["targetRef"]["name"]
    namespace_in_redis = autoscaler["spec"]["redis"]["dramatiqNamespace"]
    kubeconfig = apiserver.kubeconfig("operator", _operator_token(apiserver))
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "JOBYARD_OPERATOR_NAMESPACES": json.dumps([NAMESPACE]),
        "JOBYARD_OPERATOR_PEERING_NAME": OPERATOR,
        "JOBYARD_OPERATOR_HEALTH_PORT": str(free_port()),
        "JOBYARD_OPERATOR_METRICS_PORT": str(free_port()),
        "JOBYARD_LOG_FORMAT": "json",
    }
    env.pop("JOBYARD_OPERATOR_KUBE_API_URL", None)
    log = tmp_path / "operator.log"
    broker = RedisBroker(url=redis_url, namespace=namespace_in_redis)  # type: ignore[no-untyped-call]
    broker.declare_queue("tasks.default")
    with log.open("wb") as out:
        operator = subprocess.Popen(
            [bin_path("jobyard-operator"), "run"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:

        def replicas() -> int:
            if operator.poll() is not None:
                raise RuntimeError(f"the operator stopped: {log.read_text()[-3000:]}")
            return int(apiserver.get("deployment", target, "-n", NAMESPACE)["spec"].get("replicas", 1))

        wait_until(
            lambda: replicas() == 0, timeout=90, what="the idle worker Deployment scaled to minReplicas (0)"
        )
        for n in range(250):  # 250 ready messages, 100 per replica: 3 replicas
            broker.enqueue(
                Message(
                    queue_name="tasks.default",
                    actor_name="tasks.execute",
                    args=(),
                    kwargs={},
                    options={"n": n},
                )
            )
        wait_until(lambda: replicas() == 3, timeout=60, what="scaled up on queue depth")
        status = apiserver.get("workerautoscaler", target, "-n", NAMESPACE)["status"]
        assert status["desiredReplicas"] == 3 and status["queueDepth"] >= 250
        broker.flush("tasks.default")
        wait_until(lambda: replicas() == 0, timeout=60, what="scaled back down")
        events = apiserver.get("events", "-n", NAMESPACE, "--field-selector", f"involvedObject.name={target}")
        reasons = [event["reason"] for event in events["items"]]
        assert "ScaledUp" in reasons and "ScaledDown" in reasons, reasons
        # the operator never needed more than its token: no 403 in its log
        assert "Forbidden" not in log.read_text()
    finally:
        operator.terminate()
        operator.wait(30)
        broker.close()
