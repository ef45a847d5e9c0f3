"""The egress guard: which addresses it refuses, and the attacks it stops.

Nothing here sends traffic anywhere but loopback: the address checks are the guard's own
function applied to addresses, and every request goes to servers on 127.0.0.1 (the
cluster's inside, which must be refused) or 127.0.0.2 (the public stand-in).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest
from jobyard_libs.egress import (
    AllowEntry,
    EgressFailed,
    EgressGuard,
    EgressPolicy,
    EgressRefused,
    IPAddress,
    refusal,
)
from jobyard_libs.feeds.errors import FeedFetchError
from jobyard_libs.feeds.fetcher import FetchOptions, fetch_feed
from jobyard_libs.settings import EgressSettings
from pydantic import ValidationError

from tests.support.feed_server import PUBLIC_STAND_IN, FeedServer


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT, shared address space
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not to bind
        ("224.0.0.251", "multicast"),
        ("240.0.0.1", "private"),
        ("255.255.255.255", "private"),
        ("198.18.0.1", "private"),
        ("192.0.0.8", "special-purpose"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped: not is_loopback on Python 3.11
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.0.0.1", "private"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("2002:7f00:1::1", "loopback"),  # 6to4 around 127.0.0.1
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 around the metadata service
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 around 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo whose client is 127.0.0.1
        ("64:ff9b:1::1", "reserved"),  # local-use NAT64
    ],
)
@pytest.mark.unit
def test_inside_addresses_are_refused_in_every_form(address: str, reason: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "2a00:1450:4001:80b::200e"]
)
@pytest.mark.unit
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.unit
def test_a_name_with_one_inside_address_is_refused_whatever_its_order() -> None:
    policy = EgressPolicy()
    public, inside = ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.5")
    for answer in ([public, inside], [inside, public]):
        with pytest.raises(EgressRefused, match=r"10\.0\.0\.5"):
            policy.check("mixed.example", answer, 443)
    assert policy.check("public.example", [public], 443) == public


@pytest.mark.unit
def test_operator_exceptions_by_name_network_and_port() -> None:
    policy = EgressPolicy.parse("feeds.internal, 10.1.0.0/16:8080, [::1]:9000")
    inside = ipaddress.ip_address("10.1.2.3")
    assert policy.check("feeds.internal", [inside], 443) == inside
    assert policy.check("other.internal", [inside], 8080) == inside
    with pytest.raises(EgressRefused):
        policy.check("other.internal", [inside], 8081)  # the CIDR is allowed on 8080 only
    assert policy.check("localhost", [ipaddress.ip_address("::1")], 9000)
    assert AllowEntry.parse("HOST.example.:443") == AllowEntry(host="host.example", port=443)


@pytest.mark.parametrize("entry", ["10.0.0.0/8:99999", "host:port", "[::1]:abc"])
@pytest.mark.unit
def test_a_bad_allowlist_entry_is_a_settings_error_naming_it(entry: str) -> None:
    with pytest.raises(ValidationError, match="egress_allowed_hosts"):
        EgressSettings(_env_file=None, egress_allowed_hosts=entry)


@pytest.fixture
def inside() -> Iterator[FeedServer]:
    server = FeedServer(host="127.0.0.1")  # a service inside the cluster
    server.serve("/secret", b"internal data")
    yield server
    server.stop()


@pytest.fixture
def public() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.stop()


def guard(**limits: float) -> EgressGuard:
    return EgressGuard(EgressPolicy.parse(PUBLIC_STAND_IN, timeout_seconds=5, **limits))


async def test_every_spelling_of_loopback_is_refused_before_any_byte_is_sent(inside: FeedServer) -> None:
    port = inside.port
    for url in [
        f"http://127.0.0.1:{port}/secret",
        f"http://localhost:{port}/secret",
        f"http://[::ffff:127.0.0.1]:{port}/secret",
        f"http://2130706433:{port}/secret",  # 127.0.0.1 as one number
        f"http://0x7f.1:{port}/secret",
        f"http://127.1:{port}/secret",
        f"http://[::1]:{port}/secret",
        f"http://[::127.0.0.1]:{port}/secret",
    ]:
        with pytest.raises(EgressRefused):
            async with guard().stream("GET", url):
                pass
    assert inside.hits["/secret"] == 0


async def test_urls_with_credentials_or_other_schemes_are_refused() -> None:
    for url in [
        "http://user:pw@127.0.0.2/",
        "file:///etc/passwd",
        "gopher://127.0.0.2:70/",
        "http:///nohost",
    ]:
        with pytest.raises(EgressRefused):
            await guard().target(url)


async def test_the_checked_address_is_the_one_connected_to(public: FeedServer, inside: FeedServer) -> None:
    """DNS rebinding: a name that answers public first and inside later. The guard asks once
    and connects to that answer; the URL's name travels only in the Host header."""
    public.serve("/ok", b"public answer")
    answers: list[IPAddress] = []

    async def rebinding(host: str, port: int) -> list[IPAddress]:
        answer = ipaddress.ip_address(PUBLIC_STAND_IN if not answers else "127.0.0.1")
        answers.append(answer)
        return [answer]

    rebinding_guard = EgressGuard(EgressPolicy.parse(PUBLIC_STAND_IN), resolver=rebinding)
    async with rebinding_guard.stream("GET", f"http://rebind.example:{public.port}/ok") as response:
        body, more = await rebinding_guard.read(response)
    assert (response.status_code, body, more) == (200, b"public answer", False)
    assert len(answers) == 1  # asked once
    assert public.hits["/ok"] == 1
    assert public.request_headers["/ok"]["Host"] == f"rebind.example:{public.port}"
    assert inside.hits["/secret"] == 0


