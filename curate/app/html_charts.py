"""Bar charts, tables, key figures, a progress bar and the page's headings as plain HTML, for
`st.html`: the Dashboard is drawn with them, all of it below the Refresh button in one block.

Why not Vega-Lite (`st.vega_lite_chart`): in a fresh browser session its chunk (0.8 MB of
JavaScript, plus Arrow) is fetched, parsed and run before the first bar shows — most of the
Dashboard's first view (issue 20). `st.dataframe` costs the same again (its grid and Arrow
formatting, 1.3 MB). These charts are server-built HTML and CSS: no JavaScript at all, and
Streamlit's own `st.html` element (not iframed; DOMPurify-sanitized) shows them.

Each chart is a `<table>`: its caption is the title, its header row the axis titles, one row
per bar with the category as the row header and the value written beside the bar — so the
chart is its own text equivalent (a screen reader reads "ana, 62.5 %"), and its rows read
right without the bars. The bars, grid lines and ticks are empty, absolutely placed spans; the
tick row is hidden from assistive technology. Styles are in `html_charts.css` (class names
`rd-…`, as the page shares the document's CSS): load it once per page with `st.html(CSS)`.

Every text shown (names, labels, titles) is HTML-escaped here: outside text — an annotator's
name — shows as typed, never as markup (st.html does not read Markdown, so `plain` is not
needed; the escape is the HTML equivalent).

Why the figures, the progress bar and the headings too (issue 20): each Streamlit element has a
cost in a fresh browser — its code fetched on first use (`st.metric` alone brings eight files
of JavaScript, `st.progress` two), then React and its styles for every element and column.
With the whole page as one `st.html` block the first view was 0.84–0.91 s against 1.02–1.17 s
with 40 elements (three pairs, demo workspace, benchmarks/dashboard.py).

Horizontal bars only: a category's label is read on one line whatever the number of bars
(twenty annotator pairs fit a column). A value's label sits just past the bar's end, in the
room kept right of the plot for the chart's longest label (a bar to the scale's end still has
its label beside it); a
bar below zero has it just right of the zero line — never on the bar's edge nor over the bar
(Vega-Lite's kappa charts put a long bar's label inside it in white: that needs the text's
width, which server-built HTML does not know).
"""
from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

CSS = Path(__file__).resolve().parent / "html_charts.css"
LABEL_GAP_PX = 4  # between a bar's end (or the zero line) and its value label
KAPPA_TICKS = (-1.0, -0.5, 0.0, 0.5, 1.0)


@dataclass(frozen=True)
class Bar:
    category: str  # the row's label (outside text allowed: escaped)
    value: float | None  # None: no bar (its label says why)
    label: str  # the value as written beside the bar


def number(x: float) -> str:
    """A tick's text: 1,000 · 2.5 · −0.5 (a typographic minus, as charts print it)."""
    text = f"{int(round(x)):,}" if float(x).is_integer() else f"{x:,.6f}".rstrip("0").rstrip(".")
    return text.replace("-", "\u2212")


def nice_ticks(top: float, most: int = 5, whole: bool = False) -> list[float]:
    """0 up to the first tick at or past `top`, in steps of 1, 2 or 5 × 10^k, at most `most`
    steps; `whole`: steps of at least 1 (counts). `top` ≤ 0 gives 0 and 1."""
    if not top or top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    scale = 10 ** math.floor(math.log10(top / most))
    step = next(m * scale for m in (1, 2, 5, 10) if top / (m * scale) <= most)
    if whole:
        step = max(step, 1)
    return [round(k * step, 12) for k in range(math.ceil(top / step - 1e-9) + 1)]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _pct(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".") + "%"


def _table(head: str, rows: Sequence[str], axis: str, labels: Sequence[str]) -> str:
    # --rd-room: the longest label in characters; the CSS keeps that much room right of the plot.
    room = max((len(x) for x in labels), default=0)
    return (f'<table class="rd-chart" style="--rd-room:{room}">{head}<tbody>{"".join(rows)}'
            f"</tbody>{axis}</table>")


