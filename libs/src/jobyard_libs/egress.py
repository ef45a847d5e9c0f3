"""The one way out: every outbound request a user can aim goes through :class:`EgressGuard`.

Users aim requests at URLs of their choosing (the ``http`` task kind, completion webhooks,
``notifyUrl``, feed sources and the redirects they answer with). Inside a cluster that is
a way into everything the worker can reach, so each request is checked and pinned:

- the host is resolved **once**; every address it resolves to must be public (not
  private, shared, loopback, link-local, multicast, reserved or unspecified, and not such
  an address wrapped in IPv4-mapped, IPv4-compatible, 6to4, Teredo or NAT64 IPv6 forms),
  unless the operator allows it (``JOBYARD_EGRESS_ALLOWED_HOSTS``: host names, addresses
  or CIDRs, each optionally with ``:port``);
- the connection goes to the address that was checked (the URL's host travels in the
  ``Host`` header and as the TLS server name), so a second DNS answer cannot move it
  (DNS rebinding);
- every redirect hop is checked the same way, and there are at most ``max_redirects``;
- the response body is read as a stream and never beyond ``max_bytes`` *decoded*: at most
  one ``Content-Encoding`` layer is undone, incrementally and bounded (a kilobyte of nested
  gzip cannot inflate to gigabytes), nested or unknown encodings are refused; the whole
  exchange is bounded by ``timeout_seconds``; environment proxies are ignored.

Usage
-----

::

    guard = EgressGuard(EgressPolicy.parse("feeds.internal, 10.1.0.0/16:8080"))
    async with guard.stream("GET", "https://example.com/feed.xml") as response:
        async for chunk in capped(response, 1_000_000): ...
    refusal(ipaddress.ip_address("::ffff:127.0.0.1"))
    # → 'loopback'
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECTS = {301, 302, 303, 307, 308}
# Special-purpose blocks Python's ``is_global`` still calls global.
EXTRA_REFUSED = [
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("192.88.99.0/24"),  # 6to4 relay anycast
    ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64
]
STEP = 1024 * 1024  # decoded bytes per step: one step's work is bounded too
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class EgressError(Exception):
    """An outbound request that was not made, or not finished."""


class EgressRefused(EgressError):
    """The destination is not allowed: the request was never sent."""


class EgressTooLarge(EgressError):
    """The response was larger than the byte cap (reading stopped there)."""


class EgressFailed(EgressError):
    """The destination could not be reached or answered badly: timeouts and resets are
    ``retryable``; a redirect loop or a redirect without a Location is not."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _kind(address: IPAddress) -> str | None:
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("special-purpose", any(address in net for net in EXTRA_REFUSED if net.version == address.version)),
        ("not globally routable", not address.is_global),  # shared 100.64/10, benchmarks...
    )
    return next((name for name, hit in checks if hit), None)


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` is not a public destination, or ``None`` when it is.

    An IPv6 address that wraps an IPv4 one is judged by what it wraps too: on Python 3.11
    ``::ffff:127.0.0.1`` is not ``is_loopback``, but it reaches loopback all the same.
    """
    for inner in embedded_ipv4(address):
        reason = _kind(inner)
        if reason is not None:
            return reason
    return _kind(address)


@dataclass(frozen=True)
class AllowEntry:
    """One operator exception: a host name or a network, optionally on one port."""

    host: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def admits(self, host: str, address: IPAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return self.host == host
        return (
            self.network is not None and address.version == self.network.version and address in self.network
        )

    @classmethod
    def parse(cls, raw: str) -> AllowEntry:
        text, port = raw.strip().lower(), None
        if text.startswith("["):  # [v6]:port or [v6/len]:port
            inner, _, rest = text[1:].partition("]")
            text = inner
            if rest.startswith(":"):
                port = _port(rest[1:], raw)
        elif text.count(":") == 1:  # host:port or v4[/len]:port (bare IPv6 has several colons)
            text, _, port_text = text.partition(":")
            port = _port(port_text, raw)
        if not text:
            raise ValueError(f"empty egress allowlist entry {raw!r}")
        try:
            return cls(network=ipaddress.ip_network(text, strict=False), port=port)
        except ValueError:
            pass
        try:  # a name: as the guard compares it (an internationalised one in its IDNA form)
            return cls(host=ascii_host(httpx.URL(f"http://{text}/")), port=port)
        except httpx.InvalidURL as exc:
            raise ValueError(f"egress allowlist entry {raw!r} is not a host name: {exc}") from exc


def _port(text: str, raw: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad port in egress allowlist entry {raw!r}")
    return int(text)


@dataclass(frozen=True)
class EgressPolicy:
    """What may be reached, and how much of it may be read."""

    allow: tuple[AllowEntry, ...] = ()
    max_bytes: int = 1024 * 1024
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float | None = None  # between two reads; default: timeout_seconds
    max_redirects: int = 5

    @classmethod
    def parse(cls, allowlist: str, **limits: Any) -> EgressPolicy:
        entries = tuple(AllowEntry.parse(part) for part in allowlist.split(",") if part.strip())
        return cls(allow=entries, **limits)

    def check(self, host: str, addresses: list[IPAddress], port: int) -> IPAddress:
        """The address to connect to; :class:`EgressRefused` when any address is refused.

        Every address must pass: a name answering with one public and one private address
        is refused, whatever order the resolver returns them in.
        """
        if not addresses:
            raise EgressRefused(f"{host} resolves to no address")
        for address in addresses:
            if any(entry.admits(host, address, port) for entry in self.allow):
                continue
            reason = refusal(address)
            if reason is not None:
                raise EgressRefused(
                    f"{host} resolves to {address} ({reason}): outbound calls reach only public "
                    "addresses unless JOBYARD_EGRESS_ALLOWED_HOSTS lists it"
                )
        return addresses[0]


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for ``host`` (once; the guard pins one)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressFailed(f"cannot resolve {host}: {exc}") from exc
    seen: dict[IPAddress, None] = {}
    for info in infos:
        seen.setdefault(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]), None)
    return list(seen)


def ascii_host(url: httpx.URL) -> str:
    """``url``'s host, lower-case, without a trailing dot, internationalised names in their
    IDNA 2008 form (httpx encodes them with the idna library as it parses; a name IDNA
    refuses is an invalid URL). What resolution, the allow-list, SNI and ``Host`` all use."""
    return url.raw_host.decode("ascii").rstrip(".").lower()


@dataclass(frozen=True)
class Target:
    """A URL whose host was resolved and checked: connect to ``address``, present ``host``."""

    url: httpx.URL
    address: IPAddress

    @property
    def pinned_url(self) -> httpx.URL:
        return self.url.copy_with(host=str(self.address))

    @property
    def host(self) -> str:
        """The host as DNS and TLS know it: an internationalised name in its IDNA (punycode)
        form, ``bücher.example`` → ``xn--bcher-kva.example``."""
        return ascii_host(self.url)

    @property
    def host_header(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        port = self.url.port
        return host if port is None or port == DEFAULT_PORTS.get(self.url.scheme) else f"{host}:{port}"


@dataclass
class EgressGuard:
    policy: EgressPolicy
    resolver: Resolver = system_resolver
    _transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False)

    async def target(self, url: str | httpx.URL) -> Target:
        try:
            parsed = httpx.URL(str(url))
        except httpx.InvalidURL as exc:
            raise EgressRefused(f"invalid URL {str(url)[:200]!r}: {exc}") from exc
        if parsed.scheme not in DEFAULT_PORTS or not parsed.raw_host:
            raise EgressRefused(f"only http and https URLs with a host can be called, not {str(url)[:200]!r}")
        if parsed.userinfo:
            raise EgressRefused("URLs with credentials (user:password@) are refused")
        port = parsed.port or DEFAULT_PORTS[parsed.scheme]
        host = ascii_host(parsed)
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        addresses = [literal] if literal is not None else await self.resolver(host, port)
        return Target(parsed, self.policy.check(host, addresses, port))

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        follow_redirects: bool = False,
    ) -> AsyncIterator[httpx.Response]:
        """A streamed response from ``url`` (and its checked redirects, when followed).

        The body is not read: use :func:`capped` (or :meth:`read`) to read it within the
        policy's byte cap. ``response.url`` is the URL the response came from.
        """
        policy = self.policy
        timeout = httpx.Timeout(
            policy.timeout_seconds,
            connect=policy.connect_timeout_seconds,
            read=policy.read_timeout_seconds or policy.timeout_seconds,
        )
        try:
            async with (
                asyncio.timeout(self.policy.timeout_seconds),
                httpx.AsyncClient(
                    timeout=timeout, follow_redirects=False, trust_env=False, transport=self._transport
                ) as client,
            ):
                response = await self._send(client, method, url, headers or {}, content, follow_redirects)
                try:
                    yield response
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            raise EgressFailed(
                f"no complete answer from {url[:200]} within {self.policy.timeout_seconds} s"
            ) from exc
        except httpx.TimeoutException as exc:
            raise EgressFailed(f"{type(exc).__name__} calling {url[:200]}") from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.UnsupportedProtocol) as exc:
            raise EgressFailed(f"{type(exc).__name__} calling {url[:200]}: {exc}"[:500]) from exc

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        follow_redirects: bool,
    ) -> httpx.Response:
        current, hops = url, 0
        while True:
            target = await self.target(current)
            extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
            request = client.build_request(
                method,
                target.pinned_url,
                # identity: a compressed answer could inflate far past the byte cap per chunk
                headers={"Accept-Encoding": "identity", **headers, "Host": target.host_header},
                content=content,
                extensions=extensions,
            )
            response = await client.send(request, stream=True)
            response.request.url = target.url  # what the caller asked for, not the pinned address
            if not follow_redirects or response.status_code not in REDIRECTS:
                return response
            location = response.headers.get("location")
            await response.aclose()
            if not location:
                raise EgressFailed(
                    f"HTTP {response.status_code} from {current[:200]} without a Location", retryable=False
                )
            hops += 1
            if hops > self.policy.max_redirects:
                raise EgressFailed(
                    f"more than {self.policy.max_redirects} redirects from {url[:200]}", retryable=False
                )
            current = str(target.url.join(location))
            if response.status_code == 303 or (response.status_code in (301, 302) and method != "HEAD"):
                method, content = "GET", None
            if ascii_host(httpx.URL(current)) != target.host:  # credentials never follow to another host
                headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}

    async def read(self, response: httpx.Response, *, limit: int | None = None) -> tuple[bytes, bool]:
        """At most ``limit`` (default: the policy's cap) bytes of the decoded body, and whether
        there was more. Never decodes more than ``limit`` + 1 bytes (see :func:`decoded`)."""
        cap = self.policy.max_bytes if limit is None else limit
        body = bytearray()
        async for chunk in decoded(response, cap):
            body += chunk
        return bytes(body[:cap]), len(body) > cap


class BoundedDecoder:
    """The ``Content-Encoding`` of an answer undone a bounded step at a time.

    We ask for ``identity``; a server may answer compressed all the same, and a kilobyte of
    nested gzip inflates to gigabytes. So at most one layer is undone (``gzip``, ``x-gzip``,
    ``deflate``), never more than ``limit`` + 1 bytes of output in all, and each call of
    :meth:`feed` yields at most that much however small its input: memory stays bounded by
    the limit, not by the compression ratio. Nested (``gzip, gzip``) or unknown encodings
    (``br``, ``zstd``...) are refused before any byte is decoded.

    Examples
    --------
    >>> import gzip
    >>> decoder = BoundedDecoder("gzip", limit=10)
    >>> decoder.feed(gzip.compress(b"a" * 1000))
    b'aaaaaaaaaaa'
    >>> decoder.exceeded
    True
    >>> BoundedDecoder("gzip, gzip", limit=10)
    Traceback (most recent call last):
    ...
    jobyard_libs.egress.EgressFailed: nested content encodings are refused: 'gzip, gzip'
    """

    def __init__(self, content_encoding: str | None, *, limit: int) -> None:
        layers = [part.strip().lower() for part in (content_encoding or "").split(",")]
        layers = [layer for layer in layers if layer and layer != "identity"]
        if len(layers) > 1:
            raise EgressFailed(
                f"nested content encodings are refused: {(content_encoding or '')[:100]!r}", retryable=False
            )
        self.limit = limit
        self.produced = 0
        self._inflate: zlib._Decompress | None = None
        self._deflate_probe = False
        self._pending = b""
        if layers:
            if layers[0] in ("gzip", "x-gzip"):
                self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            elif layers[0] == "deflate":
                self._inflate, self._deflate_probe = zlib.decompressobj(), True
            else:
                raise EgressFailed(f"unsupported content encoding {layers[0][:50]!r}", retryable=False)

    @property
    def exceeded(self) -> bool:
        return self.produced > self.limit

    @property
    def pending(self) -> bool:
        """Input is waiting whose output did not fit in the last step (call :meth:`feed` again)."""
        return bool(self._pending) and not self.exceeded

    def feed(self, data: bytes) -> bytes:
        """The next decoded bytes (at most ``STEP``), stopping once more than ``limit`` were
        produced; input that does not fit waits (:attr:`pending`)."""
        data, self._pending = self._pending + data, b""
        room = min(self.limit + 1 - self.produced, STEP)
        if room <= 0 or not data:
            return b""
        if self._inflate is None:
            out, self._pending = data[:room], data[room:]
        else:
            out = self._inflate_bounded(data, room)
        self.produced += len(out)
        return out

    def _inflate_bounded(self, data: bytes, room: int) -> bytes:
        assert self._inflate is not None
        if self._inflate.eof:
            return b""  # whatever follows the compressed stream is ignored
        try:
            out = self._inflate.decompress(data, room)
        except zlib.error as exc:
            if self._deflate_probe:  # "deflate" sent raw, without zlib's header
                self._inflate, self._deflate_probe = zlib.decompressobj(-zlib.MAX_WBITS), False
                return self._inflate_bounded(data, room)
            raise EgressFailed(f"the answer's compressed body is corrupt: {exc}", retryable=False) from exc
        self._deflate_probe = False
        self._pending = self._inflate.unconsumed_tail
        return out


async def decoded(response: httpx.Response, limit: int) -> AsyncIterator[bytes]:
    """The decoded body in chunks, at most ``limit`` + 1 bytes in all (one more than
    ``limit`` says there was more): read raw and decoded by :class:`BoundedDecoder`, never by
    httpx, whose decoders inflate a whole chunk at once."""
    decoder = BoundedDecoder(response.headers.get("content-encoding"), limit=limit)
    async for raw in response.aiter_raw():
        chunk = decoder.feed(raw)
        while True:
            if chunk:
                yield chunk
            if decoder.exceeded:
                return
            if not decoder.pending:
                break
            chunk = decoder.feed(b"")


async def capped(response: httpx.Response, max_bytes: int) -> AsyncIterator[bytes]:
    """The decoded body in chunks; :class:`EgressTooLarge` as soon as it passes ``max_bytes``
    (counted after decompression)."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise EgressTooLarge(f"the answer is {int(declared)} bytes, over the {max_bytes}-byte limit")
    size = 0
    async for chunk in decoded(response, max_bytes):
        size += len(chunk)
        if size > max_bytes:
            raise EgressTooLarge(f"the answer exceeds the {max_bytes}-byte limit")
        yield chunk
