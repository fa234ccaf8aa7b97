"""``monai_sre.networks.layers.checkpoints`` moved to ``monai_sre.networks.weights`` (its tests:
tests/networks/test_weights.py): the old module and names still work, warning once."""

from __future__ import annotations

import importlib
import sys

import pytest

import monai_sre
from monai_sre import deprecation
from monai_sre.networks import layers, weights


def test_the_old_module_is_the_new_one_and_warns(monkeypatch):
    monkeypatch.setattr(deprecation, "_warned", set())
    monkeypatch.delitem(sys.modules, "monai_sre.networks.layers.checkpoints", raising=False)
    if "checkpoints" in vars(layers):  # not hasattr: the package's __getattr__ answers for the old name
        monkeypatch.delattr(layers, "checkpoints")
    with pytest.warns(FutureWarning, match=r"module monai_sre\.networks\.layers\.checkpoints is deprecated"):
        old = importlib.import_module("monai_sre.networks.layers.checkpoints")
    assert old is weights
    from monai_sre.networks.layers.checkpoints import convert_authors_state_dict

    assert convert_authors_state_dict is weights.convert_authors_state_dict


@pytest.mark.parametrize(
    "module, name",
    [
        (monai_sre, "load_authors_state_dict"),
        (layers, "load_authors_state_dict"),
        (layers, "convert_authors_state_dict"),
    ],
)
def test_the_old_names_warn_and_are_the_new_functions(monkeypatch, module, name):
    monkeypatch.setattr(deprecation, "_warned", set())
    with pytest.warns(FutureWarning, match=rf"{module.__name__}\.{name} is deprecated .*networks\.weights\.{name}"):
        assert getattr(module, name) is getattr(weights, name)
    assert name not in module.__all__
