from __future__ import annotations

import pytest
import torch

# float32 conv sums accumulate in different orders under permuted inputs; float64 is exact to round-off
TOLERANCES = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-5, atol=1e-5)}


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state."""
    torch.manual_seed(0)
    yield
