# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""``convert-bundle`` on a model-zoo-layout classifier (MONAI DenseNet121 trained on real volumes): the new bundle's
network is exactly invariant to the grid symmetries, it trains one epoch and evaluates with its own configs; and
what the command refuses."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
import torch
from monai.bundle import ConfigParser

from monai_sre.__main__ import main
from monai_sre.audit import convert_bundle, train_configs
from monai_sre.groups import apply_grid_symmetry, grid_group
from monai_sre.networks.weights import load_weights
from tests.audit.conftest import DENSENET, INFERENCE, METADATA, TRAIN, run_workflow, small_cpu, write_bundle

RTOL = 1e-4  # float32 round-off, relative to the largest logit

pytestmark = pytest.mark.usefixtures("no_onednn")  # see small_cpu


@pytest.fixture(scope="module")
def converted(densenet_bundle, tmp_path_factory):
    """The DenseNet bundle converted both ways with SO(3) augmentation: SRE through the command line, group in
    Python; each trained for one epoch by its own train.json."""
    out = {}
    root = tmp_path_factory.mktemp("converted")
    args = ["convert-bundle", str(densenet_bundle), "--to", "sre", "--output", str(root / "sre"), "--augment", "so3"]
    printed = io.StringIO()
    with small_cpu(), contextlib.redirect_stdout(printed):
        assert main(args) == 0
        result = convert_bundle(densenet_bundle, to="group", output=root / "group", augment="so3")
    assert result.output == str(root / "group")
    out = {"sre": root / "sre", "group": root / "group", "printed": printed.getvalue()}
    for to in ("sre", "group"):
        run_workflow(out[to], ["train.json"])
    return out


def _parser(bundle, names=("train.json",)) -> ConfigParser:
    parser = ConfigParser()
    parser.read_meta(str(bundle / "configs" / "metadata.json"))
    parser.read_config([str(bundle / "configs" / n) for n in names])
    parser["bundle_root"] = str(bundle)
    return parser


@pytest.mark.parametrize("to", ["sre", "group"])
def test_new_bundle_files(converted, densenet_bundle, to):
    bundle = converted[to]
    train = json.loads((bundle / "configs" / "train.json").read_text())
    assert train["network_def"] == {"_target_": "monai_sre.audit.converted_network", "to": to, "network": DENSENET}
    # the training crop became the fused rotation + crop; validation is as it was
    rotate = train["train"]["preprocessing"]["transforms"][2]
    assert rotate == {
        "_target_": "monai_sre.transforms.RandSO3RotateCropd",
        "keys": ["image"],
        "roi_size": [30, 30, 30],
        "prob": 1.0,
        "mode": ["bilinear"],
        "padding_mode": "zeros",
    }
    source = json.loads((densenet_bundle / "configs" / "train.json").read_text())
    assert train["validate"] == source["validate"]
    assert {k: v for k, v in train.items() if k not in ("network_def", "train")} == {
        k: v for k, v in source.items() if k not in ("network_def", "train")
    }
    evaluate = (bundle / "configs" / "evaluate.json").read_bytes()
    assert evaluate == (densenet_bundle / "configs" / "evaluate.json").read_bytes()  # untouched
    meta = json.loads((bundle / "configs" / "metadata.json").read_text())
    assert meta["version"] == "0.3.0" and list(meta["changelog"])[:2] == ["0.3.0", "0.2.1"]
    entry = meta["changelog"]["0.3.0"]
    assert "'zoo-style DenseNet121 tissue classifier' 0.2.1" in entry and f"convert_to_{to}" in entry
    assert "RandSO3RotateCropd" in entry and "weights not shipped" in entry
    assert "monai-sre" in meta["required_packages_version"]
    report = json.loads((bundle / "docs" / "conversion_report.json").read_text())
    assert report["weights_copied"] is False and report["limits"] == []
    assert report["symmetry"]["symmetries"] == 48 and report["symmetry"]["exact"] is True
    assert report["symmetry"]["max_relative_error"] < RTOL
    readme = (bundle / "docs" / "README.md").read_text()
    assert (
        "must be trained" in readme and "python -m monai.bundle run --config_file \"['configs/train.json']\"" in readme
    )
    assert (bundle / "docs" / "conversion_report.md").read_text().startswith("# Conversion report")
    # trained by its own train.json: the validation's saver wrote the weights
    assert (bundle / "models" / "model.pt").is_file()


def test_weights_decision(converted):
    sre = json.loads((converted["sre"] / "docs" / "conversion_report.json").read_text())
    group = json.loads((converted["group"] / "docs" / "conversion_report.json").read_text())
    assert "projects each dense kernel" in sre["weights_reason"] and sre["weights_difference"] > 1e-2
    assert "afresh" in group["weights_reason"] and group["weights_difference"] is None