def _head(title: str, category_title: str, value_title: str, extra: str = "") -> str:
    return (f'<caption>{_e(title)}{extra}</caption><thead><tr><th scope="col" class="rd-cat">'
            f'{_e(category_title)}</th><th scope="col">{_e(value_title)}</th></tr></thead>')


def _grid(ticks: Sequence[float], at: Callable[[float], float]) -> str:
    return "".join(f'<span class="rd-grid{" rd-zero" if t == 0 and ticks[0] < 0 else ""}" '
                   f'style="left:{_pct(at(t))}"></span>' for t in ticks)


def _axis(ticks: Sequence[float], at: Callable[[float], float],
          tick_text: Callable[[float], str]) -> str:
    spans = "".join(f'<span class="rd-tick" style="left:{_pct(at(t))}">{_e(tick_text(t))}</span>'
                    for t in ticks)
    return (f'<tfoot aria-hidden="true"><tr><td></td><td><div class="rd-axis">{spans}</div>'
            f"</td></tr></tfoot>")


def bar_chart(title: str, bars: Sequence[Bar], *, category_title: str, value_title: str,
              ticks: Sequence[float] | None = None, counts: bool = False,
              tick_text: Callable[[float], str] = number) -> str:
    """A titled horizontal bar chart, one bar per `bars` item in order, each labelled.

    `ticks` fix the scale (its first and last are the ends; default: `nice_ticks` of the
    largest value, whole numbers with `counts`); a value outside is drawn to the end it
    passes. Bars start at 0.
    """
    ticks = list(ticks) if ticks else nice_ticks(max((b.value or 0.0 for b in bars), default=0),
                                                 whole=counts)
    lo, hi = ticks[0], ticks[-1]

    def at(v: float) -> float:
        return 100 * (min(max(v, lo), hi) - lo) / (hi - lo)

    zero = at(0.0)
    rows = []
    for b in bars:
        v = b.value
        inner = _grid(ticks, at)
        if v is not None and at(v) != zero:
            left, right = sorted((zero, at(v)))
            inner += (f'<span class="rd-bar" style="left:{_pct(left)};width:{_pct(right - left)}">'
                      "</span>")
        end = at(v) if v is not None and v > 0 else zero  # below zero: right of the zero line
        inner += (f'<span class="rd-val" style="left:calc({_pct(end)} + {LABEL_GAP_PX}px)">'
                  f"{_e(b.label)}</span>")
        rows.append(f'<tr><th scope="row" class="rd-cat"><div>{_e(b.category)}</div></th>'
                    f'<td><div class="rd-plot">{inner}</div></td></tr>')
    return _table(_head(title, category_title, value_title), rows, _axis(ticks, at, tick_text),
                  [b.label for b in bars])


def kappa_chart(title: str, bars: Sequence[Bar], *, category_title: str, value_title: str) -> str:
    """Kappa bars on the fixed scale −1…1 with a line at 0 (chance), whatever the values:
    a −0.03 is a sliver left of the line, a 0.00 still shows its axis. An undefined kappa
    (value None) has no bar; its label says so."""
    return bar_chart(title, bars, category_title=category_title, value_title=value_title,
                     ticks=KAPPA_TICKS,
                     tick_text=lambda t: f"{t:.1f}".replace("-", "\u2212"))


