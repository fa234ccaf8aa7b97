# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Full training state saved every epoch and restored on resume, with MONAI's checkpoint handlers."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from monai.handlers import CheckpointLoader, CheckpointSaver
from monai.utils import IgniteInfo, min_version, optional_import

from monai_sre.arguments import as_flag

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["TrainingCheckpoint", "latest_checkpoint"]

_CHECKPOINT = re.compile(r"^checkpoint_epoch=(\d+)\.pt$")


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The ``checkpoint_epoch=N.pt`` file with the largest ``N`` in ``folder``, or ``None``."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CHECKPOINT.match(p.name))]
    return max(found)[1] if found else None


class _ValidationRecord:
    """The validator's best metric so far, as a checkpointable object (``state_dict`` / ``load_state_dict``).

    Restoring it also tells the best-model saver which score its file holds, so that a resumed run replaces
    the best model only with a better one.
    """

    def __init__(self, validator: Engine | None, best_model_saver: CheckpointSaver | None, filename: str) -> None:
        self.validator = validator
        self.best_model_saver = best_model_saver
        self.filename = filename

    def state_dict(self) -> dict[str, Any]:
        if self.validator is None:
            return {"best_metric": -1.0, "best_metric_epoch": -1}
        state = self.validator.state
        return {"best_metric": float(state.best_metric), "best_metric_epoch": int(state.best_metric_epoch)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.validator is None or state["best_metric_epoch"] < 0:
            return
        self.validator.state.best_metric = state["best_metric"]
        self.validator.state.best_metric_epoch = state["best_metric_epoch"]
        if self.best_model_saver is not None:
            self.best_model_saver.load_state_dict({"_saved": [(state["best_metric"], self.filename)]})


class TrainingCheckpoint:
    """Save everything a killed training run needs every epoch; on ``resume``, continue from the latest save.

    Attached to a trainer, it saves ``checkpoint_epoch=N.pt`` in ``save_dir`` after every epoch (MONAI's
    ``CheckpointSaver``, the previous one removed) holding the network, the optimizer, the learning-rate
    scheduler, the trainer's epoch and iteration, and the validator's best metric. With ``resume=True`` it
    loads the newest such file when the trainer starts (MONAI's ``CheckpointLoader``): training goes on at the
    next epoch up to ``max_epochs``, and the best-model file (``best_model_saver``) is replaced only by a model
    that validates better than the one it holds. The random order of the remaining epochs differs from an
    uninterrupted run's. A resume to more epochs than the stopped run's warns: the restored scheduler keeps the
    stopped run's schedule (the bundles refuse such a resume, :mod:`monai_sre.run_settings`).

    Example (bundle config, trainer handlers)::

        {"_target_": "monai_sre.handlers.TrainingCheckpoint", "save_dir": "@ckpt_dir", "network": "@network",
         "optimizer": "@optimizer", "lr_scheduler": "@lr_scheduler", "validator": "@validate#evaluator",
         "best_model_saver": "@validate#best_model_saver", "resume": "@resume"}

    Args:
        save_dir: folder of the checkpoints (the run's ``models`` folder).
        network: the trained network (a ``DistributedDataParallel`` wrapper is saved without its ``module.``).
        optimizer: its optimizer.
        lr_scheduler: its learning-rate scheduler, if any.
        validator: the validation engine whose ``best_metric`` is kept, if any.
        best_model_saver: the validator's key-metric ``CheckpointSaver``, told the restored best score.
        best_model_filename: the file that saver writes (``key_metric_filename``).
        resume: load the latest checkpoint in ``save_dir`` when the trainer starts.
        save: write checkpoints (``False`` on the non-zero ranks of a distributed run, which still resume).
        map_location: where loaded tensors go (default: the network's device).
        weight_averaging: the run's :class:`~monai_sre.handlers.WeightAveraging`, if any (when it averages, its
            average is saved and restored with the rest).

    Raises:
        FileNotFoundError: on attach, ``resume`` is set and ``save_dir`` holds no checkpoint.
        ValueError: on attach, ``resume`` is set, this run averages the weights and the checkpoint holds no average.
    """

    def __init__(
        self,
        save_dir: str | Path,
        network: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        lr_scheduler: Any | None = None,
        validator: Engine | None = None,
        best_model_saver: CheckpointSaver | None = None,
        best_model_filename: str = "model.pt",
        resume: bool = False,
        save: bool = True,
        map_location: str | torch.device | None = None,
        weight_averaging: Any | None = None,
    ) -> None:
        self.save_dir = Path(save_dir)
        self.objects: dict[str, Any] = {"network": network, "optimizer": optimizer}
        if lr_scheduler is not None:
            self.objects["lr_scheduler"] = lr_scheduler
        if weight_averaging is not None and weight_averaging.enabled:
            self.objects["weight_averaging"] = weight_averaging
        self.objects["validation"] = _ValidationRecord(validator, best_model_saver, best_model_filename)
        self.resume = as_flag(resume, "resume")
        self.save = as_flag(save, "save")
        if map_location is None:
            parameter = next(network.parameters(), None)
            map_location = parameter.device if parameter is not None else "cpu"
        self.map_location = map_location
        self.logger = logging.getLogger(__name__)

    def attach(self, engine: Engine) -> None:
        objects = {**self.objects, "trainer": engine}
        if self.resume:
            path = latest_checkpoint(self.save_dir)
            if path is None:
                raise FileNotFoundError(
                    f"--resume: no checkpoint_epoch=N.pt in '{self.save_dir}' to continue from; train without "
                    "--resume (a run saves one after every epoch)."
                )
            self.logger.info(f"resuming training from '{path}'")
            saved = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            self._check_weight_averaging_matches(path, saved)
            CheckpointLoader(load_path=str(path), load_dict=objects, map_location=self.map_location).attach(engine)
            if "lr_scheduler" in self.objects and "max_epochs" in saved.get("trainer", {}):
                # after the loader, which puts back this run's max_epochs
                engine.add_event_handler(Events.STARTED, self._warn_of_a_longer_schedule, path,
                                         saved["trainer"]["max_epochs"])  # fmt: skip
        if self.save:
            CheckpointSaver(
                save_dir=str(self.save_dir),
                save_dict=objects,
                save_interval=1,
                epoch_level=True,
                n_saved=1,
            ).attach(engine)
            engine.add_event_handler(Events.EPOCH_COMPLETED, self._remove_older_checkpoints)

    def _warn_of_a_longer_schedule(self, engine: Engine, path: Path, saved_epochs: int) -> None:
        """A resume that runs past the stopped run's ``max_epochs`` goes on with the restored scheduler, which was
        made for the stopped run's length (a cosine schedule climbs back to the full learning rate after it)."""
        if engine.state.max_epochs > saved_epochs:
            self.logger.warning(
                f"--resume: '{path}' was saved by a run of {saved_epochs} epochs and this run goes on to "
                f"{engine.state.max_epochs}; the learning-rate scheduler restored from it keeps the stopped run's "
                "schedule (a cosine schedule climbs back towards the full learning rate after its last epoch). "
                "To train longer with a schedule made for it, start a new run from the saved weights."
            )

    def _check_weight_averaging_matches(self, path: Path, saved: dict[str, Any]) -> None:
        """A resumed run averages the weights exactly when the checkpoint's run did: refuse to start an average
        mid-run from a checkpoint without one, and say so when a saved average is dropped."""
        averaging = self.objects.get("weight_averaging")
        if averaging is not None and "weight_averaging" not in saved:
            raise ValueError(
                f"--resume: '{path}' was saved by a run without weight averaging, but this run averages "
                f"(--weight_averaging_decay {averaging.decay}); resume with --weight_averaging_decay null, or start "
                "a new run to average from the first step."
            )
        if averaging is None and "weight_averaging" in saved:
            self.logger.warning(
                f"--resume: '{path}' holds a weight average that this run does not continue (weight averaging is "
                "off): from here on validation and the best model see the training weights."
            )

    def _remove_older_checkpoints(self, engine: Engine) -> None:
        """Keep only the newest full checkpoint (the saver removes its own older files, not a resumed run's)."""
        newest = latest_checkpoint(self.save_dir)
        for path in self.save_dir.glob("checkpoint_epoch=*.pt"):
            if path != newest:
                path.unlink(missing_ok=True)
