"""Service configuration: environment variables with the prefix ``TIERSTREAM_``.

The worker, ``publish``, ``watch`` and ``snapshot`` all read the same settings.
Secrets are ``SecretStr`` so they never print in logs, reprs or errors, and a
validation error never shows the input (``hide_input_in_errors``).

Contradictory Kafka security settings (SASL variables with a non-SASL
protocol, a SASL protocol without its mechanism and credentials, SSL files
with a non-TLS protocol, a key file without its certificate) are refused by
``Settings()`` itself rather than silently connecting without the intended
security: the :class:`pydantic.ValidationError` carries a
:class:`~schemas.errors.KafkaConfigError` (:func:`kafka_config_error`) whose
message names the variables, never their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tierstream.schemas.errors import KafkaConfigError
from tierstream.schemas.outputs import Language

__all__ = ["ENV_PREFIX", "SASL_PROTOCOLS", "TLS_PROTOCOLS", "DevEndpoints", "Settings", "kafka_config_error"]

ENV_PREFIX = "TIERSTREAM_"
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", hide_input_in_errors=True)

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
    sources: Path | None = Field(
        None, description="sources YAML: upstream topics and their field mapping (schemas/sources.py)"
    )
    web_port: int = Field(6066, ge=0, le=65535)
    web_host: str = "127.0.0.1"
    store: str = Field("memory://", description="Faust table store: memory:// or rocksdb://")
    data_dir: Path = Path("./.tierstream-data")
    review_interval_s: float = Field(5.0, gt=0, description="how often the re-review timer runs")
    batch_size: int = Field(2000, ge=1, le=100_000)
    max_event_bytes: int = Field(64 * 1024, ge=256, description="larger inbound messages are dead-lettered")
    test_grading_faults: Path | None = Field(
        None, description="tests only: a JSON file of events on which grading raises or stalls (worker/faults.py)"
    )
    admin_token: SecretStr | None = Field(
        None, description="bearer token required by write endpoints (assessments, overrides)"
    )
    write_rate_limit: int = Field(
        60, ge=1, description="write requests one client address may make per WRITE_RATE_WINDOW_S "
        "(in bursts of up to this many); more are answered 429 with Retry-After",
    )
    write_rate_window_s: float = Field(60.0, gt=0, description="the window of WRITE_RATE_LIMIT, in seconds")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    language: Language = Field(
        "en", description="the language of reasons and hints (HTTP: unless the request's Accept-Language "
        "prefers another of them)",
    )
    dev_file: Path | None = Field(
        None, description="where `tierstream dev` writes its endpoints and the client commands read them "
        "(default ${XDG_STATE_HOME:-~/.local/state}/tierstream/dev.json)",
    )

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def with_fallback(self, values: Mapping[str, object]) -> Self:
        """Return these settings with ``values`` for the fields that no variable (nor argument) set.

        ``model_fields_set`` holds exactly the fields pydantic-settings found a
        value for, so an explicit ``TIERSTREAM_*`` always wins over the fallback.
        """
        given = {name: getattr(self, name) for name in self.model_fields_set}
        return self.model_validate({**values, **given})

    @model_validator(mode="after")
    def _kafka_security_is_consistent(self) -> Self:
        self.check_kafka_security()
        return self

    def check_kafka_security(self) -> None:
        """Raise :class:`KafkaConfigError` naming the variables if the Kafka security settings contradict.

        ``Settings()`` runs it; the Kafka config builders run it again for
        settings made without validation (``model_copy(update=...)``).
        """
        proto = self.kafka_security_protocol
        sasl = {
            f"{ENV_PREFIX}KAFKA_SASL_MECHANISM": self.kafka_sasl_mechanism,
            f"{ENV_PREFIX}KAFKA_SASL_USERNAME": self.kafka_sasl_username,
            f"{ENV_PREFIX}KAFKA_SASL_PASSWORD": self.kafka_sasl_password,
        }
        if proto in SASL_PROTOCOLS:
            missing = [var for var, value in sasl.items() if value is None]
            if missing:
                raise KafkaConfigError(f"{ENV_PREFIX}KAFKA_SECURITY_PROTOCOL={proto} needs " + ", ".join(missing))
        else:
            stray = [var for var, value in sasl.items() if value is not None]
            if stray:
                raise KafkaConfigError(
                    ", ".join(stray) + f" set but {ENV_PREFIX}KAFKA_SECURITY_PROTOCOL={proto}: "
                    "use SASL_PLAINTEXT or SASL_SSL, or unset them"
                )
        ssl_files = [
            f"{ENV_PREFIX}KAFKA_SSL_{name}"
            for name, value in (
                ("CAFILE", self.kafka_ssl_cafile),
                ("CERTFILE", self.kafka_ssl_certfile),
                ("KEYFILE", self.kafka_ssl_keyfile),
            )
            if value is not None
        ]
        if ssl_files and proto not in TLS_PROTOCOLS:
            raise KafkaConfigError(
                ", ".join(ssl_files) + f" set but {ENV_PREFIX}KAFKA_SECURITY_PROTOCOL={proto}: "
                "use SSL or SASL_SSL, or unset them"
            )
        if self.kafka_ssl_keyfile is not None and self.kafka_ssl_certfile is None:
            raise KafkaConfigError(f"{ENV_PREFIX}KAFKA_SSL_KEYFILE needs {ENV_PREFIX}KAFKA_SSL_CERTFILE")


class DevEndpoints(BaseModel):
    """What a running ``tierstream dev`` serves: the content of its endpoints file (JSON)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kafka_bootstrap: str = Field(description="the embedded broker, host:port")
    redis_url: str = Field(description="the tier store the worker writes (embedded Valkey unless set)")
    web_url: str = Field(description="the worker's web server")
    pid: int = Field(description="the `tierstream dev` process; a file whose process is gone is ignored")


def kafka_config_error(exc: ValidationError) -> KafkaConfigError | None:
    """Return the :class:`KafkaConfigError` that made ``Settings()`` refuse, if that is why it did."""
    for err in exc.errors(include_url=False):
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, KafkaConfigError):
            return cause
    return None
