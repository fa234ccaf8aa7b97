from __future__ import annotations

import importlib
import os
import subprocess
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


PYRADIOMICS = "pyradiomics==3.0.1"


@pytest.fixture(scope="session")
def pyradiomics_sdist(tmp_path_factory) -> Path:
    """pyradiomics' sdist (its data/ holds the patient volumes): ``$MONAI_SRE_PYRADIOMICS_SDIST`` or pip download
    (skipped when neither works)."""
    given = os.environ.get("MONAI_SRE_PYRADIOMICS_SDIST")
    if given:
        return Path(given)
    folder = tmp_path_factory.mktemp("pyradiomics")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation", "--timeout", "20"]
    command += ["--retries", "1", "--quiet", "-d", str(folder), PYRADIOMICS]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"pip download {PYRADIOMICS} failed: {error}")
    found = sorted(folder.glob("pyradiomics-*.tar.gz"))
    if done.returncode or not found:
        pytest.skip(f"pip download {PYRADIOMICS} failed: {(done.stderr or done.stdout).strip()[-300:]}")
    return found[0]
