"""The fair comparison end to end on real volumes: the generic bundle's example datalist (NIfTI crops of the MNI
template, 6/2/2 per class), tiny budgets."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from monai_sre.comparison import ComparedModel, Comparison
from monai_sre.comparison.datalist import compare_on_datalist, parse_model, parse_models
from monai_sre.data import load_classification_datalist
from monai_sre.data.subsets import balanced_indices
from monai_sre.runs import bundle_root
from monai_sre.transforms import RandSO3RotateCropd


@pytest.fixture(scope="module")
def example(classification_example) -> Path:
    return classification_example / "datalist.json"


@pytest.fixture(scope="module")
def compared(example, tmp_path_factory) -> Path:
    """``python -m monai_sre compare`` as a user runs it: one model (half its training samples rotated), a
    learning-rate grid, two fractions, two seeds."""
    output = tmp_path_factory.mktemp("compare") / "out"
    command = [
        sys.executable, "-m", "monai_sre", "compare", "--datalist", str(example), "--num_classes", "4",
        "--models", "sre_resnet_light+so3=0.5", "--seeds", "0,1", "--fractions", "0.5,1", "--epochs", "2",
        "--lr_grid", "0.001,0.01", "--validations", "2", "--output", str(output),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return output


def test_every_fraction_gets_the_same_steps_and_the_grid_picks_on_validation(compared):
    data = json.loads((compared / "results.json").read_text())
    rows = data["rows"]
    assert {(r["fraction"], r["seed"]) for r in rows} == {(0.5, 0), (0.5, 1), (1.0, 0), (1.0, 1)}
    assert {r["steps"] for r in rows} == {data["budget"]["steps"]} == {4}  # 2 epochs x 2 batches of 16 at 100 %
    assert {r["num_train"] for r in rows} == {12, 24} and {r["epochs"] for r in rows if r["fraction"] == 0.5} == {4}
    grid = {r["learning_rate"]: r["best_val_accuracy"] for r in data["learning_rate_grid"]}
    assert set(grid) == {0.001, 0.01} and all(r["seed"] == 0 for r in data["learning_rate_grid"])
    chosen = max(grid, key=lambda rate: (grid[rate], -rate))
    assert data["learning_rates"] == {"sre_resnet_light, SO(3) augmentation of 50 % of samples": chosen}
    assert data["reference"] == "sre_resnet_light, SO(3) augmentation of 50 % of samples"  # the first model
    assert {r["learning_rate"] for r in rows} == {chosen}
    for row in rows:  # an exactly invariant network: the same class under the 24 grid rotations, always
        assert row["grid24_consistency"] == 1.0 and row["grid48_accuracy_worst"] == pytest.approx(
            row["accuracy_upright"]
        )
        assert 0 <= row["haar-64_consistency"] <= 1 and row["haar-64_accuracy_worst"] <= row["haar-64_accuracy_mean"]
    table = (compared / "table.md").read_text()
    assert (
        "| sre_resnet_light, SO(3) augmentation of 50 % of samples | 0.5 | 12 | 4 |" in table and "Per seed:" in table
    )
    assert (compared / "comparison.png").stat().st_size > 10_000


def test_an_existing_comparison_is_refused_without_resume_and_resumed_with_it(compared, example):
    common = dict(datalist=str(example), num_classes=4, models=["sre_resnet_light+so3=0.5"], seeds=[0, 1, 2],
                  fractions=[0.5, 1], epochs=2, lr_grid=[0.001, 0.01], validations=2, output=str(compared))  # fmt: skip
    with pytest.raises(ValueError, match="holds an earlier comparison; pass resume=True"):
        compare_on_datalist(**common)
    before = json.loads((compared / "results.json").read_text())
    compare_on_datalist(**common, resume=True)  # adds seed 2 only; the grid is not trained again
    after = json.loads((compared / "results.json").read_text())
    assert after["rows"][:4] == before["rows"] and {r["seed"] for r in after["rows"][4:]} == {2}
    assert after["learning_rate_grid"] == before["learning_rate_grid"]


def test_a_resumed_comparison_refuses_rows_made_another_way_and_names_the_difference(compared, example, tmp_path):
    common = dict(datalist=str(example), num_classes=4, models=["sre_resnet_light+so3=0.5"], seeds=[0, 1],
                  fractions=[0.5, 1], epochs=2, lr_grid=[0.001, 0.01], validations=2, output=str(compared))  # fmt: skip
    name = "sre_resnet_light, SO(3) augmentation of 50 % of samples"
    saved = json.loads((compared / "results.json").read_text())
    assert saved["recipes"][name] == {
        "overrides": {"model_name": "sre_resnet_light"},
        "augment": True,
        "training_overrides": {"rotation_prob": 0.5},
        "trained_as": None,
    }
    assert saved["common"] == {"datalist": str(example.resolve()), "num_classes": 4}
    with pytest.raises(ValueError, match=r"made with the budget .*'epochs_at_100': 2.*\(now .*'epochs_at_100': 3"):
        compare_on_datalist(**{**common, "epochs": 3}, resume=True)
    with pytest.raises(ValueError, match=r"common overrides .*\(now .*'weight_averaging_decay': 0.9"):
        compare_on_datalist(**common, resume=True, weight_averaging_decay=0.9)
    every_sample = replace(parse_model("sre_resnet_light+so3=0.5"), training_overrides={"rotation_prob": 1.0})
    options = dict(fractions=[0.5, 1], seeds=[0, 1], epochs=2, validations=2, datalist=str(example.resolve()),
                   num_classes=4, resume=True)  # fmt: skip
    bundle = bundle_root("sre_classification")
    with pytest.raises(
        ValueError, match=re.escape(f"model '{name}' as {saved['recipes'][name]}") + ".*rotation_prob': 1"
    ):
        Comparison(bundle, compared, [every_sample], **options)  # another share of rotated samples, same name
    assert not (compared / "results.json.partial").exists()  # saved beside, then renamed over
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "results.json").write_text((compared / "results.json").read_text()[:500])  # a file cut in half
    with pytest.raises(ValueError, match=re.escape(f"{cut / 'results.json'} is not valid JSON")):
        Comparison(bundle, cut, [parse_model("sre_resnet_light+so3=0.5")], **options)
    resumed = Comparison(bundle, compared, [parse_model("sre_resnet_light+so3=0.5")], **options, device="cpu")
    assert resumed.rows == saved["rows"]  # where a run is placed is not part of its recipe
    assert json.loads((compared / "results.json").read_text()) == saved  # a refused resume changes nothing
    (tmp_path / "results.json").write_text(json.dumps(saved))
    other = ComparedModel("other", {"model_name": "plain_resnet_light"})
    Comparison(bundle, tmp_path, [other], **options, learning_rates={"other": 0.003})._save()  # another model only
    resaved = json.loads((tmp_path / "results.json").read_text())
    assert resaved["learning_rates"] == {**saved["learning_rates"], "other": 0.003} and resaved["reference"] == "other"
    assert set(resaved["recipes"]) == {name, "other"} and resaved["rows"] == saved["rows"]


def test_models_are_registry_names_with_optional_augmentation_and_grid_averaging_suffixes():
    model = parse_model("plain_resnet_light+so3")
    assert (model.overrides, model.augment) == ({"model_name": "plain_resnet_light"}, True)
    assert model.training_overrides == {"rotation_prob": 1.0}  # every sample, whatever the bundle's default
    unrotated = parse_model("group_resnet_light")
    assert unrotated.augment is False and not unrotated.training_overrides
    averaged = parse_model("plain_resnet_light+so3+grid")
    assert averaged.overrides == {"model_name": "plain_resnet_light", "grid_average": True} and averaged.augment
    assert averaged.name == "plain_resnet_light, SO(3) augmentation, grid-averaged (48 passes)"
    assert averaged.trained_as == model.name and model.trained_as is None  # it evaluates its source's checkpoints
    assert parse_model("plain_resnet_light+grid").augment is False
    with pytest.raises(ValueError, match="unknown model 'sre_unet_light'.*group_resnet_light"):
        parse_model("sre_unet_light")  # a segmentation network
    for bad in ("plain_resnet_light+so4", "plain_resnet_light+so3+so3", "plain_resnet_light+grid=0.5",
                "plain_resnet_light+so3=0.5+so3"):  # fmt: skip
        with pytest.raises(ValueError, match=re.escape(f"model '{bad}'") + ".*at most once"):
            parse_model(bad)


def test_a_share_of_rotated_samples_changes_training_only():
    half = parse_model("group_resnet_light+so3=0.5")
    assert half.name == "group_resnet_light, SO(3) augmentation of 50 % of samples" and half.augment
    assert (half.overrides, half.training_overrides) == ({"model_name": "group_resnet_light"}, {"rotation_prob": 0.5})
    assert parse_model("group_resnet_light+so3=1").name == parse_model("group_resnet_light+so3").name
    averaged = parse_model("group_resnet_light+so3=0.5+grid")
    assert averaged.trained_as == half.name and not averaged.training_overrides  # it evaluates half's checkpoints
    for bad, value in (("0", "'0'"), ("1.5", "'1.5'"), ("half", "'half'")):
        with pytest.raises(ValueError, match=rf"share of rotated samples must be in \(0, 1\], got {value}"):
            parse_model(f"group_resnet_light+so3={bad}")


def test_a_grid_averaged_spec_brings_its_source_once():
    names = [m.name for m in parse_models(["plain_resnet_light+so3+grid", "group_resnet_light+so3"])]
    assert names == [
        "plain_resnet_light, SO(3) augmentation, grid-averaged (48 passes)",
        "group_resnet_light, SO(3) augmentation",
        "plain_resnet_light, SO(3) augmentation",
    ]
    listed = parse_models(["plain_resnet_light+so3", "plain_resnet_light+grid+so3", "plain_resnet_light+so3+grid"])
    assert [m.name for m in listed] == [names[2], names[0]]


SOURCE = ComparedModel("plain", {"model_name": "plain_resnet_light"})
AVERAGED = ComparedModel("averaged", {"model_name": "plain_resnet_light", "grid_average": True}, True, "plain")


@pytest.mark.parametrize(
    "kwargs, pattern",
    [({"models": []}, "non-empty list of distinct"), ({"fractions": [0.0]}, r"fractions\[0\] must be a number in \(0, 1\], got 0.0"),
     ({"seeds": []}, "at least one seed"),
     ({"models": [AVERAGED]}, "model 'averaged': trained_as 'plain' must name another model of the comparison"),
     ({"models": [SOURCE, replace(AVERAGED, trained_as="averaged")]}, "trained_as 'averaged' must name another"),
     ({"models": [SOURCE, AVERAGED, replace(AVERAGED, name="twice", trained_as="averaged")]},
      r"model 'twice'.*that trains itself, one of \['plain'\]"),
     ({"protocols": ["grid48"]}, r"subset of \['haar-64', 'grid48', 'grid24'\] that includes 'haar-64', got \['grid48'\]"),
     ({"protocols": ["haar-64", "grid12"]}, "got \\['haar-64', 'grid12'\\]")],
)  # fmt: skip
def test_bad_comparisons_raise_naming_the_value(kwargs, pattern, tmp_path):
    arguments = {"models": [parse_model("sre_resnet_light")], **kwargs}
    with pytest.raises(ValueError, match=pattern):
        Comparison(bundle_root("sre_classification"), tmp_path, **arguments)


def test_a_grid_averaged_model_evaluates_its_sources_checkpoint_under_the_chosen_protocols(example, tmp_path):
    common = {"datalist": str(example), "num_classes": 4, "fractions": [1.0], "seeds": [0], "epochs": 1}
    comparison = Comparison(
        bundle_root("sre_classification"), tmp_path, [AVERAGED, SOURCE], **common, validations=1,
        learning_rates={"plain": 0.003}, protocols=["haar-64"],
    )  # fmt: skip
    source_row, averaged_row = comparison.run(models=["averaged"])  # the source trains first, with its row
    assert (source_row["model"], averaged_row["model"]) == ("plain", "averaged")
    for key in ("learning_rate", "train_seconds", "best_val_accuracy", "params", "steps"):
        assert averaged_row[key] == source_row[key]
    assert not any(key.startswith(("grid48", "grid24")) for key in (*source_row, *averaged_row))
    assert not (tmp_path / "runs" / "averaged" / "f1" / "seed0" / "train" / "models").exists()  # nothing trained
    report = json.loads(
        (tmp_path / "runs" / "averaged" / "f1" / "seed0" / "eval" / "robustness_haar-64.json").read_text()
    )
    assert report["summary"]["accuracy_mean"] == averaged_row["haar-64_accuracy_mean"]
    assert (
        "| averaged | 1 | 24 |" in (tmp_path / "table.md").read_text()
        and "| n/a |" in (tmp_path / "table.md").read_text()
    )
    assert json.loads((tmp_path / "results.json").read_text())["learning_rates"] == {"plain": 0.003}
    resumed = Comparison(
        bundle_root("sre_classification"), tmp_path, [AVERAGED, SOURCE], **common, validations=1,
        learning_rates={"plain": 0.003}, protocols=["haar-64"], work_dir=tmp_path / "elsewhere", resume=True,
    )  # fmt: skip
    with pytest.raises(
        FileNotFoundError, match=r"'averaged' evaluates the checkpoint of 'plain' \(fraction 1, seed 0\)"
    ):
        resumed.run_one(AVERAGED, 1.0, 0)  # the source's row is kept, its run folder is not: never silently retrain


def test_a_fixed_subset_seed_trains_every_seed_on_one_subsample(example, tmp_path):
    fixed = ComparedModel("fixed", {"model_name": "plain_resnet_light", "subset_seed": 1})
    comparison = Comparison(
        bundle_root("sre_classification"), tmp_path, [SOURCE, fixed], fractions=[0.5], seeds=[0, 1], epochs=1,
        validations=1, learning_rates={"plain": 0.003, "fixed": 0.003}, datalist=str(example), num_classes=4,
    )  # fmt: skip
    labels = comparison.labels
    for model, seed, drawn_with in ((SOURCE, 0, 0), (fixed, 0, 1), (fixed, 1, 1)):
        run = comparison._train(model, 0.5, seed, 0.003, tmp_path / model.name / str(seed), ["haar-64"])
        assert sorted(run.trainer.data_loader.dataset.indices) == sorted(balanced_indices(labels, 0.5, drawn_with))
    assert sorted(balanced_indices(labels, 0.5, 0)) != sorted(balanced_indices(labels, 0.5, 1))


def test_training_overrides_change_the_training_run_but_not_the_evaluation_of_its_checkpoint(example, tmp_path):
    selected_on_two = ComparedModel(
        "two",
        {"model_name": "plain_resnet_light"},
        training_overrides={"validate#dataset#data": "$@validate#datalist[:2]", "rotation_prob": 0.25},
    )
    comparison = Comparison(
        bundle_root("sre_classification"), tmp_path, [selected_on_two], fractions=[1.0], seeds=[0], epochs=1,
        validations=1, learning_rates={"two": 0.003}, datalist=str(example), num_classes=4, rotation_prob=1.0,
    )  # fmt: skip
    run = comparison._train(selected_on_two, 1.0, 0, 0.003, tmp_path / "run", ["haar-64"])
    assert len(run.validator.data_loader.dataset) == 2
    # a key of every run (rotation_prob) that the training overrides too: the training's value wins
    (rotation,) = [t for t in run.trainer.data_loader.dataset.transform.transforms if isinstance(t, RandSO3RotateCropd)]
    assert rotation.prob == 0.25
    tested = run.evaluate.parser.get_parsed_content("validate#evaluator").data_loader.dataset
    assert len(tested) == len(load_classification_datalist(example, "test", num_classes=4)) > 2
