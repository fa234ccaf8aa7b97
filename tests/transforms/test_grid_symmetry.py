from __future__ import annotations

import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose

from monai_sre.transforms import (
    GridSymmetry,
    GridSymmetryd,
    RandGridSymmetry,
    RandGridSymmetryd,
    RandSO3Rotated,
    apply_grid_symmetry,
    grid_symmetries,
)


def _image(size=(5, 5, 5)):
    return MetaTensor(torch.randn(2, *size), affine=torch.diag(torch.tensor([1.0, 2.0, 3.0, 1.0])))


@pytest.mark.parametrize("index", range(48))
def test_every_element_is_exact_records_its_affine_inverts_and_runs_lazily(index):
    image = _image()
    element = grid_symmetries(3)[index]
    symmetry = GridSymmetry(index)
    out = symmetry(image)
    assert torch.equal(out.as_tensor(), apply_grid_symmetry(image.as_tensor(), element))
    # the affine follows the voxels: voxel v of the output sits where its source voxel sat
    src = torch.tensor([1.0, 3.0, 4.0, 1.0], dtype=torch.float64)
    dst = [0, 0, 0]
    for out_axis, (in_axis, flip) in enumerate(zip(element.permutation, element.flips)):
        dst[out_axis] = 4 - src[in_axis] if flip else src[in_axis]
    assert out.as_tensor()[(0, *[int(d) for d in dst])] == image.as_tensor()[(0, 1, 3, 4)]
    torch.testing.assert_close(out.affine @ torch.tensor([*dst, 1.0], dtype=torch.float64), image.affine.double() @ src)
    restored = symmetry.inverse(out)  # MONAI checks that the instance that applied a transform inverts it
    assert torch.equal(restored.as_tensor(), image.as_tensor())
    torch.testing.assert_close(restored.affine, image.affine)
    lazy = Compose([GridSymmetry(index)], lazy=True)(image)
    assert torch.equal(lazy.as_tensor(), out.as_tensor())


def test_random_symmetry_draws_every_element_and_inverts():
    transform = RandGridSymmetry().set_random_state(0)
    image = _image((4, 4, 4))
    seen = set()
    for _ in range(400):
        out = transform(image)
        seen.add(transform.index)
        assert torch.equal(transform.inverse(out).as_tensor(), image.as_tensor())
    assert seen == set(range(48))
    assert RandGridSymmetry(prob=0.0)(image).as_tensor().equal(image.as_tensor())
    planar = RandGridSymmetry().set_random_state(0)
    assert {(planar(torch.randn(1, 3, 3)), planar.index)[1] for _ in range(100)} == set(range(8))


def test_non_cubic_shapes_and_bad_index_are_refused():
    with pytest.raises(ValueError, match=r"different sizes.*\[4, 5, 5\]"):
        GridSymmetry(2 * 8)(torch.randn(1, 4, 5, 5))  # permutation (0, 2, 1) is fine, (1, 0, 2) is not
    with pytest.raises(ValueError, match="index must be below 8 for 2 spatial dims, got 9"):
        GridSymmetry(9)(torch.randn(1, 4, 4))
    with pytest.raises(ValueError, match="index must be a non-negative int, got -1"):
        GridSymmetry(-1)


def test_dictionary_versions_share_one_draw_across_keys_and_invert():
    data = {"image": _image((6, 6, 6)), "label": MetaTensor(torch.randint(0, 3, (1, 6, 6, 6)).float())}
    symmetric = RandGridSymmetryd(["image", "label"]).set_random_state(1)
    out = symmetric(data)
    element = grid_symmetries(3)[symmetric.inner.index]
    assert torch.equal(out["label"].as_tensor(), apply_grid_symmetry(data["label"].as_tensor(), element))
    back = symmetric.inverse(out)
    assert torch.equal(back["image"].as_tensor(), data["image"].as_tensor())

    fixed = GridSymmetryd(["image", "label"], index=7)
    out = fixed(data)
    assert torch.equal(fixed.inverse(out)["label"].as_tensor(), data["label"].as_tensor())

    rotate = RandSO3Rotated(["image", "label"], mode=["bilinear", "nearest"]).set_random_state(2)
    out = rotate(data)
    assert set(out["label"].as_tensor().unique().tolist()) <= {0.0, 1.0, 2.0}  # nearest keeps labels
    assert [op["class"] for op in out["image"].applied_operations] == ["RandSO3Rotated"]
    back = rotate.inverse(out)
    assert back["image"].shape == data["image"].shape and not back["image"].applied_operations


def test_lazy_compose_fuses_rotation_and_symmetry_into_one_resample():
    image = _image((6, 6, 6))
    transforms = lambda: [RandSO3Rotated("image"), GridSymmetryd("image", 9), RandGridSymmetryd("image")]  # noqa: E731
    overrides = {"image": {"padding_mode": "zeros"}}  # per key for dictionary data
    lazy = Compose(transforms(), lazy=True, overrides=overrides).set_random_state(1)({"image": image})
    eager = Compose(transforms(), lazy=False).set_random_state(1)({"image": image})
    torch.testing.assert_close(lazy["image"].as_tensor(), eager["image"].as_tensor(), atol=1e-4, rtol=0)
    torch.testing.assert_close(lazy["image"].affine, eager["image"].affine)
