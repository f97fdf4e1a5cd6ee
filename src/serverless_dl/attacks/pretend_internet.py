"""A pretend internet: name resolution and connections from a table (course plumbing).

The handler's guards are about addresses: which ones a URL resolves to, and
which one a connection reaches. To show them at work on a machine with no
network, and to keep every test on 127.0.0.1, `PretendInternet` answers
instead of the real resolver and routes connections itself:

- `names` maps host names to the addresses they resolve to. Other hosts are
  resolved numerically only (IP literals in any notation the system accepts,
  such as `2130706433`); names that are neither resolve to `fallback`, a
  documentation address that the guards refuse. No DNS query is ever sent.
- `routes` maps an address, or an `(address, port)` pair, to the local
  `(host, port)` that answers for it: a server on 127.0.0.1 can then play a
  public web host, a private service at 10.0.0.5 or the EC2 metadata service
  at 169.254.169.254. An address alone keeps the port.
- Connections to loopback addresses go through only when `loopback` is true.
  With `nat64`, an address in 64:ff9b::/96 is routed as the IPv4 address it
  carries, as a NAT64 gateway would translate it. Every other connection
  fails with `NoInternet`: nothing leaves the machine.

Use an instance in place of one module's `socket` (`module.socket = ...`, as
the tests do), or install it for the whole process with `installed()`, as
lesson 05 does so that urllib and the guarded code see the same world.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator

# A global unicast address that stands for "some web server on the internet"; the default
# route sends its connections to 127.0.0.1 on the same port, so it is never contacted.
PRETEND_PUBLIC_ADDRESS = "1.2.3.4"
# TEST-NET-1: never routed, and refused by the guards as non-public.
UNKNOWN_NAME_ADDRESS = "192.0.2.1"
# What `installed()` replaces, kept so that the pretend internet can use the real thing.
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
_REAL_GETADDRINFO = socket.getaddrinfo
_REAL_CREATE_CONNECTION = socket.create_connection


class NoInternet(ConnectionRefusedError):
    """A connection to an address that the pretend internet does not route."""


class PretendInternet:
    """A stand-in for the `socket` module: resolution from `names`, connections by `routes`."""

    def __init__(
        self,
        names: dict[str, list[str]] | None = None,
        routes: dict | None = None,
        *,
        fallback: str = UNKNOWN_NAME_ADDRESS,
        loopback: bool = False,
        nat64: bool = False,
    ):
        self.names = dict(names or {})
        self.routes = {PRETEND_PUBLIC_ADDRESS: "127.0.0.1"} if routes is None else dict(routes)
        self.fallback = fallback
        self.loopback = loopback
        self.nat64 = nat64
        self._answers_in_turn: dict[str, list[list[str]]] = {}

    def __getattr__(self, name):
        return getattr(socket, name)

    def answer_in_turn(self, name: str, *answers: list[str]) -> None:
        """Make `name` resolve to each of `answers` in turn, then keep the last: DNS rebinding."""
        self._answers_in_turn[name] = [list(answer) for answer in answers]

    def addresses(self, host: str) -> list[str]:
        """The addresses `host` resolves to here."""
        turns = self._answers_in_turn.get(host)
        if turns:
            return turns.pop(0) if len(turns) > 1 else turns[0]
        if host in self.names:
            return self.names[host]
        try:
            infos = _REAL_GETADDRINFO(host, None, flags=socket.AI_NUMERICHOST)
        except (socket.gaierror, UnicodeError, ValueError):
            return [self.fallback]
        return [info[4][0] for info in infos]

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002
        """Resolve like the system would, from `names`, numerals and `fallback` only."""
        if host not in self.names and host not in self._answers_in_turn:
            try:
                numeric_only = flags | socket.AI_NUMERICHOST
                return _REAL_GETADDRINFO(host, port, family, type, proto, numeric_only)
            except socket.gaierror:
                pass
        return [
            (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM,
             socket.IPPROTO_TCP, "", (address, port))
            for address in self.addresses(host)
        ]

    def route(self, address: str, port: int) -> tuple[str, int] | None:
        """The local `(host, port)` that answers for `address`:`port`, or None."""
        for key in ((address, port), address):
            if key in self.routes:
                target = self.routes[key]
                return target if isinstance(target, tuple) else (target, port)
        if self.nat64 and ":" in address:
            parsed = ipaddress.ip_address(address.split("%")[0])
            if parsed in NAT64_PREFIX:
                return self.route(str(ipaddress.IPv4Address(int(parsed) & 0xFFFF_FFFF)), port)
        if self.loopback and _is_loopback(address):
            mapped = ipaddress.ip_address(address.split("%")[0])
            inside = getattr(mapped, "ipv4_mapped", None)
            return (str(inside) if inside else address), port
        return None

    def create_connection(self, address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT,
                          source_address=None, **kwargs):
        """Connect where `routes` says the first address of the host lands; refuse the rest."""
        host, port = address[:2]
        for resolved in self.addresses(host):
            target = self.route(resolved, port)
            if target is None:
                break
            return _REAL_CREATE_CONNECTION(target, timeout, source_address, **kwargs)
        raise NoInternet(f"the pretend internet has no route to {host}:{port}")

    @contextlib.contextmanager
    def installed(self) -> Iterator[PretendInternet]:
        """Answer for the whole process (`socket.getaddrinfo`, `socket.create_connection`)."""
        socket.getaddrinfo, socket.create_connection = self.getaddrinfo, self.create_connection
        try:
            yield self
        finally:
            socket.getaddrinfo, socket.create_connection = (
                _REAL_GETADDRINFO, _REAL_CREATE_CONNECTION
            )


def _is_loopback(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    inside = getattr(parsed, "ipv4_mapped", None)
    return (inside or parsed).is_loopback
