"""Broker profiles (streams.worker.profiles): the Tansu workarounds on the embedded broker only."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tierstream.schemas.settings import Settings
from tierstream.streams.worker.app import Pipeline
from tierstream.streams.worker.profiles import (
    BrokerProfile,
    broker_profile,
    fast_join_settings,
    faust_settings,
    fetch_max_wait_ms,
)

EMBEDDED, KAFKA = BrokerProfile.EMBEDDED, BrokerProfile.KAFKA


@pytest.mark.parametrize(("bootstrap", "expected"), [
    ("127.0.0.1:9092", EMBEDDED),
    ("localhost:39001", EMBEDDED),
    ("[::1]:9092", EMBEDDED),
    ("127.0.0.1:1, localhost:2", EMBEDDED),
    ("kafka:9092", KAFKA),
    ("10.0.0.5:9092", KAFKA),
    ("127.0.0.1:9092,kafka-2.prod:9092", KAFKA),  # one remote host: a real cluster
])
def test_auto_is_embedded_only_when_every_bootstrap_host_is_loopback(bootstrap: str, expected: BrokerProfile) -> None:
    assert broker_profile(Settings(kafka_bootstrap=bootstrap)) is expected


@pytest.mark.parametrize("bootstrap", ["127.0.0.1:9092", "kafka:9092"])
def test_an_explicit_profile_wins_over_the_bootstrap(bootstrap: str) -> None:
    assert broker_profile(Settings(kafka_bootstrap=bootstrap, broker_profile="kafka")) is KAFKA
    assert broker_profile(Settings(kafka_bootstrap=bootstrap, broker_profile="embedded")) is EMBEDDED


def test_the_profile_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERSTREAM_KAFKA_BOOTSTRAP", "kafka:9092")
    assert broker_profile(Settings()) is KAFKA
    monkeypatch.setenv("TIERSTREAM_BROKER_PROFILE", "embedded")
    assert broker_profile(Settings()) is EMBEDDED
    monkeypatch.setenv("TIERSTREAM_BROKER_PROFILE", "tansu")
    with pytest.raises(ValidationError, match="broker_profile"):
        Settings()


def test_only_the_embedded_profile_gets_the_workarounds() -> None:
    assert faust_settings(EMBEDDED) == fast_join_settings()
    assert faust_settings(KAFKA) == {}


@pytest.mark.parametrize("batch", [False, True])
def test_the_app_is_configured_by_its_profile(batch: bool) -> None:
    def conf(profile: str) -> Any:
        s = Settings(kafka_bootstrap="127.0.0.1:1", broker_profile=profile, app_id=f"prof-{profile}")
        return Pipeline(s, batch=batch).app.conf

    embedded, kafka = conf("embedded"), conf("kafka")
    assert embedded.broker_session_timeout == 4.0 and embedded.table_standby_replicas == 0
    assert kafka.broker_session_timeout == 60.0 and kafka.table_standby_replicas == 1
    assert kafka.broker_commit_interval == 2.8
    if not batch:  # the batch path sets its own producer batching on either profile
        assert embedded.producer_max_batch_size == 1
        assert kafka.producer_max_batch_size == 16384


def test_the_batch_consumer_waits_at_the_broker_as_long_as_its_profile_says() -> None:
    def handler_wait(profile: str) -> int:
        s = Settings(kafka_bootstrap="127.0.0.1:1", broker_profile=profile, app_id=f"wait-{profile}")
        handler = getattr(Pipeline(s, batch=True).app.transport, "batch_handler", None)
        assert handler is not None
        return int(handler.fetch_max_wait_ms)

    # Tansu holds every fetch for the whole wait: 20 ms on the embedded broker, aiokafka's 500 ms on Kafka
    assert fetch_max_wait_ms(EMBEDDED) == 20 and fetch_max_wait_ms(KAFKA) == 500
    assert handler_wait("embedded") == fetch_max_wait_ms(EMBEDDED)
    assert handler_wait("kafka") == 500
