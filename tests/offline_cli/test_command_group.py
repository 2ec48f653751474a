"""The command group: every command listed without importing Faust, each loaded under its own name."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click

from tierstream.streams.cli.main import LazyGroup, main


def test_help_lists_every_command_without_importing_faust() -> None:
    probe = (
        "import sys\n"
        "from tierstream.streams.cli.main import main\n"
        "main(['--help'], prog_name='tierstream', standalone_mode=False)\n"
        "print('loaded:', sorted({m.split('.')[0] for m in sys.modules} & {'faust', 'kafka', 'aiokafka', 'mode'}))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
           "COLUMNS": "100"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=root, capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[-1] == "loaded: []"
    listed = dict(re.findall(r"^  (\w+) +(\S.*)$", out.split("\nCommands:\n")[1], re.M))
    assert sorted(listed) == ["bench", "dev", "engine", "publish", "review", "rules", "sample", "schema", "score",
                              "snapshot", "sources", "watch", "worker"]
    ctx = click.Context(main)
    for name, line in listed.items():
        command = main.get_command(ctx, name)
        assert command is not None and command.help is not None
        assert command.help.startswith(line.removesuffix("...")), name  # its one-line help


def test_every_lazy_command_loads_under_its_own_name() -> None:
    assert isinstance(main, LazyGroup)
    ctx = click.Context(main)
    for name, path in main.lazy_subcommands.items():
        command = main.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name, path
    assert main.get_command(ctx, "no-such-command") is None
