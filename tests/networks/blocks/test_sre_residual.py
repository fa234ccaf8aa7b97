from __future__ import annotations

import pytest
import torch
from torch import nn

from monai_sre.networks.blocks import SREBasicBlock, SREBottleneckBlock
from monai_sre.networks.layers import SREConv, SymmetricPool
from monai_sre.transforms import apply_grid_symmetry, grid_symmetries
from tests.conftest import TOLERANCES

BLOCKS = {"basic": SREBasicBlock, "bottleneck": SREBottleneckBlock}

# [block, kwargs, input shape, expected output shape]
TEST_CASE_1 = ["basic", dict(spatial_dims=3, in_planes=4, planes=4), (2, 4, 8, 8, 8), (2, 4, 8, 8, 8)]
TEST_CASE_2 = ["basic", dict(spatial_dims=3, in_planes=4, planes=8, downsample=True), (2, 4, 8, 7, 9), (2, 8, 4, 4, 5)]
TEST_CASE_3 = [
    "basic",
    dict(spatial_dims=2, in_planes=3, planes=6, kernel_size=5, num_bands=2),
    (1, 3, 9, 9),
    (1, 6, 9, 9),
]
TEST_CASE_4 = ["bottleneck", dict(spatial_dims=3, in_planes=8, planes=2), (1, 8, 6, 6, 6), (1, 8, 6, 6, 6)]
TEST_CASE_5 = [
    "bottleneck",
    dict(spatial_dims=3, in_planes=4, planes=4, downsample=True),
    (1, 4, 7, 7, 7),
    (1, 16, 4, 4, 4),
]
TEST_CASE_6 = [
    "basic",
    dict(spatial_dims=1, in_planes=2, planes=2, downsample=True, norm="instance"),
    (3, 2, 11),
    (3, 2, 6),
]
SHAPE_CASES = [TEST_CASE_1, TEST_CASE_2, TEST_CASE_3, TEST_CASE_4, TEST_CASE_5, TEST_CASE_6]


@pytest.mark.parametrize("block, kwargs, input_shape, expected_shape", SHAPE_CASES)
def test_shape(block, kwargs, input_shape, expected_shape):
    net = BLOCKS[block](**kwargs)
    with torch.no_grad():
        assert net(torch.randn(input_shape)).shape == expected_shape
        assert net.eval()(torch.randn(input_shape)).shape == expected_shape


def test_downsampling_pools_symmetrically_before_stride_one_convolutions():
    block = SREBottleneckBlock(3, 4, 2, downsample=True)
    assert isinstance(block.pool, SymmetricPool)
    convs = [m for m in block.modules() if isinstance(m, (SREConv, nn.Conv3d))]
    assert convs and all(set(m.stride) == {1} for m in convs)
    assert isinstance(block.conv2, SREConv) and isinstance(block.shortcut[0], nn.Conv3d)
    assert isinstance(SREBasicBlock(3, 4, 4).pool, nn.Identity) and isinstance(
        SREBasicBlock(3, 4, 4).shortcut, nn.Identity
    )


def test_every_parameter_receives_a_gradient():
    block = SREBasicBlock(3, 2, 4, kernel_size=5, downsample=True)
    block(torch.randn(2, 2, 7, 7, 7)).square().mean().backward()
    for name, parameter in block.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


EQUIVARIANCE_CASES = [
    ("basic", dict(in_planes=2, planes=4), 7),
    ("basic", dict(in_planes=2, planes=4, kernel_size=5, downsample=True, path="bands"), 9),
    ("basic", dict(in_planes=2, planes=2, kernel_size=5, downsample=True, path="dense", band_layout="shell"), 8),
    ("bottleneck", dict(in_planes=2, planes=2, downsample=True), 7),
]


@pytest.mark.parametrize("block, kwargs, size", EQUIVARIANCE_CASES)
def test_exact_equivariance_under_the_48_grid_symmetries_in_eval_mode(block, kwargs, size):
    net = BLOCKS[block](3, **kwargs).double()
    x = torch.randn(2, kwargs["in_planes"], size, size, size, dtype=torch.float64)
    with torch.no_grad():
        net(x)  # one training step of BatchNorm statistics, so that eval mode uses non-trivial ones
    net.eval()
    elements = grid_symmetries(3)
    assert len(elements) == 48
    with torch.no_grad():
        y = net(x)
        transformed = net(torch.cat([apply_grid_symmetry(x, e) for e in elements]))
        expected = torch.cat([apply_grid_symmetry(y, e) for e in elements])
    torch.testing.assert_close(transformed, expected, **TOLERANCES[torch.float64])


def test_a_block_type_that_does_not_name_its_last_norm_is_refused_by_zero_init_residual():
    from monai_sre.networks.blocks.sre_residual import _SREResidualBase
    from monai_sre.networks.nets.symmetric_resnet import zero_residual_scales

    class UnnamedNormBlock(_SREResidualBase):  # builds and runs its branch, but says nothing of its last norm
        def _build_residual(self, spatial_dims, in_planes, planes, sre, act, norm):
            self.conv = SREConv(spatial_dims, in_planes, planes, **sre)

        def residual(self, x):
            return self.conv(x)

    block = UnnamedNormBlock(spatial_dims=3, in_planes=2, planes=2)
    assert block(torch.randn(1, 2, 5, 5, 5)).shape == (1, 2, 5, 5, 5)
    with pytest.raises(NotImplementedError, match=r"UnnamedNormBlock must define residual_norm\(\)"):
        zero_residual_scales(nn.Sequential(nn.Sequential(block)))
