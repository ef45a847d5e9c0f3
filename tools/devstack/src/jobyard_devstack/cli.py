"""``jobyard-dev``: the platform on one machine, no Docker, no Kubernetes (``make run``).

``up`` starts Redis (the machine's ``redis-server``, or ``JOBYARD_REDIS_URL``), the
embedded MongoDB (secantusdb under ``.data/mongo``, or ``JOBYARD_MONGODB_URL``), creates
the first admin, starts every service, prints their URLs and waits; Ctrl-C stops all it
started. ``ensure-redis`` only makes sure ``redis-server`` is installed (``make test``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import httpx

from jobyard_devstack.embedded_mongo import daemon_command, mongo_answers
from jobyard_devstack.net import port_open, wait_until
from jobyard_devstack.redis_server import RedisServer, RedisUnavailable, ensure_redis_server, redis_answers
from jobyard_devstack.settings import DevSettings
from jobyard_devstack.supervisor import Supervisor


class StartFailed(RuntimeError):
    pass


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _redis_url(dev: DevSettings, supervisor: Supervisor) -> str:
    if os.environ.get("JOBYARD_REDIS_URL"):
        return os.environ["JOBYARD_REDIS_URL"]
    server = RedisServer(dev.redis_port, (dev.data_dir / "redis").resolve(), persistent=True)
    if port_open(dev.redis_port):
        if redis_answers(server.url):
            say(f"  redis    reusing the Redis already on port {dev.redis_port}")
            return server.url
        raise StartFailed(f"port {dev.redis_port} is taken by something that is not Redis")
    server.data_dir.mkdir(parents=True, exist_ok=True)
    supervisor.start("redis", server.command(), dict(os.environ))
    wait_until(lambda: redis_answers(server.url), timeout=dev.start_timeout_seconds, what="redis")
    return server.url


def _mongodb_url(dev: DevSettings, supervisor: Supervisor) -> str:
    if os.environ.get("JOBYARD_MONGODB_URL"):
        return os.environ["JOBYARD_MONGODB_URL"]
    url = f"mongodb://127.0.0.1:{dev.mongodb_port}/"
    if port_open(dev.mongodb_port):
        raise StartFailed(f"port {dev.mongodb_port} is taken; set JOBYARD_DEV_MONGODB_PORT")
    storage = (dev.data_dir / "mongo").resolve()
    storage.mkdir(parents=True, exist_ok=True)
    supervisor.start("mongodb", daemon_command(dev.mongodb_port, storage), dict(os.environ))
    wait_until(lambda: mongo_answers(url), timeout=dev.start_timeout_seconds, what="embedded MongoDB")
    return url


def _wait_ready(name: str, url: str, supervisor: Supervisor, timeout: float) -> None:
    def ready() -> bool:
        crashed = supervisor.exited()
        if crashed is not None:
            raise StartFailed(f"{crashed.name} exited; see {crashed.log_file}")
        try:
            return httpx.get(url + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout=timeout, what=f"{name} at {url}/readyz", interval=0.2)


def up(dev: DevSettings) -> int:
    data = dev.data_dir.resolve()
    supervisor = Supervisor(data / "run", data / "logs")
    leftovers = supervisor.stop_leftovers()
    if leftovers:
        say(f"stopped leftovers of an earlier run: {', '.join(leftovers)}")

    def stop(signum: int, _: FrameType | None) -> None:
        # Ctrl-C reaches us twice (the terminal's group signal, and uv forwarding it):
        # the first starts the shutdown, later ones must not interrupt it.
        for other in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(other, signal.SIG_IGN)
        raise KeyboardInterrupt

    # Explicitly: a shell that starts us in the background leaves SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        say("starting Jobyard")
        env = dict(os.environ)
        env.update(
            JOBYARD_REDIS_URL=_redis_url(dev, supervisor),
            JOBYARD_MONGODB_URL=_mongodb_url(dev, supervisor),
        )
        env.setdefault("JOBYARD_ENVIRONMENT", "development")
        env.setdefault("JOBYARD_LOG_FORMAT", "console")
        env.setdefault("JOBYARD_SIGNING_KEYS_DIR", str(data / "auth-keys"))
        say(f"  redis    {env['JOBYARD_REDIS_URL']}")
        say(f"  mongodb  {env['JOBYARD_MONGODB_URL']}")

        admin = subprocess.run(
            [_bin("jobyard-auth"), "bootstrap-admin", "--password-file", str(data / "admin-password")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if admin.returncode != 0:
            raise StartFailed(f"creating the first admin failed:\n{admin.stdout}{admin.stderr}")
        account = json.loads(admin.stdout.strip().splitlines()[-1])

        auth_url = f"http://127.0.0.1:{dev.auth_port}"
        if port_open(dev.auth_port):
            raise StartFailed(f"port {dev.auth_port} is taken; set JOBYARD_DEV_AUTH_PORT")
        supervisor.start("auth", [_bin("jobyard-auth"), "serve"], {**env, "JOBYARD_PORT": str(dev.auth_port)})
        _wait_ready("auth", auth_url, supervisor, dev.start_timeout_seconds)

        password = account["password"] or "(the JOBYARD_ADMIN_PASSWORD you set)"
        say()
        say("Jobyard is up:")
        say(f"  auth     {auth_url}        (docs: {auth_url}/docs)")
        say(f"  admin    {account['email']} / {password}")
        say(f"  logs     {supervisor.log_dir}/")
        say("Ctrl-C stops everything.")
        while (crashed := supervisor.exited()) is None:
            time.sleep(0.5)
        raise StartFailed(
            f"{crashed.name} exited with code {crashed.process.returncode}; see {crashed.log_file}"
        )
    except KeyboardInterrupt:
        say("\nstopping")
        return 0
    except (StartFailed, RedisUnavailable, TimeoutError) as exc:
        say(f"error: {exc}")
        return 1
    finally:
        supervisor.stop_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobyard-dev", description=__doc__)
    parser.add_argument("command", choices=["up", "ensure-redis", "settings-table"])
    args = parser.parse_args(argv)
    if args.command == "settings-table":
        from jobyard_devstack.settings_doc import settings_table

        say(settings_table())
        return 0
    if args.command == "ensure-redis":
        try:
            say(ensure_redis_server())
        except (RedisUnavailable, subprocess.CalledProcessError) as exc:
            say(f"error: {exc}")
            return 1
        return 0
    return up(DevSettings())


if __name__ == "__main__":
    sys.exit(main())
