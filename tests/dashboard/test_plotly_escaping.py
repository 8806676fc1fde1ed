"""Text from the log is data in every chart: Plotly's HTML subset never reaches the SVG.

Plotly draws ``<a href>`` in tick labels, legends and hover labels as a real, clickable link and
``<b>``/``<span style>`` as styling; ``%{...}`` in a hover template is expanded. Reviewer ids,
group names, model versions and categories come from the log, so the chart builders escape them
(:func:`hitlgov.dashboard.charts.plot_text`). The helper is unit-tested here against the entity
decoding Plotly applies; the end-to-end test serves a store whose reviewer ids are markup and
reads the chart SVG in headless Chromium.
"""
from __future__ import annotations

import csv
import html
import sys
from pathlib import Path

import pytest

import browser_helpers as bh
from hitlgov import store
from hitlgov.dashboard import charts
from hitlgov.ingest.pipeline import ingest_path

LINK = '<a href="https://evil.example/">rev</a>'
BOLD = "<b>x</b>"
TEMPLATE = "r%{y}"
HITLGOV = Path(sys.executable).with_name("hitlgov")


def plotly_decode(text: str) -> str:
    """What Plotly shows for a string: its entity decoding (``&lt;``, ``&#37;``, ... decoded once).
    Python's ``html.unescape`` decodes the same named and numeric entities in one pass."""
    return html.unescape(text)


@pytest.mark.parametrize("value", [LINK, BOLD, TEMPLATE, "a & b", "&lt;b&gt;", "50% <br> done", "plain-id_7",
                                   "ünïcödé <i>", "%{customdata[0]}"])
def test_plot_text_shows_the_value_literally_and_leaves_no_tag(value):
    shown = charts.plot_text(value)
    assert "<" not in shown and ">" not in shown and "%{" not in shown
    assert plotly_decode(shown) == value  # decoded once by Plotly: exactly the original text


def test_plot_text_leaves_non_text_alone():
    assert [charts.plot_text(v) for v in (None, 3, 0.5)] == [None, 3, 0.5]


def test_every_builder_escapes_data_labels():
    """The figures' JSON holds no raw tag from the data: tick categories, names, text, customdata."""
    ids = [LINK, BOLD, "plain"]
    figs = [
        charts.colored_bars(ids, [1, 2, 3], ["#000"] * 3, x="Reviews", y="Reviewer", horizontal=True, text=ids),
        charts.kappa_heatmap([{"a": LINK, "b": BOLD, "kappa": 0.5, "shared_cases": 4}], ids),
        charts.bias_scatter([{"reviewer_id": LINK, "reviews": 9, "review_seconds_median": 3.0,
                              "override_rate": 0.1, "flagged": True}]),
        charts.grouped_bars([LINK, "v2"], [(BOLD, [0.1, 0.2], "#000")], x="Model version", y="Rate"),
        charts.fairness_side_by_side({"by_group": {LINK: {"selection_rate": 0.2}}},
                                     {"by_group": {LINK: {"selection_rate": 0.3}}}, {}),
        charts.overlay({"kind": "categorical", "column": BOLD, "bins": [{"label": LINK, "reference_share": 0.5,
                                                                          "current_share": 0.4}],
                        "reference": {"from": "a", "to": "b"}, "current": {"from": "c", "to": "d"}}),
        charts.lines([{"period": "2026-01", "v": 0.1}], [("v", BOLD, "#000")], y=LINK),
        # the currency comes from the policy file: text like any other, in the axis title
        charts.net_benefit([{"period": "2026-01-01", "net_benefit": 5.0, "pending": False},
                            {"period": "2026-02-01", "net_benefit": -1.0, "pending": True}], currency=LINK),
    ]
    for fig in figs:
        text = fig.to_json()
        assert "<a " not in text and "<b>" not in text and "\\u003ca" not in text.lower(), text[:500]
        assert "\\u003cb\\u003e" not in text.lower()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("markup")
    log = folder / "log.csv"
    reviewers = [LINK, BOLD, "ana"]
    with open(log, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case_id", "ts", "model_decision", "reviewer_id", "human_decision", "review_seconds"])
        for i in range(60):
            for j in (0, 1):
                who = reviewers[(i + j) % 3]
                w.writerow([f"c{i}", f"2026-03-{1 + i % 28:02d}", "approve", who,
                            "approve" if (i + j) % 4 else "deny", 30 + i])
    db = folder / "store.duckdb"
    with store.connect(db) as con:
        ingest_path(con, log)
    port = bh.free_port()
    cmd = [str(HITLGOV) if HITLGOV.exists() else "hitlgov", "serve", "--no-auth", "--db", str(db), "--port", str(port)]
    with bh.served(cmd, port, folder / "serve.log") as url:
        yield url


def test_markup_in_reviewer_ids_is_literal_text_in_the_chart_svg(server):
    with bh.chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 2400})
        try:
            bh.open_page(page, f"{server}/reviewers", "Reviewers & agreement", has_chart=True)
            bh.assert_no_error(page, "Reviewers")
            page.wait_for_selector(".js-plotly-plot .ytick text, .js-plotly-plot .xtick text", timeout=60_000)
            found = page.evaluate("""() => {
                const svgs = [...document.querySelectorAll('.js-plotly-plot svg')];
                const texts = svgs.flatMap(s => [...s.querySelectorAll('text')].map(t => t.textContent));
                return {
                  charts: svgs.length,
                  links: svgs.reduce((n, s) => n + s.querySelectorAll('a').length, 0),
                  // (Plotly keeps a few empty bold tspans of its own; one holding text is markup from the data)
                  bold: svgs.flatMap(s => [...s.querySelectorAll('tspan')]
                          .filter(t => /bold/.test(t.getAttribute('style') || '') && t.textContent.trim())
                          .map(t => t.textContent)),
                  texts: texts,
                };
            }""")
        finally:
            page.close()
    assert found["charts"] >= 1
    assert found["links"] == 0, "a reviewer id became a link in the chart"
    assert found["bold"] == [], f"a reviewer id restyled chart text: {found['bold']}"
    assert LINK in found["texts"] and BOLD in found["texts"], found["texts"][:40]
