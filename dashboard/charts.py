"""Plotly figure builders: one look across the dashboard (colours from :mod:`hitlgov.palette`).

Builders take the plain data the metrics return and only shape it for plotting.

**Text from the data is escaped** (:func:`plot_text`). Plotly renders a subset of HTML in every
piece of text it draws -- tick labels, legends, hover labels, titles, annotations: ``<a href>``
becomes a clickable link, ``<b>``/``<i>``/``<span style>`` restyle, ``<br>`` breaks lines -- and
substitutes ``%{...}`` in hover templates. A reviewer id, group name, system, model version,
feature or category from a log is data: every builder passes it through :func:`plot_text`
(tick categories, trace names, text, customdata, axis titles), and hover templates never splice
data into their format string (they read ``%{fullData.name}`` instead).
"""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hitlgov.palette import (  # noqa: F401 (the builders below and the pages use these names)
    AUTOMATED,
    CURRENT,
    FINAL,
    FLAGGED,
    FONT,
    GROUP_PALETTE,
    MODEL,
    MUTED,
    PRIMARY,
    REFERENCE,
    SECONDARY,
    STATUS,
    VERSION_PALETTE,
    color_map,
)


_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "%": "&#37;"}


def plot_text(value):
    """``value`` as literal text wherever Plotly draws it: ``& < > %`` become character
    entities, which Plotly decodes (once) for display, so no tag is parsed and no ``%{...}``
    template is expanded. Non-strings (numbers, dates, None) pass through unchanged."""
    if not isinstance(value, str):
        return value
    return "".join(_ENTITIES.get(c, c) for c in value)


def _texts(values):
    """:func:`plot_text` over a list (``None`` stays ``None``)."""
    return None if values is None else [plot_text(v) for v in values]


def _layout(fig: go.Figure, *, x: str | None = None, y: str | None = None, height: int = 340,
            percent_y: bool = False, legend: bool = True, title: str | None = None) -> go.Figure:
    fig.update_layout(
        height=height,
        margin=dict(l=8, r=8, t=48 if title else 28, b=8),
        font=dict(family=FONT, size=13),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, title_text=""),
        showlegend=legend,
        hovermode="x unified" if x and "Month" in x else "closest",
        title=dict(text=plot_text(title), x=0, xanchor="left", font=dict(size=15)) if title else None,
        bargap=0.18,
    )
    if x is not None:
        fig.update_xaxes(title_text=plot_text(x))
    if y is not None:
        fig.update_yaxes(title_text=plot_text(y))
    if percent_y:
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return fig


# -- time series --------------------------------------------------------------------------

def lines(rows: list[dict], series: list[tuple[str, str, str]], *, y: str, percent: bool = True,
          x_key: str = "period", height: int = 320, windows: dict | None = None, dash: dict | None = None) -> go.Figure:
    """One line per ``(key, label, colour)`` over the periods; ``windows`` shades reference/current."""
    fig = go.Figure()
    xs = [r[x_key] for r in rows]
    for key, label, colour in series:
        fig.add_trace(go.Scatter(
            x=xs, y=[r.get(key) for r in rows], name=plot_text(label), mode="lines+markers",
            line=dict(color=colour, width=2.5, dash=(dash or {}).get(key, "solid")), marker=dict(size=6),
            hovertemplate="%{y:.1%}<extra>%{fullData.name}</extra>" if percent else "%{y:,.3g}<extra>%{fullData.name}</extra>",
        ))
    _shade_windows(fig, windows)
    return _layout(fig, x="Month", y=y, percent_y=percent, height=height)


def _shade_windows(fig: go.Figure, windows: dict | None) -> None:
    if not windows:
        return
    for name, colour in (("reference", REFERENCE), ("current", CURRENT)):
        w = windows.get(name)
        if not w:
            continue
        fig.add_vrect(x0=w["from"], x1=w["to"], fillcolor=colour, opacity=0.12, line_width=0,
                      annotation_text=name.capitalize(), annotation_position="top left",
                      annotation_font=dict(size=11, color="#475569"))


def cases_stack(rows: list[dict], *, height: int = 320) -> go.Figure:
    """Cases per month, split into decided by the model alone and reviewed by a human."""
    xs = [r["period"] for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=xs, y=[r["cases"] - r["reviewed_cases"] for r in rows], name="Automated (no review)",
                         marker_color=MUTED, hovertemplate="%{y:,}<extra>Automated</extra>"))
    fig.add_trace(go.Bar(x=xs, y=[r["reviewed_cases"] for r in rows], name="Reviewed by a human",
                         marker_color=PRIMARY, hovertemplate="%{y:,}<extra>Reviewed</extra>"))
    fig.update_layout(barmode="stack")
    return _layout(fig, x="Month", y="Cases (count)", height=height)


