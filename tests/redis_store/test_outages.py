"""Redis down or unresponsive: the store fails as unavailable, never echoing a secret."""

from __future__ import annotations

import asyncio
import socket
import time
import traceback

import pytest

from tests.redis_store.helpers import DEAD_URL, change
from tierstream.streams.store.redis import AsyncTierStore, StoreUnavailable


def _assert_safe(exc: StoreUnavailable) -> None:
    text = "".join(traceback.format_exception(exc))
    assert "127.0.0.1:1" in str(exc)
    assert "s3cret" not in text
    assert "redis://" not in text


def test_store_unavailable_async_hides_secret() -> None:
    async def run() -> list[StoreUnavailable]:
        s = AsyncTierStore.from_url(DEAD_URL, prefix="tstest-dead")
        errors: list[StoreUnavailable] = []
        try:
            assert await s.ping() is False
            for coro in (
                s.apply_many([change(1), change(2)]),
                s.apply_change(change(1)),
                s.get("customer", "x"),
                s.history("customer", "x", 5),
            ):
                try:
                    await coro
                except StoreUnavailable as exc:
                    errors.append(exc)
        finally:
            await s.close()
        return errors

    errors = asyncio.run(run())
    assert len(errors) == 4
    for exc in errors:
        _assert_safe(exc)


def test_unresponsive_redis_times_out_as_unavailable() -> None:
    """A server that accepts TCP but never answers (hung or black-holed Redis)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes handshakes; nobody ever reads or replies
        port = silent.getsockname()[1]

        async def run() -> StoreUnavailable:
            s = AsyncTierStore.from_url(
                f"redis://:s3cret@127.0.0.1:{port}/0", prefix="tstest-dead", timeout=0.2
            )
            try:
                with pytest.raises(StoreUnavailable) as info:
                    await s.apply_many([change(1)])
                return info.value
            finally:
                await s.close()

        started = time.monotonic()
        exc = asyncio.run(run())
        assert time.monotonic() - started < 5
    assert f"127.0.0.1:{port}" in str(exc)
    assert "s3cret" not in "".join(traceback.format_exception(exc))


def test_bad_url_scheme_does_not_echo_the_url() -> None:
    with pytest.raises(ValueError) as info:
        AsyncTierStore.from_url("http://:s3cret@127.0.0.1:1/0")
    assert "s3cret" not in str(info.value)
