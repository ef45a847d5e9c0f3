"""Settings of ``make run`` only (prefix ``JOBYARD_DEV_``); services never read them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DevSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOBYARD_DEV_", extra="ignore")

    data_dir: Path = Field(Path(".data"), description="Where make run keeps data, logs and keys.")
    redis_port: int = Field(6379, description="Port of the Redis make run starts (or reuses).")
    mongodb_port: int = Field(27018, description="Port of the embedded MongoDB make run starts.")
    mongodb: Literal["auto", "python", "rust"] = Field(
        "auto",
        description="Which embedded MongoDB-compatible server make run starts: python (secantusd-py, no build), "
        "rust (secantusd-rs: on the PATH or built by `make secantus`, about 5x faster per write), or auto "
        "(rust when there is one, python otherwise). make run says which it started.",
    )
    auth_port: int = Field(8001, description="Port of the auth service under make run.")
    api_port: int = Field(8000, description="Port of the api service under make run.")
    monitor_port: int = Field(8002, description="Port of the monitor service under make run.")
    console_port: int = Field(8080, description="Port of the web console under make run.")
    feeds_port: int = Field(8090, description="Port of the local server for the sample feeds.")
    sample_feeds_dir: Path = Field(
        Path("tests/fixtures/feeds"), description="Folder of sample feeds served locally by make run."
    )
    start_timeout_seconds: float = Field(60, description="How long make run waits for a service.")
