"""Static files shipped inside the package: the dashboard's and the reports' assets.

Nothing here is fetched from a CDN: the dashboard and the HTML reports must work on
machines and networks without internet, so every script they use lies in this folder
and is read with :mod:`importlib.resources`.

The one third-party script is Chart.js 4.6.2 (MIT, ``vendor/chart.umd.min.js``, copied
unchanged from the npm package ``chart.js@4.6.2``; its licence is beside it). It was
chosen because it draws every chart the dashboard and reports need (bars for tier
distributions, horizontal bars for score components, a radar for a scorecard) on a
canvas, so the page size does not grow with the number of entities; it is released
often and widely used, and it is one file of about 70 KB gzipped with no dependencies.
"""

from __future__ import annotations

from importlib.resources import files

__all__ = ["CHART_JS", "asset_bytes", "asset_text"]

#: The vendored Chart.js file, relative to this package.
CHART_JS = "vendor/chart.umd.min.js"


def asset_bytes(name: str) -> bytes:
    """Return the bytes of a shipped asset, ``name`` relative to this package."""
    return files(__package__).joinpath(name).read_bytes()


def asset_text(name: str) -> str:
    """Return the text of a shipped asset, ``name`` relative to this package."""
    return asset_bytes(name).decode("utf-8")
