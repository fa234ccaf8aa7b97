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
    with pytest.warns(FutureWarning, match=r"pkg\.old\.OldName is deprecated .* monai_sre\.arguments\.check_positive_int"):
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
