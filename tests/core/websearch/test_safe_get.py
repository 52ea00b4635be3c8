"""The address actually connected to is checked too: a name that passed the check and then
resolved elsewhere (DNS rebinding) is refused once the socket shows where it went."""

from __future__ import annotations

import httpx
import pytest

from core.websearch.addresses import BlockedUrl, networks
from core.websearch.safe_get import check_peer


class Stream:
    def __init__(self, peer: tuple[str, int] | None) -> None:
        self.peer = peer

    def get_extra_info(self, name: str) -> object:
        return self.peer if name == "server_addr" else None


@pytest.mark.parametrize("peer", [("127.0.0.1", 80), ("10.0.0.5", 443), ("fe80::1%eth0", 80)])
def test_a_connection_that_landed_on_a_local_address_is_refused(peer: tuple[str, int]) -> None:
    response = httpx.Response(200, extensions={"network_stream": Stream(peer)})
    with pytest.raises(BlockedUrl, match="connected to a non-public address"):
        check_peer(response, ())


def test_public_and_allowed_peers_pass() -> None:
    check_peer(httpx.Response(200, extensions={"network_stream": Stream(("1.1.1.1", 443))}), ())
    local = httpx.Response(200, extensions={"network_stream": Stream(("127.0.0.1", 80))})
    check_peer(local, networks(["127.0.0.0/8"]))
