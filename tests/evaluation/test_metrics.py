from __future__ import annotations

import math

import pytest
import torch

from monai_sre.evaluation import classification_metrics


def _auc(scores: torch.Tensor, positives: torch.Tensor) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos, neg = scores[positives], scores[~positives]
    greater = (pos[:, None] > neg[None, :]).float().sum() + 0.5 * (pos[:, None] == neg[None, :]).float().sum()
    return float(greater / (len(pos) * len(neg)))


def test_accuracy_and_binary_auc_use_the_last_class_score():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.5], [0.2, 0.1], [0.0, 3.0]])
    labels = torch.tensor([[0], [1], [1], [0], [1]])
    result = classification_metrics(logits, labels)
    assert result["accuracy"] == pytest.approx(4 / 5)
    scores = torch.softmax(logits, 1)[:, 1]
    assert result["auc"] == pytest.approx(_auc(scores, labels.reshape(-1) == 1))


def test_multiclass_auc_is_the_mean_one_vs_rest_auc():
    torch.manual_seed(0)
    logits, labels = torch.randn(60, 4), torch.arange(60) % 4
    probabilities = torch.softmax(logits, 1)
    expected = sum(_auc(probabilities[:, c], labels == c) for c in range(4)) / 4
    assert classification_metrics(logits, labels, ["auc"])["auc"] == pytest.approx(expected)


def test_single_class_auc_is_nan_and_bad_labels_raise():
    assert math.isnan(classification_metrics(torch.randn(4, 2), torch.zeros(4))["auc"])
    with pytest.raises(ValueError, match="labels must lie in 0..2, got values from 0 to 3"):
        classification_metrics(torch.randn(4, 3), torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"expected logits \(N, classes\) and N labels, got \(4, 3\) and 5"):
        classification_metrics(torch.randn(4, 3), torch.zeros(5))
    with pytest.raises(ValueError, match="f1"):
        classification_metrics(torch.randn(4, 3), torch.zeros(4), ["f1"])
