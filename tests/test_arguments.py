# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

import pytest

from monai_sre.arguments import check_odd_positive_int, check_per_stage, check_positive_int, check_positive_ints


def test_positive_int_accepts_and_refuses():
    assert check_positive_int("width", 3) == 3
    assert check_positive_int("width", None, allow_none=True) is None
    for bad in (0, -1, 2.0, True, "3", None):
        with pytest.raises(ValueError, match=r"width must be a positive int, got"):
            check_positive_int("width", bad)


def test_positive_ints_names_length():
    assert check_positive_ints("layers", [1, 2]) == (1, 2)
    with pytest.raises(ValueError, match=r"layers must be a sequence of 3 positive ints, got \[1, 2\]"):
        check_positive_ints("layers", [1, 2], length=3)
    for bad in ([], "12", [1, 0], [1, True], 4):
        with pytest.raises(ValueError, match="layers must be a sequence of one or more positive ints"):
            check_positive_ints("layers", bad)


def test_odd_positive_int():
    assert check_odd_positive_int("kernel_size", 5) == 5
    for bad in (4, 0, -3, 3.0):
        with pytest.raises(ValueError, match="kernel_size must be an odd positive int"):
            check_odd_positive_int("kernel_size", bad)


def test_per_stage_repeats_one_value_or_takes_one_per_stage():
    assert check_per_stage("kernel_sizes", 3, 4) == (3, 3, 3, 3)
    assert check_per_stage("space", "axes", 2, stage="level") == ("axes", "axes")  # a string is one value
    assert check_per_stage("num_bands", None, 2) == (None, None)
    assert check_per_stage("block_inplanes", [4, 8], 2) == (4, 8)
    with pytest.raises(ValueError, match=r"block_inplanes must be one value or one per stage \(2 here\), got \[4\]"):
        check_per_stage("block_inplanes", [4], 2)
    with pytest.raises(ValueError, match=r"space must be one value or one per level \(3 here\)"):
        check_per_stage("space", ("axes",) * 2, 3, stage="level")
    with pytest.raises(ValueError, match="widths must be one value or one per stage"):
        check_per_stage("widths", [4, 0], 2, valid=lambda v: v > 0)
