"""The LSH S-curve: P(two documents share a bucket) = 1 - (1 - s^r)^b against their Jaccard s,
for the b x r that `optimal_bands` picks at several thresholds (num_perm=128).

Run: `uv run python bench/plot_s_curve.py` from projects/minhash-dedup -> docs/lsh_s_curve.png.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from llm_shared import emit_json  # noqa: E402
from minhash_dedup import optimal_bands  # noqa: E402

s = np.linspace(0, 1, 201)
fig, ax = plt.subplots(figsize=(6, 3.6))
chosen = {}
for t in (0.5, 0.7, 0.8, 0.9):
    b, r = optimal_bands(t, 128)
    chosen[t] = f"{b}x{r}"
    ax.plot(s, 1 - (1 - s**r) ** b, label=f"t={t}: b={b}, r={r}")
    ax.axvline(t, color="grey", linewidth=0.5, linestyle=":")
ax.set_xlabel("Jaccard similarity s of two documents")
ax.set_ylabel("P(candidate pair)")
ax.set_title("MinHash LSH S-curves (num_perm=128)")
ax.legend(fontsize=8)
fig.tight_layout()
out = Path(__file__).resolve().parent.parent / "docs" / "lsh_s_curve.png"
fig.savefig(out, dpi=90)
emit_json({"figure": str(out.name), "bands_x_rows": chosen})
