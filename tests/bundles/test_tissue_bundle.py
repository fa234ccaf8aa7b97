from __future__ import annotations

import csv
import json
import shutil
import socket
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigWorkflow, onnx_export, verify_metadata

from monai_sre.data.tissue import TISSUE_ASSET
from monai_sre.groups import grid_symmetries
from monai_sre.networks.nets import GridAveraged, group_resnet_light, sre_resnet_light
from monai_sre.networks.weights import load_weights
from tests.bundles.conftest import (
    EVALUATE,
    INFER,
    MULTI_GPU_TRAIN,
    REPO,
    SCHEMA,
    TRAIN,
    assert_best_model_is_the_weight_average,
    assert_fails_with,
    bundle_config,
    run_workflow,
)
from tests.conftest import _package_dir

BUNDLE = "sre_resnet3d_tissue"
ROOT = REPO / "bundles" / BUNDLE
WEIGHTS = ROOT / "models" / "model.pt"
META = ROOT / "configs" / "metadata.json"
TINY = {"max_epochs": 1, "num_train_samples": 16, "num_val_samples": 16}
# a longer run whose trainer stops after its first epoch: a killed run (its settings and schedule are the longer run's)
KILLED_AFTER_EPOCH_1 = {"train#trainer#max_epochs": 1}


def test_metadata_verifies_against_the_local_schema_and_holds_the_documented_metrics():
    verify_metadata(meta_file=str(META), filepath=str(SCHEMA))
    metadata = json.loads(META.read_text())
    assert "monai-sre" in metadata["required_packages_version"]
    assert set(metadata["network_data_format"]["inputs"]) == {"image"}
    assert set(metadata["network_data_format"]["outputs"]) == {"pred"}


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """Six test patches written as NIfTI by the export script, with labels.csv."""
    folder = tmp_path_factory.mktemp("samples")
    subprocess.run(
        [sys.executable, "scripts/export_tissue_patches.py", "--count", "6", "--output", str(folder)], check=True
    )
    return folder


@pytest.mark.parametrize(
    "names, workflow_type",
    [(TRAIN, "train"), (EVALUATE, "train"), (INFER, "infer")],
)
def test_standard_properties_are_all_present(names, workflow_type, samples, tmp_path):
    # the handlers are built (not run) by the check: their folders go to tmp_path, not the bundle's runs/
    overrides = {"run_dir": str(tmp_path / "run"), "eval_dir": str(tmp_path / "eval")}
    if workflow_type == "infer":
        overrides = {"dataset_dir": str(samples), "output_dir": str(tmp_path / "out")}
    workflow = ConfigWorkflow(
        config_file=bundle_config(BUNDLE, *names), workflow_type=workflow_type, meta_file=str(META), **overrides
    )
    workflow.initialize()
    assert not workflow.check_properties()


@pytest.mark.parametrize("extra", [(), ("plain_resnet",), ("sre_resnet",)])
def test_one_tiny_epoch_trains_and_saves_the_best_checkpoint(tmp_path, extra):
    workflow = run_workflow(BUNDLE, (*TRAIN, *extra), run_dir=str(tmp_path / "run"), augment_rotation=True, **TINY)
    # train.json, merged after inference.json, replaced its run and folders; inference's own pieces stayed unbuilt
    built = {key.replace("::", "#") for key in workflow.parser.ref_resolver.resolved_content}
    assert "train#trainer" in built and not built & {"volumes", "dataset", "dataloader", "handlers", "evaluator"}
    assert workflow.parser.get_parsed_content("output_dir") == str(tmp_path / "run")
    assert workflow.parser.get_parsed_content("dataset_dir") == str(TISSUE_ASSET.parent)
    assert workflow.parser.get_parsed_content("train#trainer").amp is False  # on the CPU, amp is off by default
    state = torch.load(tmp_path / "run" / "models" / "model.pt", weights_only=True)
    assert any(key.startswith("fc.") for key in state)
    assert list((tmp_path / "run").glob("events.out.tfevents.*"))
    assert (tmp_path / "run" / "models" / "checkpoint_epoch=1.pt").exists()  # the full state, for --resume
    if not extra:
        group_resnet_light(n_input_channels=1, num_classes=4).load_state_dict(state)
    if extra == ("sre_resnet",):
        sre_resnet_light(n_input_channels=1, num_classes=4).load_state_dict(state)


