"""``jobyard-scheduler``: ``import`` runs one feed import (what the hourly CronJob runs);
``run`` fires due delayed and recurring tasks, leader-elected (the scheduler Deployment)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from jobyard_libs.app import open_resources
from jobyard_libs.cli import load_settings
from jobyard_libs.imports.import_logs import UNWATCHED, ImportLogRepository
from jobyard_libs.imports.jobs import JobRepository
from jobyard_libs.logging import configure_logging
from jobyard_libs.migrations import Migrations
from jobyard_libs.tasks.repository import TaskRepository
from prometheus_client import start_http_server

from jobyard_scheduler.imports.command import UnknownFeed, run_import
from jobyard_scheduler.loop.command import run_loop
from jobyard_scheduler.settings import SchedulerSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobyard-scheduler", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("import", help="import every enabled feed source once")
    one.add_argument(
        "--feed", action="append", dest="feeds", metavar="URL", help="only this source (repeatable)"
    )
    commands.add_parser("run", help="fire due delayed and recurring tasks (leader-elected), until SIGTERM")
    commands.add_parser("migrate", help="bring stored data up to this version (idempotent; after an upgrade)")
    args = parser.parse_args(argv)

    settings = load_settings(SchedulerSettings, "jobyard-scheduler")
    configure_logging(service="scheduler", level=settings.log_level, fmt=settings.log_format.value)
    if args.command == "run":
        if settings.scheduler_metrics_port:
            start_http_server(settings.scheduler_metrics_port, addr=settings.metrics_host)
        asyncio.run(_run_until_signalled(settings))
        return 0
    if args.command == "migrate":
        sys.stdout.write(json.dumps(asyncio.run(migrate(settings))) + "\n")
        return 0
    try:
        summary = asyncio.run(run_import(settings, args.feeds))
    except UnknownFeed as exc:
        sys.stderr.write(f"jobyard-scheduler: {exc}\n")
        return 2
    sys.stdout.write(json.dumps(summary, default=str) + "\n")
    return 1 if summary["status"] == "failed" else 0


async def migrate(settings: SchedulerSettings) -> dict[str, int]:
    """Every data migration this version needs, each idempotent: what each changed."""
    async with open_resources(settings) as resources:
        migrations = Migrations(resources.db)
        jobs = JobRepository(resources.db)
        logs = ImportLogRepository(resources.db, UNWATCHED)
        return {
            "jobDescriptionsSanitized": await migrations.run_once(
                "job-descriptions-sanitized", jobs.sanitize_stored
            ),
            "runningImportsLocked": await migrations.run_once("import-locks", logs.lock_running_imports),
            "taskNamesKeyed": await migrations.run_once(
                "task-name-keys", TaskRepository(resources.db).key_names
            ),
        }


async def _run_until_signalled(settings: SchedulerSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run_loop(settings, stop)


if __name__ == "__main__":
    sys.exit(main())
