"""PGND tests run torch on one thread: on a shared 2-core machine two threads per test process were
measured 4x slower (oversubscription), and these tests train small models."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
