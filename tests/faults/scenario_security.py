"""No secret in logs, errors or HTTP answers; input size limits hold."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.faults.figures import Figures
from tests.faults.inputs import AT, compact, order
from tests.webcall import request
from tierstream.streams.cli.run import stop_process, wait_ready
from tierstream.streams.client import publish
from tierstream.streams.dev.harness import Deployment, free_port, poll

__all__ = ["ADMIN_TOKEN", "KAFKA_PASSWORD", "REDIS_PASSWORD", "scenario_security"]


REDIS_PASSWORD = "Redis-pw-7f3a9c"
ADMIN_TOKEN = "admin-token-4be21d"
KAFKA_PASSWORD = "Kafka-pw-c0ffee"


def _http(port: int, path: str, body: bytes | None = None, token: str | None = None) -> tuple[int, bytes]:
    status, _, raw = request(port, path, body, token, timeout=10)
    return status, raw


def scenario_security(bootstrap: str, tmp: Path, kafka_worker: bool = False) -> Figures:
    """No secret in logs, errors or HTTP answers; input size limits hold.

    A worker runs with a password-bearing Redis URL that points at a dead port and a fake
    admin token (debug logging); the client runs with SASL credentials the embedded broker
    cannot honour; a misconfiguration error is provoked. Every output is searched for the
    secrets. ``kafka_worker`` also starts a worker with the SASL settings (30 s to fail).
    """
    fig = Figures("security")
    started = time.monotonic()
    tmp.mkdir(parents=True, exist_ok=True)
    secrets = [REDIS_PASSWORD, ADMIN_TOKEN, KAFKA_PASSWORD]
    outputs: dict[str, bytes] = {}
    stream = Deployment(bootstrap, tmp / "security")
    (tmp / "security").mkdir(exist_ok=True)
    stream.create_topics()
    sasl_env = {**os.environ, **stream.env(free_port()), "TIERSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "TIERSTREAM_KAFKA_SASL_MECHANISM": "PLAIN", "TIERSTREAM_KAFKA_SASL_USERNAME": "tierstream",
                "TIERSTREAM_KAFKA_SASL_PASSWORD": KAFKA_PASSWORD}
    empty = tmp / "security" / "one.jsonl"
    empty.write_bytes(compact(order("sec-1", "sec-c1")) + b"\n")
    # The client with SASL against a broker without it: runs in the background (about 11 s).
    sasl_client = subprocess.Popen([sys.executable, "-m", "tierstream", "publish", str(empty)], env=sasl_env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    misconf = subprocess.run([sys.executable, "-m", "tierstream", "publish", str(empty)],
                             env={**sasl_env, "TIERSTREAM_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"},
                             capture_output=True, timeout=60)
    outputs["client, SASL password with PLAINTEXT (misconfiguration)"] = misconf.stdout + misconf.stderr
    fig.check(misconf.returncode != 0 and b"TIERSTREAM_KAFKA_SASL_PASSWORD" in misconf.stdout + misconf.stderr,
              "the misconfiguration was not refused by name")
    dead = free_port()
    port = free_port()
    log = tmp / "security" / "worker-secrets.log"
    env = {**os.environ, **stream.env(port), "TIERSTREAM_REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:{dead}/0",
           "TIERSTREAM_ADMIN_TOKEN": ADMIN_TOKEN}
    with log.open("ab") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "tierstream", "worker", "--loglevel", "debug"], env=env,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_ready(port, 60, proc)
        publish(stream.settings, enumerate([compact(order("sec-2", "sec-c2"))], 1))
        poll(lambda: b"tier store unavailable" in log.read_bytes(), 60, "the sink to report Redis down")
        body = compact({"type": "assessment", "event_id": "sec-a1", "occurred_at": AT, "entity_type": "customer",
                   "entity_id": "sec-c3", "tier_override": "key", "reason": "x" * 100,
                   "expires_at": "2027-01-01T00:00:00Z", "author": "alice"})
        answers = {
            "GET /tiers (Redis down)": _http(port, "/tiers/customer/sec-c2"),
            "GET /health": _http(port, "/health"),
            "GET /metrics": _http(port, "/metrics"),
            "POST /assessments no token": _http(port, "/assessments", body),
            "POST /assessments wrong token": _http(port, "/assessments", body, token="nope"),
            "POST /assessments invalid body": _http(port, "/assessments", b'{"type":"assessment"}', ADMIN_TOKEN),
            "POST /assessments 16 KiB + 1": _http(port, "/assessments", b" " * (16 * 1024 + 1), ADMIN_TOKEN),
            "POST /assessments 2 MiB": _http(port, "/assessments", b" " * (2 << 20), ADMIN_TOKEN),
            "POST /assessments valid": _http(port, "/assessments", body, ADMIN_TOKEN),
        }
        codes = {k: v[0] for k, v in answers.items()}
        fig.facts["HTTP status"] = codes
        fig.check(codes["GET /tiers (Redis down)"] == 503, "tier lookup with Redis down is not 503")
        fig.check(codes["POST /assessments no token"] == 401 and codes["POST /assessments wrong token"] == 401,
                  "writes without the right token are not 401")
        fig.check(codes["POST /assessments 16 KiB + 1"] == 413, "a body over 16 KiB is not refused with 413")
        fig.check(codes["POST /assessments 2 MiB"] == 413, "a 2 MiB body is not refused with 413")
        fig.check(codes["POST /assessments valid"] == 202, "a valid assessment was not accepted")
        for name, (_, payload) in answers.items():
            outputs[f"HTTP {name}"] = payload
        fig.check(proc.poll() is None and wait_ready(port, 10, proc).get("ready") is True,
                  "the worker did not survive")
    finally:
        stop_process(proc)
    outputs["worker log (debug)"] = log.read_bytes()
    try:
        out, _ = sasl_client.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        sasl_client.kill()
        out, _ = sasl_client.communicate()
    outputs["client with SASL against a broker without SASL"] = out
    fig.check(sasl_client.returncode != 0, "the SASL client did not fail")
    if kafka_worker:
        try:
            r = subprocess.run([sys.executable, "-m", "tierstream", "worker", "--loglevel", "debug"], env=sasl_env,
                               capture_output=True, timeout=120)
            outputs["worker with SASL against a broker without SASL"] = r.stdout + r.stderr
        except subprocess.TimeoutExpired as e:
            outputs["worker with SASL against a broker without SASL"] = (e.stdout or b"") + (e.stderr or b"")
    leaks = [f"{name} contains {s[:6]}..." for name, data in outputs.items() for s in secrets if s.encode() in data]
    fig.facts["outputs searched"] = {k: f"{len(v):,} bytes" for k, v in outputs.items()}
    fig.check(not leaks, "secret leaked: " + "; ".join(leaks))
    fig.seconds = time.monotonic() - started
    return fig
