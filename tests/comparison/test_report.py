"""The comparison's report: summary and per-seed tables, differences paired by seed with their t interval."""

from __future__ import annotations

import math

import pytest

from monai_sre.comparison import comparison_table, paired_differences, write_report
from monai_sre.comparison.report import pairs_to_separate, t_quantile_975


def _row(model: str, fraction: float, seed: int, accuracy: float | None) -> dict:
    return {"model": model, "fraction": fraction, "seed": seed, "num_train": 5, "steps": 9, "learning_rate": 0.003,
            "accuracy_upright": accuracy, "haar-64_accuracy_mean": accuracy, "haar-64_accuracy_worst": accuracy,
            "grid48_accuracy_worst": accuracy, "haar-64_consistency": 0.9, "grid24_consistency": 1.0,
            "train_seconds": 3}  # fmt: skip


def test_table_lists_every_seed():
    rows = [
        {"model": "m", "fraction": 0.1, "seed": s, "num_train": 5, "steps": 9, "learning_rate": 0.003,
         "accuracy_upright": 0.5 + s / 10, "haar-64_accuracy_mean": 0.4 + s / 10, "haar-64_accuracy_worst": 0.3,
         "grid48_accuracy_worst": 0.5, "haar-64_consistency": 0.9, "grid24_consistency": 1.0, "train_seconds": 3}
        for s in (0, 1)
    ]  # fmt: skip
    table = comparison_table(rows)
    assert "| m | 0.1 | 5 | 9 | 0.003 | 2 | 0.550 ± 0.071 | 0.450 ± 0.071 |" in table
    assert "| m | 0.1 | s0 0.400, s1 0.500 | s0 0.900, s1 0.900 | n/a |" in table  # no median of two seeds
    rows[1] = {k: v for k, v in rows[1].items() if k != "grid48_accuracy_worst"}  # a run without grid48
    assert "| 0.300 ± 0.000 | n/a | 0.900 ± 0.000 |" in comparison_table(rows)


def test_the_seed_furthest_below_the_median_is_named_and_flagged_beyond_three_points():
    rows = [_row("m", 0.1, s, a) for s, a in enumerate((0.90, 0.91, 0.92, 0.85))]  # median 0.905
    assert "| s3 5.5 points (more than 3 points) |" in comparison_table(rows)
    rows = [_row("m", 0.1, s, a) for s, a in enumerate((0.90, 0.91, 0.92, 0.89))]
    assert "| s3 1.5 points |" in comparison_table(rows)


def test_t_quantiles_are_students():
    assert t_quantile_975(1) == 12.706 and t_quantile_975(4) == 2.776 and t_quantile_975(30) == 2.042
    assert t_quantile_975(40) == pytest.approx(2.0211, abs=1e-4) and t_quantile_975(120) == pytest.approx(
        1.9799, abs=1e-4
    )
    assert t_quantile_975(31) < t_quantile_975(30) and t_quantile_975(10**6) == pytest.approx(1.95996, abs=1e-4)
    with pytest.raises(ValueError, match="degrees_of_freedom must be at least 1, got 0"):
        t_quantile_975(0)


def test_differences_are_paired_by_seed_with_a_t_interval():
    reference = [_row("ref", 0.1, s, a) for s, a in enumerate((0.80, 0.90, 0.70, 0.85))]
    # seeds 0-2 shared; seed 3 only in the reference; seed 4 only in the model: neither pairs
    model = [_row("m", 0.1, s, a) for s, a in ((0, 0.82), (1, 0.95), (2, 0.71), (4, 0.99))]
    one_seed = [_row("m", 1.0, 0, 0.9), _row("ref", 1.0, 0, 0.95)]
    text = paired_differences(one_seed + reference + model, "ref")
    differences = [0.02, 0.05, 0.01]
    mean, sd = sum(differences) / 3, math.sqrt(sum((d - 0.08 / 3) ** 2 for d in differences) / 2)
    half = 4.303 * sd / math.sqrt(3)
    # 4 pairs: 3.182 * sd / 2 = 0.033 > mean; 5 pairs: 2.776 * sd / sqrt(5) = 0.026 < mean = 0.027
    row = f"| m | 0.1 | 3 | {mean:+.3f} ± {sd:.3f} | {mean - half:+.3f} to {mean + half:+.3f} | 3 of 3 | 5 |"
    assert row in text
    assert "| m | 1 | 1 | -0.050 | n/a (one seed) | 0 of 1 | n/a |" in text
    assert text.index("| m | 0.1 |") < text.index("| m | 1 |")  # fractions ascending, whatever the row order
    assert "| ref |" not in text and "minus that of **ref**, paired by seed (a seed draws the same" in text
    assert paired_differences(reference, "ref") == "" and paired_differences(model, "absent") == ""
    missing = [_row("m", 0.1, 0, None), _row("ref", 0.1, 0, 0.8)]  # a protocol the run did not evaluate
    assert paired_differences(missing, "ref") == ""


def test_pairs_to_separate_is_the_fewest_pairs_whose_interval_clears_zero():
    assert pairs_to_separate(0.03, 0.0) == 2 and pairs_to_separate(-0.03, 0.0) == 2  # any spread-free lead
    n = pairs_to_separate(0.03, 0.085)  # the tissue task's 2 % pair: a 3-point lead at that seed spread
    assert t_quantile_975(n - 1) * 0.085 / math.sqrt(n) < 0.03 <= t_quantile_975(n - 2) * 0.085 / math.sqrt(n - 1)
    assert 30 <= n <= 40
    assert pairs_to_separate(0.0, 0.01) is None and pairs_to_separate(0.001, 0.1) is None  # beyond the limit
    assert pairs_to_separate(0.001, 0.1, limit=10**5) > 100


def test_the_report_pairs_against_the_saved_reference_or_the_first_model(tmp_path):
    rows = [_row(m, 1.0, s, a) for m, s, a in (("a", 0, 0.8), ("b", 0, 0.9), ("a", 1, 0.7), ("b", 1, 0.9))]
    data = {"bundle": "b", "budget": {"steps": 9, "epochs_at_100": 1, "num_train": 5, "batch_size": 2,
            "validations": 1}, "learning_rates": {}, "rows": rows}  # fmt: skip
    write_report(data, tmp_path)
    assert (
        "that of **a**" in (tmp_path / "table.md").read_text()
        and "| b | 1 | 2 | +0.150 ± 0.071 |" in (tmp_path / "table.md").read_text()
    )
    assert "**The rule picks b.** Provisional: fewer than 5 seeds" in (tmp_path / "table.md").read_text()
    write_report({**data, "reference": "b"}, tmp_path)
    assert "| a | 1 | 2 | -0.150 ± 0.071 |" in (tmp_path / "table.md").read_text()
    write_report({**data, "rows": []}, tmp_path)
    assert "paired by" not in (tmp_path / "table.md").read_text()
