# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Tables and the plot of a model comparison (``results.json`` of :class:`~monai_sre.comparison.Comparison`)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from monai_sre.comparison.rule import rule_summary

__all__ = [
    "COLUMNS",
    "STABILITY_MARGIN",
    "comparison_table",
    "mean_sd",
    "pairs_to_separate",
    "paired_differences",
    "plot_comparison",
    "t_quantile_975",
    "write_report",
]

# (header, row key, format) of the summary table
COLUMNS = (
    ("acc upright", "accuracy_upright", ".3f"),
    ("acc haar-64", "haar-64_accuracy_mean", ".3f"),
    ("worst haar-64", "haar-64_accuracy_worst", ".3f"),
    ("worst grid48", "grid48_accuracy_worst", ".3f"),
    ("consistency haar-64", "haar-64_consistency", ".3f"),
    ("consistency grid24", "grid24_consistency", ".3f"),
    ("train s", "train_seconds", ".0f"),
)


def mean_sd(values: Sequence[float | None], spec: str) -> str:
    """``mean ± sd`` of ``values`` in the format ``spec`` (sd 0 for one value); ``n/a`` when a value is missing
    (``None``: a protocol the run did not evaluate)."""
    if not values or any(value is None for value in values):
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):{spec}} ± {sd:{spec}}"


def _groups(rows: Sequence[Mapping]) -> dict[tuple[str, float], list[Mapping]]:
    """The rows by (model, fraction): models in the order they first appear, fractions ascending, seeds ascending."""
    groups: dict[tuple[str, float], list[Mapping]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["fraction"]), []).append(row)
    order = {model: index for index, model in enumerate(dict.fromkeys(row["model"] for row in rows))}
    ordered = sorted(groups.items(), key=lambda item: (order[item[0][0]], item[0][1]))
    return {key: sorted(group, key=lambda r: r["seed"]) for key, group in ordered}


# a seed further than this below its (model, fraction)'s median haar-64 accuracy is flagged (issue #23's stability line)
STABILITY_MARGIN = 0.03


def _lowest_seed(group: Sequence[Mapping]) -> str:
    """The seed furthest below the median ``haar-64`` accuracy of ``group`` and by how much, flagged beyond
    :data:`STABILITY_MARGIN`; ``n/a`` under three seeds (a median of two is their mean)."""
    if len(group) < 3:
        return "n/a"
    median = statistics.median(r["haar-64_accuracy_mean"] for r in group)
    lowest = min(group, key=lambda r: r["haar-64_accuracy_mean"])
    gap = median - lowest["haar-64_accuracy_mean"]
    flag = f" (more than {STABILITY_MARGIN * 100:g} points)" if gap > STABILITY_MARGIN else ""
    return f"s{lowest['seed']} {gap * 100:.1f} points{flag}"


def comparison_table(rows: Sequence[Mapping]) -> str:
    """Markdown: one line per (model, fraction) with mean ± sd over seeds, then each seed's ``haar-64`` accuracy and
    consistency with the seed furthest below the median (flagged when more than :data:`STABILITY_MARGIN` below)."""
    lines = [
        "| model | fraction | train items | steps | lr | seeds | " + " | ".join(c[0] for c in COLUMNS) + " |",
        "|---|---|---|---|---|---|" + "---|" * len(COLUMNS),
    ]
    per_seed = [
        "| model | fraction | haar-64 accuracy per seed | consistency haar-64 per seed | seed furthest below median |",
        "|---|---|---|---|---|",
    ]
    for (model, fraction), group in _groups(rows).items():
        first = group[0]
        cells = [mean_sd([r.get(key) for r in group], spec) for _, key, spec in COLUMNS]
        lines.append(
            f"| {model} | {fraction:g} | {first['num_train']} | {first['steps']} | {first['learning_rate']:g} | "
            f"{len(group)} | " + " | ".join(cells) + " |"
        )
        accuracy = ", ".join(f"s{r['seed']} {r['haar-64_accuracy_mean']:.3f}" for r in group)
        consistency = ", ".join(f"s{r['seed']} {r['haar-64_consistency']:.3f}" for r in group)
        per_seed.append(f"| {model} | {fraction:g} | {accuracy} | {consistency} | {_lowest_seed(group)} |")
    return "\n".join(lines) + "\n\nPer seed:\n\n" + "\n".join(per_seed)


