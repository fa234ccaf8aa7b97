# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""An ignite handler that writes a classifier's predictions to a CSV file with a header, row by row."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from monai.data import decollate_batch
from monai.utils import IgniteInfo, min_version, optional_import, string_list_all_gather
from monai.utils import ImageMetaKey as Key

idist, _ = optional_import("ignite", IgniteInfo.OPT_IMPORT_VERSION, min_version, "distributed")
Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["PredictionWriter"]

_GATHER_DELIMITER = "\x00"  # never in a path or a CSV line


def _items(data: Any) -> list:
    """A batch or an output as a list of per-item entries (decollates a collated dict, keeps a list)."""
    if data is None:
        return []
    if isinstance(data, Mapping):
        return decollate_batch(data, detach=True)
    return list(data)


def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, Mapping) else None


class PredictionWriter:
    """Write ``predictions.csv``: a header, then one row per input, appended as every iteration completes.

    Columns: ``image`` (the input's ``filename_or_obj``), ``predicted`` (the class index), ``predicted_class``
    (its name), ``prob_<class name>`` per class (the output as given: apply softmax in the postprocessing, as
    the bundles do, or pass ``softmax=True``), then ``label`` with ``label_key`` set, and ``refused_reason``
    with ``refused`` set. Example (bundle config)::

        {
            "_target_": "monai_sre.handlers.PredictionWriter",
            "output_dir": "@output_dir",
            "class_names": ["background", "csf", "grey_matter", "white_matter"]
        }

    The rows of every iteration are appended and the file closed before the next iteration, so a later
    failure keeps the predictions made so far. ``overwrite=True`` starts the file anew at every epoch start (an
    evaluator runs one epoch per ``run()``).

    Refused inputs: ``refused`` lists ``(path, reason)`` pairs of inputs that were not run (e.g. unreadable
    files found before the run). They are written after the header, with empty prediction and probability
    columns and the reason in ``refused_reason`` (a column that predicted rows leave empty);
    :meth:`write_refused` appends more.

    Multi-GPU: every rank renders its rows and the rows of all ranks are gathered every iteration (so every
    rank must run the same number of iterations, as ``DistributedSampler`` ensures); only ``save_rank``
    writes. A sampler that pads ranks to equal length repeats a few inputs, as with MONAI's
    ``ClassificationSaver``; MONAI's ``DistributedSampler(even_divisible=False)`` does not.

    Args:
        output_dir: folder of the file (created if missing).
        filename: name of the file.
        class_names: one name per class, in output order; default ``class_0``, ``class_1``, ... (as many as
            the network outputs).
        image_key: key of the image in the batch (its ``MetaTensor.meta`` or ``<image_key>_meta_dict`` holds
            ``filename_or_obj``).
        pred_key: key of the prediction in the output.
        label_key: key of the label in the output or batch; ``None``: no ``label`` column. Items without a
            label leave it empty; a one-hot label is written as its index.
        softmax: apply softmax to the prediction before writing (for raw logits).
        refused: ``(path, reason)`` pairs to list; ``None``: no ``refused_reason`` column.
        overwrite: start a new file at each epoch start; False: append (a header only if the file is empty).
        batch_transform: applied to ``engine.state.batch`` before reading it.
        output_transform: applied to ``engine.state.output`` before reading it.
        save_rank: the rank that writes the file.
        precision: significant digits of the probabilities.
        name: name of the logger; defaults to the engine's logger.
    """

    def __init__(
        self,
        output_dir: str | Path = "./",
        filename: str = "predictions.csv",
        class_names: Sequence[str] | None = None,
        image_key: str = "image",
        pred_key: str = "pred",
        label_key: str | None = None,
        softmax: bool = False,
        refused: Sequence[tuple[str, str]] | None = None,
        overwrite: bool = True,
        batch_transform: Callable = lambda x: x,
        output_transform: Callable = lambda x: x,
        save_rank: int = 0,
        precision: int = 6,
        name: str | None = None,
    ) -> None:
        if class_names is not None:
            class_names = [str(c) for c in class_names]
            if not class_names or len(set(class_names)) != len(class_names):
                raise ValueError(f"class_names must be non-empty and distinct, got {class_names}.")
        self.path = Path(output_dir) / filename
        self.class_names: list[str] | None = class_names
        self.image_key = image_key
        self.pred_key = pred_key
        self.label_key = label_key
        self.softmax = softmax
        self.refused = None if refused is None else [(str(p), str(r)) for p, r in refused]
        self.overwrite = overwrite
        self.batch_transform = batch_transform
        self.output_transform = output_transform
        self.save_rank = save_rank
        self.precision = precision
        self._name = name
        self.logger = logging.getLogger(name)
        self._names: list[str] | None = self.class_names  # resolved from the first prediction if None
        self._header_written = False
        self._rows_written = 0

    # engine events -----------------------------------------------------------------------------------------

    def attach(self, engine: Engine) -> None:
        """Write at ``EPOCH_STARTED`` (header and refused rows where the classes are known),
        ``ITERATION_COMPLETED`` (rows) and ``EPOCH_COMPLETED`` (a header at least, log line)."""
        if self._name is None:
            self.logger = engine.logger
        if not engine.has_event_handler(self._started, Events.EPOCH_STARTED):
            engine.add_event_handler(Events.EPOCH_STARTED, self._started)
        if not engine.has_event_handler(self, Events.ITERATION_COMPLETED):
            engine.add_event_handler(Events.ITERATION_COMPLETED, self)
        if not engine.has_event_handler(self._completed, Events.EPOCH_COMPLETED):
            engine.add_event_handler(Events.EPOCH_COMPLETED, self._completed)

    def _started(self, _engine: Engine | None = None) -> None:
        if idist.get_world_size() <= self.save_rank:
            raise ValueError(f"save_rank {self.save_rank} is not below the world size {idist.get_world_size()}.")
        self._names = self.class_names
        self._header_written = False
        self._rows_written = 0
        if self._writes() and (self.overwrite or not self.path.is_file()):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")
        if self._names is not None:
            self._start_file()

    def __call__(self, engine: Engine) -> None:
        batch = _items(self.batch_transform(engine.state.batch))
        output = _items(self.output_transform(engine.state.output))
        if not all(isinstance(b, Mapping) for b in batch):
            batch = []  # e.g. an (image, label) tuple: the names come from the output
        if batch and len(batch) != len(output):
            raise ValueError(f"the batch has {len(batch)} items but the output {len(output)}.")
        rows = [self._row(o, batch[i] if batch else None) for i, o in enumerate(output)]
        if not self._header_written:
            self._start_file()
        self._append(self._gather(self._render(rows)))

    def _completed(self, _engine: Engine | None = None) -> None:
        if not self._header_written:
            self._start_file()  # no iteration: still a valid file (header, refused rows)
        if self._writes():
            self.logger.info(f"wrote {self._rows_written} rows to '{self.path}'")

    # refused inputs ------------------------------------------------------------------------------------------

    def write_refused(self, refused: Sequence[tuple[str, str]]) -> None:
        """Append a row per ``(path, reason)``: empty prediction and probabilities, the reason in ``refused_reason``.

        Call it on every rank under DDP only with the same pairs everywhere (only ``save_rank`` writes; no
        gathering).

        Raises:
            ValueError: the writer was created without ``refused`` (the file has no ``refused_reason`` column).
        """
        if self.refused is None:
            raise ValueError("PredictionWriter(refused=None) has no 'refused_reason' column: pass refused=[].")
        if not self._header_written:
            self.refused.extend((str(p), str(r)) for p, r in refused)  # written with the header
            return
        self._append(self._render([self._refused_row(p, r) for p, r in refused]))

    # rows and file -----------------------------------------------------------------------------------------

    def header(self) -> list[str]:
        """The column names (``prob_`` columns only once the classes are known)."""
        columns = ["image", "predicted", "predicted_class", *(f"prob_{n}" for n in self._names or ())]
        if self.label_key is not None:
            columns.append("label")
        if self.refused is not None:
            columns.append("refused_reason")
        return columns

    def _writes(self) -> bool:
        return idist.get_rank() == self.save_rank

    def _start_file(self) -> None:
        if self._writes():
            header = self._render([self.header()])
            if self.path.stat().st_size == 0:
                self._append(header, count=False)
            else:  # appending (overwrite=False): the columns must be the same
                with open(self.path, newline="", encoding="utf-8") as f:
                    found = next(csv.reader(f), [])
                if found != self.header():
                    raise ValueError(f"'{self.path}' has the columns {found}, not {self.header()}: cannot append.")
        self._header_written = True
        # the refused rows are the same on every rank: no gathering
        self._append(self._render([self._refused_row(p, r) for p, r in self.refused or ()]))

    def _filename(self, item: Any, batch_item: Any) -> str:
        for source in (batch_item, item):
            if isinstance(source, Mapping) and Key.FILENAME_OR_OBJ in source:  # a meta dict (batch_transform)
                return str(source[Key.FILENAME_OR_OBJ])
            image = _get(source, self.image_key)
            meta = getattr(image, "meta", None) or _get(source, f"{self.image_key}_meta_dict") or {}
            if Key.FILENAME_OR_OBJ in meta:
                value = meta[Key.FILENAME_OR_OBJ]
                return str(value[0] if isinstance(value, (list, tuple)) and len(value) == 1 else value)
            if isinstance(image, (str, Path)):
                return str(image)
        return ""

    def _label(self, item: Any, batch_item: Any) -> str:
        label = _get(item, self.label_key)
        if label is None:
            label = _get(batch_item, self.label_key)
        if label is None:
            return ""
        if isinstance(label, str):
            return label
        label = torch.as_tensor(label).detach().reshape(-1)
        if label.numel() == 1:
            value = label.item()
            return str(int(value)) if float(value).is_integer() else str(value)
        return str(int(label.argmax()))  # one-hot

    def _row(self, item: Any, batch_item: Any) -> list[str]:
        pred = _get(item, self.pred_key) if isinstance(item, Mapping) else item
        if pred is None:
            raise ValueError(f"the engine output has no '{self.pred_key}'; set pred_key or output_transform.")
        pred = torch.as_tensor(pred).detach().float().cpu()
        if pred.dim() > 1 and pred.shape[1:].numel() == 1:
            pred = pred.reshape(-1)  # (classes, 1, ...) from some heads
        if pred.dim() != 1:
            shape = list(pred.shape)
            raise ValueError(f"PredictionWriter expects one score per class per input, got a prediction of {shape}.")
        if self.softmax:
            pred = torch.softmax(pred, dim=0)
        if self._names is None:
            self._names = [f"class_{i}" for i in range(pred.numel())]
        if pred.numel() != len(self._names):
            count = len(self._names)
            raise ValueError(f"the prediction has {pred.numel()} scores but there are {count} classes {self._names}.")
        index = int(pred.argmax())
        row = [self._filename(item, batch_item), str(index), self._names[index]]
        row += [f"{p:.{self.precision}g}" for p in pred.tolist()]
        if self.label_key is not None:
            row.append(self._label(item, batch_item))
        if self.refused is not None:
            row.append("")
        return row

    def _refused_row(self, path: str, reason: str) -> list[str]:
        row = [path, "", "", *([""] * len(self._names or ()))]
        if self.label_key is not None:
            row.append("")
        return [*row, reason]

    @staticmethod
    def _render(rows: list[list[str]]) -> str:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(rows)
        return text.getvalue()

    def _gather(self, text: str) -> str:
        if idist.get_world_size() <= 1:
            return text
        return "".join(string_list_all_gather([text], delimiter=_GATHER_DELIMITER))

    def _append(self, text: str, count: bool = True) -> None:
        if not text or not self._writes():
            return
        with open(self.path, "a", newline="", encoding="utf-8") as f:  # closed (flushed) every iteration
            f.write(text)
        if count:
            self._rows_written += sum(1 for _ in csv.reader(io.StringIO(text)))