def stacked_chart(title: str, rows: Sequence[tuple[str, Sequence[int], str]],
                  series: Sequence[tuple[str, str]], *, category_title: str,
                  value_title: str) -> str:
    """Stacked horizontal bars: per row (category, one count per series, label), the series'
    (name, colour) stacked left to right in order, the label past the bar's end. The counts
    are written out for assistive technology and in each segment's tooltip; the legend is in
    the caption."""
    ticks = nice_ticks(max((sum(c) for _, c, _ in rows), default=0), whole=True)
    hi = ticks[-1]

    def at(v: float) -> float:
        return 100 * min(v, hi) / hi

    legend = "".join(f'<span class="rd-key"><span class="rd-swatch" style="background:{c}">'
                     f"</span>{_e(name)}</span>" for name, c in series)
    out = []
    for category, counts, label in rows:
        inner, start = _grid(ticks, at), 0
        for (name, colour), n in zip(series, counts):
            if n:
                inner += (f'<span class="rd-bar" title="{_e(f"{category}: {n:,} {name}")}" '
                          f'style="left:{_pct(at(start))};width:{_pct(at(start + n) - at(start))};'
                          f'background:{colour}"></span>')
            start += n
        said = ", ".join(f"{n:,} {name}" for (name, _), n in zip(series, counts))
        inner += (f'<span class="rd-val" style="left:calc({_pct(at(start))} + {LABEL_GAP_PX}px)">'
                  f'{_e(label)}<span class="rd-sr"> ({_e(said)})</span></span>')
        out.append(f'<tr><th scope="row" class="rd-cat"><div>{_e(category)}</div></th>'
                   f'<td><div class="rd-plot">{inner}</div></td></tr>')
    head = _head(title, category_title, value_title, f'<span class="rd-legend">{legend}</span>')
    return _table(head, out, _axis(ticks, at, number), [label for _, _, label in rows])


def table(header: Sequence[str], rows: Sequence[Sequence[object]], *, text_columns: int = 1) -> str:
    """A plain data table: the first `text_columns` columns left-aligned, the rest (numbers,
    already written as text) right-aligned; None shows as —."""
    def cells(values, tag):
        return "".join(f'<{tag} class="{"rd-text" if i < text_columns else "rd-num"}"'
                       f'{" scope=col" if tag == "th" else ""}>'
                       f'{"—" if v is None else _e(v)}</{tag}>' for i, v in enumerate(values))
    body = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows)
    return (f'<table class="rd-table"><thead><tr>{cells(header, "th")}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def page(*parts: str) -> str:
    """The parts (HTML made by this module) as one page: the figures, progress bar, headings,
    notes and columns are styled only inside it."""
    return f'<div class="rd-page">{"".join(parts)}</div>'


@dataclass(frozen=True)
class Figure:
    label: str  # what the figure is
    value: str  # as written
    note: str = ""  # a short line under it (what it counts, the target)


def figures(items: Sequence[Figure]) -> str:
    """Key figures side by side (a definition list: label, value, note), as many per row as
    fit."""
    def note_of(f: Figure) -> str:
        return f'<dd class="rd-figure-note">{_e(f.note)}</dd>' if f.note else ""
    cells = "".join(f'<div class="rd-figure"><dt>{_e(f.label)}</dt><dd class="rd-figure-value">'
                    f"{_e(f.value)}</dd>{note_of(f)}</div>" for f in items)
    return f'<dl class="rd-figures">{cells}</dl>'


def progress(fraction: float, text: str) -> str:
    """A progress bar with its text above it; `fraction` is clipped to 0…1."""
    pct = 100 * min(max(fraction, 0.0), 1.0) if math.isfinite(fraction) else 0.0
    return (f'<div class="rd-progress"><div>{_e(text)}</div><div class="rd-progress-track" '
            f'role="progressbar" aria-valuemin="0" aria-valuemax="100" '
            f'aria-valuenow="{pct:.0f}" aria-label="{_e(text)}"><span style="width:{_pct(pct)}">'
            "</span></div></div>")


def heading(text: str) -> str:
    """A section's heading (the size of `st.subheader`)."""
    return f'<h3 class="rd-heading">{_e(text)}</h3>'


def note(text: str, strong: bool = False) -> str:
    """A line of small grey text (as `st.caption`); `strong`: a bold line of normal text."""
    return f'<p class="{"rd-strong" if strong else "rd-note"}">{_e(text)}</p>'


def columns(*parts: str) -> str:
    """Parts (HTML made by this module, never outside text) side by side in equal columns, one
    under the other on a narrow screen."""
    return f'<div class="rd-columns">{"".join(f"<div>{p}</div>" for p in parts)}</div>'
