from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import DataLoader, Dataset, MetaTensor

from monai_sre.evaluation import collect_batches


def test_dicts_pairs_and_loaders_become_plain_cpu_tensors():
    images = MetaTensor(torch.randn(4, 1, 5, 5, 5).double())
    batches = collect_batches([{"image": images, "label": torch.tensor([[0], [1], [1], [0]])}])
    ((x, y),) = batches
    assert type(x) is torch.Tensor and x.dtype == torch.float32 and torch.equal(x, images.as_tensor().float())
    assert y.tolist() == [0, 1, 1, 0]
    pairs = collect_batches([(np.zeros((2, 1, 4, 4)), [1, 0])])
    assert pairs[0][0].shape == (2, 1, 4, 4) and pairs[0][1].tolist() == [1, 0]
    loader = DataLoader(Dataset([{"x": torch.zeros(1, 3, 3), "y": i} for i in range(5)]), batch_size=2)
    collected = collect_batches(loader, image_key="x", label_key="y")
    assert [len(labels) for _, labels in collected] == [2, 2, 1]


def test_bad_batches_are_named():
    with pytest.raises(ValueError, match=r"batch 1 has no key\(s\) \['label'\]; it has \['image'\]"):
        collect_batches([{"image": torch.zeros(1), "label": torch.zeros(1)}, {"image": torch.zeros(1)}])
    with pytest.raises(
        ValueError, match="batch 0 must be a dict with 'image' and 'label' or an \\(image, label\\) pair, got Tensor"
    ):
        collect_batches([torch.zeros(2, 1, 4, 4)])
    with pytest.raises(ValueError, match="data yielded no batches"):
        collect_batches([])
