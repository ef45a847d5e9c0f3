"""Redis with failover on loopback: one primary, one replica, three Sentinels (Debian's
``redis-server`` and ``redis-sentinel``), for the failover test."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import redis
from jobyard_devstack.net import free_port, wait_until
from jobyard_devstack.redis_server import redis_answers

MASTER = "mymaster"


class SentinelCluster:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.primary_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def sentinels(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def _spawn(self, name: str, command: list[str]) -> None:
        with (self.folder / f"{name}.log").open("ab") as out:
            self.processes[name] = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def _redis(self, name: str, port: int, *extra: str) -> None:
        data = self.folder / name
        data.mkdir(parents=True, exist_ok=True)
        server = shutil.which("redis-server") or "redis-server"
        self._spawn(
            name,
            [
                server,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(data),
                "--save",
                "",
                "--appendonly",
                "no",
                *extra,
            ],
        )
        wait_until(lambda: redis_answers(f"redis://127.0.0.1:{port}/0"), timeout=30, what=f"{name} Redis")

    def start(self) -> SentinelCluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._redis("primary", self.primary_port)
        self._redis("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.primary_port))
        replica = redis.Redis(port=self.replica_port)
        wait_until(
            lambda: replica.info("replication").get("master_link_status") == "up",
            timeout=30,
            what="replication",
        )
        sentinel_bin = shutil.which("redis-sentinel")
        assert sentinel_bin, (
            "redis-sentinel is missing: Debian's package redis-sentinel (.ci/run installs it)"
        )
        for i, port in enumerate(self.sentinel_ports):
            conf = self.folder / f"sentinel-{i}.conf"  # Sentinel rewrites its own file: one each
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.folder}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\n"
                f"sentinel failover-timeout {MASTER} 5000\n"
                f"sentinel parallel-syncs {MASTER} 1\n"
            )
            self._spawn(f"sentinel-{i}", [sentinel_bin, str(conf)])
        for port in self.sentinel_ports:
            client = redis.Redis(port=port, decode_responses=True)

            def knows_everyone(client: redis.Redis = client) -> bool:
                try:
                    master: dict[str, Any] = client.sentinel_master(MASTER)  # type: ignore[assignment]
                except redis.RedisError:
                    return False
                return int(master["num-other-sentinels"]) == 2 and int(master["num-slaves"]) == 1

            wait_until(knows_everyone, timeout=60, what="the Sentinels to know each other and the replica")
        return self

    def master_port(self) -> int | None:
        for port in self.sentinel_ports:
            try:
                client = redis.Redis(port=port, decode_responses=True)
                address: tuple[str, int] | None = client.sentinel_get_master_addr_by_name(MASTER)  # type: ignore[assignment]
            except redis.RedisError:
                continue
            if address:
                return int(address[1])
        return None

    def kill_primary(self) -> None:
        process = self.processes["primary"]
        process.send_signal(signal.SIGKILL)
        process.wait(30)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
