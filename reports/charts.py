"""The report's charts: matplotlib figures written as SVG (vector, text kept as text).

Each function takes the plain data of the evidence document -- the same metric values the
dashboard draws -- and returns SVG text. Colours are the dashboard's (:mod:`hitlgov.palette`):
a group of a sensitive attribute, the model's vs the final decision, reference vs current window,
pass/warn/fail keep the same colour on screen and on paper. Fonts: DejaVu Sans, which matplotlib
ships and the OS provides (nothing is downloaded). Output is deterministic: fixed ids, no date.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state), so a report can be
rendered from a Streamlit thread.
"""
from __future__ import annotations

import functools
import io
import math

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, PercentFormatter  # noqa: E402

from hitlgov.palette import (  # noqa: E402  (one palette for the dashboard and the reports)
    AUTOMATED,
    CURRENT,
    FINAL,
    FLAGGED,
    GROUP_PALETTE,
    MODEL,
    MUTED,
    PRIMARY,
    REFERENCE,
    SECONDARY,
    STATUS,
    color_map,
)

INK = "#1E293B"
GRID = "#E2E8F0"
FONT = "DejaVu Sans"
MM = 1 / 25.4  # inches per millimetre
WIDTH_MM = 178  # the text width of an A4 page with the report's margins

_RC = {
    "svg.fonttype": "none",  # text stays text: selectable, searchable, small
    "svg.hashsalt": "hitlgov",  # deterministic element ids
    "font.family": FONT,
    "font.size": 7.5,
    "axes.edgecolor": "#94A3B8",
    "axes.labelcolor": INK,
    "axes.titlesize": 8.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "xtick.color": "#475569",
    "ytick.color": "#475569",
    "legend.frameon": False,
    "legend.fontsize": 7,
}

__all__ = ["agreement_forest", "automation_bias", "cases_stack", "color_map", "disparities", "distribution",
           "effort_and_errors", "fairness_rates", "lines", "net_benefit", "score_band", "GROUP_PALETTE"]