def test_a_rerun_is_refused_resumes_or_overwrites_but_never_replaces_the_best_model_silently(tmp_path):
    run = tmp_path / "run"
    two_epochs = {**TINY, "max_epochs": 2}
    run_workflow(BUNDLE, TRAIN, run_dir=str(run), **two_epochs, **KILLED_AFTER_EPOCH_1)
    best = (run / "models" / "model.pt").read_bytes()
    # the same command again: refused, naming the folder and the ways on; nothing touched
    assert_fails_with(ValueError, f"run folder '{run}' already holds an earlier run.*--resume true.*--overwrite true",
                      run_workflow, BUNDLE, TRAIN, run_dir=str(run), **two_epochs)  # fmt: skip
    assert (run / "models" / "model.pt").read_bytes() == best
    # a resume that would train the rest another way is refused before anything runs, naming each setting: a
    # longer run would restore the two-epoch cosine schedule and climb back to the full learning rate
    checkpoint = run / "models" / "checkpoint_epoch=1.pt"
    stopped = checkpoint.read_bytes()
    pattern = r"--resume true: the run in '.*run' was started with other settings.*\(rotation_prob: 0.5 saved, "
    assert_fails_with(ValueError, pattern + r"1.0 now; max_epochs: 2 saved, 3 now\).*run_settings.json", run_workflow,
                      BUNDLE, TRAIN, run_dir=str(run), resume=True, rotation_prob=1.0, **{**TINY, "max_epochs": 3})  # fmt: skip
    assert_fails_with(ValueError, r"\(network: '.* parameters, structure .*' saved, '.*' now\)", run_workflow, BUNDLE,
                      (*TRAIN, "plain_resnet"), run_dir=str(run), resume=True, **two_epochs)  # fmt: skip
    assert checkpoint.read_bytes() == stopped and (run / "models" / "model.pt").read_bytes() == best
    # the killed run resumes at its next epoch; a restored best score that no new epoch beats keeps the best model
    state = torch.load(checkpoint, weights_only=True)
    assert state["trainer"]["iteration"] == 1 and state["validation"]["best_metric_epoch"] == 1
    state["validation"]["best_metric"] = 2.0  # an accuracy no epoch can beat
    torch.save(state, checkpoint)
    workflow = run_workflow(BUNDLE, TRAIN, run_dir=str(run), resume=True, num_workers=0, **two_epochs)
    trainer = workflow.parser.get_parsed_content("train#trainer")
    assert trainer.state.epoch == 2 and trainer.state.iteration == 2  # one more epoch of one iteration
    assert (run / "models" / "model.pt").read_bytes() == best
    assert [p.name for p in (run / "models").glob("checkpoint_epoch=*.pt")] == ["checkpoint_epoch=2.pt"]
    # --overwrite starts afresh; --resume with nothing to resume says so
    run_workflow(BUNDLE, TRAIN, run_dir=str(run), overwrite=True, **TINY)
    assert not (run / "models" / "checkpoint_epoch=2.pt").exists()
    assert_fails_with(FileNotFoundError, "holds no earlier run to continue", run_workflow, BUNDLE, TRAIN,
                      run_dir=str(tmp_path / "new"), resume=True, **TINY)  # fmt: skip
    assert not (tmp_path / "new").exists()  # nothing made: the same command without --resume then runs


