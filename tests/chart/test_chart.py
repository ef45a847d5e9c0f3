"""The Helm chart: lint, render, validate, and what every rendered object must hold."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from jobyard_devstack.settings_doc import settings_docs

from tests.chart.conftest import CHART, ROOT, VALUES, helm, render

KUBERNETES = ["1.27.0", "1.34.0"]  # the oldest the chart allows (Chart.yaml kubeVersion), and a current one
CRD = yaml.safe_load((CHART / "crds/workerautoscalers.jobyard.io.yaml").read_text())
AUTOSCALER_SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
CUSTOM_KINDS = {"WorkerAutoscaler", "ServiceMonitor", "PodMonitor", "PrometheusRule", "KopfPeering"}
WORKLOADS = {"Deployment", "StatefulSet", "CronJob", "Pod"}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    kind = doc["kind"]
    spec: dict[str, Any] = doc["spec"]
    if kind == "CronJob":
        spec = spec["jobTemplate"]["spec"]["template"]["spec"]
    elif kind != "Pod":
        spec = spec["template"]["spec"]
    return spec


def containers(docs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            for container in pod_spec(doc)["containers"]:
                yield doc, container


@pytest.mark.parametrize("name", sorted(VALUES))
def test_helm_lint_strict(name: str) -> None:
    args = ["lint", "--strict", str(CHART)]
    for path in VALUES[name]:
        args += ["-f", str(path)]
    result = helm(*args)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("version", KUBERNETES)
def test_every_builtin_object_is_valid_for_kubernetes(
    rendered: tuple[str, list[dict[str, Any]]], version: str
) -> None:
    _, docs = rendered
    checked = 0
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(doc, version, strict=True)
        checked += 1
    assert checked > 20


def test_worker_autoscalers_match_the_crd(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    name, docs = rendered
    autoscalers = [d for d in docs if d["kind"] == "WorkerAutoscaler"]
    assert {a["spec"]["targetRef"]["name"] for a in autoscalers} == {
        "jobyard-worker-imports",
        "jobyard-worker-tasks",
    }, name
    deployments = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
    for autoscaler in autoscalers:
        jsonschema.validate(autoscaler, AUTOSCALER_SCHEMA)
        assert autoscaler["spec"]["targetRef"]["name"] in deployments
        assert autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]


def test_prometheus_rule_passes_promtool(tmp_path: Path) -> None:
    docs = render(VALUES["prod"])
    [rule] = [d for d in docs if d["kind"] == "PrometheusRule"]
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    result = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    dashboards = [
        d for d in docs if d["kind"] == "ConfigMap" and "grafana_dashboard" in d["metadata"]["labels"]
    ]
    assert len(dashboards) == 4
    for board in dashboards:
        [text] = board["data"].values()
        assert json.loads(text)["uid"].startswith("jobyard-")


def test_every_container_has_probes_resources_and_a_locked_down_security_context(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    name, docs = rendered
    seen = 0
    for doc, container in containers(docs):
        where = f"{doc['kind']}/{doc['metadata']['name']}/{container['name']}"
        # a Job's pod and the helm test pod run to completion: probes would only restart them
        if doc["kind"] not in {"CronJob", "Pod"}:
            assert "livenessProbe" in container and "readinessProbe" in container, where
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], where
        security = container["securityContext"]
        assert security["runAsNonRoot"] is True, where
        if doc["kind"] != "StatefulSet":  # the in-chart databases write their data
            # dev lets Tilt and skaffold sync sources into the containers
            assert security["readOnlyRootFilesystem"] is (name != "dev"), where
        assert security["allowPrivilegeEscalation"] is False, where
        assert "ALL" in security["capabilities"]["drop"], where
        assert pod_spec(doc)["securityContext"]["runAsNonRoot"] is True, where
        seen += 1
    assert seen >= 8


def test_the_import_runs_hourly_and_never_twice_at_once() -> None:
    [cron] = [d for d in render(VALUES["default"]) if d["kind"] == "CronJob"]
    assert cron["spec"]["schedule"] == "0 * * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["startingDeadlineSeconds"] > 0
    [container] = pod_spec(cron)["containers"]
    assert container["image"].endswith("-scheduler:0.1.0")
    assert container["args"] == ["import"]


def test_the_ingress_routes_auth_and_api() -> None:
    [ingress] = [d for d in render(VALUES["prod"]) if d["kind"] == "Ingress"]
    paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths["/auth"] == "jobyard-auth"
    assert paths["/api"] == "jobyard-api"
    assert ingress["spec"]["tls"][0]["secretName"] == "jobyard-tls"
    assert ingress["spec"]["ingressClassName"] == "nginx"


def test_every_jobyard_variable_the_chart_sets_is_a_setting(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    known = {d.env for d in settings_docs()}
    used = {
        env["name"]
        for _, c in containers(docs)
        for env in c.get("env", [])
        if env["name"].startswith("JOBYARD_")
    }
    assert used, "no JOBYARD_ variable at all"
    assert used <= known, f"the chart sets unknown settings: {sorted(used - known)}"


def test_the_operator_gets_only_what_it_needs() -> None:
    docs = render(VALUES["default"])
    [role] = [d for d in docs if d["kind"] == "Role"]
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in role["rules"]}
    assert rules[(("apps",), ("deployments/scale",))] == {"get", "patch"}
    assert (("apps",), ("deployments",)) not in rules  # the scale subresource only
    [secrets] = [r for r in role["rules"] if r["resources"] == ["secrets"]]
    assert secrets["resourceNames"] == ["jobyard-secrets"] and secrets["verbs"] == ["get"]
    [cluster_role] = [d for d in docs if d["kind"] == "ClusterRole"]
    assert all(set(r["verbs"]) <= {"list", "watch"} for r in cluster_role["rules"])


@pytest.mark.parametrize(
    ("assignment", "complaint"),
    [
        ("workers.tasks.threads=0", "workers.tasks.threads"),
        ("environment=staging", "environment"),
        ("securityContext.runAsNonRoot=false", "runAsNonRoot"),
        ("importCronJob.schedule=hourly", "importCronJob.schedule"),
        ("workers.tasks.autoscaling.targetDepthPerReplica=0", "targetDepthPerReplica"),
        ("workers.tasks.queues={tasks.urgent}", "workers.tasks.queues"),
        ("redis.url=http://not-redis", "redis.url"),
        ("typoedKey=1", "typoedKey"),
    ],
)
def test_the_values_schema_refuses_bad_values(assignment: str, complaint: str) -> None:
    result = helm("template", "jobyard", str(CHART), "--set", assignment)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_secrets_come_from_an_existing_secret_when_named() -> None:
    docs = render(VALUES["prod"])
    assert not [d for d in docs if d["kind"] == "Secret"]  # prod names both existing secrets
    [auth] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "jobyard-auth"]
    volumes = {v["name"]: v for v in pod_spec(auth)["volumes"]}
    assert volumes["signing-keys"]["secret"]["secretName"] == "jobyard-signing-keys"


def test_the_dev_values_bring_their_own_databases() -> None:
    docs = render(VALUES["dev"])
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "StatefulSet"} == {
        "jobyard-mongodb",
        "jobyard-redis",
    }
    [secret] = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "jobyard-secrets"]
    assert secret["data"]["redis-url"]  # points at the in-chart Redis
    assert ROOT.joinpath("helm/values/dev.yaml").exists()


def test_no_pod_but_the_operators_holds_a_kubernetes_api_token(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    name, docs = rendered
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            expected = doc["metadata"]["name"].endswith("-operator")
            assert pod_spec(doc).get("automountServiceAccountToken") is expected, (
                name,
                doc["metadata"]["name"],
            )


@pytest.mark.parametrize(
    ("unset", "complaint"),
    [
        ("secrets.existingSecret=", "production needs secrets.existingSecret"),
        ("auth.signingKeys.existingSecret=", "production needs auth.signingKeys.existingSecret"),
        (
            "networkPolicy.ingressNamespaceSelector=null",
            "production needs networkPolicy.ingressNamespaceSelector",
        ),
    ],
)
def test_production_never_generates_secrets_nor_opens_every_namespace(unset: str, complaint: str) -> None:
    args = ["template", "jobyard", str(CHART), "-f", str(VALUES["prod"][0]), "--set", unset]
    result = helm(*args)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_the_ingress_never_routes_service_to_service_endpoints() -> None:
    from jobyard_libs.auth import INTROSPECT_PATH

    [ingress] = [d for d in render(VALUES["prod"]) if d["kind"] == "Ingress"]
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    # a Prefix path matches whole segments; the longest match wins (the console's "/" is last)
    matching = [
        p for p in paths if p["path"] == "/" or INTROSPECT_PATH.startswith(p["path"].rstrip("/") + "/")
    ]
    chosen = max(matching, key=lambda p: len(p["path"]))
    assert chosen["backend"]["service"]["name"] == "jobyard-console"  # which answers 404, never auth


def test_outbound_traffic_is_walled_in() -> None:
    docs = render(VALUES["prod"])
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "NetworkPolicy"}
    assert "Egress" in policies["jobyard-default-deny"]["spec"]["policyTypes"]
    [public] = policies["jobyard-egress-public"]["spec"]["egress"][:1]
    block = public["to"][0]["ipBlock"]
    assert block["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"} <= set(
        block["except"]
    )
    selected = policies["jobyard-egress-public"]["spec"]["podSelector"]["matchExpressions"][1]["values"]
    assert set(selected) == {"worker-imports", "worker-tasks", "import"}  # not auth, api, monitor


def test_the_egress_allowlist_and_trusted_proxies_reach_the_containers() -> None:
    docs = render(
        VALUES["prod"],
        "egress.allowedHosts={feeds.internal,10.1.0.0/16:8080}",
        "trustedProxies={10.42.0.0/16}",
    )
    env = {e["name"]: e.get("value") for _, c in containers(docs) for e in c.get("env", [])}
    assert env["JOBYARD_EGRESS_ALLOWED_HOSTS"] == "feeds.internal,10.1.0.0/16:8080"
    assert env["JOBYARD_FORWARDED_ALLOW_IPS"] == "10.42.0.0/16"
    refused = helm(
        "template", "jobyard", str(CHART), "-f", str(VALUES["prod"][0]), "--set", "trustedProxies={*}"
    )
    assert refused.returncode != 0 and "trustedProxies" in refused.stderr


def test_redis_through_sentinel_with_tls() -> None:
    import base64

    sets = [
        "internal.redis.enabled=false",
        "redis.sentinels={redis-node-0.redis-headless:26379,redis-node-1.redis-headless:26379}",
        "redis.sentinelMaster=jobyard",
        "redis.tls.enabled=true",
        "redis.tls.secretName=redis-ca",
    ]
    docs = render(VALUES["dev"], *sets)
    [secret] = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "jobyard-secrets"]
    operator_url = base64.b64decode(secret["data"]["redis-url"]).decode()
    assert (
        operator_url
        == "redis+sentinel://redis-node-0.redis-headless:26379,redis-node-1.redis-headless:26379/jobyard/0"
    )
    for doc, container in containers(docs):
        if (
            doc["metadata"]["name"].startswith(("jobyard-mongodb", "jobyard-test"))
            or container["name"] == "operator"
        ):
            continue
        env = {e["name"]: e for e in container["env"]}
        where = doc["metadata"]["name"]
        assert env["JOBYARD_REDIS_SENTINELS"]["value"].startswith("redis-node-0"), where
        assert env["JOBYARD_REDIS_SENTINEL_MASTER"]["value"] == "jobyard", where
        assert env["JOBYARD_REDIS_TLS"]["value"] == "true", where
        assert env["JOBYARD_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["optional"] is True, where
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["redis-tls"]["mountPath"] + "/ca.crt" == env["JOBYARD_REDIS_TLS_CA_FILE"]["value"], (
            where
        )


def test_the_console_signs_in_with_google_only_when_configured() -> None:
    def console_env(docs: list[dict[str, Any]]) -> dict[str, Any]:
        [deployment] = [
            d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "jobyard-console"
        ]
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        return {e["name"]: e.get("value") or e.get("valueFrom") for e in container["env"]}

    plain = render(VALUES["prod"])
    assert "JOBYARD_CONSOLE_GOOGLE_CLIENT_ID" not in console_env(plain)
    assert not [d for d in plain if d["metadata"]["name"] == "jobyard-egress-console-google"]
    docs = render(VALUES["prod"], "console.google.clientId=abc.apps.googleusercontent.com")
    env = console_env(docs)
    assert env["JOBYARD_CONSOLE_GOOGLE_CLIENT_ID"] == "abc.apps.googleusercontent.com"
    assert env["JOBYARD_CONSOLE_GOOGLE_CLIENT_SECRET"]["secretKeyRef"]["key"] == "google-client-secret"
    assert env["JOBYARD_CONSOLE_PUBLIC_URL"].startswith("https://")
    [policy] = [d for d in docs if d["metadata"]["name"] == "jobyard-egress-console-google"]
    assert policy["spec"]["egress"][0]["ports"] == [{"port": 443, "protocol": "TCP"}]
