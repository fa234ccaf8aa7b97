from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from monai_sre.data.tissue_segmentation import TISSUE_SEGMENTATION_ASSET

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("background", "cortical grey matter", "deep grey matter", "white matter", "internal CSF")


def _run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / script), *args], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.skipif(
    importlib.util.find_spec("nilearn") is None or importlib.util.find_spec("scipy") is None,
    reason="the segmentation dataset's source, the MNI template files in nilearn (and scipy), is not installed",
)
def test_segmentation_build_script_remakes_the_shipped_file_byte_for_byte(tmp_path):
    output = tmp_path / "rebuilt.npz"
    out = _run("build_tissue_segmentation_dataset.py", "--output", str(output))
    assert "train: 48 patches" in out and "val: 12 patches" in out and "test: 12 patches" in out
    with zipfile.ZipFile(output) as rebuilt, zipfile.ZipFile(TISSUE_SEGMENTATION_ASSET) as shipped:
        members = [(m.filename, m.CRC, m.file_size) for m in shipped.infolist()]
        assert [(m.filename, m.CRC, m.file_size) for m in rebuilt.infolist()] == members  # the same arrays
    assert output.read_bytes() == TISSUE_SEGMENTATION_ASSET.read_bytes(), (
        "same arrays, different deflate bytes: the zlib build differs from the one that wrote the shipped file"
    )


def test_segmentation_baselines_print_a_dice_table():
    out = _run("tissue_segmentation_baselines.py")
    header = next(line for line in out.splitlines() if line.startswith("| baseline"))
    assert header == f"| baseline | {' | '.join(CLASSES)} | mean foreground |"
    rows = [line for line in out.splitlines() if line.startswith("| interval") or line.startswith("| intensity")]
    assert len(rows) == 3
    for row in rows:
        scores = [float(cell) for cell in row.strip("|").split("|")[1:]]
        assert len(scores) == 6 and all(0 <= s <= 1 for s in scores)
        assert abs(scores[-1] - sum(scores[1:5]) / 4) < 2e-3  # mean over the foreground classes
