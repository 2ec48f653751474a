"""The client commands: publish and watch through the CLI, and their help."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from tests.client.helpers import VALID, change, change_msg, make_settings, produce, read_topics
from tierstream.schemas.outputs import TierChange
from tierstream.streams.dev.broker import EmbeddedBroker
from tierstream.streams.kafka.topics import topic_names


@pytest.mark.integration
def test_cli_publish_and_watch(broker: EmbeddedBroker, tmp_path: Path) -> None:
    from tierstream.streams.cli.main import main

    s = make_settings(broker)
    names = topic_names(s)
    broker.create_topics({t: (2, False) for t in [*names.all_inbound, names.tier_changes]})
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join([orjson.dumps(VALID[0]), b"garbage", orjson.dumps(VALID[2])]))
    env = {"TIERSTREAM_TOPIC_PREFIX": s.topic_prefix, "TIERSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    runner = CliRunner()
    res = runner.invoke(main, ["publish", str(events), "--bootstrap", broker.bootstrap], env=env)
    assert res.exit_code == 0, res.output
    assert "skipped" in res.stderr and ":2: not JSON" in res.stderr
    assert "2 delivered" in res.stderr
    read_topics(broker, [names.inbound("order")], 2)

    produce(broker, names.tier_changes, [change_msg(change(1, "customer", "upgrade")),
                                         change_msg(change(2, "supplier", "initial"))])
    args = ["watch", "--from-beginning", "--timeout", "2", "--bootstrap", broker.bootstrap]
    res = runner.invoke(main, [*args, "--entity-type", "customer"], env=env)
    assert res.exit_code == 0, res.output
    assert res.stdout == "2026-10-01T10:00Z customer c00001 general -> key (upgrade) score 71.2: reason 1\n"
    res = runner.invoke(main, [*args, "--json", "--direction", "initial"], env=env)
    assert [TierChange.model_validate_json(x) for x in res.stdout.splitlines()] == [
        change(2, "supplier", "initial")
    ]


def test_cli_help_teaches_env_vars() -> None:
    from tierstream.streams.cli.main import main

    for cmd in ("publish", "watch", "snapshot"):
        res = CliRunner().invoke(main, [cmd, "--help"])
        assert res.exit_code == 0
        assert "TIERSTREAM_KAFKA_BOOTSTRAP" in res.output and "KAFKA_SASL_USERNAME" in res.output
