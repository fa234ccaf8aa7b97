# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Run folders for bundle workflows: found from any working folder, one per run, never replaced silently.

A bundle config calls these in its ``initialize`` list:

- :func:`bundle_root` finds a bundle shipped beside the package (a clone or an editable install), so that a
  bundle runs from any working folder (``--bundle_root`` still overrides it);
- :func:`prepare_run_dir` makes the folder a run writes into, and refuses one that holds an earlier run unless
  the user asked to ``resume`` it or to ``overwrite`` it; it marks the folders it makes, and removes on
  ``overwrite`` only a folder it made, so a mistyped path never deletes someone's data;
- :func:`write_training_domain` records what the model was trained on (spacing, input size, intensity mapping,
  channels, class names) in the run folder, and :func:`read_training_domain` gives it to evaluation and
  inference, which bring every input into that domain;
- :func:`keep_run_settings` records the settings that define a training run (``run_settings.json``) and refuses a
  ``--resume`` with other ones; :func:`file_digest` and :func:`network_signature` state a datalist and a network
  as settings (:mod:`monai_sre.run_settings`);
- :func:`latest_checkpoint` is the newest full training state that ``--resume`` continues from
  (:class:`monai_sre.handlers.TrainingCheckpoint` writes and reads them);
- :func:`as_flag` reads a command-line switch, :func:`as_probability` a probability (``--rotation_prob``), and
  :func:`use_amp` the ``--amp`` switch checked against the device the engines run on.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import torch

from monai_sre.arguments import as_flag, as_probability
from monai_sre.handlers.training_checkpoint import latest_checkpoint
from monai_sre.run_settings import RUN_SETTINGS, file_digest, keep_run_settings, network_signature

__all__ = [
    "RUN_MARKER",
    "RUN_SETTINGS",
    "as_flag",
    "as_probability",
    "TRAINING_DOMAIN",
    "bundle_root",
    "file_digest",
    "keep_run_settings",
    "latest_checkpoint",
    "network_signature",
    "prepare_run_dir",
    "read_training_domain",
    "use_amp",
    "write_training_domain",
]

RUN_MARKER = ".monai_sre_run"
TRAINING_DOMAIN = "training_domain.json"


def use_amp(amp: bool | int | str, device: torch.device | str) -> bool:
    """The ``--amp`` switch of a bundle's trainer and evaluators, refused where MONAI's engines cannot honour it.

    MONAI 1.6's ``SupervisedTrainer`` and ``SupervisedEvaluator`` run the forward pass (and the loss) under
    ``torch.autocast("cuda")`` and scale the loss with a CUDA ``GradScaler`` whatever their ``device``. On any
    other device both turn themselves off with a warning and the run is plain float32, so ``--amp true`` on a
    CPU would claim mixed precision it does not use; it is refused instead. The bundles' default,
    ``"$torch.device(@device).type == 'cuda'"``, is on on a GPU and off elsewhere.

    Example (bundle config)::

        "amp": "$torch.device(@device).type == 'cuda'",
        "trainer": {"_target_": "SupervisedTrainer", "device": "@device",
                    "amp": "$monai_sre.runs.use_amp(@amp, @device)", ...}

    Args:
        amp: the switch, as :func:`as_flag` reads it.
        device: the device the engine runs on (a ``torch.device`` or its name).

    Returns:
        whether the engine should run with automatic mixed precision.

    Raises:
        ValueError: ``amp`` is not a switch, or it is on and ``device`` is not a CUDA device (the message names
            the device and the two ways on).
    """
    enabled = as_flag(amp, "amp")
    device_type = torch.device(device).type
    if enabled and device_type != "cuda":
        raise ValueError(
            f"--amp true needs a CUDA device, got device '{device}': MONAI's SupervisedTrainer and "
            "SupervisedEvaluator autocast with torch.autocast('cuda'), which does nothing on "
            f"'{device_type}' (the run would be plain float32). Pass --amp false, or run on a GPU."
        )
    return enabled


def bundle_root(name: str) -> str:
    """The folder of the bundle ``name`` shipped with the package (``<repository>/bundles/<name>``).

    Falls back to the working folder when that is the bundle itself (it holds ``configs/metadata.json`` and has
    the bundle's name).

    Raises:
        FileNotFoundError: neither exists; the message says to pass ``--bundle_root``.
    """
    beside_package = Path(__file__).resolve().parents[1] / "bundles" / name
    for candidate in (beside_package, Path.cwd()):
        if candidate.name == name and (candidate / "configs" / "metadata.json").is_file():
            return str(candidate)
    raise FileNotFoundError(
        f"bundle '{name}' not found at '{beside_package}' nor in the working folder '{Path.cwd()}'; "
        "pass its folder with --bundle_root."
    )


def prepare_run_dir(path: str | Path, overwrite: bool = False, resume: bool = False) -> str:
    """Make the folder one run writes into; refuse to mix a new run with an earlier one.

    Args:
        path: the run folder.
        overwrite: remove an earlier run made here (only a folder that this function made: it holds the
            marker file :data:`RUN_MARKER`) and start afresh.
        resume: keep the earlier run's files (training continues from its latest checkpoint).

    Returns:
        ``path`` as a string, the folder existing.

    Raises:
        ValueError: both flags are set; or the folder holds files and neither flag is set (the message lists
            what is there and the three ways on); or ``overwrite`` was asked for a folder this function did
            not make.
        FileNotFoundError: ``resume`` is set and the folder holds no earlier run (nothing is created).
    """
    overwrite, resume = as_flag(overwrite, "overwrite"), as_flag(resume, "resume")
    if overwrite and resume:
        raise ValueError(f"run folder '{path}': --overwrite and --resume exclude each other; pass one.")
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"run folder '{folder}' is a file, expected a folder.")
    contents = sorted(p.name for p in folder.iterdir() if p.name != RUN_MARKER) if folder.is_dir() else []
    if contents and overwrite:
        if not (folder / RUN_MARKER).is_file():
            raise ValueError(
                f"--overwrite: '{folder}' holds {_listing(contents)} but was not made by a monai_sre bundle run "
                f"(no {RUN_MARKER} file), so it is not removed; remove it yourself or choose another folder."
            )
        shutil.rmtree(folder)
    elif contents and not resume:
        raise ValueError(
            f"run folder '{folder}' already holds an earlier run ({_listing(contents)}). Pass --resume true to "
            "continue it, --overwrite true to replace it, or a new folder (--run_dir for training, --eval_dir "
            "for evaluation, --output_dir for inference)."
        )
    elif resume and not contents:
        raise FileNotFoundError(
            f"--resume: run folder '{folder}' holds no earlier run to continue; train without --resume, or name "
            "the folder of the run to continue (--run_dir)."
        )
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / RUN_MARKER
    if not marker.exists():
        marker.write_text(json.dumps({"created": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")
    return str(folder)


def write_training_domain(run_dir: str | Path, **domain) -> str:
    """Write ``domain`` (JSON-serialisable values) to ``run_dir/training_domain.json``; return its path."""
    path = Path(run_dir) / TRAINING_DOMAIN
    path.write_text(json.dumps(domain, indent=2, default=str) + "\n")
    return str(path)


def read_training_domain(run_dir: str | Path) -> dict:
    """The domain a run was trained on (see :func:`write_training_domain`).

    A relative ``datalist`` in it (as in a bundle's shipped weights) is resolved against ``run_dir``.

    Raises:
        FileNotFoundError: ``run_dir`` holds no ``training_domain.json`` (the message says which run to name).
    """
    path = Path(run_dir) / TRAINING_DOMAIN
    if not path.is_file():
        raise FileNotFoundError(
            f"no {TRAINING_DOMAIN} in '{run_dir}': pass --run_dir, the folder of the training run whose model to use."
        )
    domain = json.loads(path.read_text())
    if domain.get("datalist") and not Path(domain["datalist"]).is_absolute():
        domain["datalist"] = str((path.parent / domain["datalist"]).resolve())
    return domain


def _listing(names: list[str], shown: int = 4) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(f"'{n}'" for n in names[:shown]) + more