@pytest.mark.parametrize("to", ["sre", "group"])
def test_trained_network_is_invariant_to_the_24_rotations(converted, to):
    """Logits of real test volumes (the bundle's own preprocessing and trained weights) under the 24 rotations of
    the cube equal the upright ones to float32 round-off."""
    bundle = converted[to]
    parser = _parser(bundle, ["train.json", "evaluate.json"])
    network = load_weights(bundle / "models" / "model.pt", parser.get_parsed_content("network_def"))
    network.eval()
    images = next(iter(parser.get_parsed_content("validate#dataloader")))["image"][:2].as_subclass(torch.Tensor)
    rotations = grid_group("O").elements
    assert len(rotations) == 24
    with torch.no_grad():
        upright = network(images)
        rotated = network(torch.cat([apply_grid_symmetry(images, r) for r in rotations]))
    error = (rotated - upright.repeat(len(rotations), 1)).abs().max() / upright.abs().max()
    assert error < RTOL, float(error)


@pytest.mark.parametrize("to", ["sre", "group"])
def test_converted_bundle_evaluates(converted, to):
    """The evaluation of the source layout (train.json + evaluate.json) runs on the trained converted bundle."""
    workflow = run_workflow(converted[to], ["train.json", "evaluate.json"], "eval")
    accuracy = workflow.parser.get_parsed_content("validate#evaluator").state.metrics["val_accuracy"]
    assert 0.0 <= accuracy <= 1.0


def test_command_line_summary(converted):
    printed = converted["printed"]
    assert "network_def -> convert_to_sre" in printed and "augmentation: RandSO3RotateCropd" in printed
    assert "symmetry: invariance under the 48 grid symmetries of Oh" in printed and ": exact" in printed
    assert "weights: not copied" in printed and "python -m monai.bundle run" in printed


# what it refuses --------------------------------------------------------------------------------------------


def _cheap_bundle(classification_example, folder, configs=None):
    """A zoo-layout bundle (MONAI ResNet) that is never trained: refusals come before any weights are read."""
    return write_bundle(folder, classification_example, configs or {"train.json": TRAIN, "inference.json": INFERENCE})


def test_refuses_in_place_and_non_empty_outputs(classification_example, tmp_path, capsys):
    bundle = _cheap_bundle(classification_example, tmp_path / "b")
    with pytest.raises(ValueError, match="is the source bundle: convert-bundle never writes in place"):
        convert_bundle(bundle, output=bundle)
    with pytest.raises(ValueError, match="lies inside the source bundle"):
        convert_bundle(bundle, output=bundle / "configs" / "new")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    with pytest.raises(FileExistsError, match="exists and is not an empty folder"):
        convert_bundle(bundle, output=tmp_path / "full")
    with pytest.raises(ValueError, match="--output NEW_DIR is required"):
        convert_bundle(bundle)
    assert main(["convert-bundle", str(bundle), "--to", "sre", "--output", str(bundle)]) == 1
    assert "never writes in place" in capsys.readouterr().err


def test_refuses_unknown_choices(classification_example, tmp_path):
    bundle = _cheap_bundle(classification_example, tmp_path / "b")
    with pytest.raises(ValueError, match="--to must be one of \\['group', 'sre'\\]"):
        convert_bundle(bundle, to="e2cnn", output=tmp_path / "n")
    with pytest.raises(ValueError, match="--augment must be one of \\['none', 'so3'\\]"):
        convert_bundle(bundle, output=tmp_path / "n", augment="so2")
    with pytest.raises(ValueError, match="unknown option\\(s\\) \\['--space'\\] for --to sre"):
        convert_bundle(bundle, output=tmp_path / "n", space="axes")
    assert not (tmp_path / "n").exists()


def test_refuses_unknown_layouts(classification_example, tmp_path):
    # no training config
    bundle = _cheap_bundle(classification_example, tmp_path / "a", {"inference.json": INFERENCE})
    with pytest.raises(FileNotFoundError, match="has no train.json: a converted network must be trained"):
        convert_bundle(bundle, output=tmp_path / "n")
    # no network_def
    train = {k: v for k, v in TRAIN.items() if k not in ("network_def", "network")}
    bundle = _cheap_bundle(classification_example, tmp_path / "b", {"train.json": train})
    with pytest.raises(KeyError, match="define no 'network_def'"):
        convert_bundle(bundle, output=tmp_path / "n")
    # a training preprocessing the rotation cannot be placed in: the audit bundle has no training section
    bundle = _cheap_bundle(classification_example, tmp_path / "c")
    with pytest.raises(KeyError, match="define no training preprocessing: looked for 'train#trainer'"):
        convert_bundle(bundle, output=tmp_path / "n", augment="so3")
    # a network the converter refuses (widths not multiples of the 3 orientations), named
    with pytest.raises(
        ValueError, match="cannot convert the bundle's network_def with convert_to_group: .*multiple of the 3"
    ):
        convert_bundle(bundle, to="group", output=tmp_path / "n")
    # a metadata version that cannot be bumped
    bundle = write_bundle(tmp_path / "d", classification_example, {"train.json": TRAIN}, {**METADATA, "version": "v1"})
    with pytest.raises(ValueError, match="version 'v1' is not MAJOR.MINOR.PATCH"):
        convert_bundle(bundle, output=tmp_path / "n", verify=False)
    assert not (tmp_path / "n").exists()  # nothing written by a refusal


