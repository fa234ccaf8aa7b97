# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Old public names kept for one release after a rename or a move, each warning once.

Module-level names use :func:`deprecated_names` (a module ``__getattr__``), moved modules :func:`moved_module`,
renamed keyword arguments :func:`renamed_arguments`, renamed attributes :class:`RenamedAttributes`.
"""

from __future__ import annotations

import functools
import importlib
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import ClassVar

__all__ = [
    "REMOVED_IN",
    "RenamedAttributes",
    "deprecated_names",
    "moved_module",
    "renamed_arguments",
    "warn_deprecated",
]

#: the release in which the deprecated aliases go away
REMOVED_IN = "0.3.0"

_warned: set[str] = set()


def warn_deprecated(old: str, new: str) -> None:
    """Warn (a ``FutureWarning``, once per process) that ``old`` is deprecated in favour of ``new``."""
    if old in _warned:
        return
    _warned.add(old)
    warnings.warn(
        f"{old} is deprecated and will be removed in monai_sre {REMOVED_IN}; use {new} instead.",
        FutureWarning,
        stacklevel=3,
    )


def deprecated_names(module: str, aliases: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` resolving old names to new ones, with a warning.

    Args:
        module: the ``__name__`` of the module that keeps the old names.
        aliases: old name -> ``"package.module:NewName"`` (imported lazily, so moved code keeps no import cycle).

    Example:
        >>> __getattr__ = deprecated_names(__name__, {"OldNorm": "monai_sre.networks.layers.group_norm:NewNorm"})
    """

    def __getattr__(name: str) -> object:
        if name not in aliases:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        target_module, _, target_name = aliases[name].partition(":")
        warn_deprecated(f"{module}.{name}", f"{target_module}.{target_name}")
        return getattr(importlib.import_module(target_module), target_name)

    return __getattr__


def moved_module(old: str, new: str) -> None:
    """Make the module ``old`` (being imported) an alias of ``new``, warning once.

    Call it as the only statement of the old module: ``moved_module(__name__, "monai_sre.networks.weights")``.
    The old module object is replaced in ``sys.modules`` by the new one, so ``from old import name`` and
    ``old.name`` give the very same objects.
    """
    warn_deprecated(f"module {old}", f"module {new}")
    target = importlib.import_module(new)
    sys.modules[old] = target
    parent, _, child = old.rpartition(".")
    if parent in sys.modules:
        setattr(sys.modules[parent], child, target)


def renamed_arguments(**renames: str) -> Callable[[Callable], Callable]:
    """Decorate a function (or ``__init__``) so that it still takes keyword arguments under their old names.

    ``old=value`` is passed on as ``new=value``, warning once; giving both is a ``TypeError``. The signature
    (``inspect.signature``, the docs) shows only the new names. Unlike MONAI's ``deprecated_arg`` the old name
    needs no place in the signature, and it warns whatever the package version.

    Example::

        >>> class Pool:
        ...     @renamed_arguments(points="num_orientations")
        ...     def __init__(self, num_orientations: int) -> None: ...
    """

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(
                            f"{func.__qualname__}() got {new}= and its deprecated name {old}=; drop {old}=."
                        )
                    warn_deprecated(f"argument {old}= of {func.__module__}.{func.__qualname__}", f"{new}=")
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper

    return decorate


class RenamedAttributes:
    """Mixin for classes whose attributes were renamed: the old names still read the new ones, warning once.

    List them in the class attribute ``renamed_attributes = {"old": "new"}``. They are read through
    ``__getattr__``, which Python consults only where the normal lookup fails, so they cost nothing to the other
    attributes and stay out of ``dir()``: tools that read every attribute of a module (``torch.jit.trace``,
    ``torch.jit.script``) neither touch nor warn about them. Put the mixin before ``nn.Module`` in the bases, whose
    ``__getattr__`` (parameters, buffers, submodules) it falls back to.

    Example::

        >>> class Pool(RenamedAttributes, nn.Module):
        ...     renamed_attributes = {"points": "num_orientations"}
    """

    renamed_attributes: ClassVar[Mapping[str, str]] = {}

    def __getattr__(self, name: str):
        new = type(self).renamed_attributes.get(name)
        if new is not None:
            warn_deprecated(f"attribute {type(self).__name__}.{name}", f"{type(self).__name__}.{new}")
            return getattr(self, new)
        fallback = getattr(super(), "__getattr__", None)
        if fallback is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return fallback(name)
