"""Properties of the grading semantics (hypothesis).

The key one: the graded state is a function of the *set* of events, not of the
order they arrive in (scorers/engine.py, "The tier is a function of the set of
events, not of their order"). Each event list is fed through the offline scorer
as JSON lines, exactly as ``tierstream score`` reads a file.
"""
