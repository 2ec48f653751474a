"""The endpoints file of a running ``tierstream dev``: written by it, read by the client commands.

``tierstream dev`` writes where its broker, Redis and web server listen (and its pid)
to ``TIERSTREAM_DEV_FILE``, by default ``${XDG_STATE_HOME:-~/.local/state}/tierstream/dev.json``,
and removes the file when it stops; ``publish``, ``watch`` and ``snapshot`` in another
terminal read it when ``TIERSTREAM_KAFKA_BOOTSTRAP`` is not set. A file left behind by
a dev that was killed (its pid is gone) is ignored.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from pydantic import ValidationError

from tierstream.schemas.settings import DevEndpoints, Settings

__all__ = ["DevEndpoints", "endpoints_path", "process_alive", "read_endpoints", "remove_endpoints",
           "write_endpoints"]


def endpoints_path(settings: Settings) -> Path:
    """Return ``TIERSTREAM_DEV_FILE``, else ``dev.json`` in the user's XDG state directory."""
    if settings.dev_file is not None:
        return settings.dev_file
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "tierstream" / "dev.json"


def process_alive(pid: int) -> bool:
    """Return whether a process ``pid`` exists (signal 0 checks without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def write_endpoints(path: Path, endpoints: DevEndpoints) -> None:
    """Write the file whole or not at all (a reader never sees half of it); readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(endpoints.model_dump_json(indent=2) + "\n")
    tmp.replace(path)


def remove_endpoints(path: Path, pid: int) -> None:
    """Remove the file if it is still the one ``pid`` wrote (another dev may have replaced it since)."""
    found, _ = read_endpoints(path)
    if found is not None and found.pid == pid:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def read_endpoints(path: Path) -> tuple[DevEndpoints | None, str | None]:
    """Return the endpoints of a running dev, or ``None`` and a one-line note saying why the file is not used.

    No file is no note: nothing is running, which the caller's own message says.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"note: ignoring {path}: cannot read it ({exc.strerror})"
    try:
        found = DevEndpoints.model_validate_json(text)
    except ValidationError:
        return None, f"note: ignoring {path}: not a tierstream dev endpoints file"
    if not process_alive(found.pid):
        return None, f"note: ignoring {path}: the tierstream dev that wrote it (pid {found.pid}) is not running"
    return found, None
