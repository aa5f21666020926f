"""Bulk label QA report renderers: Markdown, CSV, JSON, standalone HTML and a PNG chart.

The numbers come from :mod:`openmaker.labeling.report` (its docstring has the rules); this module
only writes them out. Common conventions:

- Percentages have 2 decimals: ``97.62%`` in md/html, ``97.62`` (no sign) in csv, ``97.62`` (a
  number) in json; an empty class or bucket shows ``0.00``. Edges and thresholds are written as
  ``80`` / ``85.5``; buckets are named ``80–85`` (an en dash).
- Rows: one per class (sorted case-insensitively), then ``TOTALS`` (pooled over every item), then
  ``Class Average`` (plain mean of the class rows; only %Correct is filled in).
- Labels are escaped for the target format: Markdown table cells (``|``, ``\\``, ``*``, ``_``,
  backticks, brackets, ``<``/``>`` are backslash-escaped; line breaks become spaces), HTML
  (``html.escape``), CSV (the csv module's quoting).

Markdown: a per-class table ``| Class | Total | Confirmed | Disconfirm | Split | %Correct |
Threshold |`` and a per-bucket table ``| Class | 80–85 Total | 80–85 Incorrect | 80–85 %Correct |
...`` (three columns per bucket, each header naming its bucket), then notes on pending items and
on reviewed items outside the edges when there are any.

CSV (tidy; ``csv.DictReader`` reads it back), header::

    kind,label,bucket_low,bucket_high,total,incorrect,percent_correct,confirmed,disconfirmed,split,pending,threshold

``kind`` is ``class``, ``totals`` or ``class_average``. Each of them has one summary row (empty
``bucket_low``/``bucket_high``) followed by one row per bucket (``bucket_low``/``bucket_high``
filled in). Summary rows carry every count, ``pending`` and ``threshold``; bucket rows carry the
counts of that bucket, with ``pending`` and ``threshold`` empty. ``class_average`` rows carry only
``percent_correct``.

JSON: ``json.dumps(report.to_dict(), indent=2)``.

HTML: one self-contained page (inline CSS, no external URL, no script) with both tables; the
bucket table has a header naming each bucket over its Total / Incorrect / %Correct columns.

Chart: :func:`chart_png` draws %Correct per bucket, one line per class and the Class Average
dashed, with matplotlib's Agg canvas (no display, no global pyplot state).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path

from openmaker.labeling.report import (
    CLASS_AVERAGE_LABEL,
    ClassStats,
    Report,
    ReportError,
    bucket_name,
    fmt_edge,
)

FORMATS = ("md", "csv", "json", "html")
CSV_FIELDS = (
    "kind",
    "label",
    "bucket_low",
    "bucket_high",
    "total",
    "incorrect",
    "percent_correct",
    "confirmed",
    "disconfirmed",
    "split",
    "pending",
    "threshold",
)
DEFAULT_TITLE = "Label QA report"


def render(report: Report, fmt: str, *, title: str | None = None) -> str:
    """The report as ``md``, ``csv``, ``json`` or ``html`` text."""
    if fmt == "md":
        return _markdown(report, title)
    if fmt == "csv":
        return _csv(report)
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2)
    if fmt == "html":
        return _html(report, title)
    raise ReportError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")


def pct(value: float) -> str:
    """``97.6190…`` -> ``"97.62%"``."""
    return f"{value:.2f}%"


def _title(title: str | None) -> str:
    return DEFAULT_TITLE if title is None else f"{DEFAULT_TITLE}: {title}"


def _pending(report: Report) -> list[tuple[str, int]]:
    return [(c.label, c.pending) for c in report.classes if c.pending]


def _unbucketed(report: Report) -> int:
    return report.totals.unbucketed


# ---------------------------------------------------------------------------------------------
# Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def md_escape(text: str) -> str:
    """A label safe inside a Markdown table cell: specials backslash-escaped, line breaks -> spaces."""
    text = re.sub(r"[\r\n\t]+", " ", text)
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _md_summary(c: ClassStats, label: str) -> list[str]:
    return [label, str(c.total), str(c.confirmed), str(c.disconfirmed), str(c.split), pct(c.percent_correct), fmt_edge(c.threshold)]


def _md_buckets(c: ClassStats, label: str) -> list[str]:
    cells = [label]
    for b in c.buckets:
        cells += [str(b.total), str(b.incorrect), pct(b.percent_correct)]
    return cells


def _markdown(report: Report, title: str | None) -> str:
    edges = report.edges
    names = [bucket_name(lo, hi) for lo, hi in zip(edges, edges[1:])]
    avg = report.class_average
    out = [
        f"# {md_escape(_title(title))}",
        "",
        f"Cost ratio {fmt_edge(report.cost_ratio)}: a bucket is acceptable when incorrect × "
        f"{fmt_edge(report.cost_ratio)} ≤ correct; the threshold is the high edge of the highest unacceptable bucket "
        f"(the lowest edge when all are acceptable). Split verdicts count as incorrect.",
        "",
        "## Per class",
        "",
        _md_row(["Class", "Total", "Confirmed", "Disconfirm", "Split", "%Correct", "Threshold"]),
        "|---|" + "---:|" * 6,
    ]
    out += [_md_row(_md_summary(c, md_escape(c.label))) for c in report.classes]
    out.append(_md_row(_md_summary(report.totals, "TOTALS")))
    out.append(_md_row([CLASS_AVERAGE_LABEL, "", "", "", "", pct(avg.percent_correct), ""]))
    out += ["", "## Per confidence bucket", ""]
    header = ["Class"]
    for name in names:
        header += [f"{name} Total", f"{name} Incorrect", f"{name} %Correct"]
    out.append(_md_row(header))
    out.append("|---|" + "---:|" * (3 * len(names)))
    out += [_md_row(_md_buckets(c, md_escape(c.label))) for c in report.classes]
    out.append(_md_row(_md_buckets(report.totals, "TOTALS")))
    avg_cells = [CLASS_AVERAGE_LABEL]
    for p in avg.bucket_percents:
        avg_cells += ["", "", pct(p)]
    out.append(_md_row(avg_cells))
    pending = _pending(report)
    if pending:
        listed = ", ".join(f"{md_escape(label)} {n}" for label, n in pending)
        out += ["", f"Pending (no votes yet, not counted above): {listed}; {report.totals.pending} in all."]
    outside = _unbucketed(report)
    if outside:
        out += [
            "",
            f"{outside} reviewed item(s) had a confidence outside {fmt_edge(edges[0])}–{fmt_edge(edges[-1])}: "
            "counted in the per-class table, in no bucket.",
        ]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# CSV


def _csv(report: Report) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()

    def rows(kind: str, c: ClassStats) -> None:
        w.writerow(
            {
                "kind": kind,
                "label": c.label,
                "total": c.total,
                "incorrect": c.incorrect,
                "percent_correct": f"{c.percent_correct:.2f}",
                "confirmed": c.confirmed,
                "disconfirmed": c.disconfirmed,
                "split": c.split,
                "pending": c.pending,
                "threshold": "" if c.threshold is None else fmt_edge(c.threshold),
            }
        )
        for b in c.buckets:
            w.writerow(
                {
                    "kind": kind,
                    "label": c.label,
                    "bucket_low": fmt_edge(b.low),
                    "bucket_high": fmt_edge(b.high),
                    "total": b.total,
                    "incorrect": b.incorrect,
                    "percent_correct": f"{b.percent_correct:.2f}",
                    "confirmed": b.confirmed,
                    "disconfirmed": b.disconfirmed,
                    "split": b.split,
                }
            )

    for c in report.classes:
        rows("class", c)
    rows("totals", report.totals)
    avg = report.class_average
    w.writerow({"kind": "class_average", "label": CLASS_AVERAGE_LABEL, "percent_correct": f"{avg.percent_correct:.2f}"})
    for lo, hi, p in zip(report.edges, report.edges[1:], avg.bucket_percents):
        w.writerow(
            {
                "kind": "class_average",
                "label": CLASS_AVERAGE_LABEL,
                "bucket_low": fmt_edge(lo),
                "bucket_high": fmt_edge(hi),
                "percent_correct": f"{p:.2f}",
            }
        )
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# HTML

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; }
th { background: #f2f4f7; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.label { text-align: left; white-space: pre-wrap; }
tr.totals td { font-weight: 600; border-top: 2px solid #888; }
tr.average td { font-style: italic; background: #fafafa; }
p.note { color: #555; font-size: 0.9rem; }
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _td(value: str, numeric: bool = True) -> str:
    return f'<td class="{"n" if numeric else "label"}">{_e(value)}</td>'


def _html(report: Report, title: str | None) -> str:
    edges = report.edges
    names = [bucket_name(lo, hi) for lo, hi in zip(edges, edges[1:])]
    avg = report.class_average
    page_title = _e(_title(title))
    r = fmt_edge(report.cost_ratio)

    def summary(c: ClassStats, cls: str = "") -> str:
        cells = [_td(c.label, False)] + [_td(v) for v in _md_summary(c, "")[1:]]
        return (f'<tr class="{cls}">' if cls else "<tr>") + "".join(cells) + "</tr>"

    def per_bucket(c: ClassStats, cls: str = "") -> str:
        cells = [_td(c.label, False)] + [_td(v) for v in _md_buckets(c, "")[1:]]
        return (f'<tr class="{cls}">' if cls else "<tr>") + "".join(cells) + "</tr>"

    t1 = [
        "<table>",
        "<thead><tr><th>Class</th><th>Total</th><th>Confirmed</th><th>Disconfirm</th><th>Split</th>"
        "<th>%Correct</th><th>Threshold</th></tr></thead>",
        "<tbody>",
        *(summary(c) for c in report.classes),
        summary(report.totals, "totals"),
        '<tr class="average">' + _td(CLASS_AVERAGE_LABEL, False) + "<td></td>" * 4 + _td(pct(avg.percent_correct)) + "<td></td></tr>",
        "</tbody>",
        "</table>",
    ]
    avg_cells = "".join("<td></td><td></td>" + _td(pct(p)) for p in avg.bucket_percents)
    t2 = [
        "<table>",
        "<thead>",
        '<tr><th rowspan="2">Class</th>' + "".join(f'<th colspan="3">{_e(n)}</th>' for n in names) + "</tr>",
        "<tr>" + "<th>Total</th><th>Incorrect</th><th>%Correct</th>" * len(names) + "</tr>",
        "</thead>",
        "<tbody>",
        *(per_bucket(c) for c in report.classes),
        per_bucket(report.totals, "totals"),
        '<tr class="average">' + _td(CLASS_AVERAGE_LABEL, False) + avg_cells + "</tr>",
        "</tbody>",
        "</table>",
    ]
    notes = [
        f'<p class="note">Cost ratio {_e(r)}: a bucket is acceptable when incorrect × {_e(r)} ≤ correct; the threshold '
        "is the high edge of the highest unacceptable bucket (the lowest edge when all are acceptable). "
        "Split verdicts count as incorrect. Class Average is the plain mean of the class rows (an empty bucket counts as 0%).</p>"
    ]
    pending = _pending(report)
    if pending:
        listed = ", ".join(f"{_e(label)} {n}" for label, n in pending)
        notes.append(f'<p class="note">Pending (no votes yet, not counted above): {listed}; {report.totals.pending} in all.</p>')
    outside = _unbucketed(report)
    if outside:
        notes.append(
            f'<p class="note">{outside} reviewed item(s) had a confidence outside {_e(fmt_edge(edges[0]))}–'
            f"{_e(fmt_edge(edges[-1]))}: counted in the per-class table, in no bucket.</p>"
        )
    page = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{page_title}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{page_title}</h1>",
        *notes,
        "<h2>Per class</h2>",
        *t1,
        "<h2>Per confidence bucket</h2>",
        *t2,
        "</body>",
        "</html>",
    ]
    return "\n".join(page) + "\n"


# ---------------------------------------------------------------------------------------------
# PNG chart


def _mpl_text(text: str) -> str:
    """Text matplotlib shows as is: ``$`` would start mathtext, a leading ``_`` hides a legend entry."""
    text = text.replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def chart_png(report: Report, path: str | Path, *, title: str | None = None) -> Path:
    """%Correct per confidence bucket: one line per class, Class Average dashed; a PNG at ``path``.

    A hollow marker is a bucket with no reviewed item (drawn at 0%, as in the tables).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    edges = report.edges
    names = [bucket_name(lo, hi) for lo, hi in zip(edges, edges[1:])]
    x = list(range(len(names)))
    fig = Figure(figsize=(9, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    markers = "osD^v<>ph*"
    shown = [c for c in report.classes if c.total > 0]  # as in the Class Average: nothing reviewed, no line
    colors = [f"C{i % 10}" for i in range(len(shown))]
    any_empty = False
    for i, (c, color) in enumerate(zip(shown, colors)):
        ys = [b.percent_correct for b in c.buckets]
        marker = markers[(i // 10) % len(markers)]
        ax.plot(x, ys, color=color, marker=marker, lw=1.5, label=_mpl_text(f"{c.label} (n={c.total})"), clip_on=False, zorder=3)
        empty = [(xi, y) for xi, y, b in zip(x, ys, c.buckets) if b.total == 0]
        if empty:
            any_empty = True
            ax.plot(
                [p[0] for p in empty], [p[1] for p in empty], linestyle="none", marker=marker,
                markerfacecolor="white", markeredgecolor=color, clip_on=False, zorder=4,
            )
    if shown:
        ax.plot(
            x, list(report.class_average.bucket_percents), color="black", lw=2.2, linestyle="--",
            label=CLASS_AVERAGE_LABEL, clip_on=False, zorder=5,
        )
    else:
        ax.text(0.5, 0.5, "no reviewed items", transform=ax.transAxes, ha="center", va="center", color="#777")
    ax.set_xticks(x, names)
    ax.set_xlim(-0.3, len(names) - 0.7)
    ax.set_ylim(0, 100)
    ax.set_xlabel("model confidence bucket")
    ax.set_ylabel("% correct (split counts as incorrect)")
    ax.grid(axis="y", color="#ddd", lw=0.6)
    ax.set_title(f"{_mpl_text(_title(title))}: % correct per confidence bucket (cost ratio {fmt_edge(report.cost_ratio)})", fontsize=10)
    if shown:
        if any_empty:
            ax.plot([], [], linestyle="none", marker="o", markerfacecolor="white", markeredgecolor="#555",
                    label="no reviewed item (0%)")
        ncol = min(4, 1 + (len(shown) - 1) // 20)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, ncol=ncol)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, format="png")
    return out
