from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import ResizeWithPadOrCrop

from monai_sre.transforms import (
    BatchRandSO3Rotate,
    RandSO3Rotate,
    RandSO3RotateCrop,
    rotation_angle,
)
from tests.transforms.test_array import SAMPLES, _haar_pvalues


def _per_sample(images: torch.Tensor, roi, seed: int, **kwargs) -> torch.Tensor:
    """The same draws, one sample at a time, through the fused per-sample transform."""
    transform = RandSO3RotateCrop(roi, **kwargs).set_random_state(seed)
    return torch.stack([torch.as_tensor(transform(image)) for image in images])


GEOMETRIES = [((30, 30, 30), 16), ((31, 30, 29), (16, 15, 14)), ((12, 12, 12), None), ((20, 20), 11)]


@pytest.mark.parametrize("size, roi", GEOMETRIES)
@pytest.mark.parametrize("padding_mode, align_corners", [("zeros", False), ("border", True), ("reflection", False)])
def test_batch_equals_the_per_sample_transforms_and_the_old_pipeline(size, roi, padding_mode, align_corners):
    images = torch.rand(6, 2, *size)
    options = dict(padding_mode=padding_mode, align_corners=align_corners)
    out = BatchRandSO3Rotate(roi, seed=4, **options)(images)
    expected = _per_sample(images, roi, seed=4, **options)
    assert out.shape == expected.shape and type(out) is torch.Tensor
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    old = RandSO3Rotate(**options).set_random_state(4)  # the same random stream: RandSO3Rotate + ResizeWithPadOrCrop
    crop = ResizeWithPadOrCrop(roi or size)
    reference = torch.stack([torch.as_tensor(crop(old(image))) for image in images])
    torch.testing.assert_close(out, reference, atol=1e-4, rtol=0)


def test_every_sample_gets_its_own_rotation_in_one_grid_sample_call(monkeypatch):
    calls = []
    grid_sample = torch.nn.functional.grid_sample
    monkeypatch.setattr(torch.nn.functional, "grid_sample", lambda *a, **k: calls.append(1) or grid_sample(*a, **k))
    image = torch.rand(1, 1, 20, 20, 20)
    rotate = BatchRandSO3Rotate(10, seed=0)
    out = rotate(image.expand(8, 1, 20, 20, 20))
    assert len(calls) == 1
    assert len({tuple(np.round(m, 6).ravel()) for m in rotate.matrices}) == 8
    assert all(not torch.allclose(out[0], out[i]) for i in range(1, 8))


def test_draws_are_uniform_over_rotations_and_deterministic():
    rotate = BatchRandSO3Rotate(8, seed=0)
    rotate.randomize(SAMPLES)
    pvalues = _haar_pvalues(list(rotate.matrices))
    assert min(pvalues.values()) > 0.01 / len(pvalues), pvalues  # Bonferroni over the four tests
    images = torch.rand(4, 1, 12, 12, 12)
    first, second = BatchRandSO3Rotate(8, seed=3), BatchRandSO3Rotate(8, seed=3)
    assert torch.equal(first(images), second(images)) and torch.equal(first(images), second(images))
    assert not torch.equal(first(images), BatchRandSO3Rotate(8, seed=4)(images))
    first.set_random_state(3)
    assert torch.equal(first(images), BatchRandSO3Rotate(8, seed=3)(images))
    np.random.seed(0)  # seed=None draws the seed from numpy's global state (set_determinism)
    unseeded = BatchRandSO3Rotate(8)(images)
    np.random.seed(0)
    assert torch.equal(unseeded, BatchRandSO3Rotate(8)(images))


def test_max_angle_and_prob():
    rotate = BatchRandSO3Rotate(8, max_angle=0.5, seed=0)
    rotate.randomize(200)
    assert max(rotation_angle(m) for m in rotate.matrices) <= 0.5 + 1e-9
    images = torch.rand(16, 1, 12, 11, 10)
    exact_crop = images[:, :, 2:10, 1:9, 1:9]  # start n // 2 - s // 2, as CenterSpatialCrop
    assert torch.equal(BatchRandSO3Rotate(8, prob=0.0, seed=0)(images), exact_crop)
    half = BatchRandSO3Rotate(8, prob=0.5, seed=1)
    out = half(images)
    assert 0 < half.rotated.sum() < 16
    np.testing.assert_array_equal(half.matrices[~half.rotated], np.tile(np.eye(3), ((~half.rotated).sum(), 1, 1)))
    torch.testing.assert_close(out[~torch.from_numpy(half.rotated)], exact_crop[~torch.from_numpy(half.rotated)])
    torch.testing.assert_close(out, _per_sample(images, 8, seed=1, prob=0.5), atol=1e-5, rtol=0)


def test_dtype_device_and_metadata():
    images = torch.rand(3, 1, 10, 10, 10, dtype=torch.float64)
    out = BatchRandSO3Rotate(6, seed=0)(images)
    assert out.dtype == torch.float64 and out.device == images.device
    assert BatchRandSO3Rotate(6, seed=0)((images * 255).to(torch.uint8)).dtype == torch.float32
    meta = BatchRandSO3Rotate(6, seed=0)(MetaTensor(images))
    assert type(meta) is torch.Tensor and torch.equal(meta, out)
    if torch.cuda.is_available():
        cuda = BatchRandSO3Rotate(6, seed=0)(images.cuda())
        assert cuda.is_cuda
        torch.testing.assert_close(cuda.cpu(), out)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"roi_size \(16, 16, 16\) does not fit the spatial size \(12, 12, 12\)"):
        BatchRandSO3Rotate(16, seed=0)(torch.rand(2, 1, 12, 12, 12))
    with pytest.raises(ValueError, match=r"needs \(B, C, \*spatial\) with 2 or 3 spatial dims"):
        BatchRandSO3Rotate(4, seed=0)(torch.rand(2, 1, 12))
    rotate = BatchRandSO3Rotate(4, seed=0)
    rotate.randomize(3)
    with pytest.raises(ValueError, match=r"drawn rotations \(3, 3, 3\) do not match the batch \(2, 1, 8, 8, 8\)"):
        rotate(torch.rand(2, 1, 8, 8, 8), randomize=False)
    with pytest.raises(ValueError, match="prob must be in"):
        BatchRandSO3Rotate(4, prob=2.0)
    with pytest.raises(ValueError, match="max_angle must be in"):
        BatchRandSO3Rotate(4, max_angle=0.0)


def test_prepare_batch_moved_to_the_engines_and_the_old_names_warn(monkeypatch):
    from monai_sre import deprecation, engines, transforms
    from monai_sre.transforms import batch_rotation

    for module in (transforms, batch_rotation):
        monkeypatch.setattr(deprecation, "_warned", set())
        with pytest.warns(FutureWarning, match=r"PrepareBatchRandSO3Rotate is deprecated .* monai_sre\.engines"):
            assert module.PrepareBatchRandSO3Rotate is engines.PrepareBatchRandSO3Rotate
    assert "PrepareBatchRandSO3Rotate" not in transforms.__all__