async def test_a_redirect_into_the_inside_is_refused(public: FeedServer, inside: FeedServer) -> None:
    public.serve("/feed.xml", b"", redirect_to=f"http://127.0.0.1:{inside.port}/secret")
    with pytest.raises(EgressRefused, match="loopback"):
        async with guard().stream("GET", f"{public.base_url}/feed.xml", follow_redirects=True):
            pass
    with pytest.raises(FeedFetchError, match="refused"):
        await fetch_feed(f"{public.base_url}/feed.xml", FetchOptions(attempts=1), guard())
    assert inside.hits["/secret"] == 0
    assert public.hits["/feed.xml"] == 2


async def test_a_huge_answer_is_not_read_past_the_cap(public: FeedServer) -> None:
    public.serve("/huge", b"x" * 65536, repeat=4096)  # 256 MiB on offer
    async with guard().stream("GET", f"{public.base_url}/huge") as response:
        body, more = await guard().read(response, limit=2048)
    assert (len(body), more) == (2048, True)
    assert public.sent["/huge"] < 64 * 1024 * 1024  # the connection was dropped early


async def test_redirect_loops_are_bounded(public: FeedServer) -> None:
    public.serve("/a", b"", redirect_to="/b")
    public.serve("/b", b"", redirect_to="/a")
    with pytest.raises(EgressFailed, match="more than 3 redirects") as failure:
        async with guard(max_redirects=3).stream("GET", f"{public.base_url}/a", follow_redirects=True):
            pass
    assert failure.value.retryable is False


async def test_an_internationalised_host_is_called_by_its_idna_name(public: FeedServer) -> None:
    """`https://bücher.example` used to end in a UnicodeEncodeError. The name is resolved, listed
    and presented (Host, SNI) in its IDNA form; the allow-list may name it either way."""
    public.serve("/idn", b"idn answer")
    asked: list[str] = []

    async def resolver(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address(PUBLIC_STAND_IN)]

    for allowed in ("bücher.example", "xn--bcher-kva.example", PUBLIC_STAND_IN):
        idn_guard = EgressGuard(EgressPolicy.parse(allowed), resolver=resolver)
        async with idn_guard.stream("GET", f"http://Bücher.example:{public.port}/idn") as response:
            body, _ = await idn_guard.read(response)
        assert (response.status_code, body) == (200, b"idn answer")
        assert public.request_headers["/idn"]["Host"] == f"xn--bcher-kva.example:{public.port}"
    assert set(asked) == {"xn--bcher-kva.example"}


@pytest.mark.parametrize(
    "url", ["http://☃.example/", "http://a\u200d.example/", "https://exa\u0000mple.com/"]
)
async def test_a_name_idna_refuses_is_refused_clearly(url: str) -> None:
    with pytest.raises(EgressRefused, match="invalid URL"):
        await guard().target(url)
