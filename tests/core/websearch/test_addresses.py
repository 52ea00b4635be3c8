"""Which result addresses may be fetched: http(s) only, public hosts only (every address a name
resolves to), and networks the config names as the only exception."""

from __future__ import annotations

import ipaddress

import pytest

from core.websearch.addresses import (
    BlockedUrl,
    is_allowed,
    networks,
    parse_target,
    resolve_allowed,
)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://files.example/readme",
        "gopher://old.example/",
        "javascript:alert(1)",
        "data:text/html,<h1>hi</h1>",
        "//no-scheme.example/",
        "http:///no-host",
        "http://bad-port.example:99999/",
    ],
)
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(BlockedUrl):
        parse_target(url)


def test_ports_default_by_scheme() -> None:
    assert parse_target("https://a.example/x").port == 443
    assert parse_target("HTTP://a.example/x").port == 80
    assert parse_target("http://a.example:8080/").port == 8080


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata services
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::127.0.0.1",  # IPv4-compatible loopback
        "::",
        "ff02::1",
    ],
)
def test_private_and_local_addresses_are_refused(address: str) -> None:
    assert not is_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::101:101"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_allowed(ipaddress.ip_address(address))


def test_allowed_networks_make_exceptions() -> None:
    intranet = networks(["10.20.0.0/16", "127.0.0.1/32"])
    assert is_allowed(ipaddress.ip_address("10.20.3.4"), intranet)
    assert is_allowed(ipaddress.ip_address("::ffff:127.0.0.1"), intranet)
    assert not is_allowed(ipaddress.ip_address("10.21.0.1"), intranet)
    assert not is_allowed(ipaddress.ip_address("127.0.0.2"), intranet)


async def test_names_are_resolved_and_every_address_checked() -> None:
    with pytest.raises(BlockedUrl, match="non-public"):
        await resolve_allowed(parse_target("http://localhost:8080/admin"))
    with pytest.raises(BlockedUrl, match="non-public"):
        await resolve_allowed(parse_target("http://[::ffff:169.254.169.254]/latest"))
    allowed = networks(["127.0.0.0/8", "::1/128"])
    found = await resolve_allowed(parse_target("http://localhost:8080/"), allowed)
    assert found and all(a.is_loopback for a in found)


@pytest.mark.parametrize("host", ["a" * 64 + ".example", "a..example", ".example"])
async def test_a_name_that_cannot_be_encoded_is_blocked(host: str) -> None:
    with pytest.raises(BlockedUrl, match="cannot resolve"):
        await resolve_allowed(parse_target(f"http://{host}/page"))
