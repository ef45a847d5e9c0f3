"""How many workers a WorkerAutoscaler wants: a pure function of spec, state and depth.

``depth`` is what needs a worker now (ready + due delayed + in flight, see
:mod:`jobyard_libs.queue.depth`). The raw wish is ``ceil(depth / targetDepthPerReplica)``,
then:

1. **activation**: from zero replicas, only a depth above ``activationDepth`` starts one;
2. **clamp** to ``[minReplicas, maxReplicas]``;
3. **stabilization**: scaling down takes the highest wish of the last
   ``scaleDown.stabilizationWindowSeconds`` (no flapping on a bursty queue); scaling up
   takes the lowest wish of ``scaleUp.stabilizationWindowSeconds`` (0 by default: at once);
4. **step limits**: at most ``maxStep`` replicas more (or fewer) per ``periodSeconds``;
5. **cooldown**: going to zero waits ``cooldownSeconds`` after the queue last held work.

Scaling down never goes below what the in-flight messages need, since in-flight work
is part of ``depth``. ``paused`` keeps the current count.

The inputs carry no defaults: those are the WorkerAutoscaler's, in one place
(:mod:`jobyard_operator.resource`, checked against the CRD by a test).

Examples
--------
>>> from dataclasses import replace
>>> from jobyard_operator.resource import DEFAULT_SCALING
>>> spec = replace(DEFAULT_SCALING, max_replicas=10, target_depth_per_replica=100)
>>> decide(spec, current=0, depth=250, now=1000.0, state=State()).desired
3
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Policy:
    max_step: int | None  # replicas per period; None: no limit
    period_seconds: float
    stabilization_window_seconds: float


@dataclass(frozen=True)
class Spec:
    min_replicas: int
    max_replicas: int
    target_depth_per_replica: int
    activation_depth: int
    cooldown_seconds: float
    scale_up: Policy
    scale_down: Policy
    paused: bool

    def __post_init__(self) -> None:
        if not 0 <= self.min_replicas <= self.max_replicas:
            raise ValueError("need 0 <= minReplicas <= maxReplicas")
        if self.target_depth_per_replica < 1:
            raise ValueError("targetDepthPerReplica must be positive")


@dataclass(frozen=True)
class State:
    """What the decision remembers between polls (kept in the resource's status)."""

    wishes: tuple[tuple[float, int], ...] = ()  # (time, wished replicas) within the windows
    last_scale_time: float | None = None
    last_busy_time: float | None = None  # last time depth > 0


@dataclass(frozen=True)
class Decision:
    desired: int
    reason: str
    state: State = field(default_factory=State)


def raw_wish(spec: Spec, depth: int, current: int) -> int:
    if current == 0 and depth <= spec.activation_depth:
        return 0
    return math.ceil(depth / spec.target_depth_per_replica) if depth > 0 else 0


def decide(spec: Spec, *, current: int, depth: int, now: float, state: State) -> Decision:
    busy = now if depth > 0 else state.last_busy_time
    if spec.paused:
        return Decision(current, "paused", replace(state, last_busy_time=busy))
    wish = min(max(raw_wish(spec, depth, current), spec.min_replicas), spec.max_replicas)
    up_window = spec.scale_up.stabilization_window_seconds
    down_window = spec.scale_down.stabilization_window_seconds
    kept = max(up_window, down_window)
    wishes = (*((t, w) for t, w in state.wishes if now - t < kept), (now, wish))
    desired, reason = wish, "depth"
    if wish < current:
        stabilized = max(w for t, w in wishes if now - t < down_window or t == now)
        if stabilized > wish:
            desired, reason = min(stabilized, current), "stabilization window"
    elif wish > current and up_window > 0:
        stabilized = min(w for t, w in wishes if now - t < up_window or t == now)
        if stabilized < wish:
            desired, reason = max(stabilized, current), "scale-up stabilization window"
    desired, reason = _limit_steps(spec, current, desired, reason, now, state)
    if desired == 0 and current > 0 and busy is not None and now - busy < spec.cooldown_seconds:
        desired, reason = max(1, spec.min_replicas), "cooldown before zero"
    desired = min(max(desired, spec.min_replicas), spec.max_replicas)
    scaled = state.last_scale_time if desired == current else now
    return Decision(desired, reason, State(wishes, scaled, busy))


def _in_period(state: State, now: float, policy: Policy) -> bool:
    return state.last_scale_time is not None and now - state.last_scale_time < policy.period_seconds


def _limit_steps(
    spec: Spec, current: int, desired: int, reason: str, now: float, state: State
) -> tuple[int, str]:
    up, down = spec.scale_up, spec.scale_down
    if desired > current and up.max_step is not None:
        if _in_period(state, now, up):
            return current, "scale-up period"
        if desired - current > up.max_step:
            return current + up.max_step, "scale-up step limit"
    if desired < current and down.max_step is not None:
        if _in_period(state, now, down):
            return current, "scale-down period"
        if current - desired > down.max_step:
            return current - down.max_step, "scale-down step limit"
    return desired, reason
