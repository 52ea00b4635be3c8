"""Who may connect, by address."""

from __future__ import annotations

from core.wyoming.access import AllowList


def test_addresses_and_networks() -> None:
    allowed = AllowList(["127.0.0.0/8", "::1", "192.168.1.20", "10.1.0.0/16"])
    assert allowed.admits(("127.0.0.1", 5000))
    assert allowed.admits(("192.168.1.20", 5000))
    assert not allowed.admits(("192.168.1.21", 5000))
    assert allowed.admits(("10.1.200.3", 5000))
    assert allowed.admits(("::1", 5000, 0, 0))
    assert not allowed.admits(("fd00::2", 5000, 0, 0))


def test_ipv4_clients_of_a_dual_stack_listener() -> None:
    assert AllowList(["192.168.1.0/24"]).admits(("::ffff:192.168.1.7", 5000, 0, 0))
    assert AllowList(["fe80::/10"]).admits(("fe80::1%eth0", 5000, 0, 2))


def test_unknown_peers_are_not_admitted() -> None:
    everyone = AllowList(["0.0.0.0/0", "::/0"])
    assert everyone.admits(("203.0.113.9", 1))
    assert not everyone.admits("/run/voxgate.sock")
    assert not everyone.admits(None)
    assert not everyone.admits(("not an address", 1))
