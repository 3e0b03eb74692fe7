"""Pinning torch's intra-op thread count, for the whole run or for one block.

Why projects pin at all: on a small shared CPU, OpenMP threads spin-wait on each other at every
small matmul, so decoding-sized work often runs several times faster on one thread than on two
(each caller's NOTE has its measurement). Leaves out inter-op threads and other libraries' pools
(faiss, BLAS environment variables).
"""

from __future__ import annotations

from typing import Any


class torch_threads:  # noqa: N801 - used like a function, as contextlib's helpers are
    """Set torch to `n` intra-op threads now (None or 0: leave the count as it is); used as a
    context manager, restore the previous count on exit.

    >>> torch_threads(1)              # for the rest of the process (a conftest, a CLI run)
    >>> with torch_threads(1): ...    # only inside the block
    """

    def __init__(self, n: int | None) -> None:
        import torch  # here, so that importing llm_shared stays torch-free

        self._torch = torch
        self.previous = torch.get_num_threads()
        if n:
            torch.set_num_threads(n)

    def __enter__(self) -> torch_threads:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._torch.set_num_threads(self.previous)
