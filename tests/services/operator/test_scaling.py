"""The scaling decision: table-driven cases and properties (hypothesis)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobyard_operator.resource import DEFAULT_SCALING
from jobyard_operator.scaling import Decision, Policy, Spec, State, decide

pytestmark = pytest.mark.unit


def a_spec(**over: object) -> Spec:
    """The CRD's defaults (a WorkerAutoscaler setting nothing optional), with ``over`` changed."""
    return replace(DEFAULT_SCALING, **over)  # type: ignore[arg-type]


def a_policy(**over: object) -> Policy:
    """The CRD's scale-up defaults (no step limit, 15 s periods, no window), with ``over`` changed."""
    return replace(DEFAULT_SCALING.scale_up, **over)  # type: ignore[arg-type]


SPEC = a_spec(
    min_replicas=0,
    max_replicas=10,
    target_depth_per_replica=100,
    activation_depth=5,
    cooldown_seconds=300,
    scale_down=a_policy(stabilization_window_seconds=60),
)


def step(spec: Spec, current: int, depth: int, now: float, state: State | None = None) -> Decision:
    return decide(spec, current=current, depth=depth, now=now, state=state or State())


@pytest.mark.parametrize(
    ("current", "depth", "desired", "reason"),
    [
        (0, 0, 0, "depth"),
        (0, 5, 0, "depth"),  # at the activation depth: stay asleep
        (0, 6, 1, "depth"),  # above it: wake up
        (1, 250, 3, "depth"),
        (3, 5000, 10, "depth"),  # capped at maxReplicas
        (2, 150, 2, "depth"),
    ],
)
def test_table(current: int, depth: int, desired: int, reason: str) -> None:
    decision = step(SPEC, current, depth, 1000.0)
    assert (decision.desired, decision.reason) == (desired, reason)


def test_min_replicas_floor() -> None:
    assert step(a_spec(min_replicas=2, max_replicas=5), 3, 0, 0.0).desired >= 2


def test_scale_down_waits_for_the_window() -> None:
    first = step(SPEC, 4, 400, 0.0)
    assert first.desired == 4
    quiet = step(SPEC, 4, 100, 30.0, first.state)  # a dip inside the window
    assert (quiet.desired, quiet.reason) == (4, "stabilization window")
    later = step(SPEC, 4, 100, 61.0, quiet.state)  # the burst left the window
    assert later.desired == 1


def test_cooldown_before_zero() -> None:
    busy = step(SPEC, 1, 50, 0.0)
    idle = step(SPEC, 1, 0, 100.0, busy.state)
    assert (idle.desired, idle.reason) == (1, "cooldown before zero")
    asleep = step(SPEC, 1, 0, 301.0, idle.state)
    assert asleep.desired == 0


def test_step_limits_and_periods() -> None:
    spec = a_spec(
        max_replicas=50,
        target_depth_per_replica=10,
        scale_up=a_policy(max_step=4, period_seconds=15),
        scale_down=a_policy(max_step=2, period_seconds=15),
    )
    up = step(spec, 1, 500, 0.0)
    assert (up.desired, up.reason) == (5, "scale-up step limit")
    held = step(spec, 5, 500, 5.0, up.state)
    assert (held.desired, held.reason) == (5, "scale-up period")
    again = step(spec, 5, 500, 16.0, held.state)
    assert again.desired == 9
    down = step(spec, 9, 0, 40.0, again.state)
    assert (down.desired, down.reason) == (7, "scale-down step limit")


def test_paused_keeps_the_count() -> None:
    paused = a_spec(paused=True)
    assert step(paused, 3, 100_000, 0.0).desired == 3
    assert step(paused, 3, 0, 0.0).desired == 3


def test_invalid_specs() -> None:
    with pytest.raises(ValueError, match="minReplicas"):
        a_spec(min_replicas=5, max_replicas=2)
    with pytest.raises(ValueError, match="targetDepthPerReplica"):
        a_spec(target_depth_per_replica=0)


def _spec(
    lo: int, span: int, target: int, activation: int, window: float, up: int | None, down: int | None
) -> Spec:
    return a_spec(
        min_replicas=lo,
        max_replicas=lo + span,
        target_depth_per_replica=target,
        activation_depth=activation,
        cooldown_seconds=window,
        scale_up=a_policy(max_step=up, period_seconds=10),
        scale_down=a_policy(max_step=down, period_seconds=10, stabilization_window_seconds=window),
    )


steps = st.one_of(st.none(), st.integers(1, 5))
specs = st.builds(
    _spec,
    st.integers(0, 5),
    st.integers(0, 20),
    st.integers(1, 500),
    st.integers(0, 50),
    st.floats(0, 600),
    steps,
    steps,
)
observations = st.lists(
    st.tuples(st.integers(0, 20_000), st.integers(0, 20_000), st.floats(0.1, 120)), min_size=1, max_size=40
)


@settings(max_examples=300, deadline=None)
@given(spec=specs, start=st.integers(0, 30), seen=observations)
def test_properties(spec: Spec, start: int, seen: list[tuple[int, int, float]]) -> None:
    current = min(max(start, spec.min_replicas), spec.max_replicas)
    state, now = State(), 0.0
    for depth_extra, in_flight, gap in seen:
        now += gap
        depth = in_flight + depth_extra  # in-flight work is part of the depth
        decision = decide(spec, current=current, depth=depth, now=now, state=state)
        # never outside [min, max]
        assert spec.min_replicas <= decision.desired <= spec.max_replicas
        if decision.desired < current:
            # never scales down below what in-flight work needs
            needed = min(spec.max_replicas, math.ceil(in_flight / spec.target_depth_per_replica))
            assert decision.desired >= needed
            # never below a wish it had inside the stabilization window (no flapping)
            recent = [
                w for t, w in decision.state.wishes if now - t < spec.scale_down.stabilization_window_seconds
            ]
            assert decision.desired >= max(recent, default=0) or decision.reason.endswith("step limit")
        current, state = decision.desired, decision.state


def test_scale_up_stabilization_takes_the_lowest_recent_wish() -> None:
    spec = a_spec(
        max_replicas=20, target_depth_per_replica=10, scale_up=a_policy(stabilization_window_seconds=30)
    )
    first = step(spec, 1, 20, 0.0)  # wish 2: the lowest wish so far
    assert first.desired == 2
    spike = step(spec, 2, 150, 10.0, first.state)  # a spike: wish 15, but 2 was wished 10 s ago
    assert (spike.desired, spike.reason) == (2, "scale-up stabilization window")
    steady = step(spec, 2, 150, 31.0, spike.state)  # the low wish left the window
    assert steady.desired == 15