# Student's t, 97.5 % quantile (two-sided 95 % interval), for 1 to 30 degrees of freedom
_T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_quantile_975(degrees_of_freedom: int) -> float:
    """The 97.5 % quantile of Student's t distribution: the tabulated value up to 30 degrees of freedom, above that
    the Cornish-Fisher expansion around the normal quantile (within 1e-4)."""
    if degrees_of_freedom < 1:
        raise ValueError(f"degrees_of_freedom must be at least 1, got {degrees_of_freedom}.")
    if degrees_of_freedom <= len(_T_975):
        return _T_975[degrees_of_freedom - 1]
    z, n = 1.959964, degrees_of_freedom
    return z + (z**3 + z) / (4 * n) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * n**2)


def pairs_to_separate(mean: float, sd: float, limit: int = 100) -> int | None:
    """The fewest pairs whose 95 % t interval around ``mean`` excludes 0 if their differences keep this mean and sd:
    the smallest ``n >= 2`` with ``t(n - 1) * sd / sqrt(n) < |mean|``; ``None`` beyond ``limit`` (or a zero mean).
    A planning figure, not a promise: the mean and sd of a few pairs are themselves uncertain."""
    for n in range(2, limit + 1):
        if t_quantile_975(n - 1) * sd / math.sqrt(n) < abs(mean):
            return n
    return None


def paired_differences(
    rows: Sequence[Mapping],
    reference: str,
    key: str = "haar-64_accuracy_mean",
    pairing: str = "seed (a seed draws the same training subsample for every model)",
) -> str:
    """Markdown: every other model minus ``reference`` in ``key``, paired by the rows' ``seed`` (a seed draws the
    same training subsample for every model, so the pair differs in the network and its recipe only), per fraction:
    the mean difference ± sd over the pairs, its 95 % t interval, in how many pairs the model is ahead and how many
    pairs would tell the two apart at that mean and sd (:func:`pairs_to_separate`). An interval that contains 0 means
    the pairs run cannot tell the two apart. ``pairing`` names what a pair shares in
    the header (a caller that pairs by fold puts the fold in ``seed``). Empty text when nothing pairs."""
    groups = _groups(rows)
    lines = []
    for (model, fraction), group in groups.items():
        if model == reference:
            continue
        reference_rows = {r["seed"]: r for r in groups.get((reference, fraction), [])}
        differences = [
            row[key] - reference_rows[row["seed"]][key]
            for row in group
            if row["seed"] in reference_rows and row.get(key) is not None
            and reference_rows[row["seed"]].get(key) is not None
        ]  # fmt: skip
        if not differences:
            continue
        mean, n = statistics.mean(differences), len(differences)
        if n > 1:
            sd = statistics.stdev(differences)
            half_width = t_quantile_975(n - 1) * sd / math.sqrt(n)
            spread, interval = f"{mean:+.3f} ± {sd:.3f}", f"{mean - half_width:+.3f} to {mean + half_width:+.3f}"
            needed = pairs_to_separate(mean, sd)
            enough = "more than 100" if needed is None else str(needed)
        else:
            spread, interval, enough = f"{mean:+.3f}", "n/a (one seed)", "n/a"
        ahead = sum(difference > 0 for difference in differences)
        lines.append(f"| {model} | {fraction:g} | {n} | {spread} | {interval} | {ahead} of {n} | {enough} |")
    if not lines:
        return ""
    header = [
        f"`{key}` of each model minus that of **{reference}**, paired by {pairing}: mean ± sd over the pairs, "
        "95 % t interval (one that contains 0 cannot tell the two apart), pairs in which the model is ahead, and the "
        "pairs an interval clear of 0 would take if the differences kept this mean and sd (a planning figure):",
        "",
        "| model | fraction | pairs | difference | 95 % interval | ahead in | pairs to tell apart |",
        "|---|---|---|---|---|---|---|",
    ]
    return "\n".join(header + lines)


