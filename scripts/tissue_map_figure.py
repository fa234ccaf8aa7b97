# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Map a whole T1 volume with a tissue bundle and draw one axial slice of the map beside the T1.

Two bundles: the classifier's whole-volume map (``sre_resnet3d_tissue``, configs/tissue_map.json: every
``--stride``-th voxel classified from its 16^3 patch) and the segmentation bundle's sliding-window label map with
its shipped weights (``--bundle sre_segmentation``, configs/inference.json). Default input: the Colin27 brain,
skull-stripped (``ch2bet.nii.gz`` of the Debian/Ubuntu package ``mricron-data``: ``apt-get install -y
mricron-data``)::

    python scripts/tissue_map_figure.py          # bundles/sre_resnet3d_tissue/docs/tissue_map_colin27.png
    python scripts/tissue_map_figure.py --bundle sre_segmentation   # .../docs/tissue_segmentation_colin27.png
    python scripts/tissue_map_figure.py --input /usr/share/mricron/templates/ch2.nii.gz --stride 4
    python scripts/tissue_map_figure.py --overlay sre_resnet --ckpt-path my_sre_weights.pt

Prints the run time of the bundle and the fraction of mapped voxels per tissue class. The map and the bundle's
log go to a temporary folder unless ``--work-dir`` is given.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

REPO = Path(__file__).resolve().parents[1]
# per bundle: the configs after the overlays, the label map's file postfix, the default figure, the colours of
# the label values 0, 1, ... (0: background, not mapped)
BUNDLES = {
    "sre_resnet3d_tissue": (  # cortical grey, deep grey, white matter, internal CSF
        ["tissue_map"],
        "tissue",
        "tissue_map_colin27.png",
        ("#000000", "#f28e2b", "#59a14f", "#e8e8e8", "#4e79a7"),
    ),
    "sre_segmentation": (  # CSF, grey matter, white matter
        [],
        "seg",
        "tissue_segmentation_colin27.png",
        ("#000000", "#4e79a7", "#59a14f", "#e8e8e8"),
    ),
}
COLIN27 = Path("/usr/share/mricron/templates/ch2bet.nii.gz")


def run_map(
    bundle: str, source: Path, work_dir: Path, stride: int, overlays: list[str], ckpt_path: str | None
) -> tuple[Path, float, str, list[str]]:
    """Run inference + [overlays] (+ tissue_map) of ``bundle`` on ``source``: the label map, seconds, network and
    the names of the label values 1, 2, ..."""
    from monai.bundle import ConfigWorkflow

    volumes, out = work_dir / "volumes", work_dir / "out"
    volumes.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, volumes / source.name)
    after, postfix, _, _ = BUNDLES[bundle]
    names = ["inference", *overlays, *after]
    overrides = {"dataset_dir": str(volumes), "output_dir": str(out), "overwrite": True}
    if after:  # the classifier's map: every stride-th voxel
        overrides["stride"] = stride
    if ckpt_path is not None:
        overrides["ckpt_path"] = ckpt_path
    root = REPO / "bundles" / bundle
    workflow = ConfigWorkflow(
        config_file=[str(root / "configs" / f"{name}.json") for name in names],
        meta_file=str(root / "configs" / "metadata.json"),
        logging_file=str(root / "configs" / "logging.conf"),
        workflow_type="infer",
        bundle_root=str(root),
        **overrides,
    )
    start = time.perf_counter()
    workflow.initialize()
    workflow.run()
    seconds = time.perf_counter() - start
    network = type(workflow.parser.get_parsed_content("network_def")).__name__
    classes = list(workflow.parser.get_parsed_content("domain")["classes"])
    workflow.finalize()
    stem = source.name.removesuffix(".gz").removesuffix(".nii")
    # the classifier's map writes class k as k + 1 (0: not mapped); a segmentation's label 0 is its background
    names = classes if after else classes[1:]
    return out / f"{stem}_{postfix}.nii.gz", seconds, network, names