def bars_and_line(rows: list[dict], *, bar_key: str, bar_label: str, line_key: str, line_label: str,
                  y_bar: str, y_line: str, height: int = 320) -> go.Figure:
    """Bars on the left axis and a line on the right (e.g. reviewer hours and errors caught)."""
    xs = [r["period"] for r in rows]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=xs, y=[r.get(bar_key) for r in rows], name=plot_text(bar_label), marker_color=MUTED,
                         hovertemplate="%{y:,.0f}<extra>%{fullData.name}</extra>"), secondary_y=False)
    fig.add_trace(go.Scatter(x=xs, y=[r.get(line_key) for r in rows], name=plot_text(line_label), mode="lines+markers",
                             line=dict(color=SECONDARY, width=2.5),
                             hovertemplate="%{y:,.0f}<extra>%{fullData.name}</extra>"), secondary_y=True)
    fig.update_yaxes(title_text=plot_text(y_bar), secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text=plot_text(y_line), secondary_y=True, rangemode="tozero", showgrid=False, tickmode="auto",
                     nticks=6)
    return _layout(fig, x="Month", height=height)


#: the names of the net-benefit chart's two traces (tests read the figure by them)
NET_BENEFIT_KNOWN = "Net benefit"
NET_BENEFIT_PENDING = "Outcomes not yet known (lower bound)"


def net_benefit(rows: list[dict], *, currency: str, height: int = 280) -> go.Figure:
    """The monthly net benefit of review in money (``rows``: :func:`hitlgov.metrics.roi.net_benefit_trend`):
    a solid line over the months whose outcomes are known, stopping where they are not; those
    months are drawn apart (grey, dotted, hollow markers) as lower bounds. A dashed line marks
    break-even (0)."""
    xs = [r["period"] for r in rows]
    known = [None if r["pending"] else r["net_benefit"] for r in rows]
    pending = [r["net_benefit"] if r["pending"] else None for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=known, name=NET_BENEFIT_KNOWN, mode="lines+markers",
                             line=dict(color=PRIMARY, width=2.5), marker=dict(size=7),
                             hovertemplate="%{y:,.0f}<extra>%{fullData.name}</extra>"))
    if any(v is not None for v in pending):
        fig.add_trace(go.Scatter(x=xs, y=pending, name=NET_BENEFIT_PENDING, mode="lines+markers",
                                 line=dict(color=MUTED, width=2, dash="dot"),
                                 marker=dict(size=7, symbol="circle-open", color=MUTED),
                                 hovertemplate="%{y:,.0f}<extra>%{fullData.name}</extra>"))
    fig.add_hline(y=0, line_dash="dash", line_color="#94A3B8", line_width=1)
    fig.update_yaxes(tickformat=",.0f")
    return _layout(fig, x="Month", y=f"Net benefit ({currency})", height=height)


def score_band(rows: list[dict], *, windows: dict | None = None, height: int = 320) -> go.Figure:
    """Model score per month: 10th-90th percentile band, median and mean."""
    xs = [r["period"] for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=[r["score_p90"] for r in rows], line=dict(width=0), showlegend=False,
                             hoverinfo="skip", mode="lines"))
    fig.add_trace(go.Scatter(x=xs, y=[r["score_p10"] for r in rows], fill="tonexty", line=dict(width=0),
                             fillcolor="rgba(29,78,216,0.15)", name="10th-90th percentile", mode="lines",
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=xs, y=[r["score_p50"] for r in rows], name="Median score", mode="lines+markers",
                             line=dict(color=PRIMARY, width=2.5), hovertemplate="%{y:.3f}<extra>Median</extra>"))
    fig.add_trace(go.Scatter(x=xs, y=[r["score_mean"] for r in rows], name="Mean score", mode="lines",
                             line=dict(color=PRIMARY, width=1.5, dash="dot"),
                             hovertemplate="%{y:.3f}<extra>Mean</extra>"))
    _shade_windows(fig, windows)
    return _layout(fig, x="Month", y="Model score", height=height)


# -- categories ---------------------------------------------------------------------------

