from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture(scope="session")
def load_script():
    """Import a script of ``scripts/`` (not a package) as a module by its file name, as the scripts import each
    other (``from build_embedded_dataset import ...``): with ``scripts/`` on ``sys.path``."""
    added = str(SCRIPTS) not in sys.path
    if added:
        sys.path.insert(0, str(SCRIPTS))

    def load(name: str):
        return importlib.import_module(name)

    yield load
    if added:
        sys.path.remove(str(SCRIPTS))
