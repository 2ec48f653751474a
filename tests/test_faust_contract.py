"""The private Faust / aiokafka names streams.worker.batch and .recovery rely on still exist, unchanged.

Those two modules are the only ones allowed Faust's private names.

``FAUST_PRIVATE_NAMES`` lists every one. A faust-streaming (or aiokafka) upgrade that
removes, renames or re-signs one fails here, naming it -- not later, in a running
worker, with an ``AttributeError`` or (for a name read with ``getattr`` and a
default) silently.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import re
from types import ModuleType
from typing import Any

import faust
import pytest

from tierstream.streams.worker import batch, recovery
from tierstream.streams.worker.batch import FAUST_PRIVATE_NAMES, PrivateName, install_batch_path
from tierstream.streams.worker.batching import BatchHandler

OURS = {batch.__name__, recovery.__name__}


def owner_of(private: PrivateName) -> Any:
    module, _, cls = private.owner.partition(":")
    obj: Any = importlib.import_module(module)
    return getattr(obj, cls) if cls else obj


def new_app() -> faust.App:
    return faust.App("contract", broker="kafka://127.0.0.1:1", web_enabled=False)


async def instance_of(owner: Any) -> Any:
    """A fresh, never started instance of ``owner`` (as the worker builds it)."""
    from aiokafka import AIOKafkaConsumer

    if owner is faust.App:
        return new_app()
    if owner is AIOKafkaConsumer:
        return AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
    app = new_app()

    async def finish() -> None:
        return None

    install_batch_path(app, BatchHandler(topics=frozenset({"t"}), callback=lambda tp, ms: None, finish=finish))
    consumer = app.consumer
    assert isinstance(consumer, owner), f"{type(consumer)} is not a {owner}"
    return consumer


@pytest.mark.parametrize("module", [batch, recovery], ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_the_list_covers_every_private_name_used(module: ModuleType) -> None:
    source = inspect.getsource(module)
    code = "\n".join(line.split("#", 1)[0] for line in source.splitlines())
    code = re.sub(r'""".*?"""', "", code, flags=re.S)  # docstrings name some of them: not a use
    classes = [c for m in (batch, recovery) for c in vars(m).values()
               if inspect.isclass(c) and c.__module__ == m.__name__]
    # names the two modules define themselves (not overriding a Faust one)
    defined_here = {n for cls in classes for n in vars(cls)
                    if n.startswith("_") and not any(
                        hasattr(base, n) for base in cls.__mro__[1:] if base.__module__ not in OURS)}
    used = set(re.findall(r"(?:\.|import |\"|getattr\([^,]+, \")(_[a-z]\w*)", code))
    missing = used - {p.name for p in FAUST_PRIVATE_NAMES} - defined_here
    assert not missing, f"private names used in {module.__name__} but not in FAUST_PRIVATE_NAMES: {missing}"


@pytest.mark.parametrize("private", FAUST_PRIVATE_NAMES, ids=lambda p: f"{p.owner}.{p.name}")
def test_private_name_exists_as_batch_expects(private: PrivateName) -> None:
    owner = owner_of(private)
    where = f"{private.owner}.{private.name}"
    if private.per_instance:
        obj = asyncio.run(instance_of(owner))
        assert hasattr(obj, private.name), f"faust upgrade: {where} (set per instance) is gone"
        return
    assert hasattr(owner, private.name), f"faust upgrade: {where} is gone"
    if private.params is not None:
        member = getattr(owner, private.name)
        assert callable(member), f"faust upgrade: {where} is no longer callable"
        params = tuple(inspect.signature(member).parameters)
        assert params == private.params, f"faust upgrade: {where} now takes {params}, not {private.params}"
