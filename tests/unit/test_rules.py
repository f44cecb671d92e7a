"""`mwsync.rules`: which kind of target an API URL is (it decides warnings and journals for plan and run
alike), which hosts may use plain http, and a recipient's identity."""

from __future__ import annotations

import pytest

from mwsync.config import Subscription
from mwsync.rules import address_key, is_loopback_host, target_kind


@pytest.mark.parametrize(("api_url", "kind"), [
    (None, "embedded"),
    ("embedded", "embedded"),
    ("http://127.0.0.1:8080", "loopback"),
    ("http://127.1.2.3", "loopback"),
    ("http://localhost:1/base", "loopback"),
    ("http://LOCALHOST", "loopback"),
    ("http://[::1]:8080", "loopback"),
    ("https://api.moveworks.ai", "tenant"),
    ("https://api.moveworks.ai:8443/base", "tenant"),
    ("https://127.0.0.1.example.com", "tenant"),
    ("http://localhost.example.com", "tenant"),
    ("https://10.0.0.1", "tenant"),
    ("http://0.0.0.0:8080", "tenant"),
], ids=["none", "embedded", "ipv4-loopback", "loopback-range", "localhost", "localhost-upper-case",
        "ipv6-loopback", "tenant", "tenant-port-and-path", "loopback-lookalike-name", "localhost-lookalike",
        "private-address", "any-address"])
def test_target_kind(api_url, kind):
    assert target_kind(api_url) == kind
    assert Subscription(api_url, "id", "secret").kind == kind  # what plan, run and the journal ask


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.255.255.254", True),
                                                ("localhost", True), ("::1", True), ("128.0.0.1", False),
                                                ("127.0.0", False), ("", False), (None, False)],
                         ids=["ipv4", "range-end", "localhost", "ipv6", "outside", "short", "empty", "none"])
def test_is_loopback_host(host, loopback):
    assert is_loopback_host(host) is loopback


def test_one_person_is_their_address_compared_case_blind():
    assert address_key("Ann@Example.COM") == address_key("ann@example.com") == "ann@example.com"