def test_train_configs(classification_example, tmp_path):
    zoo = _cheap_bundle(classification_example, tmp_path / "zoo")
    assert train_configs(zoo) == ["train.json"]
    # this package's layout: inference.json holds network_def, train.json is merged after it
    ours = write_bundle(
        tmp_path / "ours",
        classification_example,
        {"inference.json": INFERENCE, "train.json": {k: v for k, v in TRAIN.items() if k != "network_def"}},
    )
    assert train_configs(ours) == ["inference.json", "train.json"]


def test_every_config_defining_network_def_is_wrapped(classification_example, tmp_path):
    """The model zoo's inference.json defines its own network_def: it is wrapped too, and a flat override
    (network_def#num_classes) is moved into the wrapped network; MONAI builds the converted network from each."""
    evaluate = {"network_def#num_classes": 4}
    bundle = write_bundle(
        tmp_path / "b",
        classification_example,
        {"train.json": TRAIN, "inference.json": INFERENCE, "evaluate.json": evaluate},
    )
    result = convert_bundle(bundle, output=tmp_path / "n", verify=False)
    assert result.symmetry is None and result.weights_reason == "the source bundle ships no models/model.pt"
    assert sorted(result.files_changed) == ["evaluate.json", "inference.json", "metadata.json", "train.json"]
    configs = tmp_path / "n" / "configs"
    assert json.loads((configs / "evaluate.json").read_text()) == {"network_def#network#num_classes": 4}
    for names in (["inference.json"], ["train.json", "evaluate.json"]):
        network = _parser(tmp_path / "n", names).get_parsed_content("network_def")
        assert sum(p.numel() for p in network.parameters()) == result.report.params_after
        assert type(network.conv1).__name__ == "SREConv"
    assert not (tmp_path / "n" / "models" / "model.pt").exists() and (tmp_path / "n" / "models").is_dir()


def test_a_bundle_whose_network_depends_on_the_users_data_converts_with_overrides(tmp_path, capsys):
    """This package's own datalist bundle builds its network for the user's number of classes: without it the
    conversion says what to pass; with ``--overrides`` it converts (SRE light), and the new bundle's network builds
    with the same overrides and is exactly invariant to the 48 grid symmetries."""
    from monai_sre.runs import bundle_root

    source = bundle_root("sre_classification")
    with pytest.raises(ValueError, match=r"pass --num_classes N"):
        convert_bundle(source, to="sre", output=tmp_path / "none")
    assert not (tmp_path / "none").exists() or not any((tmp_path / "none").iterdir())
    overrides = {"num_classes": 3, "model_name": "plain_resnet_light"}
    result = convert_bundle(source, to="sre", output=tmp_path / "new", overrides=overrides)
    assert len(result.report.replaced) > 0 and result.symmetry["exact"]
    parser = ConfigParser()
    parser.read_config([str(tmp_path / "new" / "configs" / n) for n in ("inference.json", "train.json")])
    parser.update({**overrides, "bundle_root": str(tmp_path / "new")})
    assert parser.get_parsed_content("network_def")(torch.zeros(2, 1, 16, 16, 16)).shape == (2, 3)
    assert main(["convert-bundle", source, "--to", "sre", "--output", str(tmp_path / "cli"),
                 "--overrides", "{'num_classes': 2}"]) == 0  # fmt: skip
    assert "network_def -> convert_to_sre" in capsys.readouterr().out


def test_layer_types_the_converter_does_not_know_are_named_where_an_unexplained_error_must_come_from():
    """When the measured error shows a broken symmetry and no known layer explains it, the note lists the leaf
    module types the converters leave alone, pointwise, pooling, dropout and this package's layers excepted."""
    from monai_sre.audit.convert_bundle import _unconverted_types
    from monai_sre.networks import convert_to_group

    model = torch.nn.Sequential(torch.nn.Conv3d(1, 6, 3), torch.nn.LayerNorm(4), torch.nn.ReLU(), torch.nn.Dropout())
    converted, _ = convert_to_group(model, input_shape=(1, 6, 6, 6))
    assert _unconverted_types(converted) == ["LayerNorm"]
