from __future__ import annotations

import gzip
import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from monai_sre.__main__ import root_cause
from monai_sre.data import check_volume


@pytest.fixture
def truncated_nifti(tmp_path):
    path = tmp_path / "truncated.nii.gz"
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((20, 20, 20)).astype(np.float32), np.eye(4)), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(EOFError):  # what nibabel raises on it: the context the named error replaces
        gzip.decompress(path.read_bytes())
    return path


def test_root_cause_stops_at_an_error_raised_from_none(truncated_nifti):
    """MONAI wraps an error raised while a config is instantiated (``raise RuntimeError(...) from error``); the
    named-file error under it is raised ``from None`` and used to be passed over for the ``EOFError`` it replaced."""
    try:
        try:
            check_volume(truncated_nifti)
        except Exception as error:
            raise RuntimeError("Failed to instantiate the component") from error
    except RuntimeError as wrapped:
        cause = root_cause(wrapped)
    assert isinstance(cause, ValueError) and str(truncated_nifti) in str(cause)


def test_root_cause_follows_causes_and_unsuppressed_contexts():
    try:
        try:
            try:
                raise KeyError("innermost")
            except KeyError:
                raise TypeError("context, not suppressed")  # noqa: B904 - the implicit chain under test
        except TypeError as error:
            raise RuntimeError("outer") from error
    except RuntimeError as outer:
        assert isinstance(root_cause(outer), KeyError)


def test_cli_prints_the_named_file_error(truncated_nifti, tmp_path):
    config = tmp_path / "check.json"
    config.write_text(
        json.dumps({"imports": ["$import monai_sre"], "run": [f"$monai_sre.data.check_volume('{truncated_nifti}')"]})
    )
    result = subprocess.run(
        [sys.executable, "-m", "monai_sre", "run", "--config_file", str(config)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"error: ValueError: cannot use image '{truncated_nifti}'" in result.stderr, result.stderr
    assert "EOFError" not in result.stderr
