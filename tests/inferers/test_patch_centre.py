from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.inferers import Inferer
from monai.transforms import Compose, ResizeWithPadOrCropd, ScaleIntensityRanged

from monai_sre.data import load_tissue_arrays
from monai_sre.data.tissue import TISSUE_ASSET
from monai_sre.inferers import PatchCentreInferer
from monai_sre.networks.nets import sre_resnet_light


class Recorder(torch.nn.Module):
    """A small patch classifier (3 classes) that records the batch sizes it is called with."""

    def __init__(self, channels: int = 2, dims: int = 3) -> None:
        super().__init__()
        conv = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)[dims - 1]
        pool = (torch.nn.AdaptiveAvgPool1d, torch.nn.AdaptiveAvgPool2d, torch.nn.AdaptiveAvgPool3d)[dims - 1]
        self.net = torch.nn.Sequential(conv(channels, 3, 3), torch.nn.Tanh(), pool(1), torch.nn.Flatten())
        self.net = self.net.double()
        self.calls: list[int] = []

    def forward(self, x):
        self.calls.append(len(x))
        return self.net(x) * 3


def _cut(volume: torch.Tensor, centre, patch, value: float) -> torch.Tensor:
    """The patch around ``centre`` of one (C, *spatial) volume, padded with ``value``: an independent reference."""
    padded = torch.nn.functional.pad(
        volume, [q for p in reversed(patch) for q in (p // 2, p - 1 - p // 2)], value=value
    )
    return padded[(slice(None), *[slice(c, c + p) for c, p in zip(centre, patch)])]


@pytest.fixture
def volume():
    return torch.randn(2, 2, 7, 6, 5, dtype=torch.float64)


def test_is_a_monai_inferer_and_returns_one_map_per_class(volume):
    net = Recorder()
    for stride, mode in [(1, "nearest"), (2, "nearest"), ((2, 3, 1), "linear"), (4, "linear")]:
        inferer = PatchCentreInferer(4, stride=stride, mode=mode)
        assert isinstance(inferer, Inferer)
        with torch.no_grad():
            out = inferer(volume, net)
        assert out.shape == (2, 3, 7, 6, 5) and out.dtype == torch.float64  # the network's
        torch.testing.assert_close(out.sum(1), torch.ones(2, 7, 6, 5, dtype=torch.float64))  # probabilities
    with torch.no_grad():
        out = PatchCentreInferer(4, stride=2, with_background=True)(volume, net)
    assert out.shape == (2, 4, 7, 6, 5) and torch.all(out[:, 0] == 0)  # no mask: no background


@pytest.mark.parametrize("patch, padding_value", [(4, -1.0), ((3, 5, 4), 0.5)])
def test_at_stride_1_every_voxel_holds_the_network_output_on_the_patch_around_it(volume, patch, padding_value):
    net = Recorder()
    inferer = PatchCentreInferer(patch, stride=1, batch_size=9, padding_value=padding_value, softmax=False)
    with torch.no_grad():
        out = inferer(volume, net)
        sizes = (patch,) * 3 if isinstance(patch, int) else patch
        centres = list(np.ndindex(*volume.shape[2:]))
        for b in range(2):
            expected = net(torch.stack([_cut(volume[b], centre, sizes, padding_value) for centre in centres]))
            torch.testing.assert_close(out[b].flatten(1).T, expected, rtol=1e-12, atol=1e-12)


def test_stride_1_in_2d_too():
    net, image = Recorder(channels=1, dims=2), torch.randn(1, 1, 6, 5, dtype=torch.float64)
    with torch.no_grad():
        out = PatchCentreInferer((3, 4), softmax=False)(image, net)
        expected = net(torch.stack([_cut(image[0], centre, (3, 4), 0.0) for centre in np.ndindex(6, 5)]))
    torch.testing.assert_close(out[0].flatten(1).T, expected)


def test_same_inputs_as_the_training_pipeline_on_the_template():
    """At the test split's centres, the map holds what the network answers on the bundle's validation input
    (stored 30^3 patch, 0..255 to [-1, 1], 16^3 centre crop)."""
    arrays = load_tissue_arrays(30)
    centres, images = arrays["test_centers"][:24], arrays["test_images"][:24]
    with np.load(TISSUE_ASSET) as stored:
        template = torch.as_tensor(stored["volume"].astype(np.float32))
    scale = ScaleIntensityRanged("image", a_min=0, a_max=255, b_min=-1, b_max=1)
    pipeline = Compose([scale, ResizeWithPadOrCropd("image", spatial_size=(16, 16, 16))])
    batch = torch.stack([torch.as_tensor(pipeline({"image": p[None].astype(np.float32)})["image"]) for p in images])
    mask = torch.zeros(1, *template.shape, dtype=torch.bool)
    mask[(0, *torch.as_tensor(centres).T)] = True
    net = sre_resnet_light(n_input_channels=1, num_classes=4).eval()
    inferer = PatchCentreInferer(16, padding_value=-1.0, softmax=False, batch_size=10)
    with torch.no_grad():
        out = inferer(scale({"image": template[None, None]})["image"], net, mask=mask)
        expected = net(batch)
    torch.testing.assert_close(out[(0, slice(None), *torch.as_tensor(centres).T)].T, expected, rtol=1e-4, atol=1e-5)


def test_nearest_gives_each_block_the_scores_of_its_middle_voxel(volume):
    net = Recorder()
    with torch.no_grad():
        dense = PatchCentreInferer(4)(volume, net)
        coarse = PatchCentreInferer(4, stride=(2, 3, 2))(volume, net)
    # blocks along x: 0-1, 2-3, 4-5, 6 (middles 0, 2, 4, 6); y: 0-2, 3-5 (1, 4); z: 0-1, 2-3, 4 (0, 2, 4)
    middle = {0: [0, 0, 2, 2, 4, 4, 6], 1: [1, 1, 1, 4, 4, 4], 2: [0, 0, 2, 2, 4]}
    expected = dense[:, :, middle[0]][:, :, :, middle[1]][:, :, :, :, middle[2]]
    torch.testing.assert_close(coarse, expected)


def test_linear_interpolates_between_the_classified_centres(volume):
    net = Recorder()
    with torch.no_grad():
        dense = PatchCentreInferer(4, softmax=False)(volume, net)
        linear = PatchCentreInferer(4, stride=(3, 1, 1), softmax=False, mode="linear")(volume, net)
    # x blocks 0-2, 3-5, 6: centres 1, 4, 6; voxel 0 takes centre 1, voxel 2 is 1/3 of the way from 1 to 4
    torch.testing.assert_close(linear[:, :, [0, 1, 4, 6]], dense[:, :, [1, 1, 4, 6]])
    torch.testing.assert_close(linear[:, :, 2], dense[:, :, 1] * 2 / 3 + dense[:, :, 4] / 3)
    torch.testing.assert_close(linear[:, :, 5], dense[:, :, 4] / 2 + dense[:, :, 6] / 2)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_mask_background_is_zero_and_never_classified(mode):
    image = torch.full((1, 1, 8, 8, 8), -1.0, dtype=torch.float64)
    image[0, 0, 2:5, 3:6, 1:7] = torch.rand(3, 3, 6, dtype=torch.float64)  # foreground, all above -0.5
    net = Recorder(channels=1)
    inferer = PatchCentreInferer(4, stride=2, threshold=-0.5, with_background=True, mode=mode, batch_size=1000)
    with torch.no_grad():
        out = inferer(image, net)
    foreground = image[:, 0] > -0.5
    assert torch.all(out[:, 0] == (~foreground).double())  # the background channel is the mask's complement
    assert torch.all(out[:, 1:][(~foreground)[:, None].expand(-1, 3, -1, -1, -1)] == 0)
    torch.testing.assert_close(out[:, 1:].sum(1)[foreground], torch.ones(int(foreground.sum()), dtype=torch.float64))
    labels = out.argmax(1)
    assert torch.all((labels > 0) == foreground)
    # blocks of 2 holding a foreground voxel: x 2-4 -> 2 blocks, y 3-5 -> 2 blocks, z 1-6 -> 4 blocks
    assert net.calls == [2 * 2 * 4]


def test_mask_argument_restricts_the_classified_voxels(volume):
    net = Recorder()
    mask = torch.zeros(2, 1, 7, 6, 5, dtype=torch.bool)
    mask[0, 0, 3, 2, 1] = mask[1, 0, 0, 0, 0] = True
    with torch.no_grad():
        out = PatchCentreInferer(4, threshold=-100.0, softmax=False)(volume, net, mask=mask)
        full = PatchCentreInferer(4, softmax=False)(volume, net)
    assert net.calls[0] == 2
    torch.testing.assert_close(out[mask.expand(-1, 3, -1, -1, -1)], full[mask.expand(-1, 3, -1, -1, -1)])
    assert torch.all(out[~mask.expand(-1, 3, -1, -1, -1)] == 0)


def test_nothing_to_classify_gives_all_background():
    net = Recorder(channels=1)
    image = torch.zeros(1, 1, 5, 5, 5, dtype=torch.float64)
    with torch.no_grad():
        out = PatchCentreInferer(4, threshold=0.5, with_background=True)(image, net)
    assert out.shape == (1, 4, 5, 5, 5)
    assert torch.all(out[:, 0] == 1) and torch.all(out[:, 1:] == 0)


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_patches_go_through_the_network_in_batches_of_at_most_batch_size(volume, batch_size):
    net = Recorder()
    with torch.no_grad():
        PatchCentreInferer(4, stride=2, batch_size=batch_size)(volume, net)
    total = 2 * 4 * 3 * 3  # two volumes of 4 x 3 x 3 blocks
    assert sum(net.calls) == total and max(net.calls) <= batch_size
    assert len(net.calls) == math.ceil(total / batch_size)


def test_meta_tensor_in_meta_tensor_out(volume):
    affine = torch.diag(torch.tensor([2.0, 2.0, 2.0, 1.0], dtype=torch.float64))
    image = MetaTensor(volume, affine=affine, meta={"filename_or_obj": "x.nii.gz"})
    with torch.no_grad():
        out = PatchCentreInferer(4, stride=3)(image, Recorder())
    assert isinstance(out, MetaTensor) and out.shape == (2, 3, 7, 6, 5)
    torch.testing.assert_close(out.affine, image.affine)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"patch_size": 0}, "patch_size must be a positive int, got 0"),
        ({"patch_size": (16, 16.5, 16)}, r"patch_size .* got \(16, 16.5, 16\)"),
        ({"patch_size": 4, "stride": (2, 0, 2)}, r"stride .* got \(2, 0, 2\)"),
        ({"patch_size": (4, 4, 4), "stride": (2, 2)}, r"stride \(2, 2\) and patch_size \(4, 4, 4\)"),
        ({"patch_size": 4, "batch_size": 0}, "batch_size must be a positive int, got 0"),
        ({"patch_size": 4, "batch_size": True}, "batch_size must be a positive int, got True"),
        ({"patch_size": 4, "padding_value": float("nan")}, "padding_value must be a finite number, got nan"),
        ({"patch_size": 4, "threshold": "high"}, "threshold must be a number or None, got 'high'"),
        ({"patch_size": 4, "mode": "cubic"}, r"mode must be one of \('nearest', 'linear'\), got 'cubic'"),
        ({"patch_size": 4, "softmax": False, "with_background": True}, "with_background=True needs softmax=True"),
    ],
)
def test_bad_arguments_raise_naming_the_value(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        PatchCentreInferer(**kwargs)


def test_bad_calls_raise_naming_the_shapes(volume):
    net = Recorder()
    with pytest.raises(ValueError, match=r"patch_size \(4, 4, 4\) does not fit inputs with 2 spatial dims"):
        PatchCentreInferer((4, 4, 4))(volume[:, :, 0], net)
    with pytest.raises(ValueError, match=r"inputs must be a \(B, C, \*spatial\) tensor, got \(7, 6\)"):
        PatchCentreInferer(4)(volume[0, 0, :, :, 0], net)
    with pytest.raises(ValueError, match=r"mask must have shape \(2, 7, 6, 5\) .* got \(1, 7, 6, 5\)"):
        PatchCentreInferer(4)(volume, net, mask=torch.ones(1, 7, 6, 5, dtype=torch.bool))
    with pytest.raises(
        ValueError, match=r"network must map \(5, 2, 4, 4, 4\) patches to \(n, K\) scores, got \(5, 3, 1\)"
    ):
        PatchCentreInferer(4, batch_size=5)(volume, lambda x: net(x)[..., None])


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_empty_batch_gives_an_empty_map(volume, mode):
    """Used to fail: ``cannot reshape tensor of 0 elements``."""
    with torch.no_grad():
        out = PatchCentreInferer(4, stride=2, mode=mode)(volume[:0], Recorder())
    assert out.shape == (0, 3, 7, 6, 5)
