from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from monai.data import CacheDataset, Dataset

from monai_sre.data import TissuePatchDataset, balanced_indices, balanced_subset, dataset_labels


def test_every_class_keeps_its_share_and_at_least_one_item():
    labels = [0] * 50 + [1] * 30 + [2] * 3
    for fraction in (0.02, 0.1, 0.5):
        chosen = balanced_indices(labels, fraction, seed=0)
        counts = Counter(labels[i] for i in chosen)
        assert counts == {c: max(1, round(fraction * n)) for c, n in Counter(labels).items()}
        assert chosen == sorted(set(chosen))
    assert balanced_indices(labels, 1.0, seed=3) == list(range(83))


def test_the_seed_draws_the_subsample():
    labels = np.repeat(np.arange(4), 100)
    assert balanced_indices(labels, 0.1, 0) == balanced_indices(labels, 0.1, 0)
    assert balanced_indices(labels, 0.1, 0) != balanced_indices(labels, 0.1, 1)


@pytest.mark.parametrize("fraction", [0, 1.5, -0.1, True, "0.5"])
def test_fractions_outside_zero_one_raise(fraction):
    with pytest.raises(ValueError, match="fraction must be a number in"):
        balanced_indices([0, 1], fraction, 0)


def test_labels_of_the_tissue_dataset_and_of_a_datalist_dataset():
    tissue = TissuePatchDataset("val")
    assert dataset_labels(tissue) == tissue.labels.tolist()
    items = [{"image": f"{i}.nii.gz", "label": i % 3} for i in range(9)]
    assert dataset_labels(Dataset(items)) == [i % 3 for i in range(9)]
    assert dataset_labels(CacheDataset(items, transform=None, progress=False)) == [i % 3 for i in range(9)]
    with pytest.raises(ValueError, match="cannot read the class labels of a list"):
        dataset_labels([1, 2, 3])


def test_subset_of_the_tissue_training_split():
    tissue = TissuePatchDataset("train")
    subset = balanced_subset(tissue, 0.02, seed=4)
    assert len(subset) == 24 and Counter(tissue.labels[i] for i in subset.indices) == {0: 6, 1: 6, 2: 6, 3: 6}
    assert balanced_subset(tissue, 1.0, seed=4) is tissue
