from __future__ import annotations

import pytest
import torch
from monai.inferers import SlidingWindowInferer

from monai_sre import create_model
from monai_sre.inferers import SymmetricSlidingWindowInferer, symmetric_window_starts


@pytest.mark.parametrize("length", [1, 7, 15, 16, 17, 31, 32, 33, 47, 98, 117])
@pytest.mark.parametrize("roi, stride", [(16, 12), (16, 16), (32, 24), (8, 1)])
def test_window_starts_are_symmetric_cover_every_voxel_and_are_at_most_a_stride_apart(length, roi, stride):
    starts = symmetric_window_starts(length, roi, stride)
    assert starts == sorted(set(starts))
    assert starts == sorted(length - roi - p for p in starts)
    assert starts[0] == min(0, length - roi) and starts[-1] == max(0, length - roi)
    assert all(b - a <= stride for a, b in zip(starts, starts[1:]))
    assert len(starts) <= -(-abs(length - roi) // stride) + 2  # MONAI's count, plus one at most: no waste
    covered = set().union(*(range(p, p + roi) for p in starts))
    assert set(range(length)) <= covered


def test_a_pointwise_network_gives_its_own_output_whatever_the_windows():
    network = torch.nn.Conv3d(2, 3, 1).double()
    volume = torch.randn(2, 2, 19, 40, 9, dtype=torch.float64)
    inferer = SymmetricSlidingWindowInferer(roi_size=(16, 16, 16), sw_batch_size=3, overlap=0.5, cval=-1.0)
    with torch.no_grad():
        torch.testing.assert_close(inferer(volume, network), network(volume), rtol=1e-12, atol=1e-12)


def test_a_batch_gives_what_each_volume_gives_alone():
    network = torch.nn.Conv3d(1, 2, 3, padding=1).double()
    volume = torch.randn(2, 1, 20, 17, 23, dtype=torch.float64)
    inferer = SymmetricSlidingWindowInferer(roi_size=16, sw_batch_size=2)
    with torch.no_grad():
        both = inferer(volume, network)
        torch.testing.assert_close(both[1:], inferer(volume[1:], network), rtol=1e-12, atol=1e-12)


def test_an_equivariant_network_stays_exactly_equivariant_on_whole_volumes_where_monai_windows_are_not():
    network = create_model("group_unet_light", in_channels=1, out_channels=3).double().eval()
    volume = torch.randn(1, 1, 37, 21, 30, dtype=torch.float64)
    symmetric = SymmetricSlidingWindowInferer(roi_size=16, sw_batch_size=8, overlap=0.25)
    monai_windows = SlidingWindowInferer(16, 8, 0.25, mode="gaussian")
    with torch.no_grad():
        for transform, inverse in [
            (lambda x: x.flip(2), lambda y: y.flip(2)),
            (lambda x: torch.rot90(x, 1, (3, 4)), lambda y: torch.rot90(y, -1, (3, 4))),
            (lambda x: x.permute(0, 1, 4, 2, 3).flip(3), lambda y: y.flip(3).permute(0, 1, 3, 4, 2)),
        ]:
            upright = symmetric(volume, network)
            torch.testing.assert_close(inverse(symmetric(transform(volume), network)), upright, rtol=0, atol=1e-12)
        flipped = monai_windows(volume.flip(2), network).flip(2)
        assert (flipped - monai_windows(volume, network)).abs().max() > 1e-6  # why this inferer exists


def test_bad_settings_and_outputs_are_refused_naming_the_value():
    with pytest.raises(ValueError, match="overlap must be in"):
        SymmetricSlidingWindowInferer(16, overlap=1.0)
    with pytest.raises(ValueError, match="sw_batch_size"):
        SymmetricSlidingWindowInferer(16, sw_batch_size=0)
    with pytest.raises(ValueError, match=r"window's size \(8, 8, 8\)"):
        SymmetricSlidingWindowInferer(8)(torch.zeros(1, 1, 8, 8, 8), torch.nn.Conv3d(1, 1, 3))