def grouped_bars(categories: list[str], series: list[tuple[str, list, str]], *, x: str, y: str,
                 percent: bool = True, height: int = 320, thresholds: list[tuple[float, str, str]] | None = None,
                 horizontal: bool = False) -> go.Figure:
    """Bars per category, one trace per ``(label, values, colour)``; dashed policy lines optional."""
    fig = go.Figure()
    categories = _texts(categories)
    for label, values, colour in series:
        kw = dict(x=values, y=categories, orientation="h") if horizontal else dict(x=categories, y=values)
        fig.add_trace(go.Bar(name=plot_text(label), marker_color=colour,
                             hovertemplate=("%{x:.1%}" if horizontal else "%{y:.1%}") + "<extra>%{fullData.name}</extra>"
                             if percent else None, **kw))
    fig.update_layout(barmode="group")
    for value, label, colour in thresholds or []:
        fig.add_hline(y=value, line_dash="dash", line_color=colour, line_width=1.5,
                      annotation_text=plot_text(label), annotation_position="top right",
                      annotation_font=dict(size=11, color=colour))
    _layout(fig, x=x, y=y, height=height, legend=len(series) > 1)
    if percent:
        if horizontal:
            fig.update_xaxes(tickformat=".0%", rangemode="tozero")
        else:
            fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return fig


def colored_bars(labels: list[str], values: list, colours: list[str], *, x: str, y: str, percent: bool = False,
                 height: int = 320, horizontal: bool = False, text: list[str] | None = None,
                 reference: tuple[float, str] | None = None) -> go.Figure:
    """One bar per label, each with its own colour (reviewers, versions, groups)."""
    labels, text = _texts(labels), _texts(text)
    kw = dict(x=values, y=labels, orientation="h") if horizontal else dict(x=labels, y=values)
    fig = go.Figure(go.Bar(marker_color=colours, text=text, textposition="outside" if text else None,
                           cliponaxis=False, **kw))
    if reference is not None:
        value, label = reference
        if horizontal:
            fig.add_vline(x=value, line_dash="dash", line_color="#475569", annotation_text=plot_text(label),
                          annotation_position="top", annotation_font=dict(size=11))
        else:
            fig.add_hline(y=value, line_dash="dash", line_color="#475569", annotation_text=plot_text(label),
                          annotation_font=dict(size=11))
    _layout(fig, x=x, y=y, height=height, legend=False)
    if percent:
        (fig.update_xaxes if horizontal else fig.update_yaxes)(tickformat=".0%", rangemode="tozero")
    if text:
        top = max([v for v in values if v is not None] + [0]) * 1.18 or 1
        (fig.update_xaxes if horizontal else fig.update_yaxes)(range=[0, top])
    if horizontal:
        fig.update_yaxes(autorange="reversed", type="category")
    return fig


def histogram(bins: list[dict], *, x: str, y: str, lo_key: str, hi_key: str, count_key: str,
              colour: str = PRIMARY, markers: list[tuple[float, str]] | None = None, height: int = 320) -> go.Figure:
    """Pre-binned counts as adjoining bars, with optional vertical markers (e.g. median, p90)."""
    fig = go.Figure(go.Bar(
        x=[(b[lo_key] + b[hi_key]) / 2 for b in bins], y=[b[count_key] for b in bins],
        width=[b[hi_key] - b[lo_key] for b in bins], marker_color=colour, marker_line_width=0,
        customdata=[[b[lo_key], b[hi_key]] for b in bins],
        hovertemplate="%{customdata[0]:,.0f}–%{customdata[1]:,.0f} s: %{y:,} reviews<extra></extra>"))
    for value, label in markers or []:
        fig.add_vline(x=value, line_dash="dash", line_color="#334155", annotation_text=plot_text(label),
                      annotation_position="top right", annotation_font=dict(size=11))
    fig.update_layout(bargap=0.02)
    return _layout(fig, x=x, y=y, height=height, legend=False)


# -- oversight ------------------------------------------------------------------------------

def bias_scatter(points: list[dict], *, height: int = 380) -> go.Figure:
    """One dot per reviewer: median review time (x, log) vs override rate (y); flagged in red."""
    fig = go.Figure()
    for flagged, name, colour in ((False, "Reviewer", PRIMARY), (True, "Flagged: possible automation bias", FLAGGED)):
        pts = [p for p in points if bool(p["flagged"]) == flagged]
        if not pts:
            continue
        fig.add_trace(go.Scatter(
            x=[p["review_seconds_median"] for p in pts], y=[p["override_rate"] for p in pts],
            mode="markers+text" if flagged else "markers", name=name,
            text=[plot_text(p["reviewer_id"]) for p in pts] if flagged else None, textposition="middle right",
            marker=dict(size=[max(8, min(28, (p["reviews"] or 0) ** 0.5 / 2.5)) for p in pts], color=colour,
                        line=dict(width=1, color="white"), opacity=0.9),
            customdata=[[plot_text(p["reviewer_id"]), p["reviews"]] for p in pts],
            hovertemplate="%{customdata[0]}<br>%{customdata[1]:,} reviews<br>median %{x:,.0f} s<br>"
                          "override rate %{y:.1%}<extra></extra>"))
    ticks = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[f"{t:,}" for t in ticks])
    return _layout(fig, x="Median review time (s, log scale)", y="Override rate (% of reviews)",
                   percent_y=True, height=height)


