"""One torch thread for these tests: their tensors are tiny, and on a shared 2-core machine OpenMP's
two threads wait on each other (a 2-image forward pass of resnet_small took 0.4 s with 2 threads
and 1 ms with 1 thread while other jobs ran)."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield
