"""The login limit counts the real client behind a trusted reverse proxy, never a forged hop."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hotline.auth.client_address import client_address, parse_networks
from hotline.settings import load_settings
from hotline.web.app import build_app

PROXIES = parse_networks(["127.0.0.1", "10.1.0.0/16"])


@pytest.mark.parametrize(("peer", "xff", "expected"), [
    # no proxy configured / peer not a proxy: the header is the client's word, ignored
    ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
    # one proxy: the hop it appended
    ("127.0.0.1", ["198.51.100.7"], "198.51.100.7"),
    # a forged left part is skipped; the rightmost untrusted hop wins
    ("127.0.0.1", ["6.6.6.6, 198.51.100.7"], "198.51.100.7"),
    # two proxies in a chain, header split over two lines
    ("10.1.2.3", ["6.6.6.6, 198.51.100.8", "10.1.9.9"], "198.51.100.8"),
    # IPv6 client, normalised
    ("127.0.0.1", ["2001:DB8::1"], "2001:db8::1"),
    # garbage written where the client address should be: fall back to the peer
    ("127.0.0.1", ["6.6.6.6, not-an-ip"], "127.0.0.1"),
    # proxies that append the client's port, IPv6 in brackets
    ("127.0.0.1", ["6.6.6.6, 198.51.100.7:5123"], "198.51.100.7"),
    ("127.0.0.1", ["[2001:db8::2]:443"], "2001:db8::2"),
    ("127.0.0.1", ["[2001:db8::3]"], "2001:db8::3"),
    ("127.0.0.1", ["unknown"], "127.0.0.1"),
    # a trusted proxy written with a port is still skipped
    ("10.1.2.3", ["198.51.100.9, 10.1.9.9:8080"], "198.51.100.9"),
    # the proxy did not send the header: the proxy itself
    ("127.0.0.1", [], "127.0.0.1"),
    (None, ["198.51.100.1"], "unknown"),
])
def test_client_address(peer, xff, expected) -> None:
    assert client_address(peer, xff, PROXIES) == expected


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address("127.0.0.1", ["198.51.100.7"], ()) == "127.0.0.1"


def test_setting_from_env_and_bad_entries() -> None:
    s = load_settings({"HOTLINE_HTTP_TRUSTED_PROXIES": "127.0.0.1, 10.1.0.0/16"})
    assert s.http.trusted_proxies == ("127.0.0.1", "10.1.0.0/16")
    with pytest.raises(Exception, match=r"HOTLINE_HTTP_TRUSTED_PROXIES.*nginx"):
        load_settings({"HOTLINE_HTTP_TRUSTED_PROXIES": "nginx"})


async def test_behind_the_proxy_one_users_typos_do_not_lock_out_others(settings, db_dsn,
                                                                       users) -> None:
    # The test client connects from 127.0.0.1, which is the configured proxy here.
    s = replace(settings, http=replace(settings.http, trusted_proxies=("127.0.0.1",)))
    await users.create("alice", "agent")
    await users.create("bob", "agent")
    async with TestClient(TestServer(build_app(s, db_dsn, frozenset({"web"})))) as c:
        async def login(name: str, password: str, client_ip: str) -> int:
            r = await c.post("/api/auth/login", json={"username": name, "password": password},
                             headers={"X-Forwarded-For": client_ip})
            return r.status

        # alice's machine guesses wrong five times (under different user names too)
        for i in range(5):
            assert await login(f"nobody{i}", "wrong-guess", "198.51.100.10") == 401
        assert await login("alice", users.PASSWORD, "198.51.100.10") == 429
        # bob, behind the same proxy from another machine, still logs in
        assert await login("bob", users.PASSWORD, "198.51.100.20") == 200
        # forging a left-hand hop does not escape the limit of the real address
        assert await login("alice", users.PASSWORD, "1.2.3.4, 198.51.100.10") == 429
