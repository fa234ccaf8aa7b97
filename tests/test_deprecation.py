# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

import sys
import types
import warnings

import pytest

from monai_sre import deprecation


def test_deprecated_names_resolve_and_warn_once(monkeypatch):
    monkeypatch.setattr(deprecation, "_warned", set())
    getattr_ = deprecation.deprecated_names("pkg.old", {"OldName": "monai_sre.arguments:check_positive_int"})
    with pytest.warns(
        FutureWarning, match=r"pkg\.old\.OldName is deprecated .* monai_sre\.arguments\.check_positive_int"
    ):
        first = getattr_("OldName")
    from monai_sre.arguments import check_positive_int

    assert first is check_positive_int
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert getattr_("OldName") is check_positive_int  # warned once only
    with pytest.raises(AttributeError, match="has no attribute 'Missing'"):
        getattr_("Missing")


def test_moved_module_aliases_the_new_one(monkeypatch):
    monkeypatch.setattr(deprecation, "_warned", set())
    monkeypatch.setitem(sys.modules, "monai_sre._old_place", types.ModuleType("monai_sre._old_place"))
    with pytest.warns(FutureWarning, match="module monai_sre._old_place is deprecated"):
        deprecation.moved_module("monai_sre._old_place", "monai_sre.arguments")
    import monai_sre.arguments

    assert sys.modules["monai_sre._old_place"] is monai_sre.arguments


def test_renamed_arguments_pass_the_old_keyword_on_and_keep_the_new_signature(monkeypatch):
    import inspect

    monkeypatch.setattr(deprecation, "_warned", set())

    @deprecation.renamed_arguments(points="num_orientations")
    def pool(num_orientations: int, mode: str = "mean") -> tuple:
        return num_orientations, mode

    assert list(inspect.signature(pool).parameters) == ["num_orientations", "mode"]
    with pytest.warns(FutureWarning, match=r"argument points= of .*pool is deprecated .* num_orientations="):
        assert pool(points=24, mode="max") == (24, "max")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pool(points=3) == (3, "mean")  # warned once only
        assert pool(4) == (4, "mean")
    with pytest.raises(TypeError, match="num_orientations= and its deprecated name points="):
        pool(points=3, num_orientations=3)


def test_renamed_attributes_read_the_new_ones_and_stay_out_of_dir(monkeypatch):
    from torch import nn

    monkeypatch.setattr(deprecation, "_warned", set())

    class Pool(deprecation.RenamedAttributes, nn.Module):
        renamed_attributes = {"points": "num_orientations"}

        def __init__(self) -> None:
            super().__init__()
            self.num_orientations = 24
            self.linear = nn.Linear(1, 1)

    pool = Pool()
    with pytest.warns(FutureWarning, match=r"attribute Pool\.points is deprecated .* Pool\.num_orientations"):
        assert pool.points == 24
    assert "points" not in dir(pool) and isinstance(pool.linear, nn.Linear)  # nn.Module's lookup still works
    with pytest.raises(AttributeError, match="no attribute 'other'"):
        _ = pool.other
    with pytest.warns(FutureWarning, match=r"attribute Plain\.old is deprecated"):
        plain = type("Plain", (deprecation.RenamedAttributes,), {"renamed_attributes": {"old": "new"}, "new": 1})()
        assert plain.old == 1
    with pytest.raises(AttributeError, match="'Plain' object has no attribute 'other'"):
        _ = plain.other
