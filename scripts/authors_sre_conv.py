# Copyright (c) monai_sre contributors
# Licensed under the Apache License, Version 2.0
"""Loader of the SRE-Conv authors' layer module, for comparisons only (not part of the package).

``authors_sre_conv_module()`` executes the third-party file ``SRE_Conv/sre_conv.py`` of an installed ``SRE-Conv``
wheel, so it lives here, beside the benchmarks, and never in ``monai_sre``. Its users:

- ``scripts/benchmark_layers.py`` imports it as a sibling module (``from authors_sre_conv import ...``, as it
  imports ``benchmarking``);
- ``tests/networks/test_weights.py`` loads this file by path (``scripts/`` is not a package).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

__all__ = ["authors_sre_conv_module"]


def authors_sre_conv_module() -> ModuleType | None:
    """The authors' ``SRE_Conv/sre_conv.py`` when the ``SRE-Conv`` wheel is installed, else ``None``.

    Only that file is loaded (it needs torch, numpy and scipy): the package's ``__init__`` imports torchvision,
    which does not import beside the CPU torch wheel.
    """
    spec = importlib.util.find_spec("SRE_Conv")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "sre_conv.py"
    module_spec = importlib.util.spec_from_file_location("_authors_sre_conv", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module
