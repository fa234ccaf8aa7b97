# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The plot of a rotation-robustness report, drawn with matplotlib's object-oriented API.

matplotlib is imported when a plot is drawn, not when the package is imported, and the figure is rendered by
its own Agg canvas (``matplotlib.figure.Figure`` + ``FigureCanvasAgg``): the user's pyplot backend and figure
registry are left alone (no ``matplotlib.use``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from monai.utils import optional_import

if TYPE_CHECKING:
    from monai_sre.evaluation.report import RobustnessReport

__all__ = ["plot_robustness"]


def plot_robustness(report: RobustnessReport, path: str | Path, dpi: int = 120) -> Path:
    """Draw one panel per metric: the metric per case, one line per group (axis), upright dashed; save it.

    Args:
        report: the report to draw.
        path: the image file to write; its suffix picks the format (``.png``, ``.pdf``, ``.svg``).
        dpi: resolution of raster formats.

    Returns:
        ``path``.

    Raises:
        OptionalImportError: matplotlib is not installed.
    """
    figure_cls, _ = optional_import("matplotlib.figure", name="Figure")
    canvas_cls, _ = optional_import("matplotlib.backends.backend_agg", name="FigureCanvasAgg")
    figure = figure_cls(figsize=(5 * len(report.metrics), 3.6))
    canvas_cls(figure)
    axes = figure.subplots(1, len(report.metrics), squeeze=False)
    groups = list(dict.fromkeys(case["group"] for case in report.cases))
    by_angle = all(case["angle"] is not None for case in report.cases)
    for axis, metric in zip(axes[0], report.metrics):
        for group in groups:
            members = [(i, c) for i, c in enumerate(report.cases) if c["group"] == group]
            xs = [c["angle"] if by_angle else i for i, c in members]
            axis.plot(xs, [c[metric] for _, c in members], marker="o", markersize=3, label=group)
        axis.axhline(report.upright[metric], color="black", linestyle="--", linewidth=1, label="upright")
        axis.set_xlabel("rotation angle (degrees)" if by_angle else "case")
        axis.set_ylabel(metric)
        axis.set_title(f"{metric} under '{report.protocol}'")
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=dpi)
    return Path(path)
