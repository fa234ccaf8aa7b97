from __future__ import annotations

import importlib
import inspect

import monai_sre

MONAI_MODULES = [
    "monai.networks.nets",
    "monai.networks.blocks",
    "monai.networks.layers",
    "monai.networks",
    "monai.transforms",
    "monai.handlers",
    "monai.data",
    "monai.engines",
    "monai.metrics",
    "monai.losses",
    "monai.bundle",
    "monai.utils",
]
OUR_MODULES = [
    "monai_sre",
    "monai_sre.networks",
    "monai_sre.networks.layers",
    "monai_sre.networks.blocks",
    "monai_sre.networks.nets",
    "monai_sre.transforms",
]


def test_no_public_name_clashes_with_monai():
    """Bundle configs resolve short _target_ names across monai* modules, and MONAI's class wins a clash."""
    monai_names = set()
    for name in MONAI_MODULES:
        monai_names |= {n for n in dir(importlib.import_module(name)) if not n.startswith("_")}
    ours = set()
    for module_name in OUR_MODULES:
        module = importlib.import_module(module_name)
        ours |= {n for n in module.__all__ if not inspect.ismodule(getattr(module, n))}  # subpackages may share names
    assert not ours & monai_names, sorted(ours & monai_names)


def test_every_all_entry_exists():
    for module_name in OUR_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            assert hasattr(module, name), f"{module_name}.__all__ names missing {name}"
    assert monai_sre.__version__