# -- agreement -------------------------------------------------------------------------------

def ci_forest(rows: list[tuple[str, float | None, list | None]], *, x: str, height: int = 240,
              bands: list[tuple[float, str]] | None = None) -> go.Figure:
    """Point estimates with confidence intervals, one row per statistic."""
    rows = [r for r in rows if r[1] is not None]
    fig = go.Figure(go.Scatter(
        x=[r[1] for r in rows], y=[plot_text(r[0]) for r in rows], mode="markers", marker=dict(size=12, color=PRIMARY),
        error_x=dict(type="data", symmetric=False, color=PRIMARY, thickness=2, width=8,
                     array=[(r[2][1] - r[1]) if r[2] else 0 for r in rows],
                     arrayminus=[(r[1] - r[2][0]) if r[2] else 0 for r in rows]),
        hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    for i, (value, label) in enumerate(sorted(bands or [])):
        fig.add_vline(x=value, line_dash="dash", line_color="#94A3B8")
        fig.add_annotation(x=value, y=1.0, yref="paper", yanchor="bottom", text=plot_text(label), showarrow=False,
                           xanchor="right" if i == 0 and len(bands) > 1 else "left",
                           font=dict(size=11, color="#475569"))
    fig.update_xaxes(range=[min(0.0, min((r[2][0] if r[2] else r[1]) for r in rows) - 0.05) if rows else 0, 1.0])
    fig.update_yaxes(autorange="reversed", type="category")
    _layout(fig, x=x, height=height, legend=False)
    fig.update_layout(margin=dict(t=36, b=8, l=8, r=8))
    return fig


def kappa_heatmap(pairs: list[dict], reviewers: list[str], *, height: int = 520) -> go.Figure:
    """Pairwise Cohen's kappa, one cell per pair: the lower triangle (row after column), the value
    and the shared cases written in the cell; blank where a pair shares too few cases."""
    idx = {r: i for i, r in enumerate(reviewers)}
    z = [[None] * len(reviewers) for _ in reviewers]
    n = [[None] * len(reviewers) for _ in reviewers]
    text = [[""] * len(reviewers) for _ in reviewers]
    for p in pairs:
        i, j = idx.get(p["a"]), idx.get(p["b"])
        if i is None or j is None or i == j:
            continue
        row, col = max(i, j), min(i, j)
        z[row][col], n[row][col] = p["kappa"], p["shared_cases"]
        text[row][col] = "" if p["kappa"] is None else f"{p['kappa']:.2f}"
    shown = _texts(reviewers)
    fig = go.Figure(go.Heatmap(
        z=z, x=shown, y=shown, customdata=n, text=text, texttemplate="%{text}",
        textfont=dict(size=10 if len(reviewers) <= 15 else 8), zmin=-0.2, zmax=1.0, hoverongaps=False,
        colorscale=[[0, "#B91C1C"], [0.25, "#FDE68A"], [0.6, "#A7F3D0"], [1, "#047857"]],
        colorbar=dict(title=dict(text="κ"), thickness=12), xgap=1, ygap=1,
        hovertemplate="%{y} × %{x}<br>κ = %{z:.2f}<br>%{customdata} shared cases<extra></extra>"))
    fig.update_xaxes(type="category", tickangle=-45)
    fig.update_yaxes(type="category", autorange="reversed")
    return _layout(fig, x="Reviewer", y="Reviewer", height=height, legend=False)


# -- fairness --------------------------------------------------------------------------------

FAIR_METRICS = (("selection_rate", "Selection rate"), ("false_positive_rate", "False positive rate"),
                ("false_negative_rate", "False negative rate"))


def fairness_side_by_side(model: dict, final: dict, colours: dict[str, str], *, height: int = 380) -> go.Figure:
    """Per-group rates of the model's decision (left) and the final decision (right), same axes."""
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=("Model decision", "Final decision (after review)"))
    groups = list(model["by_group"])
    labels = [label for _, label in FAIR_METRICS]
    for col, block in ((1, model), (2, final)):
        for g in groups:
            rates = block["by_group"].get(g, {})
            fig.add_trace(go.Bar(
                x=labels, y=[rates.get(k) for k, _ in FAIR_METRICS], name=plot_text(g), legendgroup=plot_text(g),
                showlegend=col == 1, marker_color=colours.get(g, MUTED),
                hovertemplate="%{x}<br>%{fullData.name}: %{y:.1%}<extra></extra>"), row=1, col=col)
    fig.update_layout(barmode="group")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", title_text="Rate (% of cases in group)", row=1, col=1)
    _layout(fig, height=height)
    fig.update_layout(legend=dict(y=1.12), margin=dict(t=70, b=8, l=8, r=8))
    return fig


def disparity_panels(panels: list[dict], *, height: int = 340) -> go.Figure:
    """One small chart per disparity metric: model vs final bars with the policy's warn/fail lines.

    ``panels``: ``[{"title", "model", "final", "lines": [(value, label, colour)], "percent"}]``.
    """
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[plot_text(p["title"]) for p in panels],
                        horizontal_spacing=0.08)
    for i, p in enumerate(panels, start=1):
        fig.add_trace(go.Bar(x=["Model", "Final"], y=[p["model"], p["final"]], marker_color=[MODEL, FINAL],
                             showlegend=False, text=_texts([p["fmt"](p["model"]), p["fmt"](p["final"])]),
                             textposition="outside", cliponaxis=False, name=plot_text(p["title"]),
                             hovertemplate="%{x}: %{text}<extra>%{fullData.name}</extra>"), row=1, col=i)
        top = max([v for v in (p["model"], p["final"]) if v is not None] + [ln[0] for ln in p["lines"]] + [0.01])
        for value, label, colour in p["lines"]:
            fig.add_shape(type="line", x0=-0.5, x1=1.5, y0=value, y1=value, line=dict(color=colour, dash="dash",
                          width=1.5), row=1, col=i)
            fig.add_annotation(x=-0.5, y=value, text=plot_text(label), showarrow=False, xanchor="left", yanchor="bottom",
                               font=dict(size=10, color=colour), bgcolor="rgba(255,255,255,0.85)", row=1, col=i)
        fig.update_yaxes(range=[0, top * 1.25], title_text=plot_text(p.get("y")), row=1, col=i)
    return _layout(fig, height=height, legend=False)


