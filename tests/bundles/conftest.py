from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigWorkflow

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "bundles" / "schema" / "meta_schema_20240725.json"

# The configs of each bundle command, in merge order (the model zoo's layout): inference.json runs alone and holds
# what the commands share (network_def, preprocessing pieces, postprocessing, device, amp); train.json overrides it;
# evaluate.json and multi_gpu_train.json go after train.json. Overlays go after the configs they change.
INFER = ("inference",)
TRAIN = ("inference", "train")
EVALUATE = (*TRAIN, "evaluate")
MULTI_GPU_TRAIN = (*TRAIN, "multi_gpu_train")


def bundle_config(bundle: str, *names: str) -> list[str]:
    return [str(REPO / "bundles" / bundle / "configs" / f"{name}.json") for name in names]


def run_workflow(bundle: str, names: tuple[str, ...], workflow_type: str = "train", **overrides) -> ConfigWorkflow:
    """Run the bundle configs ``names`` (merged in order, e.g. :data:`TRAIN`) in this process, as
    `python -m monai.bundle run` does, and return the workflow."""
    workflow = ConfigWorkflow(
        config_file=bundle_config(bundle, *names),
        meta_file=str(REPO / "bundles" / bundle / "configs" / "metadata.json"),
        logging_file=str(REPO / "bundles" / bundle / "configs" / "logging.conf"),
        workflow_type=workflow_type,
        bundle_root=str(REPO / "bundles" / bundle),
        **overrides,
    )
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    return workflow


@pytest.fixture(autouse=True)
def _repository_root(monkeypatch):
    monkeypatch.chdir(REPO)


@pytest.fixture(scope="session")
def classification_run(classification_example, tmp_path_factory) -> Path:
    """One short training run of the sre_classification bundle on the example's JSON datalist, with class names
    from its file (the run folder: models/, training_domain.json, ...)."""
    run = tmp_path_factory.mktemp("runs") / "run"
    run_workflow(
        "sre_classification", TRAIN, datalist=str(classification_example / "datalist.json"), num_classes=4,
        class_names=str(classification_example / "classes.json"), run_dir=str(run), max_epochs=2,
    )  # fmt: skip
    return run


def assert_fails_with(error_type: type, pattern: str, run, *args, **kwargs) -> None:
    """``run`` fails, and somewhere in the exception chain (MONAI wraps errors raised while instantiating a
    config component) is an ``error_type`` whose message matches ``pattern``."""
    with pytest.raises(Exception) as info:
        run(*args, **kwargs)
    chain, error = [], info.value
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, error_type) and re.search(pattern, str(e)) for e in chain), [repr(e) for e in chain]


SEGMENTATION_CLASSES = ["background", "csf", "grey_matter", "white_matter"]


@pytest.fixture(scope="session")
def segmentation_run(segmentation_example, tmp_path_factory) -> Path:
    """One short training run of the sre_segmentation bundle (its default network, 16^3 patches) on the example's
    small datalist, with class names from its file (the run folder: models/, training_domain.json, ...)."""
    run = tmp_path_factory.mktemp("segmentation_runs") / "run"
    run_workflow(
        "sre_segmentation", TRAIN, datalist=str(segmentation_example / "small_datalist.json"), num_classes=4,
        class_names=str(segmentation_example / "classes.json"), run_dir=str(run), max_epochs=2, val_interval=1,
        patch_size=16, samples_per_volume=2,
    )  # fmt: skip
    return run


def assert_onnx_export_matches(bundle: str, run: Path, network: torch.nn.Module, input_shape: list[int], folder: Path):
    """The docs' ONNX command on the model of a training run (``inference.json`` alone, the network and its classes
    read from the run's training domain), with a dynamic batch axis: onnxruntime gives ``network``'s outputs (the
    same weights, eval mode) for batches of 1 and 3."""
    import onnxruntime
    from monai.bundle import onnx_export

    onnx_export(
        net_id="network_def",
        filepath=str(folder / "model.onnx"),
        ckpt_file=str(run / "models" / "model.pt"),
        meta_file=str(REPO / "bundles" / bundle / "configs" / "metadata.json"),
        config_file=bundle_config(bundle, *INFER),
        input_shape=input_shape,
        run_dir=str(run),
        converter_kwargs={
            "input_names": ["image"],
            "output_names": ["pred"],
            "dynamic_axes": {"image": {0: "batch"}, "pred": {0: "batch"}},
        },
    )
    network.load_state_dict(torch.load(run / "models" / "model.pt", weights_only=True))
    network.eval()
    x = torch.randn(3, *input_shape[1:])
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
    with torch.no_grad():
        expected = network(x)
    for batch in (1, 3):
        (result,) = session.run(None, {"image": x[:batch].numpy()})
        np.testing.assert_allclose(result, expected[:batch].numpy(), rtol=1e-4, atol=1e-4)


def assert_best_model_is_the_weight_average(workflow: ConfigWorkflow, run: Path, updates: int) -> None:
    """A one-epoch training run with ``--weight_averaging_decay`` on: ``updates`` iterations averaged, the best model
    file holds the average (not the training weights, which were put back), and the resumable checkpoint keeps it.
    (One epoch, so that the best model is the last epoch's average.)"""
    averaging = workflow.parser.get_parsed_content("train#handlers#6")
    assert averaging.enabled and averaging.updates == updates
    best = torch.load(run / "models" / "model.pt", weights_only=True)
    for name, value in averaging.average.items():
        torch.testing.assert_close(best[name], value, rtol=0, atol=0, msg=name)
    network = workflow.parser.get_parsed_content("network")
    assert not torch.equal(best["fc.weight"], network.state_dict()["fc.weight"])  # training weights put back
    assert workflow.parser.get_parsed_content("train#trainer").state.epoch == 1
    state = torch.load(run / "models" / "checkpoint_epoch=1.pt", weights_only=True)
    assert state["weight_averaging"]["updates"] == updates


def audit_and_evaluation(bundle: str, protocol: str, folder: Path, **values):
    """The audit of ``bundle`` and the bundle's own evaluation under ``protocol``, with the same command-line
    ``values`` (datalist, classes, run folder): ``(audit report, evaluation's robustness JSON)``."""
    from monai_sre.audit import audit_bundle

    evaluation = {k: v for k, v in values.items() if k == "run_dir"}
    run_workflow(bundle, EVALUATE, rotation_protocols=[protocol], eval_dir=str(folder / "eval"), **evaluation)
    expected = json.loads((folder / "eval" / f"robustness_{protocol}.json").read_text())
    report = audit_bundle(REPO / "bundles" / bundle, protocol=protocol, output=folder / "audit", **values)[protocol]
    return report, expected
