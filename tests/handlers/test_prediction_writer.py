from __future__ import annotations

import csv

import pytest
import torch
from ignite.engine import Engine
from monai.data import DataLoader, Dataset, MetaTensor
from monai.engines import SupervisedEvaluator
from monai.transforms import Activationsd

from monai_sre.handlers import PredictionWriter
from monai_sre.handlers import prediction_writer as module

CLASSES = ["background", "csf", "grey matter", "white,matter"]  # a space and a comma: quoted by csv


class _Net(torch.nn.Module):
    """Four logits from the image mean; fails on call ``fail_at`` (1-based) when set."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.linear, self.fail_at, self.calls = torch.nn.Linear(1, 4), fail_at, 0

    def forward(self, x):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("failing on purpose")
        return self.linear(x.mean((1, 2, 3, 4))[:, None])


def _items(n=6, label=True):
    items = []
    for i in range(n):
        image = MetaTensor(torch.full((1, 4, 4, 4), float(i)), meta={"filename_or_obj": f"/data/case {i}.nii.gz"})
        items.append({"image": image, **({"label": torch.tensor(i % 4)} if label else {})})
    return items


def _evaluator(network, items, batch_size=4, softmax=True):
    loader = DataLoader(Dataset(items), batch_size=batch_size)
    post = Activationsd(keys="pred", softmax=True) if softmax else None
    return SupervisedEvaluator(torch.device("cpu"), loader, network, postprocessing=post)


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_evaluator_writes_header_class_names_probabilities_and_labels(tmp_path):
    network = _Net()
    writer = PredictionWriter(output_dir=tmp_path / "out", class_names=CLASSES, label_key="label")
    evaluator = _evaluator(network, _items())
    writer.attach(evaluator)
    evaluator.run()
    path = tmp_path / "out" / "predictions.csv"
    assert path == writer.path
    header = 'image,predicted,predicted_class,prob_background,prob_csf,prob_grey matter,"prob_white,matter",label'
    assert path.read_text().splitlines()[0] == header
    rows = _read(path)
    assert [r["image"] for r in rows] == [f"/data/case {i}.nii.gz" for i in range(6)]
    assert [r["label"] for r in rows] == ["0", "1", "2", "3", "0", "1"]
    with torch.no_grad():
        expected = torch.softmax(network.linear(torch.arange(6.0)[:, None]), dim=1)
    for row, probs in zip(rows, expected):
        written = torch.tensor([float(row[f"prob_{c}"]) for c in CLASSES])
        torch.testing.assert_close(written, probs, rtol=1e-5, atol=1e-6)
        assert row["predicted"] == str(int(probs.argmax())) and row["predicted_class"] == CLASSES[int(probs.argmax())]


def test_default_class_names_softmax_and_collated_outputs(tmp_path):
    """A plain ignite engine whose batch and output stay collated; raw logits, softmax in the writer."""
    logits = torch.tensor([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0]])

    def step(engine, batch):
        return {"pred": logits}

    batch = {"image": MetaTensor(torch.zeros(2, 1, 2, 2, 2), meta={"filename_or_obj": ["a.nii", "b.nii"]})}
    writer = PredictionWriter(output_dir=tmp_path, softmax=True)
    writer.attach(engine := Engine(step))
    engine.run([batch])
    rows = _read(tmp_path / "predictions.csv")
    assert list(rows[0]) == ["image", "predicted", "predicted_class", "prob_class_0", "prob_class_1", "prob_class_2"]
    assert [(r["image"], r["predicted"], r["predicted_class"]) for r in rows] == [
        ("a.nii", "1", "class_1"),
        ("b.nii", "0", "class_0"),
    ]
    assert abs(sum(float(rows[0][f"prob_class_{i}"]) for i in range(3)) - 1) < 1e-5


def test_rows_of_earlier_iterations_survive_a_later_failure(tmp_path):
    writer = PredictionWriter(output_dir=tmp_path, class_names=CLASSES)
    evaluator = _evaluator(_Net(fail_at=3), _items(n=10), batch_size=2)
    writer.attach(evaluator)
    with pytest.raises(RuntimeError, match="failing on purpose"):
        evaluator.run()
    rows = _read(tmp_path / "predictions.csv")
    assert [r["image"] for r in rows] == [f"/data/case {i}.nii.gz" for i in range(4)]


def test_refused_inputs_are_listed_with_their_reason(tmp_path):
    refused = [("/data/broken.nii.gz", "cannot be read")]
    writer = PredictionWriter(output_dir=tmp_path, class_names=CLASSES, label_key="label", refused=refused)
    evaluator = _evaluator(_Net(), _items(n=2))
    writer.attach(evaluator)
    evaluator.run()
    writer.write_refused([("/data/tiny.nii.gz", "smaller than 16 voxels")])
    rows = _read(tmp_path / "predictions.csv")
    assert list(rows[0])[-2:] == ["label", "refused_reason"]
    assert [(r["image"], r["refused_reason"]) for r in rows] == [
        ("/data/broken.nii.gz", "cannot be read"),
        ("/data/case 0.nii.gz", ""),
        ("/data/case 1.nii.gz", ""),
        ("/data/tiny.nii.gz", "smaller than 16 voxels"),
    ]
    for row in (rows[0], rows[-1]):
        assert row["predicted"] == row["predicted_class"] == row["label"] == row["prob_csf"] == ""
    assert rows[1]["predicted_class"] in CLASSES
    with pytest.raises(ValueError, match="refused=None"):
        PredictionWriter(output_dir=tmp_path).write_refused(refused)


def test_each_run_starts_a_new_file_unless_appending(tmp_path):
    meta_only = lambda batch: [item["image"].meta for item in batch]  # noqa: E731 (as ClassificationSaver's configs)
    for overwrite, expected in ((True, 2), (False, 4)):
        folder = tmp_path / str(overwrite)
        writer = PredictionWriter(folder, class_names=CLASSES, overwrite=overwrite, batch_transform=meta_only)
        evaluator = _evaluator(_Net(), _items(n=2))
        writer.attach(evaluator)
        evaluator.run()
        evaluator.run()
        text = (folder / "predictions.csv").read_text()
        rows = _read(folder / "predictions.csv")
        assert text.count("image,predicted") == 1 and len(rows) == expected
        assert rows[-1]["image"] == "/data/case 1.nii.gz"


def test_no_data_still_writes_a_header(tmp_path):
    writer = PredictionWriter(output_dir=tmp_path, class_names=["a", "b"], refused=[])
    writer._started()  # an epoch without iterations (ignite refuses empty data)
    writer._completed()
    header = "image,predicted,predicted_class,prob_a,prob_b,refused_reason\n"
    assert (tmp_path / "predictions.csv").read_text() == header


class _FakeDist:
    def __init__(self, rank, world_size=2):
        self.rank, self.world_size = rank, world_size

    def get_rank(self):
        return self.rank

    def get_world_size(self):
        return self.world_size


@pytest.mark.parametrize("rank", [0, 1])
def test_only_the_save_rank_writes_the_rows_of_all_ranks(tmp_path, monkeypatch, rank):
    gathered = []

    def gather(strings, delimiter):  # both ranks predicted the same rows in this fake
        gathered.append(strings)
        return strings * 2

    monkeypatch.setattr(module, "idist", _FakeDist(rank))
    monkeypatch.setattr(module, "string_list_all_gather", gather)
    writer = PredictionWriter(output_dir=tmp_path, class_names=CLASSES)
    evaluator = _evaluator(_Net(), _items(n=3))
    writer.attach(evaluator)
    evaluator.run()
    assert len(gathered) == 1  # one collective per iteration, on every rank
    if rank == 0:
        assert len(_read(tmp_path / "predictions.csv")) == 6
    else:
        assert not (tmp_path / "predictions.csv").exists()


@pytest.mark.parametrize(
    "kwargs, pred, match",
    [
        ({}, torch.zeros(4, 3, 3), "one score per class per input"),
        ({"class_names": ["a", "b"]}, torch.zeros(4), "4 scores but there are 2 classes"),
    ],
)
def test_bad_predictions_are_named(tmp_path, kwargs, pred, match):
    writer = PredictionWriter(output_dir=tmp_path, **kwargs)
    writer.attach(engine := Engine(lambda engine, batch: [{"pred": pred}]))
    with pytest.raises(ValueError, match=match):
        engine.run([[{"image": "x.nii"}]])


def test_bad_class_names_are_named():
    with pytest.raises(ValueError, match="non-empty and distinct"):
        PredictionWriter(class_names=["a", "a"])


def test_appending_to_a_file_of_other_columns_is_refused(tmp_path):
    (tmp_path / "predictions.csv").write_text("path,p0,p1,p2,p3\n")
    writer = PredictionWriter(output_dir=tmp_path, class_names=CLASSES, overwrite=False)
    evaluator = _evaluator(_Net(), _items(n=2))
    writer.attach(evaluator)
    with pytest.raises(ValueError, match="cannot append"):
        evaluator.run()
