from __future__ import annotations

import sys

import matplotlib
import pytest
from monai.utils import OptionalImportError

from monai_sre.evaluation import RobustnessReport, plot_robustness
from monai_sre.evaluation.plot import legend_outside, robustness_figure


def _report(angle=True) -> RobustnessReport:
    cases = [
        {"name": f"c{i}", "group": "xyz"[i % 3], "angle": float(30 * i) if angle else None, "accuracy": 0.5 + i / 20}
        for i in range(9)
    ]
    return RobustnessReport("paper" if angle else "grid48", ("accuracy",), {"accuracy": 0.8}, cases, 10)


@pytest.mark.parametrize("angle", [True, False])
def test_plot_is_written_without_touching_the_backend(tmp_path, monkeypatch, angle):
    def refuse(*args, **kwargs):
        raise AssertionError("plot_robustness must not switch the matplotlib backend")

    backend = matplotlib.get_backend()
    monkeypatch.setattr(matplotlib, "use", refuse)
    pyplot = sys.modules.get("matplotlib.pyplot")
    open_figures = pyplot.get_fignums() if pyplot else []
    path = plot_robustness(_report(angle), tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert matplotlib.get_backend() == backend
    assert (pyplot.get_fignums() if pyplot else []) == open_figures  # nothing left in pyplot's registry


def test_other_formats_by_suffix(tmp_path):
    assert plot_robustness(_report(), tmp_path / "plot.svg").read_text().lstrip().startswith("<?xml")


def test_missing_matplotlib_is_named(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails as if not installed
    with pytest.raises(OptionalImportError, match="matplotlib.figure"):
        plot_robustness(_report(), tmp_path / "plot.png")


def _many_groups(num_groups: int, metrics=("accuracy", "auc")) -> RobustnessReport:
    cases = [
        {"name": f"m{g}-{a}", "group": f"model {g} with a long name", "angle": float(a), **dict.fromkeys(metrics, 0.5)}
        for g in range(num_groups)
        for a in range(0, 360, 30)
    ]
    return RobustnessReport("paper", metrics, dict.fromkeys(metrics, 0.9), cases, 10)


@pytest.mark.parametrize("num_groups, metrics", [(10, ("accuracy",)), (10, ("accuracy", "auc")), (40, ("accuracy",))])
def test_legend_never_covers_a_panel(num_groups, metrics):
    figure = robustness_figure(_many_groups(num_groups, metrics))
    figure.canvas.draw()  # runs the constrained layout
    renderer = figure.canvas.get_renderer()
    (legend,) = figure.legends
    box = legend.get_window_extent(renderer)
    assert [t.get_text() for t in legend.get_texts()] == [f"model {g} with a long name" for g in range(num_groups)] + [
        "upright"
    ]
    assert len(figure.axes) == len(metrics)
    for axis in figure.axes:
        assert not box.overlaps(axis.get_window_extent(renderer)), (box, axis.get_window_extent(renderer))
        assert not box.overlaps(axis.get_tightbbox(renderer))  # nor its tick labels, labels and title
    corners = box.get_points()
    assert (corners >= figure.bbox.get_points()[0] - 1).all() and (corners <= figure.bbox.get_points()[1] + 1).all()


def test_legend_outside_needs_the_constrained_layout():
    from matplotlib.figure import Figure

    figure = Figure()
    figure.subplots().plot([0, 1], label="a")
    with pytest.raises(ValueError, match="layout='constrained'"):
        legend_outside(figure)


def test_the_plot_reads_any_result_with_the_four_fields_and_does_not_import_the_report(tmp_path):
    """The report draws itself through the plot, never the other way round (no import cycle)."""
    import ast
    import types

    from monai_sre.evaluation import plot

    result = types.SimpleNamespace(protocol="flips", metrics=("dice",), upright={"dice": 0.9},
                                   cases=[{"name": "flip-x", "group": "flip", "angle": None, "dice": 0.8}])  # fmt: skip
    assert plot_robustness(result, tmp_path / "plain.png").is_file()
    imported = [
        node.module for node in ast.walk(ast.parse(open(plot.__file__).read())) if isinstance(node, ast.ImportFrom)
    ]
    assert not [module for module in imported if module and module.startswith("monai_sre")], imported
