"""Audit tierstream's dependencies, at the versions installed, for known vulnerabilities (pip-audit).

The packages audited are tierstream's requirements (with the extras given, ``dev`` unless
told) and theirs, down to the last, each pinned at the version installed here: what
``pip install -e '.[dev]'`` resolved. pip-audit looks each one up in a vulnerability
database over the network: PyPI's JSON API (``https://pypi.org/pypi/NAME/VERSION/json``),
and OSV (``https://api.osv.dev/v1/query``) when PyPI audits none of them.

Exit codes:

* 0: no known vulnerability in the packages audited (any not audited are listed);
* 1: a known vulnerability, each listed with its id and the versions that fix it;
* 0, or 2 with ``--strict``: NOT AUDITED, no database answered, with what each said. A PyPI
  that answers 404 for every package (as a mirror without the per-version JSON API does)
  is one: pip-audit takes each 404 for "not on PyPI", skips the package and reports "No known
  vulnerabilities found" with exit 0; here that is not counted as a pass.

    python scripts/audit.py [--strict] [--extras dev[,bench]]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["SERVICES", "Verdict", "exit_code", "pinned_requirements", "verdict"]

PROJECT = "tierstream"
SERVICES = ("pypi", "osv")
TIMEOUT_S = 600


@dataclass(frozen=True)
class Verdict:
    """What one pip-audit run found."""

    service: str
    audited: int = 0
    vulnerable: list[str] = field(default_factory=list)  #: "name version: id (fixed in ...)"
    skipped: list[str] = field(default_factory=list)  #: "name: why" (pip-audit's reason names the version)
    unreachable: str | None = None  #: why nothing could be audited


def pinned_requirements(project: str = PROJECT, extras: frozenset[str] = frozenset({"dev"})) -> dict[str, str]:
    """Everything ``project`` (with ``extras``) requires, transitively, as installed: name -> version.

    ``project`` itself is left out (it is not on PyPI); a requirement whose marker does not
    hold here, or that is not installed, is not followed.
    """
    found: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(project, extras)]
    while todo:
        name, wanted = todo.pop()
        if (canonicalize_name(name), wanted) in seen:
            continue
        seen.add((canonicalize_name(name), wanted))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if canonicalize_name(name) != canonicalize_name(project):
            found[canonicalize_name(dist.metadata["Name"])] = dist.version
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in wanted | {""}):
                todo.append((req.name, frozenset(req.extras)))
    return dict(sorted(found.items()))


def verdict(service: str, stdout: str, stderr: str) -> Verdict:
    """Read pip-audit's ``--format json`` answer (or, without one, its error)."""
    try:
        deps = json.loads(stdout)["dependencies"]
    except (ValueError, KeyError, TypeError):
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        return Verdict(service, unreachable=lines[-1].strip() if lines else "pip-audit gave no answer")
    vulnerable = [f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v['fix_versions']) or 'no release'})"
                  for d in deps for v in d.get("vulns", [])]
    skipped = [f"{d['name']}: {d['skip_reason']}" for d in deps if "skip_reason" in d]
    audited = len(deps) - len(skipped)
    unreachable = None
    if audited == 0:
        first = skipped[0] if skipped else "no package to audit"
        unreachable = f"none of the {len(deps)} packages could be audited (the first: {first})"
    return Verdict(service, audited, vulnerable, skipped, unreachable)


def exit_code(found: Verdict, strict: bool) -> int:
    """1 on a known vulnerability; on nothing audited, 2 when ``strict``, else 0."""
    if found.vulnerable:
        return 1
    if found.unreachable is not None:
        return 2 if strict else 0
    return 0


def audit(pins: dict[str, str], service: str) -> Verdict:
    """Run pip-audit on ``pins`` against ``service``."""
    with tempfile.TemporaryDirectory() as tmp:
        reqs = Path(tmp) / "pinned.txt"
        reqs.write_text("".join(f"{name}=={version}\n" for name, version in pins.items()))
        cmd = [sys.executable, "-m", "pip_audit", "-r", str(reqs), "--no-deps", "--disable-pip",
               "--format", "json", "--progress-spinner", "off", "--vulnerability-service", service]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return Verdict(service, unreachable=f"no answer in {TIMEOUT_S} s")
    return verdict(service, done.stdout, done.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="dev", help="tierstream's extras to include, comma-separated")
    parser.add_argument("--strict", action="store_true", help="exit 2 when no vulnerability database answers")
    args = parser.parse_args(argv)
    pins = pinned_requirements(extras=frozenset(e for e in args.extras.split(",") if e))
    if not pins:
        print(f"pip-audit: {PROJECT} is not installed: run pip install -e '.[dev]' first", file=sys.stderr)
        return 2
    tried: list[Verdict] = []
    for service in SERVICES:
        tried.append(audit(pins, service))
        if tried[-1].unreachable is None:
            break
    found = tried[-1]
    if found.unreachable is not None:
        print(f"pip-audit: NOT AUDITED: no vulnerability database answered for the {len(pins)} packages "
              f"{PROJECT}[{args.extras}] installs" + ("" if args.strict else " (not a failure without --strict)"))
        for v in tried:
            print(f"  {v.service}: {v.unreachable}")
        return exit_code(found, args.strict)
    print(f"pip-audit ({found.service}): {found.audited} of {len(pins)} packages audited, "
          f"{len(found.vulnerable)} known vulnerabilities")
    for line in found.vulnerable:
        print(f"  VULNERABLE {line}")
    for line in found.skipped:
        print(f"  not audited: {line}")
    return exit_code(found, args.strict)


if __name__ == "__main__":
    sys.exit(main())
