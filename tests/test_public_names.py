from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import textwrap

import pytest

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
    "monai_sre.evaluation",
    "monai_sre.handlers",
    "monai_sre.data",
    "monai_sre.inferers",
    "monai_sre.engines",
]
# names users import at package level: they stay there when modules move (the rotation sweeps moved from
# transforms to evaluation, where they are kept)
KEPT_NAMES = {
    "monai_sre": ["assert_equivariant", "equivariance_error", "evaluate_rotation_robustness", "invariance_error"],
    "monai_sre.evaluation": [
        "METRICS",
        "PROTOCOLS",
        "RobustnessReport",
        "RotationCase",
        "RotationSweep",
        "assert_equivariant",
        "centre_crop",
        "classification_metrics",
        "collect_batches",
        "equivariance_error",
        "evaluate_rotation_robustness",
        "evaluate_segmentation_robustness",
        "invariance_error",
        "label_agreement",
        "segmentation_metrics",
    ],
    "monai_sre.transforms": [
        "AXES",
        "GridSymmetry",
        "GridSymmetryD",
        "GridSymmetryDict",
        "GridSymmetryElement",
        "GridSymmetryd",
        "RandGridSymmetry",
        "RandGridSymmetryD",
        "RandGridSymmetryDict",
        "RandGridSymmetryd",
        "RandSO3Rotate",
        "RandSO3RotateD",
        "RandSO3RotateDict",
        "RandSO3Rotated",
        "apply_grid_symmetry",
        "axis_rotation_matrix",
        "euler_xyz_from_matrix",
        "grid_symmetries",
        "random_rotation_matrix",
        "rotate_by_matrix",
        "rotation_angle",
    ],
    "monai_sre.handlers": [
        "RotationRobustnessHandler",
        "SegmentationRobustnessHandler",
        "pred_and_label",
        "pred_and_onehot_label",
    ],
}
# optional or heavy packages that `import monai_sre` must not import on top of what `import monai` imports
HEAVY = ("ignite", "matplotlib", "SimpleITK", "itk", "scipy", "tqdm", "tensorboard", "onnx", "onnxruntime", "nilearn")


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


@pytest.mark.parametrize("module_name", sorted(KEPT_NAMES))
def test_package_level_names_are_kept(module_name):
    module = importlib.import_module(module_name)
    missing = [name for name in KEPT_NAMES[module_name] if name not in module.__all__ or not hasattr(module, name)]
    assert not missing, f"{module_name} no longer exports {missing}"


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_import_adds_no_heavy_dependency_to_monai():
    """`import monai_sre` imports nothing heavy that `import monai` does not already import (MONAI 1.6 itself
    imports ignite through monai.utils.enums and matplotlib.pyplot through monai.utils.jupyter_utils)."""
    out = _run(
        f"""
        import sys
        import monai
        before = set(sys.modules)
        import monai_sre, monai_sre.handlers, monai_sre.evaluation, monai_sre.data
        added = {{name.split(".")[0] for name in set(sys.modules) - before}}
        print(sorted(added & set({HEAVY!r})))
        """
    )
    assert out.strip() == "[]", f"import monai_sre imports {out.strip()} on top of MONAI"


def test_import_works_without_ignite_and_matplotlib():
    """Where ignite and matplotlib are missing, the package imports, and only what needs them fails (by name)."""
    out = _run(
        """
        import importlib.abc, sys

        class Missing(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("ignite", "matplotlib"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, Missing())
        import torch
        import monai_sre
        from monai.utils import OptionalImportError
        from monai_sre.evaluation import RobustnessReport
        from monai_sre.handlers import RotationRobustnessHandler

        assert "ignite" not in sys.modules and "matplotlib" not in sys.modules
        layer = monai_sre.SREConv(3, 1, 2, 3)
        assert layer(torch.zeros(1, 1, 5, 5, 5)).shape == (1, 2, 5, 5, 5)
        report = RobustnessReport("flips", ("accuracy",), {"accuracy": 1.0}, [])
        for call in (lambda: RotationRobustnessHandler().attach(None), lambda: report.plot("x.png")):
            try:
                call()
            except OptionalImportError as error:
                print(str(error).splitlines()[0])
        """
    )
    assert "from ignite.engine import Events" in out and "from matplotlib.figure import Figure" in out, out
