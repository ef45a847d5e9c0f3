"""One WorkerAutoscaler's poll: read the queues and the Deployment, decide, scale, report.

Each poll ends in a status patch (only when something changed) and, when the replica count
or the ``Ready`` condition changes, one Kubernetes event. A failure changes nothing in the
cluster: the Deployment keeps its replicas, ``Ready`` turns ``False`` naming the reason
(``InvalidSpec``, ``SecretNotFound``, ``RedisUnavailable``, ``TargetNotFound``,
``KubernetesApiError``), and the next poll tries again.

The decision's memory (recent recommendations, last scale, last busy time) lives in the
status, so a restarted or newly elected operator keeps the stabilization window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp
import structlog
from jobyard_libs.queue.depth import QueueDepth, queue_depths
from pydantic import ValidationError
from redis.exceptions import RedisError

from jobyard_operator import metrics
from jobyard_operator.kube import KubeApi, NotFound
from jobyard_operator.redis_pool import RedisPool
from jobyard_operator.resource import AutoscalerSpec
from jobyard_operator.scaling import State, decide

log = structlog.get_logger(__name__)

RETRY_INVALID_SPEC_SECONDS = 10.0
EventType = Literal["Normal", "Warning"]
PostEvent = Callable[[EventType, str, str], None]


class PollFailed(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Reading:
    depths: list[QueueDepth]
    current: int

    @property
    def depth(self) -> int:
        return sum(d.backlog for d in self.depths)


def iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def epoch(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def restore_state(status: Mapping[str, Any]) -> State:
    wishes = tuple(
        (moment, int(item["replicas"]))
        for item in status.get("recommendations") or []
        if isinstance(item, Mapping) and (moment := epoch(item.get("time"))) is not None
    )
    return State(wishes, epoch(status.get("lastScaleTime")), epoch(status.get("lastActiveTime")))


class Autoscaler:
    def __init__(
        self,
        *,
        api: KubeApi,
        redis: RedisPool,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        post_event: PostEvent,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api, self.redis = api, redis
        self.namespace, self.name = namespace, name
        self.post_event = post_event
        self.clock = clock
        self.state = restore_state(status)
        self.reported: dict[str, Any] = {}
        ready: Mapping[str, Any] = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {}
        )
        self.ready = (ready.get("status"), ready.get("reason"))
        self.ready_since = ready.get("lastTransitionTime")

    async def poll(self, raw_spec: Mapping[str, Any]) -> float:
        """One round; returns how long to wait before the next (the spec's interval)."""
        labels = (self.namespace, self.name)
        with metrics.POLL_DURATION.time():
            try:
                spec = self._parse(raw_spec)
            except PollFailed as failure:
                await self._failed(failure)
                metrics.POLLS.labels(*labels).inc()
                return RETRY_INVALID_SPEC_SECONDS
            metrics.MIN_REPLICAS.labels(*labels).set(spec.min_replicas)
            metrics.MAX_REPLICAS.labels(*labels).set(spec.max_replicas)
            try:
                reading = await self._read(spec)
                await self._act(spec, reading)
            except PollFailed as failure:
                await self._failed(failure)
            metrics.POLLS.labels(*labels).inc()
        return spec.polling_interval_seconds

    def _parse(self, raw_spec: Mapping[str, Any]) -> AutoscalerSpec:
        try:
            return AutoscalerSpec.model_validate(dict(raw_spec))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "spec"
            raise PollFailed("InvalidSpec", f"spec.{where}: {first['msg']}") from error

    async def _read(self, spec: AutoscalerSpec) -> Reading:
        ref = spec.redis.secret_key_ref
        try:
            url = await self.api.secret_value(namespace=self.namespace, name=ref.name, key=ref.key)
        except NotFound as missing:
            raise PollFailed("SecretNotFound", f"no {missing} (spec.redis.secretKeyRef)") from missing
        except aiohttp.ClientError as error:
            raise PollFailed("KubernetesApiError", f"reading secret {ref.name!r}: {error}") from error
        try:
            client = self.redis.client(url)
            depths = await queue_depths(client, spec.redis.dramatiq_namespace, spec.queues)
        except (RedisError, OSError, ValueError) as error:
            raise PollFailed("RedisUnavailable", f"{type(error).__name__}: {error}") from error
        target = spec.target_ref.name
        try:
            current = await self.api.replicas(namespace=self.namespace, deployment=target)
        except NotFound as missing:
            raise PollFailed("TargetNotFound", f"deployment {target!r} not found") from missing
        except aiohttp.ClientError as error:
            raise PollFailed("KubernetesApiError", f"reading deployment {target!r}: {error}") from error
        return Reading(depths, current)

    async def _act(self, spec: AutoscalerSpec, reading: Reading) -> None:
        now = self.clock()
        decision = decide(
            spec.scaling(), current=reading.current, depth=reading.depth, now=now, state=self.state
        )
        target, labels = spec.target_ref.name, (self.namespace, self.name)
        if decision.desired != reading.current:
            try:
                await self.api.scale(namespace=self.namespace, deployment=target, replicas=decision.desired)
            except NotFound as missing:
                raise PollFailed("TargetNotFound", f"deployment {target!r} not found") from missing
            except aiohttp.ClientError as error:
                raise PollFailed("KubernetesApiError", f"scaling {target!r}: {error}") from error
            direction = "up" if decision.desired > reading.current else "down"
            metrics.SCALINGS.labels(*labels, direction).inc()
            message = (
                f"{target}: {reading.current} -> {decision.desired} replicas "
                f"(depth {reading.depth}, {spec.target_depth_per_replica} per replica; {decision.reason})"
            )
            self.post_event("Normal", f"Scaled{direction.capitalize()}", message)
            log.info("scaled", autoscaler=f"{self.namespace}/{self.name}", message=message)
        self.state = decision.state
        metrics.QUEUE_DEPTH.labels(*labels).set(reading.depth)
        metrics.CURRENT_REPLICAS.labels(*labels).set(reading.current)
        metrics.DESIRED_REPLICAS.labels(*labels).set(decision.desired)
        metrics.READY.labels(*labels).set(1)
        ready_message = "paused: replicas frozen" if spec.paused else f"{decision.reason}"
        await self._report(
            {
                "queueDepth": reading.depth,
                "currentReplicas": decision.desired,
                "desiredReplicas": decision.desired,
                "reason": decision.reason,
                "lastScaleTime": iso(decision.state.last_scale_time),
                "lastActiveTime": iso(decision.state.last_busy_time),
                "recommendations": [{"time": iso(t), "replicas": w} for t, w in decision.state.wishes],
                "queues": [
                    {
                        "name": d.queue,
                        "ready": d.ready,
                        "delayed": d.delayed,
                        "due": d.delayed_due,
                        "inFlight": d.in_flight,
                        "dead": d.dead,
                    }
                    for d in reading.depths
                ],
            },
            ready=("True", "Paused" if spec.paused else "Polling", ready_message),
        )

    async def _failed(self, failure: PollFailed) -> None:
        metrics.POLL_ERRORS.labels(self.namespace, self.name, failure.reason).inc()
        metrics.READY.labels(self.namespace, self.name).set(0)
        log.warning(
            "poll failed",
            autoscaler=f"{self.namespace}/{self.name}",
            reason=failure.reason,
            message=failure.message,
        )
        await self._report({}, ready=("False", failure.reason, failure.message))

    async def _report(self, fields: dict[str, Any], *, ready: tuple[str, str, str]) -> None:
        status, reason, message = ready
        if (status, reason) != self.ready:
            self.ready = (status, reason)
            self.ready_since = iso(self.clock())
            if status == "False":
                self.post_event("Warning", reason, message)
            elif reason == "Paused" or self.reported:
                self.post_event("Normal", reason, message)
        condition = {
            "type": "Ready",
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": self.ready_since,
        }
        changed = {**fields, "conditions": [condition]}
        # the recommendations move every poll; they need writing only when a decision rests on them
        comparable = {k: v for k, v in changed.items() if k != "recommendations"}
        if comparable == {k: v for k, v in self.reported.items() if k != "recommendations"}:
            return
        try:
            await self.api.patch_status(namespace=self.namespace, name=self.name, status=changed)
        except (NotFound, aiohttp.ClientError) as error:
            log.warning("status not written", autoscaler=f"{self.namespace}/{self.name}", error=str(error))
            return
        self.reported = changed
