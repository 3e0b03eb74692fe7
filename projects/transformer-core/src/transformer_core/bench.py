"""`bench`: forward + backward time of our encoder-decoder against `torch.nn.Transformer` holding
the same weights (same config, batch and inputs), and of our attention function against
`F.scaled_dot_product_attention`; alternating, median of repeats (`llm_shared.compare`).

Both run in training mode with dropout 0 (the path training takes). Ratios are torch / ours:
above 1 means ours is faster. Run: `transformer-core bench` or `bench/bench_vs_torch.py`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from llm_shared import compare
from torch import nn

from .attention import scaled_dot_product_attention
from .config import BenchConfig, ModelConfig
from .model import Transformer
from .reference import torch_transformer_from


def run_bench(config: BenchConfig) -> dict[str, Any]:
    torch.manual_seed(config.seed)
    c = ModelConfig(vocab_size=16, d_model=config.d_model, num_heads=config.num_heads,
                    num_layers=config.num_layers, dim_ff=config.dim_ff, norm="post",
                    max_len=max(config.src_len, config.tgt_len))
    ours = Transformer(c).train()
    theirs = torch_transformer_from(ours).train()
    B, S, T = config.batch_size, config.src_len, config.tgt_len
    src = torch.randn(B, S, c.d_model)  # (B, S, d) embedded source
    tgt = torch.randn(B, T, c.d_model)  # (B, T, d) embedded target
    causal = torch.ones(T, T, dtype=torch.bool).tril()  # (T, T) True = may look
    torch_causal = nn.Transformer.generate_square_subsequent_mask(T)

    def step_ours() -> None:
        out = ours.run_decoder(tgt, ours.run_encoder(src, None), None, causal)
        out.sum().backward()

    def step_torch() -> None:
        theirs(src, tgt, tgt_mask=torch_causal, tgt_is_causal=True).sum().backward()

    model = compare(step_ours, step_torch, repeats=config.repeats, names=("ours", "torch"))

    H, dh = config.num_heads, config.d_model // config.num_heads
    q, k, v = (torch.randn(B, H, T, dh, requires_grad=True) for _ in range(3))

    def attention_ours() -> None:
        scaled_dot_product_attention(q, k, v, mask=causal)[0].sum().backward()

    def attention_sdpa() -> None:
        F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()

    attention = compare(attention_ours, attention_sdpa, repeats=config.repeats,
                        names=("ours", "sdpa"))
    return {"config": {k: getattr(config, k) for k in config.__dataclass_fields__},
            "torch_threads": torch.get_num_threads(),
            "transformer": model.summary(),
            "ours_over_torch_transformer": round(model.median_a / model.median_b, 3),
            "attention": attention.summary(),
            "ours_over_sdpa": round(attention.median_a / attention.median_b, 3)}