def test_weight_averaging_validates_and_saves_the_average_and_keeps_it_for_resume(tmp_path):
    run = tmp_path / "run"
    # two iterations in one epoch: the average (2/11 of the first weights, 9/11 of the second) is not the weights
    settings = {**TINY, "num_train_samples": 64, "max_epochs": 2}
    workflow = run_workflow(
        BUNDLE, TRAIN, run_dir=str(run), weight_averaging_decay=0.5, **settings, **KILLED_AFTER_EPOCH_1
    )
    assert_best_model_is_the_weight_average(workflow, run, updates=2)
    resumed = run_workflow(BUNDLE, TRAIN, run_dir=str(run), resume=True, weight_averaging_decay=0.5, **settings)
    assert resumed.parser.get_parsed_content("train#handlers#6").updates == 4
    # off by default: nothing attached, nothing saved
    default = run_workflow(BUNDLE, TRAIN, run_dir=str(tmp_path / "default"), **TINY)
    assert not default.parser.get_parsed_content("train#handlers#6").enabled
    assert "weight_averaging" not in torch.load(tmp_path / "default" / "models" / "checkpoint_epoch=1.pt",
                                                weights_only=True)  # fmt: skip


def test_amp_on_the_cpu_is_refused_before_anything_runs(tmp_path, samples):
    """MONAI's engines autocast with ``torch.autocast("cuda")`` whatever their device: on the CPU ``--amp true``
    would run plain float32 while claiming mixed precision, so training and inference refuse it, naming the device."""
    pattern = r"--amp true needs a CUDA device, got device 'cpu'.*Pass --amp false"
    assert_fails_with(ValueError, pattern, run_workflow, BUNDLE, TRAIN, run_dir=str(tmp_path / "run"), amp="true",
                      **TINY)  # fmt: skip
    assert not (tmp_path / "run").exists()  # refused before the run folder is made: rerun with --amp false as is
    assert_fails_with(ValueError, pattern, run_workflow, BUNDLE, INFER, workflow_type="infer", amp=True,
                      dataset_dir=str(samples), output_dir=str(tmp_path / "out"))  # fmt: skip
    assert not (tmp_path / "out" / "predictions.csv").exists()


def test_grid_average_switch_wraps_the_network_and_keeps_exact_grid48_scores(tmp_path):
    """``--grid_average true``: the shipped weights load into the wrapped network; 48 passes, same (invariant) scores."""
    workflow = run_workflow(
        BUNDLE, EVALUATE, eval_dir=str(tmp_path), grid_average=True, num_test_samples=4,
        rotation_protocols=["grid48"],
    )  # fmt: skip
    assert isinstance(workflow.parser.get_parsed_content("network"), GridAveraged)
    report = json.loads((tmp_path / "robustness_grid48.json").read_text())
    assert {round(case["accuracy"], 9) for case in report["cases"]} == {round(report["summary"]["accuracy_upright"], 9)}


def test_shipped_weights_reproduce_the_documented_metrics(tmp_path):
    """Golden test: the full test split, upright and under the three rotation protocols."""
    run_workflow(BUNDLE, EVALUATE, eval_dir=str(tmp_path))
    expected = json.loads(META.read_text())["eval_metrics"]
    reports = {p: json.loads((tmp_path / f"robustness_{p}.json").read_text()) for p in ("paper", "haar-64", "grid48")}
    summary = {p: r["summary"] for p, r in reports.items()}
    assert summary["grid48"]["accuracy_upright"] == pytest.approx(expected["test_accuracy_upright"], abs=0.003)
    assert summary["grid48"]["auc_upright"] == pytest.approx(expected["test_auc_upright"], abs=0.003)
    assert summary["paper"]["accuracy_mean"] == pytest.approx(expected["test_accuracy_paper_mean"], abs=0.005)
    assert summary["haar-64"]["accuracy_mean"] == pytest.approx(expected["test_accuracy_haar64_mean"], abs=0.005)
    assert summary["haar-64"]["accuracy_worst"] == pytest.approx(expected["test_accuracy_haar64_worst"], abs=0.005)
    assert summary["grid48"]["accuracy_worst"] == pytest.approx(expected["test_accuracy_grid48_worst"], abs=0.003)
    # exact invariance to the 24 grid rotations (the network's group, O): each scores exactly the upright accuracy
    rotations = {f"grid{e}" for e in grid_symmetries(3) if e.is_rotation}
    cases = reports["grid48"]["cases"]
    assert {round(c["accuracy"], 9) for c in cases if c["name"] in rotations} == {
        round(summary["grid48"]["accuracy_upright"], 9)
    }
    # trained with random rotations, it keeps its accuracy under them
    assert summary["haar-64"]["accuracy_mean"] >= summary["haar-64"]["accuracy_upright"] - 0.02
    metrics = dict(line.split(",") for line in (tmp_path / "metrics.csv").read_text().splitlines() if line)
    assert float(metrics["test_accuracy"]) == pytest.approx(expected["test_accuracy_upright"], abs=0.003)


