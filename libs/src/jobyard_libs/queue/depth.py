"""How much work Dramatiq really holds, per queue, read from Redis.

KEDA's Redis-list scaler counts only the ready list, so it can scale away workers that
are busy on in-flight messages. This counts what Dramatiq holds:

- **ready**: ids in ``<ns>:<queue>`` (consumers take from its head: index 0 is the oldest);
- **delayed / due**: messages of the delay queue ``<queue>.DQ``, both still listed and
  already held by a worker until their eta; *due* ones have an eta in the past;
- **in flight**: messages workers have fetched and not acknowledged, from each live
  worker's ack set ``__acks__.<worker>.<queue>``;
- **dead**: the dead-letter set ``<queue>.XQ``.

One pipelined round trip per call, plus a scan of the delay queue's messages (the eta
lives inside each message).

Usage
-----

::

    depths = await queue_depths(redis, "jobyard:dramatiq", ["imports", "tasks.default"])
    depths[0].backlog  # ready + due + in flight: what needs a worker
    # → 42
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from pydantic import ConfigDict, computed_field
from redis.asyncio import Redis

from jobyard_libs.queue.liveness import workers_key
from jobyard_libs.schemas import Reply


class QueueDepth(Reply):
    """One queue's reading (also a row of the monitor's ``/api/v1/stats``, camelCase there)."""

    model_config = ConfigDict(frozen=True)

    queue: str
    ready: int
    delayed: int
    delayed_due: int
    in_flight: int
    dead: int
    oldest_ready_age_seconds: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def backlog(self) -> int:
        """What needs a worker now: ready, due delayed, and in flight (what the autoscaler reads)."""
        return self.ready + self.delayed_due + self.in_flight


async def count_workers(redis: Redis, namespace: str, *, within_ms: int, now_ms: int | None = None) -> int:
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    return int(await redis.zcount(workers_key(namespace), now_ms - within_ms, "+inf"))


async def live_workers(redis: Redis, namespace: str) -> list[str]:
    """Every broker Dramatiq saw lately (workers and senders): whose ack sets to read."""
    return [
        w.decode() if isinstance(w, bytes) else str(w)
        for w in await redis.zrange(f"{namespace}:__heartbeats__", 0, -1)
    ]


async def queue_depths(
    redis: Redis, namespace: str, queues: Sequence[str], *, now_ms: int | None = None
) -> list[QueueDepth]:
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    workers = await live_workers(redis, namespace)
    async with redis.pipeline(transaction=False) as pipe:
        for queue in queues:
            base = f"{namespace}:{queue}"
            pipe.llen(base)
            pipe.lindex(base, 0)
            pipe.zcard(f"{base}.XQ")
            for worker in workers:
                pipe.scard(f"{namespace}:__acks__.{worker}.{queue}")
        replies = await pipe.execute()
    depths = []
    position = 0
    for queue in queues:
        ready, oldest_id, dead = replies[position : position + 3]
        in_flight = sum(int(n) for n in replies[position + 3 : position + 3 + len(workers)])
        position += 3 + len(workers)
        oldest_age = await _age_seconds(redis, f"{namespace}:{queue}.msgs", oldest_id, now_ms)
        delayed, due = await _delayed(redis, f"{namespace}:{queue}.DQ.msgs", now_ms)
        depths.append(
            QueueDepth(
                queue=queue,
                ready=int(ready),
                delayed=delayed,
                delayed_due=due,
                in_flight=in_flight,
                dead=int(dead),
                oldest_ready_age_seconds=oldest_age,
            )
        )
    return depths


async def _age_seconds(redis: Redis, messages_key: str, message_id: object, now_ms: int) -> float:
    if message_id is None:
        return 0.0
    raw = await redis.hget(messages_key, message_id)  # type: ignore[arg-type]
    if raw is None:
        return 0.0
    enqueued = json.loads(raw).get("message_timestamp", now_ms)
    return max(0.0, (now_ms - int(enqueued)) / 1000)


async def _delayed(redis: Redis, messages_key: str, now_ms: int) -> tuple[int, int]:
    """All delayed messages (listed or held by a worker), and those whose eta has passed."""
    total = due = 0
    async for _, raw in redis.hscan_iter(messages_key, count=500):
        total += 1
        eta = json.loads(raw).get("options", {}).get("eta", 0)
        if int(eta) <= now_ms:
            due += 1
    return total, due
