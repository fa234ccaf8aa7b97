from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("background", "cortical grey matter", "deep grey matter", "white matter", "internal CSF")


def _run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / script), *args], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


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
