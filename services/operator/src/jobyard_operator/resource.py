"""The WorkerAutoscaler resource (``jobyard.io/v1alpha1``): its spec, read with the CRD's defaults.

The API server applies the CRD's schema defaults; this model applies the same ones, so an
object created without them (an old object, a test server) reads the same. A test checks
that these defaults and the CRD's cannot drift apart.

Examples
--------
>>> spec = AutoscalerSpec.model_validate(
...     {"targetRef": {"name": "worker"}, "queues": ["tasks.default"],
...      "redis": {"secretKeyRef": {"name": "jobyard", "key": "redis-url"}}})
>>> spec.scaling().max_replicas
10
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from jobyard_operator.scaling import Policy, Spec

GROUP = "jobyard.io"
VERSION = "v1alpha1"
PLURAL = "workerautoscalers"
KIND = "WorkerAutoscaler"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class TargetRef(_Model):
    name: str = Field(min_length=1)


class SecretKeyRef(_Model):
    name: str = Field(min_length=1)
    key: str = Field(min_length=1)


class RedisRef(_Model):
    secret_key_ref: SecretKeyRef
    dramatiq_namespace: str = "jobyard:dramatiq"


class ScalingPolicy(_Model):
    max_step: int | None = Field(None, ge=1)
    period_seconds: int = Field(15, ge=1)
    stabilization_window_seconds: int = Field(0, ge=0)

    def policy(self) -> Policy:
        return Policy(self.max_step, self.period_seconds, self.stabilization_window_seconds)


class ScaleDownPolicy(ScalingPolicy):
    stabilization_window_seconds: int = Field(300, ge=0)


class Behavior(_Model):
    scale_up: ScalingPolicy = ScalingPolicy()
    scale_down: ScaleDownPolicy = ScaleDownPolicy()


class AutoscalerSpec(_Model):
    target_ref: TargetRef
    queues: list[str] = Field(min_length=1)
    redis: RedisRef
    target_depth_per_replica: int = Field(100, ge=1)
    activation_depth: int = Field(0, ge=0)
    min_replicas: int = Field(0, ge=0)
    max_replicas: int = Field(10, ge=1)
    polling_interval_seconds: int = Field(10, ge=1, le=3600)
    cooldown_seconds: int = Field(300, ge=0)
    paused: bool = False
    behavior: Behavior = Behavior()

    @model_validator(mode="after")
    def _min_not_above_max(self) -> AutoscalerSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError("minReplicas must not exceed maxReplicas")
        return self

    def scaling(self) -> Spec:
        return Spec(
            min_replicas=self.min_replicas,
            max_replicas=self.max_replicas,
            target_depth_per_replica=self.target_depth_per_replica,
            activation_depth=self.activation_depth,
            cooldown_seconds=self.cooldown_seconds,
            scale_up=self.behavior.scale_up.policy(),
            scale_down=self.behavior.scale_down.policy(),
            paused=self.paused,
        )


# What a WorkerAutoscaler that sets nothing optional scales by: the one place the defaults are.
DEFAULT_SCALING = AutoscalerSpec.model_validate(
    {"targetRef": {"name": "-"}, "queues": ["-"], "redis": {"secretKeyRef": {"name": "-", "key": "-"}}}
).scaling()
