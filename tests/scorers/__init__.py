"""Operator tests of ``scorers.engine.Grader``: short event sequences, default rules.

Each test feeds its events to a fresh entity state, the way one Faust table value sees them.
"""
