"""`mamba-moe bench`: our parallel scan vs transformers' sequential CPU path and vs mambapy's
pscan (transformers with `use_mambapy=True`), all on the same weights; our MoE layer vs
transformers' `MixtralSparseMoeBlock`. Alternating timed repeats, medians, ratios (peer / ours,
> 1 means ours is faster) from `llm_shared.compare`.

Leaves out: GPU kernels (mamba-ssm is not installed here) and batched decoding throughput.
"""

from __future__ import annotations

import importlib.util
import tempfile
from typing import Any

import torch
from llm_shared import compare, markdown_table

from .checkpoint import load_model
from .moe import MoE, MoEConfig

# NOTE: a small Mamba (d=64, 1 layer, N=16, batch 1): the sequential peer's training step at
# L=1024 already takes seconds per repeat on 2 shared cores.
BENCH_MAMBA = dict(vocab_size=256, hidden_size=64, num_hidden_layers=1, state_size=16)


def _hf_mamba(use_mambapy: bool, state: dict | None = None):
    from transformers import MambaConfig, MambaForCausalLM

    torch.manual_seed(0)
    model = MambaForCausalLM(MambaConfig(**BENCH_MAMBA, use_mambapy=use_mambapy))
    if state is not None:
        model.load_state_dict(state)
    return model


def scan_rows(lengths: list[int], repeats: int, log=None) -> list[dict[str, Any]]:
    hf = _hf_mamba(False)
    peers = {"hf": hf}
    if importlib.util.find_spec("mambapy") is not None:
        peers["mambapy"] = _hf_mamba(True, hf.state_dict())
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp)
        _, ours = load_model(tmp)
    rows = []
    for L in lengths:
        ids = torch.randint(0, BENCH_MAMBA["vocab_size"], (1, L),
                            generator=torch.Generator().manual_seed(L))
        row: dict[str, Any] = {"L": L}
        with torch.no_grad():
            ref = hf(ids, use_cache=False).logits
            row["max_abs_logit_diff"] = (ours(ids)[0] - ref).abs().max().item()

        def ours_fwd(ids=ids):
            with torch.no_grad():
                ours(ids)

        def ours_train(ids=ids):
            ours(ids)[0].mean().backward()

        for name, peer in peers.items():
            def peer_fwd(peer=peer, ids=ids):
                with torch.no_grad():
                    peer(ids, use_cache=False)

            def peer_train(peer=peer, ids=ids):
                peer(ids, use_cache=False).logits.mean().backward()

            fwd = compare(ours_fwd, peer_fwd, repeats=repeats, names=("ours", name))
            trn = compare(ours_train, peer_train, repeats=repeats, names=("ours", name))
            row["fwd_ours_s"] = round(fwd.median_a, 4)
            row[f"fwd_{name}_s"] = round(fwd.median_b, 4)
            row[f"fwd_vs_{name}"] = round(fwd.ratio, 2)
            row["train_ours_s"] = round(trn.median_a, 4)
            row[f"train_{name}_s"] = round(trn.median_b, 4)
            row[f"train_vs_{name}"] = round(trn.ratio, 2)
        rows.append(row)
        if log is not None:
            log(row)
    return rows


def moe_row(repeats: int, tokens: int = 2048) -> dict[str, Any]:
    """Our MoE layer vs MixtralSparseMoeBlock (d=256, f=512, E=8, k=2) on the same weights."""
    from transformers import MixtralConfig
    from transformers.models.mixtral.modeling_mixtral import MixtralSparseMoeBlock

    d, f, E, k = 256, 512, 8, 2
    torch.manual_seed(0)
    ours = MoE(MoEConfig(d, f, E, k)).eval()
    hf = MixtralSparseMoeBlock(MixtralConfig(hidden_size=d, intermediate_size=f,
                                             num_local_experts=E, num_experts_per_tok=k)).eval()
    copy_moe_weights(ours, hf)
    x = torch.randn(1, tokens, d)
    with torch.no_grad():
        diff = (ours(x)[0] - hf(x)).abs().max().item()
        cmp = compare(lambda: ours(x), lambda: hf(x), repeats=repeats, names=("ours", "mixtral"))
    return {"tokens": tokens, "max_abs_diff": diff, **cmp.summary()}


@torch.no_grad()
def copy_moe_weights(ours: MoE, hf) -> None:
    """Our per-expert w1/w3/w2 into transformers' fused gate_up_proj / down_proj."""
    hf.gate.weight.copy_(ours.gate.weight)
    for e, expert in enumerate(ours.experts):
        hf.experts.gate_up_proj[e].copy_(torch.cat([expert.w1.weight, expert.w3.weight]))
        hf.experts.down_proj[e].copy_(expert.w2.weight)


def run_bench(lengths: list[int], repeats: int, quiet: bool = False) -> dict[str, Any]:
    moe = moe_row(repeats)
    rows = scan_rows(lengths, repeats, log=None if quiet else lambda r: print(r, flush=True))
    if not quiet:
        print(f"Mamba {BENCH_MAMBA}, batch 1, forward (no grad) and training step "
              "(forward + backward); ratios are peer / ours")
        print(markdown_table(rows))
        print("MoE layer vs MixtralSparseMoeBlock (d=256, f=512, E=8, k=2, 2048 tokens)")
        print(markdown_table([moe]))
    return {"scan": rows, "moe": moe}
