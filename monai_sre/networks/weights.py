# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Loading weights into networks: state dict files, and the SRE-Conv authors' state dicts.

- :func:`load_weights`: read a state dict file safely (``torch.load(..., weights_only=True)``, nothing in the file is
  executed) for scripts and bundle configs, and optionally load it into a network, strictly;
- :func:`convert_authors_state_dict` / :func:`load_authors_state_dict`: state dicts written with the SRE-Conv
  authors' package (PyPI ``SRE-Conv``, import ``SRE_Conv``).

The authors' layers (``SRE_Conv1d/2d/3d``, ``SRE_ConvTranspose2d``) store ``weight`` of shape ``(out, in/groups, n)``
(transposed: ``(in, out/groups, n)``), ``bias``, and a buffer ``weight_index_mat`` of shape
``(1, 1, n, prod(kernel_size))`` holding one-hot band masks. Our layers store the same ``weight`` and ``bias`` and
derive the masks from their arguments, so a conversion checks every saved mask against the layer it is loaded into
and then drops it. Nothing here imports or executes the authors' code: state dicts are plain tensors. Tests and
benchmarks that compare with their layers load the authors' module themselves (``scripts/authors_sre_conv.py``).
"""

from __future__ import annotations

import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from monai_sre.networks.layers.sre_conv import SREConv, SREConvTranspose

__all__ = ["AUTHORS_BAND_MASK_KEY", "convert_authors_state_dict", "load_authors_state_dict", "load_weights"]

AUTHORS_BAND_MASK_KEY = "weight_index_mat"


def convert_authors_state_dict(state_dict: Mapping[str, torch.Tensor], model: nn.Module) -> OrderedDict:
    """Map a state dict of the authors' SRE-Conv layers onto ``model``, checking every band layout.

    Args:
        state_dict: the authors' state dict (for one layer, or for a network whose SRE layers sit at the same
            module paths as in ``model``).
        model: an :class:`SREConv`/:class:`SREConvTranspose`, or a network holding them.

    Returns:
        the state dict without the band masks, ready for ``model.load_state_dict``.

    Raises:
        ValueError: a saved band mask has no SRE layer at its path in ``model``, or its taps per band differ
            from that layer's (the message gives both).
    """
    converted: OrderedDict = OrderedDict()
    for key, value in state_dict.items():
        if key != AUTHORS_BAND_MASK_KEY and not key.endswith("." + AUTHORS_BAND_MASK_KEY):
            converted[key] = value
            continue
        module_name = key[: -len(AUTHORS_BAND_MASK_KEY)].rstrip(".")
        try:
            layer = model.get_submodule(module_name)
        except AttributeError as error:
            raise ValueError(
                f"checkpoint key '{key}' has SRE-Conv band masks, but the model has no module '{module_name}'."
            ) from error
        if not isinstance(layer, (SREConv, SREConvTranspose)):
            raise ValueError(
                f"checkpoint key '{key}' has SRE-Conv band masks, but module '{module_name}' is a "
                f"{type(layer).__name__}, not an SREConv/SREConvTranspose."
            )
        masks = value.reshape(-1, *value.shape[-2:])[0] != 0
        expected = layer.band_basis != 0
        if masks.shape != expected.shape or not torch.equal(masks.cpu(), expected.cpu()):
            raise ValueError(
                f"band layout of checkpoint key '{key}' (taps per band {masks.sum(-1).tolist()}, "
                f"{masks.shape[-1]} taps) does not match module '{module_name or type(layer).__name__}' "
                f"(taps per band {list(layer.bands.band_sizes)}, {layer.bands.num_taps} taps); build it with the "
                "checkpoint's kernel_size and num_bands (the authors' sre_k)."
            )
    return converted


def load_authors_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = True):
    """Load a state dict of the authors' SRE-Conv layers into ``model``; see :func:`convert_authors_state_dict`.

    Returns:
        what ``model.load_state_dict`` returns (missing and unexpected keys).
    """
    return model.load_state_dict(convert_authors_state_dict(state_dict, model), strict=strict)


def load_weights(path: str | Path, network: nn.Module | None = None, map_location: str | torch.device = "cpu"):
    """Read a state dict with ``torch.load(..., weights_only=True)`` and optionally load it into ``network``.

    A file that is missing, corrupt, carries code (a pickled class or function), or is not a state dict fails
    here, early, with the file named; nothing in it is executed.

    Returns:
        the state dict, or ``network`` with the weights loaded (strictly) when one is given.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: '{path}'.")
    with path.open("rb") as handle:
        start = handle.read(2)
    if start != b"PK" and not start.startswith(b"\x80"):  # torch.save writes a zip archive (or, before 1.6, a pickle)
        raise ValueError(
            f"cannot load weights from '{path}': it is not a file written by torch.save (it starts {start!r})."
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"cannot load weights from '{path}': not a plain state dict readable with weights_only=True "
            f"(corrupt, or it carries code, which is refused). {reason}"
        ) from error
    if isinstance(state, Mapping) and "model" in state and isinstance(state["model"], Mapping):
        state = state["model"]  # {"model": state_dict}, as MONAI's CheckpointSaver writes for several objects
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"'{path}' does not hold a state dict (a mapping of names to tensors).")
    if network is None:
        return state
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"weights in '{path}' do not fit {type(network).__name__}: {error}") from error
    return network
