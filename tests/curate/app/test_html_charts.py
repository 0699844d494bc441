"""The Dashboard's HTML charts: bars where the values put them, labels off the bar's edge,
fixed kappa scale, outside text shown as text."""
from __future__ import annotations

import pytest

from curate.app import html_charts as hc
from tests.helpers.html_charts import charts, figures, parse, tables, text


def _kappa(*values):
    return charts(hc.kappa_chart(
        "Cohen's kappa per pair", [hc.Bar(f"p{i}", v, "undefined" if v is None else f"{v:.2f}")
                                   for i, v in enumerate(values)],
        category_title="Pair", value_title="Cohen's kappa"))[0]


def test_kappa_scale_is_fixed_with_a_line_at_zero():
    for values in ((0.5,), (-0.03,), (0.0,), (None,), (0.99, -0.99)):
        chart = _kappa(*values)
        assert chart.ticks == [("\u22121.0", 0.0), ("\u22120.5", 25.0), ("0.0", 50.0),
                               ("0.5", 75.0), ("1.0", 100.0)], values
        assert chart.zero_lines == len(values)  # one line at 0 across every row


def test_kappa_bars_start_at_zero_and_labels_sit_off_the_bar():
    chart = _kappa(0.5, -0.03, 0.0, None, 1.0, -1.0, 1.7)
    assert chart.row("p0").bars == [(50.0, 25.0)] and chart.row("p0").label_at == 75.0
    # A slight negative kappa is a sliver left of the line; its label right of the line.
    assert chart.row("p1").bars == [(48.5, 1.5)] and chart.row("p1").label_at == 50.0
    assert chart.row("p2").bars == [] and chart.row("p2").label_at == 50.0  # 0.00: no bar
    assert chart.row("p3").bars == [] and chart.row("p3").label == "undefined"
    assert chart.row("p4").bars == [(50.0, 50.0)] and chart.row("p4").label_at == 100.0
    assert chart.row("p5").bars == [(0.0, 50.0)] and chart.row("p5").label_at == 50.0
    assert chart.row("p6").bars == [(50.0, 50.0)]  # out of range: drawn to the end it passes
    assert chart.axis_titles == ["Pair", "Cohen's kappa"]
    assert chart.title == "Cohen's kappa per pair"


def test_bar_chart_scale_and_labels():
    chart = charts(hc.bar_chart(
        "Accept rate", [hc.Bar("ana", 62.5, "62.5 %"), hc.Bar("luis", None, "— %")],
        category_title="Annotator", value_title="Accepted (%)", ticks=(0, 25, 50, 75, 100)))[0]
    assert chart.row("ana").bars == [(0.0, 62.5)] and chart.row("ana").label == "62.5 %"
    assert chart.row("ana").label_at == 62.5
    assert chart.row("luis").bars == [] and chart.row("luis").label == "— %"
    assert [t for t, _ in chart.ticks] == ["0", "25", "50", "75", "100"]
    assert chart.zero_lines == 0  # a scale from 0: no emphasised zero line
    counts = charts(hc.bar_chart("Rejections", [hc.Bar("too young", 36, "36"),
                                                hc.Bar("looks young", 0, "0")], counts=True,
                                 category_title="Rule", value_title="Rejections"))[0]
    assert [t for t, _ in counts.ticks] == ["0", "10", "20", "30", "40"]
    assert counts.row("too young").bars == [(0.0, 90.0)]


@pytest.mark.parametrize("top, ticks", [
    (0, [0, 1]), (1, [0, 0.2, 0.4, 0.6, 0.8, 1]), (2.5, [0, 0.5, 1, 1.5, 2, 2.5]),
    (36, [0, 10, 20, 30, 40]),
    (84, [0, 20, 40, 60, 80, 100]), (210, [0, 50, 100, 150, 200, 250]),
    (10_000, [0, 2000, 4000, 6000, 8000, 10_000]), (0.004, [0, 0.001, 0.002, 0.003, 0.004])])
def test_nice_ticks(top, ticks):
    assert hc.nice_ticks(top) == pytest.approx(ticks)


def test_tick_texts():
    assert [hc.number(x) for x in (0, 2000, 2.5, 0.001, -0.5, 1_500_000)] == [
        "0", "2,000", "2.5", "0.001", "\u22120.5", "1,500,000"]


def test_counts_are_ticked_in_whole_numbers():
    assert hc.nice_ticks(1, whole=True) == [0, 1] and hc.nice_ticks(3, whole=True) == [0, 1, 2, 3]
    chart = charts(hc.bar_chart("Tags used", [hc.Bar("two faces", 1, "1")], counts=True,
                                category_title="Tag", value_title="Uses"))[0]
    assert [t for t, _ in chart.ticks] == ["0", "1"]


def test_stacked_chart_segments_in_order_with_counts_for_every_reader():
    chart = charts(hc.stacked_chart(
        "Queue progress",
        [("ana", (116, 52, 0, 42), "80 % done"), ("luis", (0, 0, 0, 0), "0 % done")],
        [("accepted", "#2e7d32"), ("rejected", "#c62828"), ("skipped", "#f9a825"),
         ("left", "#b0bec5")], category_title="Annotator", value_title="Images"))[0]
    ana = chart.row("ana")
    assert chart.legend == ["accepted", "rejected", "skipped", "left"]
    assert [round(w, 1) for _, w in ana.bars] == [46.4, 20.8, 16.8]  # of 250; no empty segment
    assert [round(x, 1) for x, _ in ana.bars] == [0.0, 46.4, 67.2]  # left to right, in order
    assert ana.tooltips == ["ana: 116 accepted", "ana: 52 rejected", "ana: 42 left"]
    assert ana.label == "80 % done" and ana.label_at == pytest.approx(84.0)
    assert ana.said == "80 % done (116 accepted, 52 rejected, 0 skipped, 42 left)"
    assert chart.row("luis").bars == []


def test_outside_text_is_shown_as_text():
    name = '<img src=x onerror=alert(1)> [link](https://example.org) **bold**'
    html = hc.bar_chart(f"Title {name}", [hc.Bar(name, 1, name)], category_title=name,
                        value_title="v") + hc.table([name], [[name]])
    html += (hc.figures([hc.Figure(name, name, name)]) + hc.progress(0.5, name) + hc.heading(name)
             + hc.note(name) + hc.note(name, strong=True)
             + hc.columns(hc.note(name), hc.heading(name)))
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert figures(html) == {name: (name, name)} and text(html).count(name) >= 9
    [chart], [table] = charts(html), tables(html)
    assert chart.title == f"Title {name}" and chart.rows[0].category == name
    assert chart.rows[0].label == name and table.header == [name] and table.rows == [[name]]


def test_table_writes_none_as_a_dash():
    [t] = tables(hc.table(["annotator", "rate"], [["ana", None], ["luis", "25.0"]]))
    assert t.rows == [["ana", "—"], ["luis", "25.0"]]


def test_figures_read_label_value_and_note_and_the_progress_bar_is_clipped():
    shown = figures(hc.figures([hc.Figure("Accepted", "1,234", "target 2,500"),
                                hc.Figure("Open disagreements", "0")]))
    assert shown == {"Accepted": ("1,234", "target 2,500"), "Open disagreements": ("0", "")}
    for fraction, width, now in ((0.25, "25%", "25"), (1.7, "100%", "100"), (-1, "0%", "0"),
                                 (float("nan"), "0%", "0")):
        bar = parse(hc.progress(fraction, "x")).first("div", "rd-progress-track")
        assert bar.attrs["aria-valuenow"] == now
        assert f"width:{width}" in bar.first("span").attrs["style"]
