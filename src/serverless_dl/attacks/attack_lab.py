"""The attack lab of lesson 05 (course plumbing): hostile hosts and internal services, offline.

`attack_lab()` starts the misbehaving servers of `serverless_dl.attacks.hostile_servers`
and two services an attacker hopes to reach through the function, all on
127.0.0.1, and installs a `PretendInternet` for the whole process. In it:

- the hostile hosts have public names and addresses (`images.example`,
  `redirect.example`, `flood.example`, `stall.example`, `drip.example`,
  `liar.example`, all on port 80); `rebind.example` answers with whatever
  `internet.answer_in_turn()` was last told;
- an internal admin API sits at 10.0.0.5, as a service in your VPC would, and
  the EC2 instance metadata service at 169.254.169.254;
- loopback addresses reach the local servers as they are, and a NAT64 address
  (64:ff9b::/96) reaches the IPv4 address inside it;
- any other connection fails at once: nothing leaves the machine.

urllib (the naive download) and the guarded `image_source` code see the same
world, so the same URL can be tried on both. `outcome()` and `outcome_within()`
describe in one line what a call did.
"""

from __future__ import annotations

import contextlib
import re
import textwrap
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from serverless_dl.attacks.hostile_servers import (
    HostileSite,
    InternalService,
    MetadataService,
    hostile_site,
    serve_hostile,
)
from serverless_dl.attacks.pretend_internet import PretendInternet
from serverless_dl.base.environment_variables import changed_environment

# Public names and addresses for the hostile servers (global unicast: the guards let them by).
HOSTILE_HOSTS = {
    "images.example": ("1.2.3.10", "files"),
    "redirect.example": ("1.2.3.11", "redirector"),
    "flood.example": ("1.2.3.12", "flood"),
    "stall.example": ("1.2.3.13", "staller"),
    "drip.example": ("1.2.3.14", "dripper"),
    "liar.example": ("1.2.3.15", "liar"),
}
INTERNAL_ADDRESS = "10.0.0.5"
METADATA_ADDRESS = "169.254.169.254"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                   "ALL_PROXY")


@dataclass
class AttackLab:
    """The running lab: the hostile site, the pretend internet, the internal service's port."""

    site: HostileSite
    internet: PretendInternet
    internal_port: int


def _local(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname, parts.port


@contextlib.contextmanager
def attack_lab() -> Iterator[AttackLab]:
    """Run the lab until the block ends; the pretend internet answers for the whole process."""
    with contextlib.ExitStack() as stack:
        site = stack.enter_context(hostile_site(tls=False))
        internal, _ = stack.enter_context(serve_hostile(InternalService))
        metadata, _ = stack.enter_context(serve_hostile(MetadataService))
        routes = {(address, 80): _local(getattr(site, server))
                  for address, server in HOSTILE_HOSTS.values()}
        routes[(INTERNAL_ADDRESS, 80)] = _local(internal)
        routes[(METADATA_ADDRESS, 80)] = _local(metadata)
        names = {name: [address] for name, (address, _) in HOSTILE_HOSTS.items()}
        internet = PretendInternet(names, routes, loopback=True, nat64=True)
        # urllib would send requests to a proxy named in the environment, outside the lab.
        stack.enter_context(changed_environment(dict.fromkeys(PROXY_VARIABLES)))
        with internet.installed():
            yield AttackLab(site, internet, _local(internal)[1])


def outcome(function: Callable, *args) -> str:
    """What `function(*args)` did, in one line: what it returned, or how it refused or failed."""
    try:
        result = function(*args)
    except Exception as error:  # the point is to show what happened, whatever it was
        message = re.sub(r" at 0x[0-9a-f]+", "", str(error)).splitlines()
        if type(error).__name__ == "RequestError":  # the guards' own refusal
            return f"refused, {error.status}: {message[0]}"
        name = type(error).__name__
        if name == "Error":  # binascii.Error and the like: the module says what it is
            name = f"{type(error).__module__}.{name}"
        shown = textwrap.shorten(message[0], 90, placeholder=" ...") if message else ""
        return f"failed: {name}" + (f": {shown}" if shown else "")
    return describe(result)


def describe(result) -> str:
    """A one-line description of what a download or a decoding returned."""
    if isinstance(result, bytes):
        if len(result) <= 200:
            return f"got {len(result):,} bytes: {result.decode(errors='replace')}"
        return f"got {len(result):,} bytes"
    if hasattr(result, "size") and hasattr(result, "mode"):  # a Pillow image
        width, height = result.size
        size = width * height * len(result.getbands())
        amount = (f"{size / 2**20:,.0f} MB" if size >= 2**20
                  else f"{size / 2**10:,.0f} KB" if size >= 2**10 else f"{size} bytes")
        return f"got a {width}x{height} image: {amount} of pixels in memory"
    return f"got {result!r}"


def outcome_within(seconds: float, function: Callable, *args) -> str:
    """`outcome(function, *args)`, or "still waiting" if it takes longer than `seconds`.

    The call goes on in a background thread; the lab's servers end it when the lab closes.
    """
    results = []
    thread = threading.Thread(target=lambda: results.append(outcome(function, *args)),
                              daemon=True)
    thread.start()
    thread.join(seconds)
    return results[0] if results else f"still waiting after {seconds:g} s"
