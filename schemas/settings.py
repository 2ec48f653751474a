"""Service configuration: environment variables with the prefix ``TIERSTREAM_``.

The worker, ``publish``, ``watch`` and ``snapshot`` all read the same settings.
Secrets are ``SecretStr`` so they never print in logs, reprs or errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIERSTREAM_", extra="ignore")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="comma-separated host:port list")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    broker_profile: Literal["auto", "embedded", "kafka"] = Field(
        "auto", description="Faust settings for the embedded broker or Kafka; auto: embedded on loopback"
    )

    redis_url: SecretStr = Field(
        SecretStr("redis://127.0.0.1:6379/0"),
        description="redis:// or rediss:// (TLS); a password in the URL stays secret",
    )
    redis_key_prefix: str = "tierstream"

    topic_prefix: str = Field("tierstream.", description="prepended to every topic name")
    partitions: int = Field(4, ge=1, le=1024, description="partitions of the inbound and state topics")
    replication_factor: int = Field(1, ge=1, le=16)
    app_id: str = "tierstream"
    rules: Path | None = Field(None, description="rules YAML; the packaged default when unset")
    web_port: int = Field(6066, ge=0, le=65535)
    web_host: str = "127.0.0.1"
    store: str = Field("memory://", description="Faust table store: memory:// or rocksdb://")
    data_dir: Path = Path("./.tierstream-data")
    review_interval_s: float = Field(5.0, gt=0, description="how often the re-review timer runs")
    batch_size: int = Field(2000, ge=1, le=100_000)
    max_event_bytes: int = Field(64 * 1024, ge=256, description="larger inbound messages are dead-lettered")
    admin_token: SecretStr | None = Field(
        None, description="bearer token required by write endpoints (assessments, overrides)"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"
