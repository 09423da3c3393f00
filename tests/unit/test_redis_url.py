"""Redis URLs: Sentinel ones parsed, every form shown without credentials."""

from __future__ import annotations

import pytest

from directord import redis_url
from directord.config import safe_url
from directord.drivers.redis.link import Link
from directord.exceptions import ConfigError


def test_a_sentinel_url_names_its_sentinels_service_db_and_logins() -> None:
    target = redis_url.parse_sentinel(
        "rediss+sentinel://web1:s%40cret@s1:26380,s2,[::1]:26381/mymaster/3?sentinel_password=pw")
    assert target.sentinels == [("s1", 26380), ("s2", redis_url.SENTINEL_PORT), ("::1", 26381)]
    assert (target.service, target.db) == ("mymaster", 3)
    assert target.master == {"ssl": True, "username": "web1", "password": "s@cret"}
    assert target.sentinel == {"password": "pw"}
    assert redis_url.parse_sentinel("redis+sentinel://h/svc").db == 0


@pytest.mark.parametrize("url", ["redis+sentinel:///svc", "redis+sentinel://h:port/svc", "redis+sentinel://h",
                                 "redis+sentinel://h/svc/db", "redis+sentinel://h/svc/0/extra"])
def test_a_bad_sentinel_url_is_one_clear_error(url: str) -> None:
    with pytest.raises(ValueError):
        redis_url.parse_sentinel(url)
    with pytest.raises(ConfigError, match="bad redis URL"):
        Link(url)


def test_addresses_for_messages_carry_no_credentials() -> None:
    assert redis_url.address("redis://u:pw@h:6380/0") == "h:6380"
    assert redis_url.address("redis+sentinel://u:pw@a:1,b:2/svc/1") == "svc via sentinel a:1,b:2"
    assert safe_url("redis+sentinel://u:pw@a:1,b:2/svc/1") == "redis+sentinel://u:***@a:1,b:2/svc/1"


def test_link_refuses_what_is_not_redis_and_keeps_the_prefix_out_of_the_url() -> None:
    with pytest.raises(ConfigError, match="not a redis URL"):
        Link("http://u:secret@h/0")
    try:
        Link("http://u:secret@h/0")
    except ConfigError as exc:
        assert "secret" not in str(exc)
    link = Link("redis://h:1/0?prefix=mine&socket_timeout=5")
    assert link.keys.down("n") == "mine:down:n" and link.url == "redis://h:1/0?socket_timeout=5"
    with pytest.raises(ConfigError, match="--driver-url"):
        Link("")
