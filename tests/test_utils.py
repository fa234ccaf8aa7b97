"""``monai_sre.utils`` moved to ``monai_sre.networks.weights`` (its tests: tests/networks/test_weights.py)."""

from __future__ import annotations

import importlib
import sys

import pytest

import monai_sre
from monai_sre import deprecation
from monai_sre.networks import weights


@pytest.fixture
def fresh(monkeypatch):
    """Forget earlier warnings and imports of the old module, so that it warns again."""
    monkeypatch.setattr(deprecation, "_warned", set())
    monkeypatch.delitem(sys.modules, "monai_sre.utils", raising=False)
    if "utils" in vars(monai_sre):  # not hasattr: the package's __getattr__ answers for the old name
        monkeypatch.delattr(monai_sre, "utils")


def test_the_old_module_is_the_new_one_and_warns(fresh):
    with pytest.warns(
        FutureWarning, match=r"module monai_sre\.utils is deprecated .* module monai_sre\.networks\.weights"
    ):
        old = importlib.import_module("monai_sre.utils")
    assert old is weights and old.load_weights is weights.load_weights
    from monai_sre.utils import load_weights

    assert load_weights is weights.load_weights


def test_the_old_package_attribute_warns(fresh):
    """Bundle configs may say ``$monai_sre.utils.load_weights(...)`` without importing the module."""
    with pytest.warns(FutureWarning, match=r"monai_sre\.utils is deprecated .* monai_sre\.networks\.weights"):
        assert monai_sre.utils.load_weights is weights.load_weights
    assert "utils" not in monai_sre.__all__