def test_inference_writes_class_probabilities_for_a_folder_of_nifti_volumes(tmp_path, samples):
    run_workflow(
        BUNDLE,
        INFER,
        workflow_type="infer",
        dataset_dir=str(samples),
        output_dir=str(tmp_path / "out"),
    )
    rows = list(csv.DictReader((tmp_path / "out" / "predictions.csv").open()))
    names = json.loads(META.read_text())["training_domain"]["classes"]
    assert len(rows) == 6 and [c for c in rows[0] if c.startswith("prob_")] == [f"prob_{n}" for n in names]
    probabilities = np.array([[float(row[f"prob_{n}"]) for n in names] for row in rows])
    assert np.allclose(probabilities.sum(1), 1, atol=1e-5)
    assert [row["predicted_class"] for row in rows] == [names[i] for i in probabilities.argmax(1)]
    truth = {row["image"]: int(row["label"]) for row in csv.DictReader((samples / "labels.csv").open())}
    predicted = {row["image"].split("/")[-1]: int(row["predicted"]) for row in rows}
    assert sum(predicted[name] == label for name, label in truth.items()) >= 4


def test_inputs_outside_the_training_domain_are_refused_and_the_others_still_predicted(tmp_path, samples, ct_series):
    """A whole 1 mm brain, a scanner's int16 scale, a CT series in Hounsfield units, a truncated file: refused by
    name and reason; the patches are predicted all the same."""
    inputs = tmp_path / "inputs"
    shutil.copytree(samples, inputs, ignore=shutil.ignore_patterns("*.csv"))
    patch = sorted(inputs.glob("*.nii.gz"))[0]
    image = nib.load(patch)
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj).astype(np.int16) * 40, image.affine), inputs / "int16.nii.gz")
    nilearn = _package_dir("nilearn")
    template = (
        None if nilearn is None else nilearn / "datasets" / "data" / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
    )
    if template is not None and template.is_file():  # a real whole brain, 1 mm, 197 x 233 x 189
        shutil.copy(template, inputs / "brain.nii.gz")
    else:  # a brain-sized volume on the template's scale
        brain = np.zeros((91, 109, 91), np.uint8)
        brain[20:70, 20:90, 20:70] = 200
        nib.save(nib.Nifti1Image(brain, np.diag([2.0, 2.18, 2.0, 1.0])), inputs / "brain.nii.gz")
    shutil.copytree(ct_series, inputs / "ct_series")
    (inputs / "cut.nii.gz").write_bytes(patch.read_bytes()[:2000])
    with pytest.raises(SystemExit) as exit_info:
        run_workflow(
            BUNDLE, INFER, workflow_type="infer", dataset_dir=str(inputs),
            output_dir=str(tmp_path / "out"),
        )  # fmt: skip
    message = str(exit_info.value.code)
    assert message.startswith("4 of 10 inputs were refused; the other 6 were predicted")
    rows = {row["image"].split("/")[-1]: row for row in csv.DictReader((tmp_path / "out" / "predictions.csv").open())}
    assert "much larger than the volumes the model was trained on" in rows["brain.nii.gz"]["refused_reason"]
    assert "configs/tissue_map.json" in rows["brain.nii.gz"]["refused_reason"]
    assert "outside the scale the model was trained on (0..255)" in rows["int16.nii.gz"]["refused_reason"]
    assert "outside the scale the model was trained on" in rows["ct_series"]["refused_reason"]  # HU below 0
    assert "truncated" in rows["cut.nii.gz"]["refused_reason"]
    assert sum(1 for row in rows.values() if row["predicted"]) == 6


def test_onnx_export_from_inference_json_serves_any_batch_size(tmp_path):
    """The docs' ONNX command (TorchScript and verify_net_in_out: test_model_zoo.py, through the command line)."""
    onnx_export(
        net_id="network_def",
        filepath=str(tmp_path / "model.onnx"),
        ckpt_file=str(WEIGHTS),
        meta_file=str(META),
        config_file=bundle_config(BUNDLE, *INFER),
        input_shape=[1, 1, 16, 16, 16],
        bundle_root=str(ROOT),
        converter_kwargs={  # the docs' command: a dynamic batch axis
            "input_names": ["image"],
            "output_names": ["pred"],
            "dynamic_axes": {"image": {0: "batch"}, "pred": {0: "batch"}},
        },
    )
    network = load_weights(WEIGHTS, group_resnet_light(n_input_channels=1, num_classes=4)).eval()
    x = torch.randn(2, 1, 16, 16, 16)
    with torch.no_grad():
        expected = network(x)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    for batch in (1, 2):  # one export serves any batch size
        (result,) = session.run(None, {"image": x[:batch].numpy()})
        np.testing.assert_allclose(result, expected[:batch].numpy(), rtol=1e-4, atol=1e-5)


def test_bad_overrides_fail_before_training(tmp_path):
    assert_fails_with(
        FileNotFoundError,
        "embedded dataset not found at '.*mni152_tissue_2mm.npz'",
        run_workflow,
        BUNDLE,
        TRAIN,
        dataset_dir=str(tmp_path),
        run_dir=str(tmp_path / "run"),
        **TINY,
    )
    assert not (tmp_path / "run" / "models").exists()  # nothing trained, no checkpoint written
    (tmp_path / "datalist.json").write_text('{"training": []}')
    assert_fails_with(ValueError, "is not the embedded tissue dataset.*use the sre_classification bundle",
                      run_workflow, BUNDLE, TRAIN, dataset_dir=str(tmp_path / "datalist.json"),
                      run_dir=str(tmp_path / "run2"), **TINY)  # fmt: skip
    (tmp_path / "empty").mkdir()
    assert_fails_with(
        ValueError,
        "no volumes in '.*empty'",
        run_workflow,
        BUNDLE,
        INFER,
        workflow_type="infer",
        dataset_dir=str(tmp_path / "empty"),
        output_dir=str(tmp_path / "out"),
    )


def _bad_weights(kind: str, folder) -> tuple[str, type, str]:
    """A bad weights file of the given kind, the error type it must raise, and a pattern naming the file."""
    path = folder / f"{kind}.pt"
    if kind == "corrupt":
        path.write_bytes(WEIGHTS.read_bytes()[:1000])
        return str(path), ValueError, "cannot load weights from '.*corrupt.pt'"
    if kind == "text":
        path.write_text("subject 12: rescan requested\n")
        return str(path), ValueError, "cannot load weights from '.*text.pt'.*not a file written by torch.save"
    if kind == "not_a_state_dict":
        torch.save([torch.zeros(3)], path)
        return str(path), ValueError, "'.*not_a_state_dict.pt' does not hold a state dict"
    if kind == "other_network":
        torch.save(torch.nn.Linear(2, 2).state_dict(), path)
        return str(path), ValueError, "weights in '.*other_network.pt' do not fit GroupResNet"
    return str(path), FileNotFoundError, "weights file not found: '.*missing.pt'"


