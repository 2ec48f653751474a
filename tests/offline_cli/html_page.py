"""An HTML report read back with the standard library's parser: its tables, scripts, facts and references."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["Page", "Table", "read_page"]


@dataclass
class Table:
    """One ``<table>``: where it is (section id, card heading, panel caption) and its rows of cell texts."""

    section: str
    heading: str
    caption: str
    rows: list[list[str]] = field(default_factory=list)

    @property
    def header(self) -> list[str]:
        return self.rows[0]

    @property
    def body(self) -> list[list[str]]:
        return self.rows[1:]


class Page(HTMLParser):
    """Collects the tables, the scripts, the facts (``dt``/``dd``) and every ``src`` and ``href``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.links: list[dict[str, str | None]] = []
        self.facts: dict[str, str] = {}
        self.tags: list[str] = []  # every start tag, in order
        self._section = self._heading = self._caption = ""
        self._text: list[str] | None = None  # the text being collected (a cell, a heading, a script)
        self._into = ""
        self._row: list[str] | None = None
        self._script_attrs: dict[str, str | None] = {}
        self._dt = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        for name in ("src", "href"):
            if found.get(name) is not None:
                self.refs.append((tag, name, str(found[name])))
        if tag == "link":
            self.links.append(found)
        elif tag == "section":
            self._section = str(found.get("id") or "")
        elif tag in ("h3", "h4", "script", "dt", "dd") or (tag in ("td", "th") and self._row is not None):
            self._text, self._into = [], tag
            if tag == "script":
                self._script_attrs = found
            if tag == "h3":
                self._caption = ""
        elif tag == "table":
            self.tables.append(Table(self._section, self._heading, self._caption))
        elif tag == "tr":
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None:
            self.tables[-1].rows.append(self._row)
            self._row = None
            return
        if self._text is None or tag != self._into:
            return
        text = "".join(self._text) if tag == "script" else " ".join(" ".join(self._text).split())
        self._text = None
        if tag == "h3":
            self._heading = text
        elif tag == "h4":
            self._caption = text
        elif tag == "script":
            self.scripts.append((self._script_attrs, text))
        elif tag == "dt":
            self._dt = text
        elif tag == "dd":
            self.facts[self._dt] = text
        elif self._row is not None:
            self._row.append(text)

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def table(self, section: str, heading: str, caption: str = "") -> Table:
        """The one table of ``section`` under a heading starting with ``heading`` (and panel ``caption``)."""
        found = [t for t in self.tables if t.section == section and t.heading.startswith(heading)
                 and t.caption.startswith(caption)]
        assert len(found) == 1, (section, heading, caption, [(t.section, t.heading, t.caption) for t in self.tables])
        return found[0]


def read_page(html: str) -> Page:
    """Parse a report."""
    page = Page()
    page.feed(html)
    page.close()
    return page
