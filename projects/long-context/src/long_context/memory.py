"""Peak extra memory of an attention call on the CPU, measured from the kernel's own counters.

PyTorch keeps no allocator statistics on the CPU, so the measurement reads Linux's peak resident
set (VmHWM) after resetting it (`/proc/self/clear_refs` = 5). glibc would otherwise recycle freed
blocks inside its heap (hiding new allocations) and grow its mmap threshold; a child process started
with a fixed `MALLOC_MMAP_THRESHOLD_` maps every large buffer freshly and returns it on free, so the
peak is what the call itself allocated: its output plus every temporary, fused kernels included.
Linux only (refused elsewhere). Run: `long-context bench --json`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from llm_shared import UserError

_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "65536",
    "MALLOC_TRIM_THRESHOLD_": "65536",
    "MALLOC_ARENA_MAX": "1",
}


def _status_mb(key: str) -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{key}:\s+(\d+) kB", text).group(1)) / 1024


def _measure_here(
    kinds: list[str], shape: dict[str, int], causal: bool, block: int
) -> dict[str, float]:
    import torch

    from .attention import naive_attention, sdpa_attention, tiled_attention

    torch.manual_seed(0)
    B, H, Hkv, T, D = (shape[k] for k in ("B", "H", "Hkv", "T", "D"))
    q = torch.randn(B, H, T, D)  # (B, H, T, D)
    k, v = torch.randn(B, Hkv, T, D), torch.randn(B, Hkv, T, D)  # (B, Hkv, T, D)
    calls = {
        "tiled": lambda: tiled_attention(q, k, v, causal=causal, block_q=block, block_k=block),
        "naive": lambda: naive_attention(q, k, v, causal=causal),
        "sdpa": lambda: sdpa_attention(q, k, v, causal=causal),
    }
    small = (q[:, :, :256], k[:, :, :256], v[:, :, :256])
    warm = {
        "tiled": lambda: tiled_attention(*small, causal=causal, block_q=block, block_k=block),
        "naive": lambda: naive_attention(*small, causal=causal),
        "sdpa": lambda: sdpa_attention(*small, causal=causal),
    }
    peaks = {}
    for kind in kinds:
        warm[kind]()  # thread pools and kernel selection allocate once, at a cheap size
        Path("/proc/self/clear_refs").write_text("5")
        base = _status_mb("VmRSS")
        out = calls[kind]()
        peaks[kind] = round(_status_mb("VmHWM") - base, 3)
        del out
    return peaks


def peak_extra_mb(
    kinds: list[str],
    *,
    B: int = 1,
    H: int = 9,
    Hkv: int = 3,
    T: int = 4096,
    D: int = 64,
    causal: bool = True,
    block: int = 128,
) -> dict[str, float]:
    """{kind: MiB the call added at its peak, output included} for kinds in tiled/naive/sdpa."""
    if not Path("/proc/self/clear_refs").exists():
        raise UserError("peak-memory measurement needs Linux (/proc/self/clear_refs)")
    payload = json.dumps(
        {
            "kinds": kinds,
            "shape": {"B": B, "H": H, "Hkv": Hkv, "T": T, "D": D},
            "causal": causal,
            "block": block,
        }
    )
    code = (
        "import json,sys; from long_context.memory import _measure_here; a=json.loads(sys.argv[1]);"
        " print(json.dumps(_measure_here(a['kinds'], a['shape'], a['causal'], a['block'])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, payload],
        env={**os.environ, **_ENV},
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
