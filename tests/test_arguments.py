# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
from __future__ import annotations

import pytest

from monai_sre.arguments import check_odd_positive_int, check_positive_int, check_positive_ints


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
