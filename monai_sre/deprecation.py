# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Old public names kept for one release after a rename or a move, each warning once.

Module-level names use :func:`deprecated_names` (a module ``__getattr__``), moved modules :func:`moved_module`;
renamed arguments use MONAI's ``monai.utils.deprecated_arg`` with ``version_val=monai_sre.DEPRECATION_VERSION``.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Mapping

__all__ = ["REMOVED_IN", "deprecated_names", "moved_module", "warn_deprecated"]

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
