"""The Grader under the default rules, fresh for each test."""

from __future__ import annotations

import pytest

from tests.scorers.helpers import RULES
from tierstream.scorers.engine import Grader


@pytest.fixture
def g() -> Grader:
    return Grader(RULES)
