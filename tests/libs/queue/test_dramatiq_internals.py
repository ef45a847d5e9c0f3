"""What Jobyard relies on of Dramatiq beyond its public API, checked against the installed
version: a Dramatiq upgrade that changes any of it fails here, not in production.

libs/pyproject.toml pins dramatiq below the next minor version; before raising the pin, this
file says what to re-read: the Redis broker's dispatch script (our sweep and pipelined
enqueue call it directly), its key layout (queue depth reads it), and the environment
variables the worker CLI sets.
"""

from __future__ import annotations

import inspect
import re
from importlib.metadata import version
from importlib.resources import files

from dramatiq import worker as dramatiq_worker
from dramatiq.brokers.redis import RedisBroker

DISPATCH_ARGS = [
    "command",
    "timestamp",
    "queue_name",
    "worker_id",
    "heartbeat_timeout",
    "dead_message_ttl",
    "do_maintenance",
    "max_unpack_size",
]


def _dispatch_lua() -> str:
    return files("dramatiq.brokers").joinpath("redis", "dispatch.lua").read_text()


def test_the_pinned_version_is_the_one_checked() -> None:
    major, minor = (int(part) for part in version("dramatiq").split(".")[:2])
    assert (major, minor) == (2, 2), "re-read this file's checks against the new Dramatiq, then update it"


def test_the_dispatch_script_takes_the_arguments_we_pass() -> None:
    """queue.broker.requeue_from_dead_workers and queue.sender call it with these, in order."""
    read = re.findall(r"^local (\w+) = ARGV\[(\d+)\]$", _dispatch_lua(), flags=re.MULTILINE)
    assert [name for name, _ in sorted(read, key=lambda found: int(found[1]))] == DISPATCH_ARGS


def test_the_key_layout_queue_depth_reads() -> None:
    """``<ns>:__acks__.<worker>.<queue>``, ``<ns>:__heartbeats__``, ``<queue>.msgs``,
    ``<queue>.DQ``, ``<queue>.XQ``: what queue.depth and queue.broker read."""
    lua = _dispatch_lua()
    for line in (
        'local acks = namespace .. ":__acks__." .. worker_id',
        'local queue_acks = acks .. "." .. queue_name',
        'local heartbeats = namespace .. ":__heartbeats__"',
        'local queue_messages = queue_full_name .. ".msgs"',
        'local xqueue_full_name = namespace .. ":" .. queue_canonical_name .. ".XQ"',
        'if string.sub(queue_name, -3) == ".DQ" then',
    ):
        assert line in lua, line


def test_the_broker_members_we_use() -> None:
    broker = RedisBroker(url="redis://127.0.0.1:1/0")  # type: ignore[no-untyped-call]  # never connects
    try:
        assert "dispatch" in broker.scripts
        for member in ("broker_id", "namespace", "heartbeat_timeout", "dead_message_ttl", "client"):
            assert hasattr(broker, member), member
        assert callable(broker._max_unpack_size)
        assert list(inspect.signature(broker._should_do_maintenance).parameters) == ["command"]
    finally:
        broker.close()


def test_the_worker_settings_the_cli_sets_by_environment() -> None:
    source = inspect.getsource(dramatiq_worker)
    assert 'os.getenv("dramatiq_queue_prefetch"' in source
    assert 'os.getenv("dramatiq_worker_timeout"' in source