def _learning_rates(grid: Sequence[Mapping], chosen: Mapping[str, float | None]) -> str:
    """The learning-rate grid (validation accuracy at 100 %, first seed) and the rate chosen per model."""
    fixed = [
        f"{model} {rate:g}"
        for model, rate in chosen.items()
        if rate is not None and not any(r["model"] == model for r in grid)
    ]
    text = f"Learning rates fixed by the caller: {', '.join(fixed)}.\n\n" if fixed else ""
    if not grid:
        return text.rstrip()
    lines = [
        "Learning rate per model from the grid at 100 % (first seed), by best validation accuracy:",
        "",
        "| model | learning rate | best validation accuracy | chosen |",
        "|---|---|---|---|",
    ]
    for row in grid:
        mark = "yes" if chosen.get(row["model"]) == row["learning_rate"] else ""
        lines.append(f"| {row['model']} | {row['learning_rate']:g} | {row['best_val_accuracy']:.3f} | {mark} |")
    return "\n".join(lines)


def plot_comparison(rows: Sequence[Mapping], path: str | Path) -> Path:
    """``haar-64`` accuracy and consistency against the training fraction: the mean over seeds per model (line) and
    every seed (dots), fraction on a log axis."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.2), layout="constrained")
    panels = figure.subplots(1, 2)
    groups = _groups(rows)
    models = list(dict.fromkeys(model for model, _ in groups))
    for index, model in enumerate(models):
        color = f"C{index % 10}"
        fractions = sorted(f for m, f in groups if m == model)
        for axis, key in zip(panels, ("haar-64_accuracy_mean", "haar-64_consistency")):
            means = [statistics.mean(r[key] for r in groups[(model, f)]) for f in fractions]
            axis.plot(fractions, means, "-o", color=color, label=model, markersize=4)
            for f in fractions:
                values = [r[key] for r in groups[(model, f)]]
                axis.scatter([f] * len(values), values, color=color, s=9, alpha=0.45)
    ticks = sorted({fraction for _, fraction in groups})
    for axis, label in zip(panels, ("test accuracy, mean over haar-64", "consistency under haar-64")):
        axis.set_xscale("log")
        axis.set_xticks(ticks, [f"{100 * f:g} %" for f in ticks])
        axis.minorticks_off()
        axis.set_xlabel("fraction of the training split (equal optimiser steps)")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    panels[0].legend(fontsize=7, loc="lower right")
    path = Path(path)
    figure.savefig(path, dpi=120)
    return path


def write_report(data: Mapping, output: str | Path) -> None:
    """``table.md`` (budget, learning-rate grid, summary and per-seed tables, and every model's difference to the
    reference, ``data["reference"]`` or the first row's model, paired by seed; the rule's choice,
    :func:`~monai_sre.comparison.rule.rule_summary`) and, with rows, ``comparison.png``."""
    output = Path(output)
    budget = data["budget"]
    text = [
        f"Bundle: `{data['bundle']}`. Budget: {budget['steps']} optimiser steps at every fraction "
        f"({budget['epochs_at_100']} epochs over {budget['num_train']} training items at 100 %, batch "
        f"{budget['batch_size']}), {budget['validations']} validations per run, checkpoint by best validation "
        "accuracy.",
        "",
        _learning_rates(data.get("learning_rate_grid", []), data.get("learning_rates", {})),
        "",
        comparison_table(data["rows"]) if data["rows"] else "(no rows yet)",
        "",
    ]
    reference = data.get("reference") or (data["rows"][0]["model"] if data["rows"] else None)
    for section in (
        paired_differences(data["rows"], reference) if reference is not None else "",
        rule_summary(data["rows"], data.get("recipes")),
    ):
        if section:
            text += [section, ""]
    (output / "table.md").write_text("\n".join(text))
    if data["rows"]:
        plot_comparison(data["rows"], output / "comparison.png")
