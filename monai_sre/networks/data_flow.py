# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Where each layer of a network takes its input from: found by following one probe input through autograd.

A converter that changes what a layer's features mean (plain channels or channels on orientations) must know
which layers read the image itself and which write the network's output. Module order does not say it: in
MONAI's ``ResidualUnit`` the residual convolution reads the unit's input beside the first convolution of the
unit, and in its ``UNet`` the last transposed convolution and the residual unit after it both write the output.
:func:`trace_data_flow` runs the network once (eval mode, on a copy) and, for every layer of the given types,
walks the autograd graph back from its input to the nearest *producers* (layers whose outputs count as
features, e.g. convolutions and linear layers) or to the network's input.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["INPUT", "DataFlow", "trace_data_flow"]

INPUT = "input"
"""The source name of the network's input in :attr:`DataFlow.reads` and :attr:`DataFlow.output`."""


@dataclass(frozen=True)
class DataFlow:
    """What :func:`trace_data_flow` found.

    Attributes:
        reads: for every traced layer the probe ran through (``named_modules`` name), the sources of its input:
            :data:`INPUT` and/or names of producer layers.
        output: the sources of the network's output (of all its tensors, for a tuple, list or dict).
        input_shape: the probe's shape, batch axis included.
    """

    reads: dict[str, frozenset[str]]
    output: frozenset[str]
    input_shape: tuple[int, ...]


def _tensors(value) -> Iterable[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


def _sources(tensors: Iterable[torch.Tensor], leaf: torch.Tensor, produced: dict) -> frozenset[str]:
    """Producer names and/or :data:`INPUT` reached from ``tensors`` back through the autograd graph, stopping at
    the first producer on each path."""
    found: set[str] = set()
    seen: set = set()
    stack = [t.grad_fn for t in tensors]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        name = produced.get(node)
        if name is not None:
            found.add(name)
        elif getattr(node, "variable", None) is leaf:
            found.add(INPUT)
        else:
            stack.extend(child for child, _ in node.next_functions)
    return frozenset(found)


def trace_data_flow(
    model: nn.Module,
    input_shape: Sequence[int],
    producers: tuple[type[nn.Module], ...],
    readers: tuple[type[nn.Module], ...],
) -> DataFlow:
    """Run ``model`` once on zeros of ``(1, *input_shape)`` and record where each reader's input comes from.

    Args:
        model: the network (left unchanged: a copy runs, in eval mode, with gradients recorded).
        input_shape: ``(channels, *spatial)`` of one input.
        producers: module types whose outputs are sources (a path back from a reader stops at the first one).
        readers: module types whose input sources are recorded (producers are usually readers too).

    Raises:
        ValueError: the network cannot run on the probe (the message names its shape and the error).
    """
    probe_model = copy.deepcopy(model).eval()
    names = {module: name for name, module in probe_model.named_modules()}
    parameter = next(iter(probe_model.parameters()), None)
    factory = {} if parameter is None else {"device": parameter.device, "dtype": parameter.dtype}
    leaf = torch.zeros((1, *[int(s) for s in input_shape]), requires_grad=True, **factory)
    produced: dict = {}
    reads: dict[str, frozenset[str]] = {}

    def record_input(module, args):
        reads[names[module]] = _sources(_tensors(args), leaf, produced)

    def record_output(module, args, output):
        for tensor in _tensors(output):
            if tensor.grad_fn is not None:
                produced[tensor.grad_fn] = names[module]

    handles = []
    for module in names:
        if isinstance(module, readers):
            handles.append(module.register_forward_pre_hook(record_input))
        if isinstance(module, producers):
            handles.append(module.register_forward_hook(record_output))
    try:
        with torch.enable_grad():
            output = probe_model(leaf.clone())  # a clone: in-place operations on the input stay allowed
    except Exception as error:
        raise ValueError(
            f"{type(model).__name__} does not run on a probe input of shape {list(leaf.shape)} ({error}); give the "
            "shape it takes (input_shape=(channels, *spatial))."
        ) from error
    finally:
        for handle in handles:
            handle.remove()
    return DataFlow(reads, _sources(_tensors(output), leaf, produced), tuple(leaf.shape))
