"""Fault scenarios on real worker processes, a real broker and a real Redis.

``scripts/faults.py`` runs them at full size and prints a table of figures;
``tests/test_faults.py`` runs them on small samples inside ``pytest``;
docs/RELIABILITY.md says what each one proves. Modules: :mod:`figures` (what a
scenario measured), :mod:`deployment` (a harness deployment with a private Redis),
:mod:`inputs` and :mod:`hostile` (what is published), :mod:`checks` (the end state
against the offline scorer), one ``scenario_*`` module per group, :mod:`catalog`.
"""
