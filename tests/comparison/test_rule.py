"""The rule the defaults follow, applied to a comparison's rows: a clear lead, a tie broken by consistency, a
double tie broken at the smallest fraction, grid averaging left out, too few seeds flagged."""

from __future__ import annotations

from monai_sre.comparison import choose_by_rule, rule_summary


def _rows(model: str, fraction: float, accuracies, consistencies) -> list[dict]:
    return [
        {"model": model, "fraction": fraction, "seed": seed, "haar-64_accuracy_mean": a, "haar-64_consistency": c}
        for seed, (a, c) in enumerate(zip(accuracies, consistencies))
    ]


FIVE_LOW = [0.60, 0.61, 0.62, 0.63, 0.64]  # consistency, mean 0.62, sd 0.016


def test_a_lead_larger_than_one_sd_picks_the_most_accurate_model():
    rows = [
        *_rows("plain", 1.0, [0.90, 0.91, 0.92, 0.91, 0.91], [0.9] * 5),
        *_rows("group", 1.0, [0.93, 0.94, 0.935, 0.936, 0.934], FIVE_LOW),
        *_rows("group", 0.05, [0.5] * 5, FIVE_LOW),  # other fractions do not decide when the lead is clear
    ]
    choice = choose_by_rule(rows)
    assert (choice.model, choice.provisional, len(choice.reasons)) == ("group", False, 1)
    assert "at 100 % of the training data: plain 0.910 ± 0.007 (5 seeds); group 0.935 ± 0.004" in choice.reasons[0]


def test_a_tie_on_accuracy_is_broken_by_consistency_then_by_the_smallest_shared_fraction():
    accurate = [0.90, 0.95, 0.92, 0.93, 0.94]  # mean 0.928, sd 0.019
    close = [0.91, 0.92, 0.92, 0.91, 0.915]  # mean 0.915: 1.3 points behind, within one sd
    rows = [*_rows("a", 1.0, accurate, FIVE_LOW), *_rows("b", 1.0, close, [0.80, 0.81, 0.82, 0.83, 0.84])]
    choice = choose_by_rule(rows)
    assert choice.model == "b" and "broken by `haar-64` consistency: a 0.620 ± 0.016" in choice.reasons[1]
    level = [*_rows("a", 1.0, accurate, FIVE_LOW), *_rows("b", 1.0, close, [0.61, 0.62, 0.63, 0.62, 0.62])]
    level += [*_rows("a", 0.05, [0.8] * 5, [0.5] * 5), *_rows("b", 0.05, [0.8] * 5, [0.7] * 5)]
    level += _rows("a", 0.02, [0.7] * 5, [0.9] * 5)  # only one model has 2 %: not shared, not used
    choice = choose_by_rule(level)
    assert choice.model == "b" and "broken by the consistency at 5 %: a 0.500 ± 0.000" in choice.reasons[2]


def test_grid_averaged_models_are_above_the_cost_limit_and_few_seeds_make_a_choice_provisional():
    rows = [*_rows("plain", 1.0, [0.90, 0.91], [0.7, 0.7]), *_rows("plain, averaged", 1.0, [0.95, 0.96], [0.9, 0.9])]
    recipes = {"plain, averaged": {"overrides": {"grid_average": True}}, "plain": {"overrides": {}}}
    choice = choose_by_rule(rows, recipes)
    assert choice.model == "plain" and choice.provisional and "cost limit" in choice.reasons[0]
    assert choose_by_rule(rows).model == "plain, averaged"  # without recipes nothing says it averages
    only_averaged = _rows("plain, averaged", 1.0, [0.95], [0.9])
    assert choose_by_rule(only_averaged, recipes).model == "plain, averaged"  # nothing else to pick
    summary = rule_summary(rows, recipes)
    assert summary.startswith("**The rule picks plain.** Provisional: fewer than 5 seeds")
    assert rule_summary([]) == "" and choose_by_rule([{"model": "m", "fraction": 1.0, "seed": 0}]) is None
