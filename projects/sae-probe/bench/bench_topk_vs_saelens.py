"""Our TopK SAE vs SAELens' TopKTrainingSAE on the same captured activations.

Thin wrapper over `sae_probe.bench` (same flags as `sae-probe bench`): prints the table, then the
summary as the last stdout line (one JSON object). Not collected by pytest.
Run from projects/sae-probe: `uv run python bench/bench_topk_vs_saelens.py [--repeats 2]`.
"""

import sys

from sae_probe.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
