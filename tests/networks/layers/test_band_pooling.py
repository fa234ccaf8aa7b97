from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from monai.utils import ensure_tuple_rep

from monai_sre.networks.layers import BandLayout
from monai_sre.networks.layers.band_pooling import (
    BandConvolution,
    BandPooling,
    BandUnpooling,
    band_offsets,
    band_pool,
    band_unpool,
)
from monai_sre.networks.layers.convutils import same_padding
from tests.conftest import TOLERANCES

# (spatial_dims, kernel_size, dilation, layout kwargs, spatial size)
CASES = [
    (1, 7, 1, {}, (11,)),
    (2, 5, 1, {}, (8, 9)),
    (2, (3, 5), 2, dict(band_layout="shell"), (9, 7)),
    (3, 3, 1, {}, (5, 6, 7)),
    (3, 5, 1, dict(band_layout="integer"), (6, 6, 6)),
    (3, (5, 5, 3), (1, 1, 2), dict(spacing=(1, 1, 2)), (6, 5, 7)),
]


def _operator(spatial_dims, kernel_size, dilation, layout_kwargs):
    bands = BandLayout(spatial_dims, kernel_size, **layout_kwargs)
    dilation = ensure_tuple_rep(dilation, spatial_dims)
    padding = same_padding(bands.kernel_size, dilation)
    return bands, band_offsets(bands, dilation), padding, dilation


@pytest.mark.parametrize("spatial_dims, kernel_size, dilation, layout_kwargs, size", CASES)
def test_band_pooling_equals_the_convolution_with_the_band_masks(
    spatial_dims, kernel_size, dilation, layout_kwargs, size
):
    bands, offsets, padding, dilation = _operator(spatial_dims, kernel_size, dilation, layout_kwargs)
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    pooled = band_pool(x, offsets, padding)
    assert pooled.shape == (2, 3, bands.num_bands, *size)
    masks = torch.as_tensor(bands.basis()).reshape(bands.num_bands, 1, *bands.kernel_size)
    conv = (F.conv1d, F.conv2d, F.conv3d)[spatial_dims - 1]
    # every channel convolved with every band's mask (the mask is symmetric, so correlation = convolution)
    expected = conv(x.reshape(6, 1, *size), masks, padding=padding, dilation=dilation).reshape(pooled.shape)
    torch.testing.assert_close(pooled, expected, **TOLERANCES[torch.float64])
    assert [len(o) for o in offsets] == list(bands.band_sizes)


@pytest.mark.parametrize("spatial_dims, kernel_size, dilation, layout_kwargs, size", CASES)
def test_band_unpooling_is_the_adjoint(spatial_dims, kernel_size, dilation, layout_kwargs, size):
    bands, offsets, padding, _ = _operator(spatial_dims, kernel_size, dilation, layout_kwargs)
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    y = torch.randn(2, 3, bands.num_bands, *size, dtype=torch.float64)
    left = (band_pool(x, offsets, padding) * y).sum()
    right = (x * band_unpool(y, offsets, padding)).sum()
    torch.testing.assert_close(left, right, **TOLERANCES[torch.float64])
    # bands hold o and -o alike: the adjoint is band pooling of every band map, summed (self-adjoint)
    per_band = sum(band_pool(y[:, :, b], [offsets[b]], padding)[:, :, 0] for b in range(bands.num_bands))
    torch.testing.assert_close(band_unpool(y, offsets, padding), per_band, **TOLERANCES[torch.float64])


@pytest.mark.parametrize("spatial_dims, kernel_size, dilation, layout_kwargs, size", [CASES[0], CASES[2], CASES[3]])
def test_gradcheck_and_gradgradcheck(spatial_dims, kernel_size, dilation, layout_kwargs, size):
    bands, offsets, padding, _ = _operator(spatial_dims, kernel_size, dilation, layout_kwargs)
    small = tuple(min(n, 5) for n in size)
    x = torch.randn(1, 2, *small, dtype=torch.float64, requires_grad=True)
    y = torch.randn(1, 2, bands.num_bands, *small, dtype=torch.float64, requires_grad=True)

    def pool(t):
        return BandPooling.apply(t, offsets, padding)

    def unpool(t):
        return BandUnpooling.apply(t, offsets, padding)

    for function, argument in ((pool, x), (unpool, y)):
        assert torch.autograd.gradcheck(function, (argument,))
        assert torch.autograd.gradgradcheck(function, (argument,))


