"""Charts of the item analysis, drawn on the server as SVG (no script in the browser).

matplotlib is imported on first use with the Agg backend: it never opens a window, and a
process that draws no chart never pays for the import.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from typing import Any

from app.authoring.analysis import Analysis

# pyplot keeps global state; one chart at a time per process.
_lock = threading.Lock()
CHARTS = ("found", "decoys", "totals", "agreement", "time")


class UnknownChart(LookupError):
    """No chart has that name."""


def _figure(width: float = 6.0, height: float = 3.2) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    pyplot.rcParams.update({"svg.fonttype": "none", "font.size": 9, "svg.hashsalt": "redline"})
    figure, axes = pyplot.subplots(figsize=(width, height))
    return figure, axes


def _svg(figure: Any) -> bytes:
    from matplotlib import pyplot

    buffer = io.BytesIO()
    figure.tight_layout()
    # No date in the file: the same analysis draws byte-identical charts.
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    pyplot.close(figure)
    return buffer.getvalue()


def _whole_counts(axes: Any) -> None:
    """Ticks at whole numbers on a count axis: with a handful of submissions matplotlib
    would otherwise mark 0.2, 0.4, ... submissions."""
    from matplotlib.ticker import MaxNLocator

    axes.yaxis.set_major_locator(MaxNLocator(integer=True))


def _empty(axes: Any, message: str) -> None:
    axes.axis("off")
    axes.text(0.5, 0.5, message, ha="center", va="center", wrap=True)


def _bars(axes: Any, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]) -> None:
    height = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series):
        axes.barh([y + i * height for y in range(len(labels))], values, height=height, label=name)
    axes.set_yticks([y + height * (len(series) - 1) / 2 for y in range(len(labels))])
    axes.set_yticklabels(labels)
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_xlabel("share of submissions")
    if len(series) > 1:
        axes.legend(loc="lower right")


def draw(name: str, analysis: Analysis) -> bytes:
    """The chart `name` of `analysis` as an SVG document."""
    if name not in CHARTS:
        raise UnknownChart(name)
    with _lock:
        figure, axes = _figure()
        if name == "found":
            if analysis.bugs and analysis.scored:
                _bars(
                    axes,
                    [f"#{b.rank} {b.key}" for b in analysis.bugs],
                    [
                        ("found (auto)", [b.found_auto or 0.0 for b in analysis.bugs]),
                        ("found (confirmed)", [b.found_confirmed or 0.0 for b in analysis.bugs]),
                    ],
                )
            else:
                _empty(axes, "Share of candidates who found each bug, once reviews are graded.")
        elif name == "decoys":
            if analysis.decoys and analysis.scored:
                _bars(
                    axes,
                    [d.key for d in analysis.decoys],
                    [("false alarms", [d.rate or 0.0 for d in analysis.decoys])],
                )
            else:
                _empty(axes, "How often each decoy is called a bug, once reviews are graded.")
        elif name == "totals":
            if analysis.totals:
                axes.bar([b for b, _ in analysis.histogram], [c for _, c in analysis.histogram])
                axes.set_xlabel("total score")
                axes.set_ylabel("submissions")
                _whole_counts(axes)
                axes.tick_params(axis="x", labelrotation=45)
            else:
                _empty(axes, "The distribution of total scores, once reviews are graded.")
        elif name == "agreement":
            if analysis.auto_final_totals:
                xs = [a for a, _ in analysis.auto_final_totals]
                ys = [f for _, f in analysis.auto_final_totals]
                axes.scatter(xs, ys, s=16)
                axes.plot([0, 100], [0, 100], linestyle="--", linewidth=1)
                axes.set_xlim(0, 100)
                axes.set_ylim(0, 100)
                axes.set_xlabel("auto total")
                axes.set_ylabel("finalized total")
            else:
                _empty(axes, "Auto total against the finalized total, once graders sign off.")
        elif analysis.minutes:
            axes.hist(analysis.minutes, bins=10)
            if analysis.time_limit:
                axes.axvline(analysis.time_limit, linestyle="--", linewidth=1)
            axes.set_xlabel("minutes from start to submission")
            axes.set_ylabel("submissions")
            _whole_counts(axes)
        else:
            _empty(axes, "Time from start to submission, once candidates submit.")
        return _svg(figure)
