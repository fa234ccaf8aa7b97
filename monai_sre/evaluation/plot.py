# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The plot of a rotation-robustness report, drawn with matplotlib's object-oriented API.

matplotlib is imported when a plot is drawn, not when the package is imported, and the figure is rendered by
its own Agg canvas (``matplotlib.figure.Figure`` + ``FigureCanvasAgg``): the user's pyplot backend and figure
registry are left alone (no ``matplotlib.use``).

The plot reads the four fields of :class:`RobustnessResult` (which
:class:`~monai_sre.evaluation.RobustnessReport` has), so this module does not depend on the report's: the
report draws itself through it, never the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from monai.utils import optional_import

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["RobustnessResult", "legend_outside", "plot_robustness", "robustness_figure"]


class RobustnessResult(Protocol):
    """What a robustness plot draws: metric values upright and per rotation case.

    Attributes:
        protocol: the protocol name (the panels' titles).
        metrics: metric names, one panel each.
        upright: metric values on the untransformed data (the dashed line).
        cases: one mapping per case: ``name``, ``group`` (one line per group), ``angle`` (degrees, the x axis;
            ``None`` plots by case index) and one value per metric.
    """

    protocol: str
    metrics: Sequence[str]
    upright: Mapping[str, float]
    cases: Sequence[Mapping]


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")  # with the 10 default colours: 100 distinct series


def legend_outside(figure: Figure, handles: list | None = None, labels: list[str] | None = None, fontsize: int = 8):
    """One legend for the whole figure, to the right of every panel, so that it never covers data.

    The figure must use the constrained layout (``Figure(layout="constrained")``, ``plt.subplots(...,
    layout="constrained")``): it shrinks the panels to make room for the legend, inside the figure. Long lists
    wrap into more columns (at most 16 rows).

    Args:
        figure: the figure.
        handles: the artists to list; default those of the first panel.
        labels: their labels; default those of the first panel.
        fontsize: font size of the entries.

    Returns:
        the ``matplotlib.legend.Legend``.

    Raises:
        ValueError: the figure does not use the constrained layout.
    """
    constrained, _ = optional_import("matplotlib.layout_engine", name="ConstrainedLayoutEngine")
    if not isinstance(figure.get_layout_engine(), constrained):
        raise ValueError("legend_outside needs a figure with layout='constrained' (it makes room for the legend).")
    if handles is None or labels is None:
        handles, labels = figure.axes[0].get_legend_handles_labels()
    ncols = max(1, -(-len(labels) // 16))
    return figure.legend(handles, labels, loc="outside right upper", fontsize=fontsize, ncols=ncols)


def robustness_figure(report: RobustnessResult) -> Figure:
    """The figure of :func:`plot_robustness`, not saved (its own Agg canvas; not in pyplot's registry).

    Raises:
        OptionalImportError: matplotlib is not installed.
    """
    figure_cls, _ = optional_import("matplotlib.figure", name="Figure")
    canvas_cls, _ = optional_import("matplotlib.backends.backend_agg", name="FigureCanvasAgg")
    groups = list(dict.fromkeys(case["group"] for case in report.cases))
    width = 5 * len(report.metrics) + 1.5 * max(1, -(-len(groups) // 16))  # room for the legend's columns
    figure = figure_cls(figsize=(width, 3.6), layout="constrained")
    canvas_cls(figure)
    axes = figure.subplots(1, len(report.metrics), squeeze=False)
    by_angle = all(case["angle"] is not None for case in report.cases)
    for axis, metric in zip(axes[0], report.metrics):
        for g, group in enumerate(groups):
            members = [(i, c) for i, c in enumerate(report.cases) if c["group"] == group]
            xs = [c["angle"] if by_angle else i for i, c in members]
            ys = [c[metric] for _, c in members]
            axis.plot(xs, ys, marker=MARKERS[(g // 10) % len(MARKERS)], markersize=3, label=group)
        axis.axhline(report.upright[metric], color="black", linestyle="--", linewidth=1, label="upright")
        axis.set_xlabel("rotation angle (degrees)" if by_angle else "case")
        axis.set_ylabel(metric)
        axis.set_title(f"{metric} under '{report.protocol}'")
        axis.grid(alpha=0.3)
    legend_outside(figure)
    return figure


def plot_robustness(report: RobustnessResult, path: str | Path, dpi: int = 120) -> Path:
    """Draw one panel per metric: the metric per case, one line per group (axis), upright dashed; save it.

    The legend sits outside the panels, to their right (:func:`legend_outside`), so it never covers a curve,
    whatever the number of groups.

    Args:
        report: the report to draw (a :class:`~monai_sre.evaluation.RobustnessReport`, or anything with its
            ``protocol``, ``metrics``, ``upright`` and ``cases``).
        path: the image file to write; its suffix picks the format (``.png``, ``.pdf``, ``.svg``).
        dpi: resolution of raster formats.

    Returns:
        ``path``.

    Raises:
        OptionalImportError: matplotlib is not installed.
    """
    figure = robustness_figure(report)
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    return Path(path)
