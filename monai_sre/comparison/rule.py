# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The rule the package's defaults follow, applied to a comparison's rows: which network to pick.

Among the compared models (those that average over many passes per input are above the cost limit and left out),
the best ``haar-64`` mean accuracy over the seeds at the largest training fraction; a lead smaller than one
standard deviation (the larger of the two models') is a tie, broken by ``haar-64`` consistency at that fraction,
and a tie on that too (within one sd) by the consistency at the smallest fraction both models have. Fewer than
:data:`SEEDS_FOR_A_CHOICE` seeds make the choice provisional.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["SEEDS_FOR_A_CHOICE", "RuleChoice", "choose_by_rule", "rule_summary"]

SEEDS_FOR_A_CHOICE = 5
ACCURACY, CONSISTENCY = "haar-64_accuracy_mean", "haar-64_consistency"


@dataclass(frozen=True)
class RuleChoice:
    """The model the rule picks, why (one sentence per step taken), and whether enough seeds back it."""

    model: str
    reasons: tuple[str, ...]
    provisional: bool


def _stats(rows: Sequence[Mapping], model: str, fraction: float, key: str) -> tuple[float, float, int]:
    values = [r[key] for r in rows if r["model"] == model and r["fraction"] == fraction and r.get(key) is not None]
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0, len(values)


def _ties(rows: Sequence[Mapping], models: Sequence[str], fraction: float, key: str) -> tuple[str, list[str]]:
    """The best of ``models`` in ``key`` at ``fraction`` and the models within one sd of it (itself included)."""
    stats = {model: _stats(rows, model, fraction, key) for model in models}
    best = max(models, key=lambda model: stats[model][0])
    tied = [m for m in models if stats[best][0] - stats[m][0] < max(stats[best][1], stats[m][1]) or m == best]
    return best, tied


def _describe(rows: Sequence[Mapping], models: Sequence[str], fraction: float, key: str) -> str:
    parts = []
    for model in models:
        mean, sd, n = _stats(rows, model, fraction, key)
        parts.append(f"{model} {mean:.3f} ± {sd:.3f} ({n} seeds)")
    return "; ".join(parts)


def choose_by_rule(rows: Sequence[Mapping], recipes: Mapping[str, Mapping] | None = None) -> RuleChoice | None:
    """The rule's choice among ``rows``' models (``None`` without rows). ``recipes`` (``results.json``'s) mark the
    models evaluated as an average over the grid symmetries (``grid_average``: 48 passes per input), which are left
    out unless nothing else was compared."""
    measured = [r for r in rows if r.get(ACCURACY) is not None]
    if not measured:
        return None
    fraction = max(r["fraction"] for r in measured)
    models = list(dict.fromkeys(r["model"] for r in measured if r["fraction"] == fraction))
    averaged = [m for m in models if (recipes or {}).get(m, {}).get("overrides", {}).get("grid_average")]
    candidates = [m for m in models if m not in averaged] or models
    reasons = []
    if averaged and len(candidates) < len(models):
        reasons.append(f"Left out above the cost limit (48 passes per input): {', '.join(averaged)}.")
    best, tied = _ties(measured, candidates, fraction, ACCURACY)
    accuracies = _describe(measured, candidates, fraction, ACCURACY)
    reasons.append(f"`haar-64` accuracy at {fraction * 100:g} % of the training data: {accuracies}.")
    if len(tied) > 1:
        reasons.append(
            f"Within one sd of the best (a tie), broken by `haar-64` consistency: "
            f"{_describe(measured, tied, fraction, CONSISTENCY)}."
        )
        best, tied = _ties(measured, tied, fraction, CONSISTENCY)
    if len(tied) > 1:
        smallest = min(set.intersection(*({r["fraction"] for r in measured if r["model"] == m} for m in tied)))
        reasons.append(
            f"A tie on consistency too, broken by the consistency at {smallest * 100:g} %: "
            f"{_describe(measured, tied, smallest, CONSISTENCY)}."
        )
        best, tied = _ties(measured, tied, smallest, CONSISTENCY)
    seeds = _stats(measured, best, fraction, ACCURACY)[2]
    return RuleChoice(best, tuple(reasons), provisional=seeds < SEEDS_FOR_A_CHOICE)


def rule_summary(rows: Sequence[Mapping], recipes: Mapping[str, Mapping] | None = None) -> str:
    """Markdown: the rule's choice and the steps that made it (empty text without rows)."""
    choice = choose_by_rule(rows, recipes)
    if choice is None:
        return ""
    note = (
        f" Provisional: fewer than {SEEDS_FOR_A_CHOICE} seeds back it; run more with `--seeds` and `--resume`."
        if choice.provisional
        else ""
    )
    return "\n".join(
        [
            f"**The rule picks {choice.model}.**{note} (The rule: best `haar-64` mean over the seeds at the largest "
            "fraction; a lead below one sd is a tie, broken by `haar-64` consistency, then by the consistency at the "
            "smallest fraction both have. Cost is for you to bound: the comparison times training only.)",
            "",
            *[f"- {reason}" for reason in choice.reasons],
        ]
    )
