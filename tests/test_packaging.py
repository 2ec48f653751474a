"""The distribution installs one import package, ``tierstream``, and nothing else at the top level.

Checked twice: on the installed distribution (what ``importlib.metadata`` maps to
it), and on the metadata setuptools writes for this checkout's ``pyproject.toml``
(so a change here is caught before it is installed).
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_installed_distribution_provides_only_the_tierstream_package() -> None:
    mapped = importlib.metadata.packages_distributions()
    assert sorted(name for name, dists in mapped.items() if "tierstream" in dists) == ["tierstream"]


def test_this_checkout_packages_only_tierstream(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("tierstream", "schemas", "scorers", "streams"):
        shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "meta").mkdir()
    subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "egg_info",
                    "--egg-base", "meta"], cwd=src, check=True, capture_output=True)
    info = src / "meta" / "tierstream.egg-info"
    assert (info / "top_level.txt").read_text().split() == ["tierstream"]
    packaged = [line for line in (info / "SOURCES.txt").read_text().splitlines()
                if line not in ("README.md", "pyproject.toml") and not line.startswith("meta/")]
    assert packaged and all(line.startswith("tierstream/") for line in packaged), packaged
    for needed in ("tierstream/__init__.py", "tierstream/py.typed", "tierstream/schemas/default_rules.yaml",
                   "tierstream/streams/cli/main.py", "tierstream/streams/offline/scoring.py",
                   "tierstream/streams/assets/report.html.j2", "tierstream/streams/assets/report.css",
                   "tierstream/streams/assets/report.js", "tierstream/streams/assets/vendor/chart.umd.min.js",
                   # the dashboard's files ship inside the package (no CDN)
                   "tierstream/streams/assets/dashboard.html", "tierstream/streams/assets/dashboard.js",
                   "tierstream/streams/assets/dashboard.css"):
        assert needed in packaged
    requires = (info / "requires.txt").read_text().splitlines()
    assert any(line.startswith("tqdm") for line in requires)
    assert any(line.startswith("jinja2") for line in requires)  # the HTML reports
