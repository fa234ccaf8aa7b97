# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""ONNX export of a classifier with a dynamic batch axis, and a check of the file against the network.

The export goes through ``torch.onnx.export(..., dynamo=True)`` (the ``torch.export``-based exporter, PyTorch's
default since 2.9) with ``dynamic_shapes``, not the deprecated TorchScript exporter and not ``dynamic_axes``
(which the dynamo exporter only converts, with a warning). SRE and group convolutions export as they are (while
``torch.export`` traces, :class:`~monai_sre.networks.layers.SREConv` takes its dense path and
:class:`~monai_sre.networks.layers.GroupConv` expands its kernel with plain tensor operations), but then the file
rebuilds every dense kernel from the shared weights on each run; by default they are replaced first by the plain
convolutions of their ``to_dense()`` (on a copy of the network), so the file holds plain ``Conv`` nodes.

onnx and onnxscript (the exporter) and onnxruntime (:func:`verify_onnx`) are imported when called, not when the
package is imported (``pip install monai_sre[export]``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch
from monai.utils import OptionalImportError, optional_import
from torch import nn

from monai_sre.networks.layers import GroupConv, SREConv

__all__ = ["export_onnx", "verify_onnx"]

DEFAULT_OPSET = 18


def _example(network: nn.Module, shape: Sequence[int]) -> torch.Tensor:
    parameter = next(network.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    dtype = parameter.dtype if parameter is not None and parameter.is_floating_point() else torch.float32
    return torch.randn(*shape, device=device, dtype=dtype)


def _densified(network: nn.Module) -> nn.Module:
    """A copy of ``network`` with every SRE and group convolution replaced by its plain ``to_dense()`` conv."""
    if isinstance(network, (SREConv, GroupConv)):
        return network.to_dense()
    network = copy.deepcopy(network)
    for name, module in list(network.named_modules()):
        if isinstance(module, (SREConv, GroupConv)):
            parent_name, _, child = name.rpartition(".")
            setattr(network.get_submodule(parent_name), child, module.to_dense())
    return network


def export_onnx(
    network: nn.Module,
    path: str | Path,
    input_shape: Sequence[int],
    dynamic_batch: bool = True,
    opset: int = DEFAULT_OPSET,
    input_name: str = "image",
    output_name: str = "pred",
    dense: bool = True,
) -> Path:
    """Export ``network`` (in eval mode) to one self-contained ONNX file, the batch axis dynamic by default.

    The file holds the weights (no ``.onnx.data`` side file) and is checked with ``onnx.checker``. The network's
    training mode is restored afterwards, also when the export fails.

    Example::

        net = monai_sre.networks.nets.sre_resnet_light(n_input_channels=1, num_classes=4)
        export_onnx(net, "model.onnx", (1, 1, 16, 16, 16))  # input "image": ("batch", 1, 16, 16, 16)

    Args:
        network: the network; a single tensor input and a single tensor output.
        path: the ``.onnx`` file to write.
        input_shape: shape of the example input, batch first, e.g. ``(1, 1, 16, 16, 16)``; the other axes are
            fixed in the file.
        dynamic_batch: whether the first axis of input and output is named ``"batch"`` and takes any size; if
            False, the file takes only ``input_shape[0]``.
        opset: ONNX opset version (18 runs on onnxruntime 1.14 and later).
        input_name: name of the input in the file.
        output_name: name of the output in the file.
        dense: export a copy whose SRE and group convolutions are replaced by their ``to_dense()`` plain
            convolutions (same function, the kernels stored expanded); False: export ``network`` as it is.

    Returns:
        ``path``.

    Raises:
        OptionalImportError: onnx or onnxscript is not installed.
        ValueError: ``input_shape`` has fewer than two axes.
    """
    if len(input_shape) < 2:
        raise ValueError(f"input_shape must be (batch, channels, *spatial), got {list(input_shape)}.")
    onnx, has_onnx = optional_import("onnx")
    _, has_onnxscript = optional_import("onnxscript")  # the dynamo exporter's dependency
    if not (has_onnx and has_onnxscript):
        raise OptionalImportError("export_onnx needs onnx and onnxscript: pip install 'monai_sre[export]'.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dynamic_shapes = ({0: torch.export.Dim("batch", min=1)},) if dynamic_batch else None
    training = network.training
    network.eval()
    try:
        with torch.no_grad():
            torch.onnx.export(
                _densified(network) if dense else network,
                (_example(network, input_shape),),
                str(path),
                input_names=[input_name],
                output_names=[output_name],
                opset_version=opset,
                dynamo=True,
                dynamic_shapes=dynamic_shapes,
                external_data=False,
                verbose=False,
            )
    finally:
        network.train(training)
    onnx.checker.check_model(str(path))
    return path


def verify_onnx(
    path: str | Path,
    network: nn.Module,
    input_shape: Sequence[int],
    batch_sizes: Sequence[int] = (1, 5),
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> dict[int, float]:
    """Run the ONNX file with onnxruntime (CPU) and ``network`` (eval mode) on random inputs of every batch size.

    Args:
        path: the ONNX file (one input, one output).
        network: the network it was exported from.
        input_shape: shape of an input; its first axis is replaced by each batch size.
        batch_sizes: the batch sizes to run.
        rtol: relative tolerance of the comparison.
        atol: absolute tolerance of the comparison.

    Returns:
        the largest absolute difference between the outputs, per batch size.

    Raises:
        OptionalImportError: onnxruntime is not installed.
        AssertionError: the outputs differ beyond the tolerances, or the file refuses a batch size; the message
            names the batch size.
    """
    ort, _ = optional_import("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (input_meta,) = session.get_inputs()
    training = network.training
    network.eval()
    errors: dict[int, float] = {}
    try:
        for batch in batch_sizes:
            x = _example(network, (batch, *input_shape[1:]))
            with torch.no_grad():
                expected = network(x).detach().cpu().float().numpy()
            try:
                (result,) = session.run(None, {input_meta.name: x.cpu().numpy()})
            except Exception as error:  # onnxruntime raises its own types for shape mismatches
                raise AssertionError(f"'{path}' does not run with batch size {batch}: {error}") from error
            if result.shape != expected.shape:
                raise AssertionError(f"batch size {batch}: ONNX output {result.shape}, network {expected.shape}.")
            errors[batch] = float(abs(result - expected).max()) if expected.size else 0.0
            if not torch.allclose(torch.from_numpy(result), torch.from_numpy(expected), rtol=rtol, atol=atol):
                raise AssertionError(
                    f"batch size {batch}: ONNX output differs from the network by up to {errors[batch]:.3g} "
                    f"(rtol={rtol}, atol={atol})."
                )
    finally:
        network.train(training)
    return errors