def class_fractions(labels: np.ndarray, names: list[str]) -> dict[str, float]:
    """Fraction of the mapped (non-background) voxels per class (label value 1, 2, ...)."""
    counts = np.bincount(labels[labels > 0].ravel() - 1, minlength=len(names))
    return {name: float(c / max(counts.sum(), 1)) for name, c in zip(names, counts)}


def draw(
    t1: nib.Nifti1Image,
    labels: nib.Nifti1Image,
    names: list[str],
    colours: tuple[str, ...],
    z_mm: float,
    title: str,
    output: Path,
) -> int:
    """One axial slice (the voxel row nearest world ``z_mm``) of the T1 and of its map; returns the slice index."""
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    t1 = nib.as_closest_canonical(t1)
    labels = nib.as_closest_canonical(labels)
    k = int(round(np.linalg.solve(t1.affine, [0, 0, z_mm, 1])[2]))
    k = k if 0 <= k < t1.shape[2] else t1.shape[2] // 2
    image = np.asarray(t1.dataobj)[:, :, k].T
    label = np.asarray(labels.dataobj)[:, :, k].T
    fig = Figure(figsize=(10, 5.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.imshow(image, cmap="gray", origin="lower")
    left.set_title("T1")
    right.imshow(label, cmap=ListedColormap(colours), vmin=0, vmax=len(colours) - 1, origin="lower",
                 interpolation="nearest")  # fmt: skip
    right.set_title("tissue map")
    for axis in (left, right):
        axis.set_axis_off()
    handles = [Patch(color=c, label=n) for c, n in zip(colours[1:], names)]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.suptitle(title)
    fig.get_layout_engine().set(rect=(0, 0.06, 1, 0.94))
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=100)
    return k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", choices=sorted(BUNDLES), default="sre_resnet3d_tissue")
    parser.add_argument("--input", type=Path, default=COLIN27, help="a T1 volume (default: Colin27, ch2bet)")
    parser.add_argument("--output", type=Path, help="the figure (default: the bundle's docs/*_colin27.png)")
    parser.add_argument("--stride", type=int, default=2, help="classifier map: classify every stride-th voxel")
    parser.add_argument("--overlay", action="append", default=[], help="extra bundle config, e.g. sre_resnet")
    parser.add_argument("--ckpt-path", default=None, help="weights for the network (default: the bundle's)")
    parser.add_argument("--z-mm", type=float, default=16.0, help="world z of the axial slice drawn (RAS, mm)")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the map here (default: a temp folder)")
    args = parser.parse_args()
    if not args.input.is_file():
        hint = " (apt-get install -y mricron-data)" if args.input == COLIN27 else ""
        raise SystemExit(f"input volume not found: '{args.input}'{hint}.")
    output = args.output or REPO / "bundles" / args.bundle / "docs" / BUNDLES[args.bundle][2]
    classifier = bool(BUNDLES[args.bundle][0])
    with tempfile.TemporaryDirectory() as temporary:
        work_dir = args.work_dir or Path(temporary)
        label_file, seconds, network, names = run_map(
            args.bundle, args.input, work_dir, args.stride, args.overlay, args.ckpt_path
        )
        t1, labels = nib.load(args.input), nib.load(label_file)
        fractions = class_fractions(np.asarray(labels.dataobj), names)
        how = f"16^3 patches at 2 mm, stride {args.stride}" if classifier else "sliding window at 2 mm"
        title = f"{args.input.name}: {network}, {how} ({seconds:.0f} s on CPU)"
        k = draw(t1, labels, names, BUNDLES[args.bundle][3], args.z_mm, title, output)
    print(f"map of '{args.input}' ({t1.shape}) with {network}, {how}: {seconds:.1f} s")
    print("mapped voxels per class: " + ", ".join(f"{n} {f:.3f}" for n, f in fractions.items()))
    print(f"wrote {output} (axial slice {k})")


if __name__ == "__main__":
    main()
