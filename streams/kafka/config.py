"""Kafka connection settings for both client libraries, from one :class:`Settings`.

* :func:`kafka_python_config` -> keyword arguments for kafka-python's
  ``KafkaProducer`` / ``KafkaConsumer`` (the synchronous client side:
  ``publish``, ``watch``, ``snapshot``, subscribers).
* :func:`faust_broker_kwargs` -> ``broker=`` and ``broker_credentials=`` for
  ``faust.App`` (the worker).

The environment variables involved (prefix ``TIERSTREAM_``)::

    KAFKA_BOOTSTRAP          host:port[,host:port...]  ("kafka://" prefixes are accepted)
    KAFKA_SECURITY_PROTOCOL  PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    KAFKA_SASL_MECHANISM     PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512   (SASL_* only)
    KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD                         (SASL_* only)
    KAFKA_SSL_CAFILE / KAFKA_SSL_CERTFILE / KAFKA_SSL_KEYFILE         (SSL, SASL_SSL)

Inconsistent combinations (SASL variables with a non-SASL protocol, a SASL
protocol without credentials, SSL files with a non-TLS protocol) are refused
by ``Settings()`` itself (:meth:`Settings.check_kafka_security`, run again
here for settings made without validation); what only a connection needs (a
parseable bootstrap list, SSL files that exist) is checked here, with
:class:`KafkaConfigError`. Error messages name variables, never their values,
and the returned kafka-python dict masks the password in its ``repr``.

Faust is imported only inside :func:`faust_broker_kwargs`, so the synchronous
client and the CLI do not pay for it.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from tierstream.schemas.errors import KafkaConfigError
from tierstream.schemas.settings import ENV_PREFIX, SASL_PROTOCOLS, TLS_PROTOCOLS, Settings

__all__ = ["KafkaConfigError", "bootstrap_servers", "faust_broker_kwargs", "kafka_python_config", "ssl_context"]

_SECRET_KEYS = frozenset({"sasl_plain_password"})


class _RedactedConfig(dict[str, Any]):
    """A plain dict for ``**kwargs`` whose repr/str never shows the password."""

    def __repr__(self) -> str:
        shown = {
            k: ("**********" if k in _SECRET_KEYS and v is not None else v) for k, v in self.items()
        }
        return repr(shown)

    __str__ = __repr__


def bootstrap_servers(settings: Settings) -> list[str]:
    """``TIERSTREAM_KAFKA_BOOTSTRAP`` as a list of ``host:port`` (scheme prefixes dropped)."""
    servers: list[str] = []
    for part in settings.kafka_bootstrap.replace(";", ",").split(","):
        item = part.strip()
        if "://" in item:
            item = item.split("://", 1)[1]
        item = item.rstrip("/")
        if item:
            servers.append(item)
    if not servers:
        raise KafkaConfigError(f"{ENV_PREFIX}KAFKA_BOOTSTRAP is empty: expected host:port[,host:port...]")
    for item in servers:
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise KafkaConfigError(
                f"{ENV_PREFIX}KAFKA_BOOTSTRAP entry {item!r} is not host:port (e.g. 127.0.0.1:9092)"
            )
    return servers


def _existing(path: Path | None, var: str) -> str | None:
    if path is None:
        return None
    if not path.is_file():
        raise KafkaConfigError(f"{ENV_PREFIX}{var}: file {str(path)!r} does not exist or is not a file")
    return str(path)


def kafka_python_config(settings: Settings) -> dict[str, Any]:
    """Connection and security kwargs for kafka-python clients.

    Only connection concerns: callers add their own ``client_id``, ``acks``,
    ``group_id`` ... (``{**kafka_python_config(s), "acks": "all"}``; note a
    copy made that way is a plain dict again and would print the password).
    """
    settings.check_kafka_security()
    cfg = _RedactedConfig(
        bootstrap_servers=bootstrap_servers(settings),
        security_protocol=settings.kafka_security_protocol,
    )
    if settings.kafka_security_protocol in SASL_PROTOCOLS:
        assert settings.kafka_sasl_password is not None  # check_kafka_security
        cfg["sasl_mechanism"] = settings.kafka_sasl_mechanism
        cfg["sasl_plain_username"] = settings.kafka_sasl_username
        cfg["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_security_protocol in TLS_PROTOCOLS:
        for key, path, var in (
            ("ssl_cafile", settings.kafka_ssl_cafile, "KAFKA_SSL_CAFILE"),
            ("ssl_certfile", settings.kafka_ssl_certfile, "KAFKA_SSL_CERTFILE"),
            ("ssl_keyfile", settings.kafka_ssl_keyfile, "KAFKA_SSL_KEYFILE"),
        ):
            value = _existing(path, var)
            if value is not None:
                cfg[key] = value
    return cfg


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A client TLS context: server verification against the CA file (or the system store),
    plus the client certificate when ``KAFKA_SSL_CERTFILE`` is set."""
    settings.check_kafka_security()
    cafile = _existing(settings.kafka_ssl_cafile, "KAFKA_SSL_CAFILE")
    certfile = _existing(settings.kafka_ssl_certfile, "KAFKA_SSL_CERTFILE")
    keyfile = _existing(settings.kafka_ssl_keyfile, "KAFKA_SSL_KEYFILE")
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if certfile is not None:
        try:
            ctx.load_cert_chain(certfile, keyfile)
        except (ssl.SSLError, OSError) as exc:
            raise KafkaConfigError(
                f"cannot load the client certificate ({ENV_PREFIX}KAFKA_SSL_CERTFILE / "
                f"{ENV_PREFIX}KAFKA_SSL_KEYFILE): {exc}"
            ) from None
    return ctx


def faust_broker_kwargs(settings: Settings) -> dict[str, Any]:
    """``faust.App`` kwargs: ``broker="kafka://h1:p1,h2:p2"`` and, when TLS or SASL is
    configured, ``broker_credentials`` (:class:`faust.SSLCredentials` or
    :class:`faust.SASLCredentials`, whose reprs show at most the username)."""
    servers = bootstrap_servers(settings)
    settings.check_kafka_security()
    kwargs: dict[str, Any] = {"broker": "kafka://" + ",".join(servers)}
    proto = settings.kafka_security_protocol
    if proto == "PLAINTEXT":
        return kwargs

    import faust  # deferred: slow import, only the worker needs it

    if proto == "SSL":
        kwargs["broker_credentials"] = faust.SSLCredentials(ssl_context(settings))
        return kwargs
    assert settings.kafka_sasl_password is not None  # check_kafka_security
    kwargs["broker_credentials"] = faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=ssl_context(settings) if proto == "SASL_SSL" else None,
    )
    return kwargs
