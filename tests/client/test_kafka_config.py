"""The Kafka client configuration from the settings (no broker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from tests.client.helpers import INVALID_TYPED, VALID, VALID_KEYS
from tierstream.schemas.routing import raw_entity_key
from tierstream.schemas.settings import Settings, kafka_config_error
from tierstream.streams.kafka.config import KafkaConfigError, faust_broker_kwargs, kafka_python_config


def test_kafka_config_plaintext_and_bootstrap_list() -> None:
    s = Settings(kafka_bootstrap="kafka://a:9092, b:9093,")
    assert kafka_python_config(s) == {"bootstrap_servers": ["a:9092", "b:9093"],
                                      "security_protocol": "PLAINTEXT"}
    assert faust_broker_kwargs(s) == {"broker": "kafka://a:9092,b:9093"}
    with pytest.raises(KafkaConfigError, match="TIERSTREAM_KAFKA_BOOTSTRAP"):
        kafka_python_config(Settings(kafka_bootstrap="nohostport"))


def test_kafka_config_sasl_keeps_the_password_out_of_reprs_and_errors() -> None:
    import faust

    s = Settings(kafka_bootstrap="a:1", kafka_security_protocol="SASL_PLAINTEXT",
                 kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="svc",
                 kafka_sasl_password="hunter2-secret")
    cfg = kafka_python_config(s)
    assert cfg["sasl_plain_password"] == "hunter2-secret"
    assert cfg["sasl_mechanism"] == "SCRAM-SHA-512" and cfg["sasl_plain_username"] == "svc"
    assert "hunter2" not in repr(cfg) and "hunter2" not in str(cfg) and "hunter2" not in f"{cfg}"
    kw = faust_broker_kwargs(s)
    creds = kw["broker_credentials"]
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.mechanism.value == "SCRAM-SHA-512" and creds.ssl_context is None
    assert "hunter2" not in repr(kw)

    # SASL settings with a non-SASL protocol: Settings() refuses them, naming variables only
    with pytest.raises(ValidationError) as refused:
        Settings(kafka_bootstrap="a:1", kafka_sasl_mechanism="PLAIN", kafka_sasl_username="svc",
                 kafka_sasl_password="hunter2-secret")
    cause = kafka_config_error(refused.value)
    assert cause is not None and "TIERSTREAM_KAFKA_SASL_PASSWORD" in str(cause)
    assert "TIERSTREAM_KAFKA_SECURITY_PROTOCOL=PLAINTEXT" in str(cause)
    for text in (str(refused.value), repr(refused.value), str(cause)):
        assert "hunter2" not in text
    # ... and so do the config builders, for settings made without validation
    bad = s.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})
    with pytest.raises(KafkaConfigError) as err:
        kafka_python_config(bad)
    assert "TIERSTREAM_KAFKA_SASL_PASSWORD" in str(err.value) and "hunter2" not in str(err.value)
    with pytest.raises(KafkaConfigError, match="TIERSTREAM_KAFKA_SASL_PASSWORD"):
        faust_broker_kwargs(bad)
    # SASL protocol without a password
    with pytest.raises(ValidationError) as refused:
        Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="PLAIN", kafka_sasl_username="svc")
    assert str(kafka_config_error(refused.value)) == (
        "TIERSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs TIERSTREAM_KAFKA_SASL_PASSWORD")


def test_kafka_config_ssl_files() -> None:
    import ssl

    import faust

    certifi = pytest.importorskip("certifi")
    ca = Path(certifi.where())
    s = Settings(kafka_bootstrap="a:1", kafka_security_protocol="SSL", kafka_ssl_cafile=ca)
    assert kafka_python_config(s)["ssl_cafile"] == str(ca)
    creds = faust_broker_kwargs(s)["broker_credentials"]
    assert isinstance(creds, faust.SSLCredentials) and isinstance(creds.context, ssl.SSLContext)
    with pytest.raises(KafkaConfigError, match="TIERSTREAM_KAFKA_SSL_CAFILE"):
        kafka_python_config(s.model_copy(update={"kafka_ssl_cafile": Path("/nonexistent/ca.pem")}))
    with pytest.raises(KafkaConfigError, match="SSL or SASL_SSL"):
        kafka_python_config(s.model_copy(update={"kafka_security_protocol": "PLAINTEXT"}))
    # contradictions are refused by Settings() itself
    with pytest.raises(ValidationError, match=r"TIERSTREAM_KAFKA_SSL_CAFILE set but .*: use SSL or SASL_SSL"):
        Settings(kafka_ssl_cafile=ca)
    with pytest.raises(ValidationError, match="TIERSTREAM_KAFKA_SSL_KEYFILE needs TIERSTREAM_KAFKA_SSL_CERTFILE"):
        Settings(kafka_security_protocol="SSL", kafka_ssl_keyfile=ca)
    # a field error is not a Kafka contradiction
    with pytest.raises(ValidationError) as refused:
        Settings(partitions=0)
    assert kafka_config_error(refused.value) is None


def test_kafka_config_sasl_ssl_for_both_clients() -> None:
    """SASL_SSL as docs/SECURITY.md sets it for the worker: SCRAM over TLS, the server verified against the CA."""
    import ssl

    import faust
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    certifi = pytest.importorskip("certifi")
    ca = Path(certifi.where())
    s = Settings(kafka_bootstrap="kafka:9094", kafka_security_protocol="SASL_SSL",
                 kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="tierstream-worker",
                 kafka_sasl_password="hunter2-secret", kafka_ssl_cafile=ca)
    assert kafka_python_config(s) == {
        "bootstrap_servers": ["kafka:9094"], "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "tierstream-worker", "sasl_plain_password": "hunter2-secret", "ssl_cafile": str(ca)}
    kw = faust_broker_kwargs(s)
    assert kw["broker"] == "kafka://kafka:9094"
    creds = kw["broker_credentials"]
    assert isinstance(creds, faust.SASLCredentials)
    ctx = creds.ssl_context
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    # what Faust hands aiokafka: the protocol follows from the SSL context being there
    auth = credentials_to_aiokafka_auth(creds)
    assert {k: auth[k] for k in ("security_protocol", "sasl_mechanism", "sasl_plain_username")} == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "tierstream-worker"}
    assert auth["ssl_context"] is ctx
    assert "hunter2" not in repr(kw) and "hunter2" not in repr(kafka_python_config(s))


@pytest.mark.parametrize(("env", "line"), [
    ({"TIERSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "TIERSTREAM_KAFKA_SASL_MECHANISM": "PLAIN"},
     "Error: TIERSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs TIERSTREAM_KAFKA_SASL_USERNAME, "
     "TIERSTREAM_KAFKA_SASL_PASSWORD"),
    ({"TIERSTREAM_KAFKA_SASL_PASSWORD": "hunter2-secret"},
     "Error: TIERSTREAM_KAFKA_SASL_PASSWORD set but TIERSTREAM_KAFKA_SECURITY_PROTOCOL=PLAINTEXT: "
     "use SASL_PLAINTEXT or SASL_SSL, or unset them"),
    ({"TIERSTREAM_PARTITIONS": "0"},
     "Error: invalid settings: TIERSTREAM_PARTITIONS: Input should be greater than or equal to 1"),
])
def test_cli_prints_refused_settings_as_one_line(env: dict[str, str], line: str) -> None:
    from tierstream.streams.cli.main import main

    res = CliRunner().invoke(main, ["watch", "--bootstrap", "127.0.0.1:1"], env=env)
    assert res.exit_code == 1
    assert res.output.splitlines() == [line]


def test_raw_entity_key_matches_entity_of_for_valid_bodies() -> None:
    for doc, key in zip(VALID, VALID_KEYS, strict=True):
        assert raw_entity_key(doc["type"], doc) == key
    for doc, key in INVALID_TYPED:
        assert raw_entity_key(doc["type"], doc) == key