def _rc(fn):
    """Run a chart function inside the report's matplotlib settings (fonts, sizes, SVG options)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(_RC):
            return fn(*args, **kwargs)
    return wrapper


def _figure(height_mm: float, width_mm: float = WIDTH_MM, ncols: int = 1, *,
            margins: tuple[float, float, float, float] | None = None, **kw):
    """A figure of the given size in mm. ``margins`` = (left, right, top, bottom) in mm fixes the
    axes box (about 2.5x faster than the constrained layout, which multi-panel charts keep)."""
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(width_mm * MM, height_mm * MM), layout=None if margins else "constrained")
        axes = fig.subplots(1, ncols, **kw)
        if margins:
            left, right, top, bottom = margins
            fig.subplots_adjust(left=left / width_mm, right=1 - right / width_mm, top=1 - top / height_mm,
                                bottom=bottom / height_mm)
    return fig, axes


def _margins(*, legend_right: bool = False, rotated: bool = True, legend_below: bool = False,
             left: float = 17) -> tuple[float, float, float, float]:
    return (left, 40 if legend_right else 5, 7, (13 if rotated else 8) + (7 if legend_below else 0))


def _style(ax, *, percent: bool = False, grid_axis: str = "y") -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis=grid_axis, color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    if percent:
        (ax.yaxis if grid_axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0, decimals=0))


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "hitlgov"})
    return buf.getvalue()


def _months(rows: list[dict]) -> list[str]:
    return [r["period"][:7] for r in rows]


def _month_ticks(ax, labels: list[str]) -> None:
    step = max(1, math.ceil(len(labels) / 12))
    ax.set_xticks(range(0, len(labels), step))
    ax.set_xticklabels(labels[::step], rotation=0 if len(labels) <= 6 else 45,
                       ha="center" if len(labels) <= 6 else "right")


# -- time series ------------------------------------------------------------------------------

@_rc
def cases_stack(rows: list[dict], *, height_mm: float = 58, width_mm: float = WIDTH_MM) -> str:
    """Cases per month: decided by the model alone (grey) and reviewed by a person (blue).
    Narrower than the page (``width_mm``), the legend goes below the axes."""
    narrow = width_mm < WIDTH_MM
    m = _narrow_margins(rows) if narrow else _margins(legend_right=True, rotated=len(rows) > 6)
    fig, ax = _figure(height_mm, width_mm, margins=m)
    x = list(range(len(rows)))
    reviewed = [r["reviewed_cases"] for r in rows]
    automated = [r["cases"] - r["reviewed_cases"] for r in rows]
    ax.bar(x, automated, color=MUTED, label="Automated (no review)", width=0.75)
    ax.bar(x, reviewed, bottom=automated, color=PRIMARY, label="Reviewed by a person", width=0.75)
    _month_ticks(ax, _months(rows))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_ylabel("Cases")
    ax.set_title("Cases per month")
    _legend(ax, below=narrow, height_mm=height_mm, left_mm=m[0], width_mm=width_mm)
    _style(ax)
    return _svg(fig)


#: the strip at the bottom of a narrow chart that holds its legend (one row, under the tick labels)
LEGEND_BELOW_MM = 4.5


def _narrow_margins(rows: list[dict], *, left: float = 17) -> tuple[float, float, float, float]:
    return (left, 4, 7, (13 if len(rows) > 6 else 8) + LEGEND_BELOW_MM)


def _legend(ax, *, below: bool, height_mm: float = 0.0, left_mm: float = 0.0, width_mm: float = WIDTH_MM) -> None:
    if below:  # one row along the bottom edge of the figure, under the tick labels
        ax.figure.legend(*ax.get_legend_handles_labels(), loc="lower left", ncol=2, borderaxespad=0,
                         bbox_to_anchor=(left_mm / width_mm, 0.6 / height_mm), handlelength=1.4, columnspacing=1.0)
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))


def _money_tick(currency: str):
    """Axis ticks in short money ('€12.3k'); a '$' is escaped (matplotlib would read mathtext)."""
    from hitlgov import formats as fmt

    return FuncFormatter(lambda v, _: fmt.money_short(v, currency).replace("$", r"\$"))


@_rc
def net_benefit(rows: list[dict], *, currency: str, height_mm: float = 46, width_mm: float = WIDTH_MM) -> str:
    """The monthly net benefit of review (``rows``: :func:`hitlgov.metrics.roi.net_benefit_trend`): a
    solid line over the months whose outcomes are known, stopping where they are not; those months
    grey, dotted, hollow markers (lower bounds). Dashed: break-even (0). As on the Overview."""
    narrow = width_mm < WIDTH_MM
    m = _narrow_margins(rows, left=19) if narrow else _margins(legend_right=True, rotated=len(rows) > 6, left=19)
    fig, ax = _figure(height_mm, width_mm, margins=m)
    x = list(range(len(rows)))
    known = [math.nan if r["pending"] or r["net_benefit"] is None else r["net_benefit"] for r in rows]
    pending = [r["net_benefit"] if r["pending"] and r["net_benefit"] is not None else math.nan for r in rows]
    ax.axhline(0, color="#94A3B8", linewidth=0.8, linestyle="--")
    ax.plot(x, known, color=PRIMARY, linewidth=1.6, marker="o", markersize=2.8, label="Net benefit")
    if any(not math.isnan(v) for v in pending):
        ax.plot(x, pending, color=MUTED, linewidth=1.4, linestyle=":", marker="o", markersize=4,
                markerfacecolor="white", label="Outcomes not yet known")
    _month_ticks(ax, _months(rows))
    ax.yaxis.set_major_formatter(_money_tick(currency))
    ax.set_ylabel(f"Net benefit ({currency})".replace("$", r"\$"))
    ax.set_title("Net benefit of review per month")
    _legend(ax, below=narrow, height_mm=height_mm, left_mm=m[0], width_mm=width_mm)
    _style(ax)
    return _svg(fig)


@_rc
def lines(rows: list[dict], series: list[tuple[str, str, str]], *, title: str, ylabel: str, percent: bool = True,
          height_mm: float = 58, windows: dict | None = None) -> str:
    """One line per ``(key, label, colour)`` over the months; ``windows`` shades reference/current."""
    fig, ax = _figure(height_mm, margins=_margins(legend_right=True, rotated=len(rows) > 6))
    x = list(range(len(rows)))
    months = _months(rows)
    for key, label, colour in series:
        ys = [r.get(key) for r in rows]
        ax.plot(x, [math.nan if y is None else y for y in ys], color=colour, label=label, linewidth=1.6,
                marker="o", markersize=2.8)
    _shade(ax, months, windows)
    _month_ticks(ax, months)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if percent:
        ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _style(ax, percent=percent)
    return _svg(fig)


def _shade(ax, months: list[str], windows: dict | None) -> None:
    if not windows:
        return
    for name, colour in (("reference", REFERENCE), ("current", CURRENT)):
        w = windows.get(name)
        if not w:
            continue
        idx = [i for i, m in enumerate(months) if w["from"][:7] <= m <= w["to"][:7]]
        if idx:
            ax.axvspan(idx[0] - 0.45, idx[-1] + 0.45, color=colour, alpha=0.15, linewidth=0)
            ax.text(idx[0] - 0.4, 1.0, name.capitalize(), transform=ax.get_xaxis_transform(), va="top",
                    fontsize=6.5, color="#475569")


@_rc
def score_band(rows: list[dict], *, windows: dict | None = None, height_mm: float = 55) -> str:
    """Model score per month: 10th-90th percentile band and median, drift windows shaded."""
    fig, ax = _figure(height_mm, margins=_margins(legend_right=True, rotated=len(rows) > 6))
    x = list(range(len(rows)))
    nan = (lambda v: math.nan if v is None else v)
    ax.fill_between(x, [nan(r["score_p10"]) for r in rows], [nan(r["score_p90"]) for r in rows],
                    color=PRIMARY, alpha=0.15, linewidth=0, label="10th-90th percentile")
    ax.plot(x, [nan(r["score_p50"]) for r in rows], color=PRIMARY, linewidth=1.6, marker="o", markersize=2.8,
            label="Median score")
    ax.plot(x, [nan(r["score_mean"]) for r in rows], color=PRIMARY, linewidth=1.0, linestyle=":", label="Mean score")
    months = _months(rows)
    _shade(ax, months, windows)
    _month_ticks(ax, months)
    ax.set_ylabel("Model score")
    ax.set_title("Model score per month")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _style(ax)
    return _svg(fig)


@_rc
def effort_and_errors(rows: list[dict], *, height_mm: float = 58) -> str:
    """Reviewer hours per month (bars) and errors caught (line, known outcomes only)."""
    m = _margins(legend_right=True, rotated=len(rows) > 6)
    fig, ax = _figure(height_mm, margins=(m[0], m[1] + 12, m[2], m[3]))
    x = list(range(len(rows)))
    ax.bar(x, [r["reviewer_hours"] for r in rows], color=MUTED, width=0.75, label="Reviewer hours")
    ax.set_ylabel("Reviewer hours (h)")
    ax2 = ax.twinx()
    caught = [r["errors_caught"] if r["outcome_known_cases"] else math.nan for r in rows]
    ax2.plot(x, caught, color=SECONDARY, linewidth=1.6, marker="o", markersize=2.8, label="Errors caught")
    ax2.set_ylabel("Errors caught (cases)")
    ax2.set_ylim(bottom=0)
    ax2.spines[["top"]].set_visible(False)
    _month_ticks(ax, _months(rows))
    ax.set_title("Reviewer effort and model errors caught")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper left", bbox_to_anchor=(1.1, 1.0))
    _style(ax)
    return _svg(fig)


# -- oversight ----------------------------------------------------------------------------------

@_rc
def automation_bias(reviewers: list[dict], thresholds: dict, *, height_mm: float = 70) -> str:
    """Each reviewer's overrides vs peers on comparable cases (y) against review time vs peers (x).

    The lower-left box (both ratios under the policy's thresholds) is where rubber-stamping
    shows; flagged reviewers are red and labelled.
    """
    fig, ax = _figure(height_mm, margins=(17, 5, 7, 10))
    pts = [r for r in reviewers if r.get("override_ratio") is not None and r.get("time_ratio")]
    if pts:
        size = [8 + 40 * math.sqrt(r["reviews"] / max(p["reviews"] for p in pts)) for r in pts]
        ax.scatter([r["time_ratio"] for r in pts], [r["override_ratio"] for r in pts], s=size,
                   c=[FLAGGED if r["flagged"] else PRIMARY for r in pts], alpha=0.8, linewidths=0)
        for r in pts:
            if r["flagged"]:
                ax.annotate(r["reviewer_id"], (r["time_ratio"], r["override_ratio"]), xytext=(5, 4),
                            textcoords="offset points", fontsize=7, color=FLAGGED)
    ax.set_xscale("log")
    xs = [r["time_ratio"] for r in pts] + [thresholds.get("max_time_ratio", 0.5)]
    lo, hi = min(xs + [0.1]) / 1.5, max(xs + [2.0]) * 1.5
    ax.set_xlim(lo, hi)
    ax.set_xticks([t for t in (0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8) if lo <= t <= hi])
    ax.set_ylim(0, max([r["override_ratio"] for r in pts] + [1.5]) * 1.1)
    mo, mt = thresholds.get("max_override_ratio"), thresholds.get("max_time_ratio")
    if mo is not None and mt is not None:
        ax.axhline(mo, color=STATUS["fail"], linestyle="--", linewidth=0.8)
        ax.axvline(mt, color=STATUS["fail"], linestyle="--", linewidth=0.8)
        ax.fill_between([ax.get_xlim()[0], mt], 0, mo, color=STATUS["fail"], alpha=0.07, linewidth=0)
        ax.text(mt, mo, "  flag zone", fontsize=6.5, color=STATUS["fail"], va="bottom", ha="right")
    ax.axhline(1.0, color="#94A3B8", linewidth=0.6)
    ax.axvline(1.0, color="#94A3B8", linewidth=0.6)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("Review time relative to peers on comparable cases (log scale, 1 = same)")
    ax.set_ylabel("Overrides / expected from peers")
    ax.set_title("Automation-bias screen: one point per reviewer (size = reviews)")
    _style(ax, grid_axis="both")
    return _svg(fig)


@_rc
def agreement_forest(rows: list[tuple[str, float | None, list | None]], bands: list[tuple[float, str]], *,
                     height_mm: float = 38) -> str:
    """Estimates with 95% confidence intervals, one row per statistic; policy bounds dashed."""
    rows = [r for r in rows if r[1] is not None]
    fig, ax = _figure(height_mm, margins=(40, 5, 6, 10))
    y = list(range(len(rows)))
    for i, (label, value, ci) in enumerate(rows):
        if ci:
            ax.plot(ci, [i, i], color=PRIMARY, linewidth=2)
        ax.plot([value], [i], "o", color=PRIMARY, markersize=5)
        ax.text(value, i - 0.28, f"{value:.3f}", ha="center", va="bottom", fontsize=6.5, color=INK)
    for value, label in bands:
        ax.axvline(value, color="#94A3B8", linestyle="--", linewidth=0.8)
        ax.text(value, 1.0, f" {label}", transform=ax.get_xaxis_transform(), fontsize=6.5, color="#475569",
                va="bottom")
    ax.set_yticks(y)
    ax.set_yticklabels([r[0] for r in rows])
    ax.invert_yaxis()
    lo = min([0.0] + [(r[2][0] if r[2] else r[1]) - 0.05 for r in rows])
    ax.set_xlim(lo, 1.0)
    ax.set_ylim(len(rows) - 0.5, -0.8)
    ax.set_xlabel("Agreement (1 = perfect, 0 = chance level)")
    _style(ax, grid_axis="x")
    return _svg(fig)


# -- fairness -----------------------------------------------------------------------------------

FAIR_METRICS = (("selection_rate", "Selection rate"), ("false_positive_rate", "False positive rate"),
                ("false_negative_rate", "False negative rate"))


@_rc
def fairness_rates(model: dict, final: dict, colours: dict[str, str], *, height_mm: float = 62) -> str:
    """Per-group rates of the model's decision (left) and the final decision (right), same axes."""
    fig, axes = _figure(height_mm, ncols=2, sharey=True)
    groups = list(model["by_group"])
    n = max(1, len(groups))
    width = 0.8 / n
    for ax, block, title in ((axes[0], model, "Model decision"), (axes[1], final, "Final decision (after review)")):
        for j, g in enumerate(groups):
            rates = block["by_group"].get(g, {})
            vals = [rates.get(k) for k, _ in FAIR_METRICS]
            xs = [i - 0.4 + width * (j + 0.5) for i in range(len(FAIR_METRICS))]
            ax.bar(xs, [math.nan if v is None else v for v in vals], width=width * 0.92,
                   color=colours.get(g, MUTED), label=g)
        ax.set_xticks(range(len(FAIR_METRICS)))
        ax.set_xticklabels([label.rsplit(" ", 1)[0] + "\n" + label.rsplit(" ", 1)[1] for _, label in FAIR_METRICS])
        ax.set_title(title)
        ax.set_ylim(0, 1)
        _style(ax, percent=True)
    axes[0].set_ylabel("Rate (% of the group's cases)")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title=None)
    return _svg(fig)


