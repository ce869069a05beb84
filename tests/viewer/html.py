"""Reading the viewer's HTML in tests: the cell texts of table rows, by a data attribute."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _Rows(HTMLParser):
    def __init__(self, row_class: str, key: str) -> None:
        super().__init__(convert_charrefs=True)
        self.row_class = row_class
        self.key = f"data-{key}"
        self.rows: dict[str, list[str]] = {}
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and self.row_class in (found.get("class") or "").split():
            self._row = self.rows.setdefault(found.get(self.key) or "", [])
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(squash("".join(self._cell)))
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def table_rows(html: str, row_class: str, key: str) -> dict[str, list[str]]:
    """``{data-KEY of each <tr class=row_class>: [text of each <td>]}``."""
    parser = _Rows(row_class, key)
    parser.feed(html)
    return parser.rows
