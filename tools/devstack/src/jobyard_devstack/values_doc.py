"""The chart values table (docs/chart.md), generated from ``charts/jobyard/values.yaml``.

A key's description is the ``# --`` comment above it; the table lists every leaf (and
every map or list whose default is empty), with its default as YAML flow.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

VALUES = Path("charts/jobyard/values.yaml")
GENERIC = {  # a leaf without its own comment, by its last name
    "replicas": "Pod replicas",
    "resources": "Container resource requests and limits",
    "pullPolicy": "Image pull policy",
    "enabled": "Turn this part on or off",
    "minReplicas": "Fewest replicas",
    "maxReplicas": "Most replicas",
    "targetCPUUtilizationPercentage": "Average CPU the HPA aims for",
    "jwtAudience": "Expected `aud` of access tokens",
    "queues": "Dramatiq queues this worker group consumes",
    "processes": "Worker processes per pod",
    "threads": "Threads per worker process",
    "targetDepthPerReplica": "Messages (ready + due + in flight) one replica handles",
    "activationDepth": "From zero replicas, scale up only above this depth",
    "pollingIntervalSeconds": "How often the operator reads the queues",
    "cooldownSeconds": "Quiet time before scaling to zero",
    "scaleDownStabilizationWindowSeconds": "Scale down only to the highest recommendation of this window",
    "concurrencyPolicy": "Forbid: an import never starts while the last one runs",
    "startingDeadlineSeconds": "A run missed by more than this is skipped",
    "backoffLimit": "Retries of a failed import Job",
    "successfulJobsHistoryLimit": "Finished Jobs kept",
    "failedJobsHistoryLimit": "Failed Jobs kept",
    "className": "Ingress class",
    "host": "Host name routed to auth (/auth) and api (/api)",
    "annotations": "Ingress annotations",
    "interval": "Scrape interval",
    "labels": "Extra labels (for your Prometheus' selectors)",
    "label": "Label Grafana's sidecar looks for",
    "labelValue": "Its value",
    "image": "Image of the in-chart database",
    "storage": "Volume size",
    "podSecurityContext": "Pod security context (non-root)",
    "securityContext": "Container security context (read-only root, no privilege escalation, no capabilities)",
    "nodeSelector": "Node selector for every pod",
    "tolerations": "Tolerations for every pod",
    "affinity": "Affinity for every pod",
}
KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):")


def descriptions(text: str) -> dict[str, str]:
    """Dotted key → the ``# --`` comment right above it."""
    found: dict[str, str] = {}
    path: list[tuple[int, str]] = []
    pending: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = [stripped.removeprefix("# --").strip()]
            continue
        if stripped.startswith("#") and pending:
            pending.append(stripped.lstrip("# "))
            continue
        match = KEY.match(line)
        if match is None:
            pending = []
            continue
        indent = len(match["indent"])
        path = [(i, k) for i, k in path if i < indent] + [(indent, match["key"])]
        if pending:
            found[".".join(k for _, k in path)] = " ".join(pending)
        pending = []
    return found


def _leaves(value: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value and not _is_resources(prefix):
        return [leaf for key, item in value.items() for leaf in _leaves(item, f"{prefix}{key}.")]
    return [(prefix.rstrip("."), value)]


def _is_resources(prefix: str) -> bool:
    return prefix.endswith(("resources.", "Selector.", "securityContext.", "SecurityContext."))


def value_rows(text: str) -> list[tuple[str, str, str]]:
    """``(dotted key, default as YAML flow, meaning)`` of every leaf of a values file."""
    docs = descriptions(text)
    rows = []
    for key, default in _leaves(yaml.safe_load(text), ""):
        shown = (
            yaml.safe_dump(default, default_flow_style=True, width=1000).strip().removesuffix("...").strip()
        )
        rows.append((key, shown, docs.get(key) or GENERIC.get(key.rsplit(".", 1)[-1], "")))
    return rows


def values_table(root: Path = Path()) -> str:
    rows = ["| value | default | meaning |", "|---|---|---|"]
    rows += [
        f"| `{key}` | `{shown}` | {meaning} |"
        for key, shown, meaning in value_rows((root / VALUES).read_text())
    ]
    return "\n".join(rows)