def test_backward_of_pooling_is_unpooling_and_back():
    bands, offsets, padding, _ = _operator(3, 3, 1, {})
    x = torch.randn(1, 1, 4, 4, 4, dtype=torch.float64, requires_grad=True)
    y = torch.randn(1, 1, bands.num_bands, 4, 4, 4, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(BandPooling.apply(x, offsets, padding), x, y, create_graph=True)
    torch.testing.assert_close(grad, band_unpool(y, offsets, padding))
    assert type(grad.grad_fn).__name__ == "BandUnpoolingBackward"  # recorded: differentiable again
    (grad_y,) = torch.autograd.grad(grad, y, x.detach())
    torch.testing.assert_close(grad_y, band_pool(x.detach(), offsets, padding))
    no_grad_input = torch.randn(1, 1, 4, 4, 4, dtype=torch.float64)
    assert BandPooling.apply(no_grad_input, offsets, padding).grad_fn is None


# (in, out) channels choose the pooled side: out <= 2 in pools the output gradient, a widening layer the input;
# with the input frozen (weight gradient only) the output gradient is pooled where out <= in
@pytest.mark.parametrize(
    "batch, in_channels, out_channels, groups, bias, input_grad",
    [(2, 4, 6, 1, True, True), (2, 4, 6, 2, False, True), (2, 2, 6, 2, True, True), (2, 1, 6, 1, False, False),
     (2, 4, 2, 2, False, False), (2, 4, 6, 1, True, False), (5, 3, 3, 1, True, True), (1, 3, 3, 1, False, True)],
)  # fmt: skip
def test_band_convolution_gradcheck_and_gradgradcheck(batch, in_channels, out_channels, groups, bias, input_grad):
    """Both backward sides, groups, bias, frozen input; batches split into chunks of ceil(batch / bands) or not."""
    bands, offsets, padding, _ = _operator(3, 3, 1, {})
    x = torch.randn(batch, in_channels, 4, 4, 4, dtype=torch.float64, requires_grad=input_grad)
    weight = torch.randn(out_channels, in_channels // groups, bands.num_bands, dtype=torch.float64,
                         requires_grad=True)  # fmt: skip
    b = torch.randn(out_channels, dtype=torch.float64, requires_grad=True) if bias else None
    inputs = (x, weight, b) if bias else (x, weight)

    def convolve(*args):
        return BandConvolution.apply(args[0], args[1], args[2] if bias else None, offsets, padding, groups)

    assert torch.autograd.gradcheck(convolve, inputs)
    assert torch.autograd.gradgradcheck(convolve, inputs)


def test_band_convolution_backward_with_bands_not_symmetric_under_reflection():
    """The output gradient is pooled over the negated offsets (the adjoint), whatever the bands' shape."""
    offsets, padding = [[(0, 0, 0), (1, 0, 0)], [(0, 2, -1)], [(-1, 1, 0), (2, 0, 1), (0, 0, -2)]], (2, 2, 2)
    x = torch.randn(2, 3, 5, 5, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(4, 3, 3, dtype=torch.float64, requires_grad=True)
    out = BandConvolution.apply(x, weight, None, offsets, padding, 1)
    torch.testing.assert_close(out, torch.einsum("ncbxyz,ocb->noxyz", band_pool(x, offsets, padding), weight))
    assert torch.autograd.gradcheck(lambda a, w: BandConvolution.apply(a, w, None, offsets, padding, 1), (x, weight))


def test_band_convolution_keeps_only_the_input_for_the_backward():
    """The band maps (num_bands x the input) are recomputed in the backward, not kept: training memory."""
    bands, offsets, padding, _ = _operator(3, 5, 1, {})
    x = torch.randn(2, 3, 6, 6, 6, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(4, 3, bands.num_bands, dtype=torch.float64, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(tuple(t.shape)) or t, lambda t: t):
        out = BandConvolution.apply(x, weight, None, offsets, padding, 1)
    assert sorted(saved) == sorted([tuple(x.shape), tuple(weight.shape)])
    out.square().sum().backward()
    reference = x.detach().clone().requires_grad_(True)
    mixing = weight.detach().clone().requires_grad_(True)
    pooled = band_pool(reference, offsets, padding)  # autograd through slices: the plain composition
    expected = torch.einsum("ncbxyz,ocb->noxyz", pooled, mixing)
    expected.square().sum().backward()
    torch.testing.assert_close(x.grad, reference.grad)
    torch.testing.assert_close(weight.grad, mixing.grad)


def test_band_convolution_takes_an_empty_batch():
    """``_batch_chunks`` used to step by zero on an empty batch."""
    offsets = band_offsets(BandLayout(3, 5, None, "linear", None), (1, 1, 1))
    x, weight = torch.randn(0, 2, 5, 5, 5, requires_grad=True), torch.randn(3, 2, 3, requires_grad=True)
    out = BandConvolution.apply(x, weight, None, offsets, (2, 2, 2), 1)
    assert out.shape == (0, 3, 5, 5, 5)
    out.sum().backward()
    assert x.grad.shape == x.shape
