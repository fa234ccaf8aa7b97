from __future__ import annotations

import sys

import matplotlib
import pytest
from monai.utils import OptionalImportError

from monai_sre.evaluation import RobustnessReport, plot_robustness


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
