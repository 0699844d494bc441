"""Read back the HTML charts and tables of curate/app/html_charts.py (as the Dashboard page
sends them through st.html): titles, axis titles, and per row its category, bars, value label
and where the label sits — so tests check what a reader sees, not the markup."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"br", "hr", "img", "input", "meta", "link", "col", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict = field(default_factory=dict)
    children: list = field(default_factory=list)  # Node or str

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def text(self, hidden: bool = True) -> str:
        """The text inside; without `hidden`, less what only assistive technology reads."""
        if not hidden and "rd-sr" in self.classes:
            return ""
        return "".join(c if isinstance(c, str) else c.text(hidden) for c in self.children)

    def all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        found = []
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and (cls is None or cls in c.classes):
                    found.append(c)
                found += c.all(tag, cls)
        return found

    def first(self, tag: str | None = None, cls: str | None = None) -> Node | None:
        got = self.all(tag, cls)
        return got[0] if got else None


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root")
        self.open = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.open[-1].children.append(node)
        if tag not in VOID:
            self.open.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.open) - 1, 0, -1):
            if self.open[i].tag == tag:
                del self.open[i:]
                return

    def handle_data(self, data):
        self.open[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    return builder.root


_LEFT = re.compile(r"left:(?:calc\()?(-?[\d.]+)%")
_WIDTH = re.compile(r"width:(-?[\d.]+)%")


def _left(node: Node) -> float:
    return float(_LEFT.search(node.attrs["style"])[1])


@dataclass
class Row:
    category: str
    bars: list[tuple[float, float]]  # (left %, width %) of each bar or segment
    label: str  # the value label as shown
    label_at: float  # the label's left edge in % of the plot (its small gap in px left out)
    said: str  # the label with the text only assistive technology reads
    tooltips: list[str]


@dataclass
class Chart:
    title: str
    legend: list[str]
    axis_titles: list[str]  # category, value
    rows: list[Row]
    ticks: list[tuple[str, float]]  # (text, left %)
    zero_lines: int  # rows with the emphasised line at 0

    def row(self, category: str) -> Row:
        return next(r for r in self.rows if r.category == category)


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


def charts(html: str) -> list[Chart]:
    out = []
    for t in parse(html).all("table", "rd-chart"):
        caption = t.first("caption")
        legend = [k.text().strip() for k in caption.all("span", "rd-key")]
        title = "".join(c for c in caption.children if isinstance(c, str)).strip()
        rows = []
        for tr in t.first("tbody").all("tr"):
            val = tr.first("span", "rd-val")
            rows.append(Row(
                category=tr.first("th").text().strip(),
                bars=[(_left(b), float(_WIDTH.search(b.attrs["style"])[1]))
                      for b in tr.all("span", "rd-bar")],
                label=val.text(hidden=False).strip(), label_at=_left(val),
                said=val.text().strip(),
                tooltips=[b.attrs["title"] for b in tr.all("span", "rd-bar")
                          if "title" in b.attrs]))
        out.append(Chart(
            title=title, legend=legend,
            axis_titles=[th.text().strip() for th in t.first("thead").all("th")], rows=rows,
            ticks=[(s.text().strip(), _left(s)) for s in t.first("tfoot").all("span", "rd-tick")],
            zero_lines=len(t.first("tbody").all("span", "rd-zero"))))
    return out


def tables(html: str) -> list[Table]:
    out = []
    for t in parse(html).all("table", "rd-table"):
        out.append(Table(header=[th.text().strip() for th in t.first("thead").all("th")],
                         rows=[[td.text().strip() for td in tr.all("td")]
                               for tr in t.first("tbody").all("tr")]))
    return out


def figures(html: str) -> dict[str, tuple[str, str]]:
    """The key figures (html_charts.figures): label → (value, note)."""
    out = {}
    for f in parse(html).all("div", "rd-figure"):
        note = f.first("dd", "rd-figure-note")
        out[f.first("dt").text().strip()] = (f.first("dd", "rd-figure-value").text().strip(),
                                            note.text().strip() if note else "")
    return out


def text(html: str) -> str:
    """All the text of the HTML, as one string."""
    return parse(html).text()
