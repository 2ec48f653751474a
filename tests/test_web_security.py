"""A running worker serves only tierstream's routes, and its write endpoint is rate-limited per client.

Faust's built-in views (``/table``, ``/router``, statistics, ``/graph``, ``/performance``)
listed the ``entities`` table and the partition map to anyone; each must answer 404, with
Faust's own ``APP_WEB_*_ENABLED`` variables set to turn them on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from email.message import Message

import pytest

from tests.streaming import Stream
from tests.webcall import request
from tierstream.streams.dev.broker import EmbeddedBroker

pytestmark = pytest.mark.integration
TOKEN = "test-admin-token-sec"
LIMIT = 3
WINDOW_S = 3600  # one token every 1,200 s: none comes back during the test

#: Every path of Faust's built-in blueprints (faust/web/apps), with the worker's table and a key. Faust's
#: statistics mount at ``/`` (the dashboard's here) and ``/assignment/``; there is no ``/stats/``.
FAUST_BUILT_INS = [
    "/table/", "/table/entities/", "/router/", "/router/topics", "/router/entities/",
    "/router/entities/customer:c1/", "/assignment/", "/graph/", "/performance/",
]


def http(port: int, path: str, body: bytes | None = None, token: str | None = None) -> tuple[int, Message, bytes]:
    return request(port, path, body, token)


@pytest.fixture(scope="module")
def port(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    s = Stream(broker.bootstrap, tmp_path_factory.mktemp("web-security"))
    s.create_topics()
    turned_on = {f"APP_WEB_{name}_ENABLED": "true" for name in ("ROUTER", "TABLES", "STATS", "GRAPH", "METRICS")}
    yield s.start_worker(extra_env={**turned_on, "TIERSTREAM_ADMIN_TOKEN": TOKEN,
                                    "TIERSTREAM_WRITE_RATE_LIMIT": str(LIMIT),
                                    "TIERSTREAM_WRITE_RATE_WINDOW_S": str(WINDOW_S)}).port
    s.stop_workers()


@pytest.mark.parametrize("path", FAUST_BUILT_INS)
def test_faust_built_in_views_are_not_served(port: int, path: str) -> None:
    status, _, _ = http(port, path)
    assert status == 404


def test_tierstreams_own_routes_still_answer(port: int) -> None:
    status, headers, _ = http(port, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")  # the dashboard, not Faust's index
    assert http(port, "/health")[0] == 200
    assert http(port, "/metrics")[0] == 200
    assert http(port, "/rules")[0] == 200
    assert http(port, "/distribution")[0] == 200
    assert http(port, "/tiers/customer/nobody")[0] == 404  # the route answers: the entity is unknown
    assert http(port, "/review")[0] == 200


def test_writes_over_the_limit_are_answered_429(port: int) -> None:
    body = json.dumps({"type": "assessment", "event_id": "sec-a1", "occurred_at": "2026-10-01T09:00:00Z",
                       "entity_type": "customer", "entity_id": "sec-c1", "tier_override": "key",
                       "reason": "strategic account", "expires_at": "2027-01-01T00:00:00Z",
                       "author": "alice"}).encode()
    # every write request takes a token, whatever its answer
    assert [http(port, "/assessments", *args)[0] for args in ((body, TOKEN), (body, "wrong"), (b"{}", TOKEN))] == [
        202, 401, 400]
    status, headers, answer = http(port, "/assessments", body, TOKEN)
    assert status == 429 and "error" in json.loads(answer)
    assert 1 <= int(headers["Retry-After"]) <= WINDOW_S // LIMIT
    assert http(port, "/health")[0] == 200  # reads are not limited
