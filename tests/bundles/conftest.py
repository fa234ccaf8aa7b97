from __future__ import annotations

import re
from pathlib import Path

import pytest
from monai.bundle import ConfigWorkflow

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "bundles" / "schema" / "meta_schema_20240725.json"


def bundle_config(bundle: str, *names: str) -> list[str]:
    return [str(REPO / "bundles" / bundle / "configs" / f"{name}.json") for name in names]


def run_workflow(bundle: str, names: tuple[str, ...], workflow_type: str = "train", **overrides) -> ConfigWorkflow:
    """Run a bundle config in this process, as `python -m monai.bundle run` does, and return the workflow."""
    workflow = ConfigWorkflow(
        config_file=bundle_config(bundle, *names),
        meta_file=str(REPO / "bundles" / bundle / "configs" / "metadata.json"),
        logging_file=str(REPO / "bundles" / bundle / "configs" / "logging.conf"),
        workflow_type=workflow_type,
        bundle_root=str(REPO / "bundles" / bundle),
        **overrides,
    )
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    return workflow


@pytest.fixture(autouse=True)
def _repository_root(monkeypatch):
    monkeypatch.chdir(REPO)


def assert_fails_with(error_type: type, pattern: str, run, *args, **kwargs) -> None:
    """``run`` fails, and somewhere in the exception chain (MONAI wraps errors raised while instantiating a
    config component) is an ``error_type`` whose message matches ``pattern``."""
    with pytest.raises(Exception) as info:
        run(*args, **kwargs)
    chain, error = [], info.value
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, error_type) and re.search(pattern, str(e)) for e in chain), [repr(e) for e in chain]
