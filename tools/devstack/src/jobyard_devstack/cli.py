"""``jobyard-dev``: the platform on one machine, no Docker, no Kubernetes (``make run``).

``up`` starts Redis (the machine's ``redis-server``, or ``JOBYARD_REDIS_URL``), the
embedded MongoDB (secantusdb under ``.data/mongo``, or ``JOBYARD_MONGODB_URL``), serves
the sample feeds on loopback (unless ``JOBYARD_FEEDS`` is set), creates the first admin,
starts auth, api, monitor, the console, the worker and the scheduler loop, runs one feed
import, prints the URLs (the console's first) and waits; Ctrl-C
stops all it started. ``ensure-redis`` only makes sure ``redis-server`` is installed (``make test``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from jobyard_libs.cli import load_settings

from jobyard_devstack.embedded_mongo import embedded_url, mongo_answers, server_command
from jobyard_devstack.net import port_open, wait_until
from jobyard_devstack.redis_server import RedisServer, RedisUnavailable, ensure_redis_server, redis_answers
from jobyard_devstack.sample_feeds import SampleFeeds
from jobyard_devstack.settings import DevSettings
from jobyard_devstack.supervisor import Supervisor, dies_with_parent


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
    url = embedded_url(dev.mongodb_port)
    if port_open(dev.mongodb_port):
        raise StartFailed(f"port {dev.mongodb_port} is taken; set JOBYARD_DEV_MONGODB_PORT")
    try:
        name, command, storage = server_command(dev.mongodb, dev.mongodb_port, dev.data_dir.resolve())
    except FileNotFoundError as missing:
        raise StartFailed(f"JOBYARD_DEV_MONGODB=rust: {missing}") from missing
    supervisor.start("mongodb", command, dict(os.environ))
    wait_until(
        lambda: mongo_answers(url), timeout=dev.start_timeout_seconds, what=f"embedded MongoDB ({name})"
    )
    hint = (
        " (make secantus builds the faster secantusd-rs)"
        if name == "secantusd-py" and dev.mongodb == "auto"
        else ""
    )
    say(f"  mongodb  {name}, data in {storage}{hint}")
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


def _start_http_service(
    supervisor: Supervisor, name: str, port: int, env: dict[str, str], timeout: float
) -> str:
    url = f"http://127.0.0.1:{port}"
    if port_open(port):
        raise StartFailed(f"port {port} is taken; set JOBYARD_DEV_{name.upper()}_PORT")
    supervisor.start(name, [_bin(f"jobyard-{name}"), "serve"], {**env, "JOBYARD_PORT": str(port)})
    _wait_ready(name, url, supervisor, timeout)
    say(f"  {name:<8} ready")
    return url


def _run_command(command: list[str], env: dict[str, str], what: str) -> dict[str, Any]:
    result = subprocess.run(dies_with_parent(command), env=env, capture_output=True, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode not in (0, 1) or not lines:
        complaint = result.stderr.strip().splitlines()
        if result.returncode == 2 and len(complaint) == 1:  # a command's one-line error: a bad setting
            raise StartFailed(f"{what}: {complaint[0]}")
        raise StartFailed(f"{what} failed:\n{result.stdout}{result.stderr}")
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary


def _import_report(summary: dict[str, Any], api_url: str) -> list[str]:
    """The banner's lines about the first import: one per feed that failed, with why and where."""
    imports = summary.get("imports", [])
    failed = [i for i in imports if i.get("status") == "failed" or i.get("error")]
    lines = [f"  import   {len(imports)} feeds: {len(imports) - len(failed)} queued, {len(failed)} failed"]
    for run in failed:
        reason = str(run.get("error") or run.get("status"))
        lines.append(f"           ✗ {run.get('feedUrl')}: {reason[:200]}")
        lines.append(f"             GET {api_url}/api/v1/imports/{run.get('importLogId')}")
    return lines


def _ignore_stop_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


