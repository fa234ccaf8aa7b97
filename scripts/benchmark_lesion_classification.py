# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The fair comparison on a second real task: lesion against background crops of pyradiomics' five patient
volumes, one fold per held-out patient, through the generic classification bundle.

For each fold ``K`` (``scripts/build_classification_example.py --lesions SDIST --fold K``: test patient ``K``,
validation the next one, training the other three) the script builds the example (``--per-patient`` crops per
class and patient) and runs :class:`~monai_sre.comparison.Comparison` on it at 100 % of the training split with
one seed: every model's learning rate is chosen from the grid on that fold's validation patient, the checkpoint
by validation accuracy, and the test patient is evaluated upright, under ``haar-64``, ``grid48`` and ``grid24``.
The grid-averaged plain network (``plain_resnet_light+so3+grid``) trains exactly as ``plain_resnet_light+so3``
(its validation is the network's own), so it evaluates that model's checkpoint (with its rate) instead of training
again.

Each fold writes ``OUTPUT/foldK/{results.json,table.md,comparison.png}`` row by row (resumable); ``OUTPUT/table.md``
is the mean ± sd over the folds done, then every fold's ``haar-64`` accuracy, then every model's difference to the
bundles' default recipe (the first of :data:`MODELS`) paired by fold.

Usage::

    pip download --no-deps --no-build-isolation pyradiomics==3.0.1 -d /tmp/pyradiomics
    python scripts/benchmark_lesion_classification.py --sdist /tmp/pyradiomics/pyradiomics-3.0.1.tar.gz \\
        --output results/lesion_classification_cpu --folds 0 1 2 --work-dir /tmp/lesion_runs
    python scripts/benchmark_lesion_classification.py --output results/lesion_classification_cpu --report-only
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from build_classification_example import FOLD_ORDER, LESION_CLASSES, build_lesion_example

from monai_sre.comparison import Comparison
from monai_sre.comparison.datalist import parse_model, parse_models
from monai_sre.comparison.report import COLUMNS, mean_sd, paired_differences
from monai_sre.runs import bundle_root

REPO = Path(__file__).resolve().parents[1]
MODELS = (
    "group_resnet_light+so3=0.5",  # the bundles' default recipe (since 0.2.0 / 0.4.0): the summary's reference
    "plain_resnet_light",
    "plain_resnet_light+so3",
    "sre_resnet_light",
    "sre_resnet_light+so3",
    "group_resnet_light",
    "group_resnet_light+so3",
)
AVERAGED = "plain_resnet_light+so3+grid"  # evaluates plain_resnet_light+so3's checkpoint, averaged over the grid


def run_fold(
    sdist: Path,
    output: Path,
    work_dir: Path,
    fold: int,
    models: Sequence[str],
    per_patient: int = 16,
    **options,
) -> None:
    """Build fold ``fold``'s example into ``work_dir`` and run (or resume) its comparison into ``output``;
    ``options`` go to :class:`~monai_sre.comparison.Comparison` (``epochs``, ``lr_grid``, ``validations``...)."""
    example = work_dir / f"fold{fold}" / "example"
    if not (example / "datalist.json").is_file():
        build_lesion_example(sdist, example, per_patient=per_patient, fold=fold, overwrite=True)
    training = json.loads((example / "datalist.json").read_text())["training"]
    if len(training) != 3 * len(LESION_CLASSES) * per_patient:  # three training patients
        raise ValueError(
            f"'{example}' holds {len(training)} training crops, built with another --per-patient than {per_patient}: "
            "choose another --work-dir (and --output), or run with the --per-patient it was built with."
        )
    common = {
        "datalist": str((example / "datalist.json").resolve()),
        "num_classes": len(LESION_CLASSES),
        "class_names": list(LESION_CLASSES),
        "work_dir": work_dir / f"fold{fold}" / "runs",
        "resume": True,
        **options,
    }
    listed = parse_models(models)  # with the source of the grid-averaged model, whose checkpoints it evaluates
    Comparison(bundle_root("sre_classification"), output / f"fold{fold}", listed, [1.0], [0], **common).run()


def fold_table(rows_by_fold: Mapping[int, Sequence[Mapping]]) -> str:
    """Markdown: mean ± sd over folds per model, then each fold's ``haar-64`` accuracy and consistency."""
    models: dict[str, dict[int, Mapping]] = {}
    for fold, rows in sorted(rows_by_fold.items()):
        for row in rows:
            models.setdefault(row["model"], {})[fold] = row
    lines = [
        "| model | folds | lr per fold | " + " | ".join(c[0] for c in COLUMNS) + " |",
        "|---|---|---|" + "---|" * len(COLUMNS),
    ]
    per_fold = ["| model | haar-64 accuracy per fold | consistency haar-64 per fold |", "|---|---|---|"]
    for model, folds in models.items():
        rows = list(folds.values())
        rates = ", ".join(f"{r['learning_rate']:g}" for r in rows)
        cells = [mean_sd([r[key] for r in rows], spec) for _, key, spec in COLUMNS]
        lines.append(f"| {model} | {len(rows)} | {rates} | " + " | ".join(cells) + " |")
        accuracy = ", ".join(f"f{k} {r['haar-64_accuracy_mean']:.3f}" for k, r in folds.items())
        consistency = ", ".join(f"f{k} {r['haar-64_consistency']:.3f}" for k, r in folds.items())
        per_fold.append(f"| {model} | {accuracy} | {consistency} |")
    tested = ", ".join(f"f{k} {FOLD_ORDER[k]}" for k in sorted(rows_by_fold))
    return (
        f"Lesion against background, one seed per fold, 100 % of each fold's training split. Test patient per fold: "
        f"{tested}.\n\n" + "\n".join(lines) + "\n\nPer fold:\n\n" + "\n".join(per_fold) + "\n"
    )


def write_summary(output: Path) -> str:
    """``OUTPUT/table.md`` from every ``OUTPUT/foldK/results.json``; its text."""
    rows_by_fold = {
        int(path.parent.name.removeprefix("fold")): json.loads(path.read_text())["rows"]
        for path in sorted(output.glob("fold*/results.json"))
    }
    if not rows_by_fold:
        raise FileNotFoundError(f"no fold*/results.json under '{output}'.")
    text = fold_table(rows_by_fold)
    by_fold = [{**row, "seed": fold} for fold, rows in rows_by_fold.items() for row in rows]
    paired = paired_differences(by_fold, parse_model(MODELS[0]).name, pairing="fold (the same patients)")
    text += f"\n{paired}\n" if paired else ""
    (output / "table.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sdist", type=Path, help="pyradiomics 3.0.1 sdist (.tar.gz) or a folder of its data/")
    parser.add_argument("--output", type=Path, default=REPO / "runs" / "lesion_classification")
    parser.add_argument("--work-dir", type=Path, default=None, help="examples and runs (default: OUTPUT/work)")
    parser.add_argument("--folds", type=int, nargs="+", default=list(range(len(FOLD_ORDER))))
    parser.add_argument("--models", nargs="+", default=[*MODELS, AVERAGED], help="model specs (see compare)")
    parser.add_argument("--per-patient", type=int, default=16, help="crops per class and patient")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: the bundle's)")
    parser.add_argument("--lr-grid", type=float, nargs="+", default=[0.001, 0.003, 0.01])
    parser.add_argument("--report-only", action="store_true", help="rewrite OUTPUT/table.md only")
    args = parser.parse_args()
    if not args.report_only:
        if args.sdist is None:
            parser.error("--sdist is required unless --report-only.")
        work_dir = args.work_dir or args.output / "work"
        options = {"epochs": args.epochs, "lr_grid": args.lr_grid}
        bad = [fold for fold in args.folds if not 0 <= fold < len(FOLD_ORDER)]
        if bad:
            parser.error(f"--folds must be between 0 and {len(FOLD_ORDER) - 1}, got {bad}.")
        try:
            for fold in args.folds:
                run_fold(args.sdist, args.output, work_dir, fold, args.models, args.per_patient, **options)
        except (FileNotFoundError, ValueError) as error:
            parser.error(str(error))
    try:
        print(write_summary(args.output))
    except FileNotFoundError as error:
        parser.error(str(error))


if __name__ == "__main__":
    main()