@pytest.mark.parametrize("kind", ["missing", "corrupt", "text", "not_a_state_dict", "other_network"])
def test_bad_weights_stop_evaluation_and_inference_naming_the_file(tmp_path, samples, kind):
    """The StateDictLoader handler loads ckpt_path when the evaluator starts: nothing is evaluated or written."""
    ckpt_path, error_type, pattern = _bad_weights(kind, tmp_path)
    assert_fails_with(
        error_type,
        pattern,
        run_workflow,
        BUNDLE,
        EVALUATE,
        ckpt_path=ckpt_path,
        eval_dir=str(tmp_path / "eval"),
        num_test_samples=8,
    )
    assert not list((tmp_path / "eval").glob("robustness_*")) and not (tmp_path / "eval" / "metrics.csv").exists()
    assert_fails_with(
        error_type,
        pattern,
        run_workflow,
        BUNDLE,
        INFER,
        workflow_type="infer",
        ckpt_path=ckpt_path,
        dataset_dir=str(samples),
        output_dir=str(tmp_path / "out"),
    )
    assert not (tmp_path / "out" / "predictions.csv").exists()


class _Payload:  # a checkpoint that would run code when unpickled without weights_only
    def __reduce__(self):
        return (print, ("this must never run",))


def test_checkpoints_carrying_code_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"weight": _Payload()}, path)
    with pytest.raises(ValueError, match="carries code, which is refused"):
        load_weights(path)
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        load_weights(tmp_path / "missing.pt")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_node_ddp_training_on_cpu_writes_one_run_folder_from_rank_0(tmp_path):
    """The docs' multi-node command on one machine: two torchrun launchers (``--nnodes=2``, one process each) meet
    at a c10d rendezvous on 127.0.0.1 and train one epoch with gloo (weight averaging on); only global rank 0 writes
    the run folder."""
    run = tmp_path / "run"
    launcher = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1", "--rdzv_backend=c10d",
        f"--rdzv_endpoint=127.0.0.1:{_free_port()}", "-m", "monai.bundle", "run",
        "--config_file", str(bundle_config(BUNDLE, *MULTI_GPU_TRAIN)), "--max_epochs", "1",
        "--num_train_samples", "32", "--num_val_samples", "16", "--run_dir", str(run), "--weight_averaging_decay", "0.9",
    ]  # fmt: skip
    logs = [tmp_path / f"node{node}.log" for node in (0, 1)]
    nodes = [subprocess.Popen(launcher, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=tmp_path) for log in logs]
    try:
        codes = [node.wait(timeout=300) for node in nodes]
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
                node.wait()
    assert codes == [0, 0], "\n".join(log.read_text()[-3000:] for log in logs)
    written = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    events = [name for name in written if name.startswith("events.out.tfevents.")]
    assert [name for name in written if name not in events] == [
        ".monai_sre_run", "models/checkpoint_epoch=1.pt", "models/model.pt", "run_settings.json"
    ]  # fmt: skip
    settings = json.loads((run / "run_settings.json").read_text())
    assert settings["world_size"] == 2 and settings["batch_size"] == 32  # a resume on other nodes keeps both
    assert len({name.split(".")[-2] for name in events}) == 1, events  # TensorBoard files of one process only
    network = group_resnet_light(n_input_channels=1, num_classes=4)
    network.load_state_dict(torch.load(run / "models" / "model.pt", weights_only=True))
    state = torch.load(run / "models" / "checkpoint_epoch=1.pt", weights_only=True)
    network.load_state_dict(state["network"])  # saved without DistributedDataParallel's "module." prefix
    assert state["trainer"]["iteration"] == 1  # 16 of the 32 samples on each process, batch 32: one iteration
    assert state["weight_averaging"]["updates"] == 1  # weight averaging under DDP: the module's weights, no prefix
    network.load_state_dict(state["weight_averaging"]["average"])