@_rc
def disparities(panels: list[dict], *, height_mm: float = 48) -> str:
    """One small chart per disparity: model vs final bars, with the policy's warn/fail lines.

    ``panels``: ``[{"title", "model", "final", "lines": [(value, label, status)]}]``.
    """
    fig, axes = _figure(height_mm, ncols=len(panels))
    axes = list(axes) if len(panels) > 1 else [axes]
    for ax, p in zip(axes, panels):
        vals = [p["model"], p["final"]]
        bars = ax.bar([0, 1], [math.nan if v is None else v for v in vals], color=[MODEL, FINAL], width=0.6)
        for b, v in zip(bars, vals):
            ax.text(b.get_x() + b.get_width() / 2, 0 if v is None else v, "n/a" if v is None else f"{v:.3f}",
                    ha="center", va="bottom", fontsize=6.5, color=INK)
        top = max([v for v in vals if v is not None] + [ln[0] for ln in p["lines"]] + [0.01])
        for value, label, status in p["lines"]:
            ax.axhline(value, color=STATUS[status], linestyle="--", linewidth=0.9)
            ax.text(-0.45, value, label, fontsize=6, color=STATUS[status], va="bottom")
        ax.set_xticks([0, 1])
        ax.set_xticklabels(["Model", "Final"])
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylim(0, top * 1.25)
        ax.set_title(p["title"], fontsize=7.5)
        _style(ax)
    return _svg(fig)