# -- drift -----------------------------------------------------------------------------------

def overlay(dist: dict, *, height: int = 300) -> go.Figure:
    """Reference vs current distribution of one column, as shares of each window's cases."""
    bins = dist["bins"]
    numeric = dist["kind"] == "numeric"
    fig = go.Figure()
    for name, colour in (("reference", REFERENCE), ("current", CURRENT)):
        w = dist[name]
        label = plot_text(f"{name.capitalize()} ({w['from']} – {w['to']})")
        if numeric and name == "reference":
            fig.add_trace(go.Bar(
                x=[(b["from"] + b["to"]) / 2 for b in bins], y=[b[f"{name}_share"] for b in bins],
                width=[b["to"] - b["from"] for b in bins], name=label, marker_color=colour, opacity=0.6,
                marker_line_width=0, customdata=_texts([b["label"] for b in bins]),
                hovertemplate="%{customdata}: %{y:.1%}<extra>" + name + "</extra>"))
        elif numeric:
            fig.add_trace(go.Scatter(
                x=[(b["from"] + b["to"]) / 2 for b in bins], y=[b[f"{name}_share"] for b in bins], name=label,
                mode="lines", line=dict(color=colour, width=2.5, shape="hvh"), customdata=_texts([b["label"] for b in bins]),
                hovertemplate="%{customdata}: %{y:.1%}<extra>" + name + "</extra>"))
        else:
            fig.add_trace(go.Bar(x=_texts([b["label"] for b in bins]), y=[b[f"{name}_share"] for b in bins], name=label,
                                 marker_color=colour, hovertemplate="%{x}: %{y:.1%}<extra>" + name + "</extra>"))
    fig.update_layout(barmode="overlay" if numeric else "group", bargap=0.02 if numeric else 0.18)
    _layout(fig, x=dist["column"] + (" (value)" if numeric else " (category)"),
            y="Share of window's cases", percent_y=True, height=height)
    return fig


def status_bars(labels: list[str], values: list[int], statuses: list[str], *, x: str, y: str,
                height: int = 300) -> go.Figure:
    return colored_bars(labels, values, [STATUS.get(s, MUTED) for s in statuses], x=x, y=y, height=height,
                        horizontal=True)
