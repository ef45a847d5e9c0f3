"""The operator's settings (``JOBYARD_`` prefix)."""

from __future__ import annotations

from jobyard_libs.settings import LoggingSettings
from pydantic import Field


class OperatorSettings(LoggingSettings):
    """The operator reads Redis URLs from each autoscaler's Secret, not from here."""

    operator_namespaces: list[str] = Field(
        default_factory=list,
        description="Namespaces the operator watches (JSON list); empty: the whole cluster.",
    )
    operator_kube_api_url: str | None = Field(
        None,
        description="Kubernetes API URL without credentials (tests, kubectl proxy); unset: in-cluster or kubeconfig.",
    )
    operator_peering_name: str = Field(
        "jobyard-operator", description="KopfPeering object the operator replicas coordinate through."
    )
    operator_standalone: bool = Field(
        False, description="Run without peering (a single replica, or no KopfPeering CRD installed)."
    )
    operator_metrics_port: int = Field(
        8003, description="Port of the operator's Prometheus /metrics (0: off)."
    )
    operator_health_port: int = Field(
        8004, description="Port of the operator's liveness probe /healthz (0: off)."
    )