__all__ += ["AUTOMATED", "CURRENT", "FINAL", "MODEL", "PRIMARY", "REFERENCE", "STATUS"]


# -- drift distributions ------------------------------------------------------------------------

@_rc
def distribution(dist: dict, *, height_mm: float = 46, width_mm: float = WIDTH_MM / 2 - 3) -> str:
    """One column's share of cases per bin (numbers) or category, reference (grey) beside current
    (orange): the dashboard's overlay, on paper."""
    bins = dist.get("bins") or []
    numeric = dist.get("kind") == "numeric"
    labels = [b["label"] for b in bins]
    rotated = not numeric and (len(labels) > 4 or max((len(x) for x in labels), default=0) > 8)
    fig, ax = _figure(height_mm, width_mm, margins=(13, 3, 7, 16 if rotated else 10))
    x = list(range(len(bins)))
    ref = [b.get("reference_share") or 0.0 for b in bins]
    cur = [b.get("current_share") or 0.0 for b in bins]
    if numeric:
        ax.step(x, ref, where="mid", color=REFERENCE, linewidth=1.4, label="Reference")
        ax.step(x, cur, where="mid", color=CURRENT, linewidth=1.4, label="Current")
        ax.fill_between(x, ref, step="mid", color=REFERENCE, alpha=0.18, linewidth=0)
        ticks = sorted({0, len(bins) // 2, len(bins) - 1}) if bins else []
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{bins[i]['from']:.3g}" if i < len(bins) - 1 else f"{bins[i]['to']:.3g}" for i in ticks])
    else:
        w = 0.4
        ax.bar([i - w / 2 for i in x], ref, width=w, color=REFERENCE, label="Reference")
        ax.bar([i + w / 2 for i in x], cur, width=w, color=CURRENT, label="Current")
        ax.set_xticks(x)
        ax.set_xticklabels([lbl if len(lbl) <= 14 else lbl[:13] + "…" for lbl in labels],
                           rotation=35 if rotated else 0, ha="right" if rotated else "center")
    state = {True: " (drifted)", False: " (stable)"}.get(dist.get("drifted"), "")
    ax.set_title(f"{dist.get('column')}{state}")
    ax.set_ylabel("Share of cases")
    ax.legend(loc="upper right", fontsize=6)
    _style(ax, percent=True)
    return _svg(fig)
