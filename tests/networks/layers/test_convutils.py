from __future__ import annotations

import pytest

from monai_sre.networks.layers.convutils import checked_tuple_rep, same_padding


def test_checked_tuple_rep_repeats_or_keeps_and_names_the_value_on_error():
    assert checked_tuple_rep(2, 3, "stride", "an int") == (2, 2, 2)
    assert checked_tuple_rep([1, 2], 2, "stride", "an int") == (1, 2)
    with pytest.raises(ValueError, match=r"stride must be an int or 3 ints, got \[1, 2\]\."):
        checked_tuple_rep([1, 2], 3, "stride", "an int or 3 ints")
    with pytest.raises(ValueError, match=r"dilation must be positive, got \(1, 0\)\."):
        checked_tuple_rep((1, 0), 2, "dilation", "positive", lambda v: v > 0)


def test_same_padding_is_one_int_per_axis():
    assert same_padding((5,)) == (2,)  # MONAI's same_padding returns a bare int for one axis
    assert same_padding((3, 5, 7), (1, 2, 1)) == (1, 4, 3)
    assert same_padding((9, 9), 2) == (8, 8)
