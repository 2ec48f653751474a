"""The write endpoints' token bucket, on a clock the test moves (streams/worker/ratelimit.py).

Expected values by hand: a limit of 3 per 60 s is one token every 20 s, at most 3 held.
"""

from __future__ import annotations

import pytest

from tierstream.streams.worker.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_the_limit_then_one_token_per_window_share() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60.0, clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == 20.0  # empty: the next token in 60/3 s
    assert limiter.take("b") == 0.0  # another address has its own bucket
    clock.now += 10
    assert limiter.take("a") == 10.0  # half a token back
    clock.now += 10
    assert limiter.take("a") == 0.0  # one token, taken
    assert limiter.take("a") == 20.0


def test_a_bucket_holds_at_most_the_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60.0, clock)
    assert limiter.take("a") == 0.0
    clock.now += 3600  # an hour idle refills 3 tokens, not 180
    assert [limiter.take("a") for _ in range(4)] == [0.0, 0.0, 0.0, 20.0]


def test_refused_requests_do_not_push_the_next_token_further() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 30.0, clock)
    assert limiter.take("a") == 0.0
    for _ in range(5):  # refusals neither borrow nor push the next token further away
        assert limiter.take("a") == 30.0
    clock.now += 30
    assert limiter.take("a") == 0.0


def test_only_the_latest_clients_are_remembered() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 60.0, clock, max_clients=2)
    assert [limiter.take(c) for c in ("a", "b", "a", "c")] == [0.0, 0.0, 60.0, 0.0]
    assert limiter.take("a") == 60.0  # a was used more recently than b: still remembered
    assert limiter.take("b") == 0.0  # b was forgotten when c came: a full bucket again


@pytest.mark.parametrize("limit, window, clients", [(0, 60.0, 1), (1, 0.0, 1), (1, 60.0, 0)])
def test_nonsense_limits_are_refused(limit: int, window: float, clients: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(limit, window, max_clients=clients)
