"""The standard hostile corpora through a real worker, broker and Redis (issue 15, scenario 6)."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

from tests.faults.checks import check_outputs, check_parity, check_state, reference
from tests.faults.corpora import COLLIDERS, corpus_messages, json_test_suite, naughty_strings
from tests.faults.deployment import fault_deployment, record_redelivery, redis_of
from tests.faults.figures import Figures
from tests.faults.hostile import send_raw
from tests.faults.scenario_hostile import check_dead_letters
from tierstream.schemas.rules import load_rules
from tierstream.streams.store.keys import tier_key

__all__ = ["scenario_corpora"]


def scenario_corpora(bootstrap: str, tmp: Path, cases: int | None = None, strings: int | None = None,
                     seed: int = 6) -> Figures:
    """Every JSONTestSuite case and naughty string (or a seeded sample of ``cases`` and ``strings``,
    the collision candidates always in) as raw messages to one worker.

    Checks: each invalid message is one dead letter with its reason and original bytes; the
    valid events are graded as the offline scorer grades them (parity, every event id in
    state); each entity's latest change is in Redis under its own key, and Redis holds no
    other tier key; the worker stays alive and ready.
    """
    fig = Figures("corpora")
    started = time.monotonic()
    rng = random.Random(seed)
    all_cases, all_strings = json_test_suite(), naughty_strings()
    picked_cases = all_cases if cases is None else rng.sample(all_cases, min(cases, len(all_cases)))
    picked = all_strings if strings is None else rng.sample(all_strings, min(strings, len(all_strings)))
    with fault_deployment(bootstrap, tmp / "corpora") as dep:
        msgs = corpus_messages(dep.names, picked_cases, [*picked, *COLLIDERS],
                               groups=load_rules().customer.groups)
        fig.events_in = len(msgs)
        fig.facts["JSONTestSuite cases / naughty strings + collision candidates"] = (
            f"{len(picked_cases)} of {len(all_cases)} / {len(picked)} of {len(all_strings)} + {len(COLLIDERS)}")
        fig.facts["by expectation"] = dict(sorted(Counter(m.expect for m in msgs).items()))
        ref = reference([m.value for m in msgs if m.expect == "valid" and m.value is not None])
        w = dep.start_worker()
        send_raw(dep.settings, msgs)
        states = {}
        if check_parity(dep, ref, fig):
            record_redelivery(dep, fig)
            check_state(dep, ref, fig)
            states = check_outputs(dep, fig)
        check_dead_letters(dep, msgs, fig)
        prefix = dep.settings.redis_key_prefix
        client = redis_of(dep).client()
        try:
            keys = set(client.scan_iter(match=f"{prefix}:tier:*", count=1000))
        finally:
            client.close()
        want = {tier_key(prefix, st.kind, st.entity_id) for st in states.values() if st.seq}
        fig.facts["Redis tier keys / entities with a change"] = f"{len(keys):,} / {len(want):,}"
        fig.check(not states or keys == want, f"Redis tier keys differ from the entities': "
                  f"{sorted(keys - want)[:3]} extra, {sorted(want - keys)[:3]} missing")
        fig.check(w.alive and bool((w.health() or {}).get("ready")), "the worker is not alive and ready")
        fig.facts["worker restarts"] = 0 if w.alive else "died"
    fig.seconds = time.monotonic() - started
    return fig
