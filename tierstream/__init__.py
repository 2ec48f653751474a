"""tierstream: real-time grading of customers and suppliers into tiers.

The public API, importable from here. Each name is imported on first use
(module ``__getattr__``), so ``import tierstream`` stays cheap and the
client names (kafka-python) load only when asked for::

    from tierstream import load_rules, score_file

    result = score_file("events.jsonl", load_rules("my_rules.yaml"))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tierstream.streams.engine import select_engine

select_engine()  # before any scorer is imported: the compiled build when one fits (TIERSTREAM_ENGINE)

if TYPE_CHECKING:
    from tierstream.schemas.errors import TierstreamError
    from tierstream.schemas.outputs import EntitySnapshot, TierChange
    from tierstream.schemas.rules import Rules, load_rules
    from tierstream.schemas.settings import Settings
    from tierstream.scorers.engine import Grader
    from tierstream.streams.client import TierChangeSubscriber, publish, snapshot, watch
    from tierstream.streams.offline.scoring import ScoreResult, score_file

    __version__: str

__all__ = [
    "EntitySnapshot",
    "Grader",
    "Rules",
    "ScoreResult",
    "Settings",
    "TierChange",
    "TierChangeSubscriber",
    "TierstreamError",
    "__version__",
    "load_rules",
    "publish",
    "score_file",
    "snapshot",
    "watch",
]

_CLIENT = "tierstream.streams.client"  # the TYPE_CHECKING import above names the same module

#: public name -> the module it is imported from on first use
_HOMES = {
    "EntitySnapshot": "tierstream.schemas.outputs",
    "Grader": "tierstream.scorers.engine",
    "Rules": "tierstream.schemas.rules",
    "ScoreResult": "tierstream.streams.offline.scoring",
    "Settings": "tierstream.schemas.settings",
    "TierChange": "tierstream.schemas.outputs",
    "TierChangeSubscriber": _CLIENT,
    "TierstreamError": "tierstream.schemas.errors",
    "load_rules": "tierstream.schemas.rules",
    "publish": _CLIENT,
    "score_file": "tierstream.streams.offline.scoring",
    "snapshot": _CLIENT,
    "watch": _CLIENT,
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use, and keep it as an attribute of the package."""
    if name == "__version__":
        from importlib.metadata import version

        value: Any = version("tierstream")
    elif name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
