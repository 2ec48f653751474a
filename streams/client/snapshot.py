"""The worker's table from its changelog: :func:`entity_states`, graded as of one instant: :func:`snapshot`."""

from __future__ import annotations

from tierstream.schemas.errors import ClientError
from tierstream.schemas.outputs import EntitySnapshot
from tierstream.schemas.settings import Settings
from tierstream.scorers.engine import Grader
from tierstream.scorers.state import EntityState
from tierstream.streams.kafka.read import read_states

__all__ = ["entity_states", "snapshot"]


def entity_states(settings: Settings, timeout_s: float = 60.0) -> list[EntityState]:
    """Return every entity state of the worker's table, read from its changelog to the end."""
    states: list[EntityState] = []
    for key, data in read_states(settings, timeout_s).items():
        try:
            states.append(EntityState.from_bytes(data))
        except Exception as exc:  # any decoding failure: name the entity, not the bytes
            raise ClientError(
                f"cannot decode the state of {key!r} from the changelog: {type(exc).__name__}: "
                f"{str(exc)[:200]} (is the table written with EntityState.to_bytes()?)"
            ) from None
    return states


def snapshot(
    settings: Settings,
    grader: Grader,
    as_of: int | None = None,
    timeout_s: float = 60.0,
) -> list[EntitySnapshot]:
    """Every entity in the worker's table, graded as of ``as_of`` (epoch seconds).

    ``as_of`` defaults to the latest event time any entity has applied (the
    largest ``EntityState.clock``), which is what the offline scorer uses, so
    ``tierstream score`` and ``tierstream snapshot`` on the same events agree.
    Sorted by (entity_type, entity_id).
    """
    states = entity_states(settings, timeout_s)
    if not states:
        return []
    instant = as_of if as_of is not None else max(s.clock for s in states)
    snaps = [grader.snapshot(s, instant) for s in states if not s.is_empty()]
    snaps.sort(key=lambda s: (s.entity_type, s.entity_id))
    return snaps
