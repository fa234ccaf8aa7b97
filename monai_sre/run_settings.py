# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""The settings that define a training run, recorded in its folder and checked when the run is resumed.

``--resume true`` restores a stopped run's network, optimiser, learning-rate schedule and epoch from its latest
checkpoint; everything else comes from the command that resumes it. Resumed with another ``--rotation_prob``,
batch size, learning rate, datalist or network, the run would train its second part another way and save one model
made by two recipes; resumed with a larger ``--max_epochs``, the restored cosine schedule (whose horizon is the
stopped run's ``max_epochs``) would climb back to the full learning rate over the added epochs. A bundle's training
config therefore lists what defines its run, and :func:`keep_run_settings` writes that list to
``run_settings.json`` when the run starts and refuses a resume whose settings differ, naming each one with the
saved and the new value. Where a run goes (``--device``, ``--num_workers``, ``--amp``) is not a setting: a stopped
run may continue on another machine. Under ``torchrun`` the number of processes is recorded too (it multiplies
the batch).

Example (bundle config; after ``set_determinism``, so that building the network and the data loader here draws
the random numbers the trainer would have drawn)::

    "run_settings": "$dict(seed=@seed, rotation_prob=@rotation_prob, batch_size=@batch_size,
                      max_epochs=@max_epochs, datalist=monai_sre.runs.file_digest(@datalist),
                      training_items=len(@train#dataloader.dataset),
                      network=monai_sre.runs.network_signature(@network_def))",
    "initialize": ["$monai.utils.set_determinism(seed=@seed)",
                   "$monai_sre.runs.prepare_run_dir(@run_dir, overwrite=@overwrite, resume=@resume)",
                   "$monai_sre.runs.keep_run_settings(@run_dir, @run_settings, resume=@resume)", ...]
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from monai_sre.arguments import as_flag

__all__ = ["RUN_SETTINGS", "as_recorded", "file_digest", "keep_run_settings", "network_signature", "save_json"]

RUN_SETTINGS = "run_settings.json"

logger = logging.getLogger(__name__)


def as_recorded(value: Any) -> Any:
    """``value`` as it reads back from a JSON record (tuples as lists; objects JSON cannot hold as their text), so
    that a value compares equal to its saved self."""
    return json.loads(json.dumps(value, default=str))


def save_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON beside ``path``, then rename it over ``path``: a process stopped mid-write
    leaves the previous file whole."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2) + "\n")
    partial.replace(path)


def _read_saved(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(
            f"--resume true: '{path}' is not valid JSON ({error}), so the run's settings cannot be checked: mend it "
            "from the run's command, or start a new run (another --run_dir, or --overwrite true)."
        ) from error


def file_digest(path: str | Path | None) -> str | None:
    """``sha256:<hex>`` of the file's bytes (a datalist: the same file moved elsewhere keeps its digest), or ``None``.

    Raises:
        FileNotFoundError: ``path`` names no file (the message names it).
    """
    if path is None:
        return None
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no file at '{file}' to record in the run's settings: expected a datalist file.")
    return "sha256:" + hashlib.sha256(file.read_bytes()).hexdigest()


def network_signature(network: torch.nn.Module) -> str:
    """The network as a setting: its class, parameter count and a digest of its layer structure (``repr``), so
    that another architecture, width or dropout rate shows as another value."""
    parameters = sum(p.numel() for p in network.parameters())
    structure = hashlib.sha256(repr(network).encode()).hexdigest()[:12]
    return f"{type(network).__name__}, {parameters} parameters, structure {structure}"


def keep_run_settings(run_dir: str | Path, settings: Mapping[str, Any], resume: bool | str = False) -> str:
    """Record the settings of a new training run; on resume, refuse settings other than the recorded ones.

    Values are compared as JSON writes them (a tuple equals the list it becomes; other objects by ``str``). A
    setting recorded by only one of the two (a run started by an older version of the bundle) is not compared; a
    resumed run with no ``run_settings.json`` (started before this check existed) is resumed unchecked, with a
    warning, and its settings recorded from now on. A resume into a folder that holds no run (only hidden files,
    such as the run marker) writes nothing and does not warn: there is nothing to resume (the bundles'
    :func:`~monai_sre.runs.prepare_run_dir` refuses such a resume before this runs, and the checkpoint handler
    stops any other caller's).

    Args:
        run_dir: the run folder (made by :func:`monai_sre.runs.prepare_run_dir`).
        settings: name to value, everything that defines the run (not where it runs).
        resume: the bundle's ``--resume`` switch.

    Returns:
        the path of ``run_settings.json``.

    Raises:
        ValueError: ``resume`` is on and a recorded setting differs from ``settings`` (the message lists each one
            with the saved and the new value, and the ways on), or the recorded file is not JSON (cut or edited).
    """
    resume = as_flag(resume, "resume")
    current = as_recorded(dict(settings))
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        current["world_size"] = torch.distributed.get_world_size()
    path = Path(run_dir) / RUN_SETTINGS
    if resume and path.is_file():
        saved = _read_saved(path)
        changed = [name for name in saved if name in current and saved[name] != current[name]]
        if changed:
            listing = "; ".join(f"{name}: {saved[name]!r} saved, {current[name]!r} now" for name in changed)
            raise ValueError(
                f"--resume true: the run in '{run_dir}' was started with other settings than this command's "
                f"({listing}). A resumed run continues the stopped one from its checkpoint (network, optimiser, "
                f"learning-rate schedule), so it must train the same way: resume with the settings in '{path}', "
                "or start a new run (another --run_dir, or --overwrite true)."
            )
        current = {**saved, **current}
    elif resume:
        if not any(not entry.name.startswith(".") for entry in Path(run_dir).iterdir()):
            return str(path)  # nothing to resume: the checkpoint handler stops the run and says so
        logger.warning(f"--resume true: '{run_dir}' holds no {RUN_SETTINGS}; resuming without checking its settings.")
    save_json(path, current)
    return str(path)
