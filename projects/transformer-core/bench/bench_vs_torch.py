"""Forward + backward time of our encoder-decoder vs torch.nn.Transformer (same weights, config,
batch), and our attention vs F.scaled_dot_product_attention; alternating, median of repeats.

Run: `OMP_NUM_THREADS=1 uv run --package transformer-core python bench/bench_vs_torch.py`
(any `transformer-core bench` flag works here too). Last line: one JSON object.
"""

from __future__ import annotations

import sys

from llm_shared import build_config, emit_json, markdown_table
from transformer_core.cli import build_parser
from transformer_core.config import BenchConfig


def main() -> None:
    from transformer_core.bench import run_bench

    args = build_parser().parse_args(["bench", *sys.argv[1:]])
    result = run_bench(build_config(BenchConfig, args))
    t, a = result["transformer"], result["attention"]
    print(markdown_table([
        {"what": "encoder-decoder fwd+bwd", "ours s": t["ours_s"], "peer s": t["torch_s"],
         "peer": "torch.nn.Transformer", "ours / peer": result["ours_over_torch_transformer"]},
        {"what": "attention fwd+bwd", "ours s": a["ours_s"], "peer s": a["sdpa_s"],
         "peer": "F.scaled_dot_product_attention", "ours / peer": result["ours_over_sdpa"]},
    ]))
    emit_json(result)


if __name__ == "__main__":
    main()
