"""Evaluating a checkpoint through a bundle's own configs: what is refused before any workflow is built."""

from __future__ import annotations

import pytest

from monai_sre.comparison import evaluate_checkpoint
from monai_sre.runs import bundle_root


def test_a_missing_checkpoint_is_refused_naming_it(tmp_path):
    missing = tmp_path / "train" / "models" / "model.pt"
    with pytest.raises(FileNotFoundError, match=f"checkpoint '{missing}' to evaluate does not exist: is '{tmp_path}"):
        evaluate_checkpoint(bundle_root("sre_classification"), [], tmp_path / "train", tmp_path / "eval", ["haar-64"])
    assert not (tmp_path / "eval").exists()


def test_a_missing_config_is_refused_naming_it(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "model.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"has no config .*no_such_overlay\.json"):
        evaluate_checkpoint(
            bundle_root("sre_classification"), ["no_such_overlay"], tmp_path, tmp_path / "eval", ["haar-64"]
        )