def up(dev: DevSettings) -> int:
    data = dev.data_dir.resolve()
    supervisor = Supervisor(data / "run", data / "logs")

    def stop(signum: int, _: FrameType | None) -> None:
        # Ctrl-C reaches us twice (the terminal's group signal, and uv forwarding it):
        # the first starts the shutdown, later ones must not interrupt it.
        _ignore_stop_signals()
        supervisor.interrupts.interrupt()

    # First of all (a Ctrl-C may come at any moment of the start), and explicitly: a shell
    # that starts us in the background leaves SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    own_pid = data / "run" / "jobyard-dev.pid"
    feeds: SampleFeeds | None = None
    try:
        leftovers = supervisor.stop_leftovers()  # an earlier run's supervisor first, then its children
        if leftovers:
            say(f"stopped leftovers of an earlier run: {', '.join(leftovers)}")
        own_pid.write_text(str(os.getpid()))
        say("starting Jobyard")
        env = dict(os.environ)
        env.update(
            JOBYARD_REDIS_URL=_redis_url(dev, supervisor),
            JOBYARD_MONGODB_URL=_mongodb_url(dev, supervisor),
        )
        env.setdefault("JOBYARD_ENVIRONMENT", "development")
        env.setdefault("JOBYARD_LOG_FORMAT", "console")
        env.setdefault("JOBYARD_SIGNING_KEYS_DIR", str(data / "auth-keys"))
        env.setdefault("JOBYARD_WORKER_METRICS_DIR", str(data / "worker-metrics"))
        env.setdefault("JOBYARD_WORKER_METRICS_PORT", "9191")
        env.setdefault("JOBYARD_SCHEDULER_METRICS_PORT", "9192")
        auth_url = f"http://127.0.0.1:{dev.auth_port}"
        env.setdefault("JOBYARD_AUTH_URL", auth_url)
        env.setdefault("JOBYARD_AUTH_JWKS_URL", f"{auth_url}/.well-known/jwks.json")
        if "JOBYARD_FEEDS" not in env:
            feeds = SampleFeeds(dev.sample_feeds_dir.resolve(), dev.feeds_port).start()
            env["JOBYARD_FEEDS"] = json.dumps(feeds.urls)
            # the sample feeds are on loopback, which outbound calls may not reach unless allowed
            env.setdefault("JOBYARD_EGRESS_ALLOWED_HOSTS", f"127.0.0.1:{dev.feeds_port}")
        say(f"  redis    {env['JOBYARD_REDIS_URL']}")
        say(f"  mongodb  {env['JOBYARD_MONGODB_URL']}")

        account = _run_command(
            [_bin("jobyard-auth"), "bootstrap-admin", "--password-file", str(data / "admin-password")],
            env,
            "creating the first admin",
        )
        # what an upgrade needs of data kept in .data from an earlier version (idempotent)
        _run_command([_bin("jobyard-scheduler"), "migrate"], env, "migrating stored data")
        timeout = dev.start_timeout_seconds
        _start_http_service(supervisor, "auth", dev.auth_port, env, timeout)
        api_url = _start_http_service(supervisor, "api", dev.api_port, env, timeout)
        monitor_url = _start_http_service(supervisor, "monitor", dev.monitor_port, env, timeout)
        console_env = {
            **env,
            "JOBYARD_CONSOLE_AUTH_URL": auth_url,
            "JOBYARD_CONSOLE_API_URL": api_url,
            "JOBYARD_CONSOLE_MONITOR_URL": monitor_url,
        }
        console_url = _start_http_service(supervisor, "console", dev.console_port, console_env, timeout)
        supervisor.start("worker", [_bin("jobyard-worker")], env)
        supervisor.start("scheduler", [_bin("jobyard-scheduler"), "run"], env)
        say("  worker and scheduler started; importing the feeds once")

        summary = _run_command([_bin("jobyard-scheduler"), "import"], env, "the first import")
        password = account["password"] or "(the JOBYARD_ADMIN_PASSWORD you set)"
        say()
        say("Jobyard is up:")
        say(f"  console  {console_url}        ← open this; sign in as the admin below")
        say(f"  auth     {auth_url}        (docs: {auth_url}/docs)")
        say(f"  api      {api_url}        (docs: {api_url}/docs)")
        say(f"  monitor  {monitor_url}        (metrics: {monitor_url}/metrics)")
        say(
            f"  worker   queues imports, tasks.*  (metrics: http://127.0.0.1:{env['JOBYARD_WORKER_METRICS_PORT']}/metrics)"
        )
        say(
            f"  scheduler fires delayed and recurring tasks  (metrics: http://127.0.0.1:{env['JOBYARD_SCHEDULER_METRICS_PORT']}/metrics)"
        )
        if feeds is not None:
            say(f"  feeds    {feeds.base_url}/  (sample feeds, served locally)")
        for line in _import_report(summary, api_url):
            say(line)
        say(f"  admin    {account['email']} / {password}")
        say(f"  logs     {supervisor.log_dir}/")
        say("Ctrl-C stops everything; a service that crashes is restarted.")
        while True:
            supervisor.keep_alive(say)
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("\nstopping")
        return 0
    except (StartFailed, RedisUnavailable, TimeoutError, FileNotFoundError, OSError) as exc:
        say(f"error: {exc}")
        return 1
    finally:
        _ignore_stop_signals()  # a late Ctrl-C must not cut the shutdown short
        supervisor.stop_all()
        if feeds is not None:
            feeds.stop()
        with contextlib.suppress(FileNotFoundError):
            own_pid.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobyard-dev", description=__doc__)
    parser.add_argument(
        "command", choices=["up", "ensure-redis", "settings-table", "values-table", "dashboards", "docs"]
    )
    args = parser.parse_args(argv)
    if args.command == "docs":
        from jobyard_devstack.generated_docs import regenerate

        for block in regenerate(Path.cwd()):
            say(f"rewrote {block}")
        return 0
    if args.command == "values-table":
        from jobyard_devstack.values_doc import values_table

        say(values_table())
        return 0
    if args.command == "dashboards":
        from jobyard_devstack.dashboards import write

        for path in write(Path.cwd()):
            say(f"wrote {path}")
        return 0
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
    return up(load_settings(DevSettings, "jobyard-dev"))


if __name__ == "__main__":
    sys.exit(main())
