"""The one Redis client factory: where Redis is, from a URL, a Sentinel URL or settings."""

from __future__ import annotations

from typing import Any

import pytest
from jobyard_libs.redis_client import RedisConnector
from jobyard_libs.redis_target import RedisTarget
from jobyard_libs.settings import BaseServiceSettings
from pydantic import ValidationError


def test_a_sentinel_url_names_the_nodes_the_master_the_database_and_the_password() -> None:
    target = RedisTarget.parse("redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2,[::1]:26380/cache/3")
    assert target.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26379), ("::1", 26380))
    assert (target.master, target.db, target.password) == ("cache", 3, "s3cret")
    assert "s3cret" not in target.description


def test_settings_pick_sentinel_over_the_url_and_tls_from_rediss() -> None:
    settings = BaseServiceSettings(
        _env_file=None,
        redis_sentinels="s1:26379,s2:26379",
        redis_sentinel_master="jobs",
        redis_password="pw",
        redis_sentinel_password="spw",
    )
    target = settings.redis_target()
    assert target.sentinels == (("s1", 26379), ("s2", 26379))
    assert (target.master, target.password, target.sentinel_password) == ("jobs", "pw", "spw")
    tls = BaseServiceSettings(_env_file=None, redis_url="rediss://cache:6380/0", redis_tls_ca_file="/ca.pem")
    assert tls.redis_target().tls and tls.redis_target().ca_file == "/ca.pem"
    options = RedisConnector(tls.redis_target())._common()
    assert options["ssl"] is True and options["ssl_ca_certs"] == "/ca.pem"


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [("redis_url", "http://cache:6379", "redis_url"), ("redis_sentinels", "s1:notaport", "redis_sentinels")],
)
def test_a_bad_redis_setting_is_an_error_naming_it(setting: str, value: str, named: str) -> None:
    fields: dict[str, Any] = {setting: value}
    with pytest.raises(ValidationError, match=named):
        BaseServiceSettings(_env_file=None, **fields)


async def test_a_client_survives_a_redis_restart_on_the_same_port(tmp_path: object) -> None:
    """The retry policy: the first command on a connection Redis closed is retried, not an error."""
    from pathlib import Path

    from tests.support.databases import KillableRedis

    folder = Path(str(tmp_path))
    server = KillableRedis(folder / "redis", folder / "redis.log").begin()
    try:
        client = RedisConnector(RedisTarget.parse(server.url)).asyncio()
        await client.set("k", "v")
        server.stop()
        server.begin()
        assert await client.get("k") is None  # not persistent: gone, but no ConnectionError
        await client.aclose()
    finally:
        server.stop()
