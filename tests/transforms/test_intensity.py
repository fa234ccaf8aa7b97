from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.data import MetaTensor

from monai_sre import deprecation
from monai_sre.data import template_white_matter_peak
from monai_sre.transforms.intensity import ScaleToWhiteMatterPeak, ScaleToWhiteMatterPeakd, white_matter_peak

COLIN27 = Path("/usr/share/mricron/templates")  # apt-get install mricron-data


def _t1(scale: float = 1.0, seed: int = 0) -> np.ndarray:
    """A synthetic T1 histogram: air, CSF, grey (the largest mode) and white matter at 140, a bright tail."""
    rng = np.random.default_rng(seed)
    parts = [
        np.zeros(40000),
        rng.normal(40, 6, 3000),
        rng.normal(100, 6, 30000),
        rng.normal(140, 5, 20000),
        rng.uniform(150, 250, 1500),
    ]
    return (np.concatenate(parts) * scale).astype(np.float32).reshape(-1, 1, 1)


def test_white_matter_peak_is_the_last_mode_and_scales_with_the_image():
    assert white_matter_peak(_t1()) == pytest.approx(140, abs=1.5)
    assert white_matter_peak(_t1(80.0)) == pytest.approx(140 * 80, rel=0.01)  # an int16-like scale
    assert white_matter_peak(np.round(_t1()).astype(np.uint8)) == pytest.approx(140, abs=1.5)  # no comb on uint8


def test_scaling_puts_the_peak_on_the_target_keeps_zero_and_clips():
    image = MetaTensor(torch.as_tensor(_t1(75.0)), affine=torch.diag(torch.tensor([2.0, 2.0, 2.0, 1.0])))
    out = ScaleToWhiteMatterPeak(target=200.0)(image)
    assert isinstance(out, MetaTensor) and out.dtype == torch.float32
    torch.testing.assert_close(out.affine, image.affine)
    assert white_matter_peak(out) == pytest.approx(200, rel=0.01)
    assert float(out.min()) == 0 and float(out.max()) == 255  # air stays 0, the bright tail is clipped at 255
    unclipped = ScaleToWhiteMatterPeak(target=200.0, clip=None)(image)
    assert float(unclipped.max()) > 255
    template = ScaleToWhiteMatterPeakd("image", target=template_white_matter_peak())({"image": _t1(75.0)})["image"]
    assert isinstance(template, np.ndarray)
    assert white_matter_peak(template) == pytest.approx(template_white_matter_peak(), rel=0.01)


def test_an_image_without_a_usable_peak_is_refused_naming_the_file():
    constant = MetaTensor(torch.full((1, 4, 4, 4), 7.0), meta={"filename_or_obj": "/data/flat.nii.gz"})
    with pytest.raises(ValueError, match="'/data/flat.nii.gz' has no intensity spread above its mean"):
        ScaleToWhiteMatterPeak(200.0)(constant)
    negative = MetaTensor(torch.as_tensor(_t1() - 1000), meta={"filename_or_obj": "ct.nii.gz"})
    with pytest.raises(
        ValueError, match=r"intensities of 'ct.nii.gz' .* white-matter peak -8\d\d(\.\d)? is not above zero=0"
    ):
        ScaleToWhiteMatterPeakd("image", 200.0)({"image": negative})


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"target": -1.0}, r"target must be above zero \(0.0\), got -1.0"),
        ({"target": 200.0, "clip": (255, 0)}, r"clip must be None or \(low, high\) with low < high, got \(255, 0\)"),
        ({"target": 200.0, "tail": 0.5}, r"tail must be in \[0, 0.5\), got 0.5"),
        ({"target": 200.0, "min_height": 0}, r"min_height must be in \(0, 1\], got 0"),
        ({"target": 200.0, "bins": 8}, "bins must be an integer of at least 16, got 8"),
    ],
)
def test_bad_arguments_raise_naming_the_value(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        ScaleToWhiteMatterPeak(**kwargs)


@pytest.mark.skipif(not (COLIN27 / "ch2bet.nii.gz").is_file(), reason="needs mricron-data (Colin27)")
def test_colin27_peak_barely_moves_with_the_skull_while_upper_percentiles_do():
    """The robustness that picked this mapping: ch2 (with skull) and ch2bet (skull-stripped) at 2 mm."""
    volumes = (np.asarray(nib.load(COLIN27 / f"{n}.nii.gz").dataobj) for n in ("ch2", "ch2bet"))
    head, brain = (F.avg_pool3d(torch.as_tensor(v, dtype=torch.float64)[None, None], 2)[0, 0].numpy() for v in volumes)
    assert white_matter_peak(head) == pytest.approx(white_matter_peak(brain), rel=0.01)
    p95 = [np.percentile(v[v > 50], 95) for v in (head, brain)]  # 50: Otsu's threshold of both, about
    assert p95[0] > 1.1 * p95[1]
    # mapped onto the template's scale, Colin27's grey-matter mode lands near the template's
    mapped = np.asarray(ScaleToWhiteMatterPeak(template_white_matter_peak())(brain))
    grey_mode = np.histogram(mapped[(mapped > 120) & (mapped < 200)], bins=40, range=(120, 200))
    assert 155 < grey_mode[1][np.argmax(grey_mode[0])] < 180


def test_the_template_peak_moved_to_the_data_package_and_the_old_names_warn(monkeypatch):
    from monai_sre import transforms
    from monai_sre.transforms import intensity

    for module in (transforms, intensity):
        monkeypatch.setattr(deprecation, "_warned", set())
        with pytest.warns(FutureWarning, match=r"template_white_matter_peak is deprecated .* monai_sre\.data\.tissue"):
            assert module.template_white_matter_peak is template_white_matter_peak
