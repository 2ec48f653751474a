"""Run the README's first-hour tutorial as a newcomer would, and print how long each step took.

The steps are read from README.md, between ``<!-- tutorial -->`` and the end of the
fenced block after it: every ``$ command`` line is run as written, in a fresh folder,
with no Kafka or Redis setting in the environment (a newcomer has none):

* ``tierstream dev ...`` is "terminal 1": started in the background; the step ends when
  its endpoints file is written and its replay is published;
* ``tierstream watch ...`` is "terminal 2": the step ends at its first tier change, then
  it gets Ctrl-C as a user would press it;
* every other command runs to its end and must exit 0.

A line ``# open http://...`` is the dashboard: it is fetched (from the port the running
``tierstream dev`` really serves on) and must answer with the page. ``tests/test_tutorial.py``
runs this same function, so the README's commands cannot rot.

    python scripts/tutorial.py [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tierstream.schemas.settings import DevEndpoints

__all__ = ["Step", "StepResult", "main", "run_tutorial", "tutorial_steps"]

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = "<!-- tutorial -->"
STEP_DEADLINE_S = 180.0

Kind = Literal["run", "serve", "follow", "open"]


@dataclass(frozen=True)
class Step:
    """One line of the tutorial: a command (or the URL to open) and how it is run."""

    kind: Kind
    text: str


@dataclass(frozen=True)
class StepResult:
    """A step as it ran: its seconds and the first line it printed (or what it checked)."""

    step: Step
    seconds: float
    detail: str


def tutorial_steps(readme: Path = README) -> list[Step]:
    """Return the tutorial's steps, in order, from ``readme``."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    try:
        start = lines.index(MARKER)
    except ValueError:
        raise SystemExit(f"{readme}: no {MARKER!r} line") from None
    fence = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
    end = next(i for i in range(fence + 1, len(lines)) if lines[i].startswith("```"))
    steps: list[Step] = []
    for raw in lines[fence + 1:end]:
        line = raw.strip()
        if line.startswith("# open "):
            steps.append(Step("open", line.removeprefix("# open ").split()[0]))
        elif line.startswith("$ "):
            command = line[2:].split("  #", 1)[0].strip()
            kind: Kind = "serve" if command.startswith("tierstream dev") else (
                "follow" if command.startswith("tierstream watch") else "run")
            steps.append(Step(kind, command))
    if not steps:
        raise SystemExit(f"{readme}: the block after {MARKER!r} has no '$ command' line")
    return steps


def _newcomer_env(workdir: Path) -> dict[str, str]:
    """Return the environment of a newcomer's terminal: no broker or Redis setting; files in ``workdir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERSTREAM_")}
    env["TIERSTREAM_DEV_FILE"] = str(workdir / "dev-endpoints.json")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _argv(command: str) -> list[str]:
    """Return the argv of a tutorial command (``tierstream`` run by this Python, as installed)."""
    argv = shlex.split(command)
    return [sys.executable, "-m", "tierstream", *argv[1:]] if argv[0] == "tierstream" else argv


def _wait(condition: str, check: Callable[[], bool], proc: subprocess.Popen[str] | None, deadline_s: float) -> None:
    """Poll ``check()`` until true; fail at once if ``proc`` exits, or after ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while not check():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{condition}: the process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{condition}: not within {deadline_s:g} s")
        time.sleep(0.05)


def _log_has(log: Path, text: str) -> Callable[[], bool]:
    """Return a check that ``log`` holds ``text``."""
    return lambda: log.is_file() and text in log.read_text()


@contextlib.contextmanager
def _background(argv: list[str], workdir: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[str]]:
    """Run ``argv`` in the background, its output in ``log``; Ctrl-C it (then kill) on the way out."""
    with log.open("w") as out:
        proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def _web_url(workdir: Path) -> str:
    """Return the web URL the running ``tierstream dev`` wrote to its endpoints file."""
    return DevEndpoints.model_validate_json((workdir / "dev-endpoints.json").read_text()).web_url


def run_tutorial(workdir: Path, steps: list[Step] | None = None) -> list[StepResult]:
    """Run every step in ``workdir``; return each one's time and what it showed. Raise on the first failure."""
    steps = tutorial_steps() if steps is None else steps
    env = _newcomer_env(workdir)
    results: list[StepResult] = []
    with contextlib.ExitStack() as stack:
        dev_log: Path | None = None
        for n, step in enumerate(steps, 1):
            started = time.monotonic()
            if step.kind == "run":
                done = subprocess.run(_argv(step.text), cwd=workdir, env=env, capture_output=True, text=True,
                                      timeout=STEP_DEADLINE_S)
                if done.returncode != 0:
                    raise RuntimeError(f"step {n} `{step.text}` exited {done.returncode}:\n{done.stderr[-2000:]}")
                shown = (done.stdout.strip() or done.stderr.strip()).splitlines()
                detail = shown[-1] if shown else ""
            elif step.kind == "serve":
                dev_log = workdir / f"step{n}.log"
                proc = stack.enter_context(_background(_argv(step.text), workdir, env, dev_log))
                log = dev_log
                _wait(f"step {n} `{step.text}` writes its endpoints",
                      lambda: (workdir / "dev-endpoints.json").is_file(), proc, STEP_DEADLINE_S)
                if "--replay" in step.text:
                    _wait(f"step {n} `{step.text}` publishes its replay",
                          _log_has(log, "replayed "), proc, STEP_DEADLINE_S)
                detail = next((ln for ln in log.read_text().splitlines() if ln.startswith("broker ")), "")
            elif step.kind == "follow":
                log = workdir / f"step{n}.log"
                proc = stack.enter_context(_background(_argv(step.text), workdir, env, log))
                _wait(f"step {n} `{step.text}` prints a tier change", _log_has(log, " -> "), proc,
                      STEP_DEADLINE_S)
                detail = next(ln for ln in log.read_text().splitlines() if " -> " in ln)
                os.killpg(proc.pid, signal.SIGINT)  # the user's Ctrl-C
                proc.wait(30)
            else:
                url = step.text
                if dev_log is not None:  # the port dev really took (6066, or a free one when 6066 is busy)
                    url = _web_url(workdir) + "/" + url.split("/", 3)[3]
                with urllib.request.urlopen(url, timeout=10) as resp:
                    page = resp.read().decode("utf-8")
                if "<html" not in page.lower():
                    raise RuntimeError(f"step {n}: {url} answered without a page: {page[:200]!r}")
                detail = f"{url}: {resp.status}, {len(page):,} bytes"
            results.append(StepResult(step, time.monotonic() - started, detail))
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the tutorial and print a table of its steps' times."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, help="where to run it (default: a new temporary folder)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tierstream-tutorial-"))
    workdir.mkdir(parents=True, exist_ok=True)
    total = 0.0
    for r in run_tutorial(workdir):
        total += r.seconds
        print(f"{r.seconds:6.1f} s  {r.step.text}\n          {r.detail[:140]}")
    print(f"{total:6.1f} s  in all (in {workdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
