"""The chapter demo: equality with transformers, scan speed, an MoE run, a selective-copy run.

Run: `uv run mamba-moe demo` (under 90 s on 2 cores). Builds tiny random `MambaForCausalLM` and
`MixtralForCausalLM` folders with transformers, loads them with our code and compares logits;
times one training step of the parallel vs the sequential scan; trains a small MoE transformer
(histogram PNG, balance loss, drops) and a small Mamba on selective copying.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from llm_shared import UserError, compare

from .checkpoint import load_model
from .config import DemoConfig, TrainConfig
from .mamba import MambaConfig, MambaLM
from .train import train


def tiny_hf_folders(root: Path) -> dict[str, Path]:
    """Random tiny Mamba and Mixtral saved by transformers (the user-side reference)."""
    from transformers import MambaConfig as HFMamba
    from transformers import MambaForCausalLM, MixtralForCausalLM
    from transformers import MixtralConfig as HFMixtral

    torch.manual_seed(0)
    out = {"mamba": root / "tiny-mamba", "mixtral": root / "tiny-mixtral"}
    MambaForCausalLM(HFMamba(vocab_size=128, hidden_size=64, num_hidden_layers=2,
                             state_size=16)).save_pretrained(out["mamba"])
    MixtralForCausalLM(HFMixtral(vocab_size=128, hidden_size=64, intermediate_size=96,
                                 num_hidden_layers=2, num_attention_heads=4,
                                 num_key_value_heads=2, num_local_experts=4,
                                 num_experts_per_tok=2)).save_pretrained(out["mixtral"])
    return out


def logit_diffs(folders: dict[str, Path], seq_len: int = 48) -> dict[str, float]:
    from transformers import AutoModelForCausalLM

    ids = torch.randint(0, 128, (2, seq_len), generator=torch.Generator().manual_seed(0))
    diffs = {}
    with torch.no_grad():
        for kind, folder in folders.items():
            ref = AutoModelForCausalLM.from_pretrained(folder).eval()(ids, use_cache=False).logits
            _, ours = load_model(folder)
            if kind == "mamba":
                diffs[kind] = max((ours(ids, scan=s)[0] - ref).abs().max().item()
                                  for s in ("parallel", "sequential"))
            else:
                diffs[kind] = (ours(ids)[0] - ref).abs().max().item()
    return diffs


def scan_speedup(seq_len: int = 256) -> float:
    """Training-step time, sequential scan / parallel scan, same model and batch."""
    torch.manual_seed(0)
    model = MambaLM(MambaConfig(vocab_size=16, hidden_size=32, num_hidden_layers=1,
                                state_size=8))
    ids = torch.randint(0, 16, (1, seq_len))

    def step(scan):
        return lambda: model(ids, scan=scan)[0].mean().backward()

    return compare(step("parallel"), step("sequential"), repeats=3,
                   names=("parallel", "sequential")).ratio


def run_demo(config: DemoConfig) -> dict[str, Any]:
    start = time.perf_counter()
    if config.output is not None and Path(config.output).exists() and \
            any(Path(config.output).iterdir()):
        raise UserError(f"{config.output} is not empty; pass a new folder for the demo's files")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(config.output or tmp)
        diffs = logit_diffs(tiny_hf_folders(root))
        print(f"our logits vs transformers (float32, both scans): Mamba max |Δ| "
              f"{diffs['mamba']:.2e}, Mixtral max |Δ| {diffs['mixtral']:.2e}")
        speedup = scan_speedup()
        print(f"training step at L=256: parallel scan {speedup:.1f}x faster than sequential")
        moe = train(TrainConfig(arch="moe", output=root / "moe", steps=40, seq_len=16,
                                eval_examples=64, overwrite=True, checkpoint_every=40),
                    log=lambda m: print("  moe", m))
        print(f"MoE routing after 40 steps: balance loss {moe['balance_loss']} (uniform routing "
              f"gives top_k = 2), z-loss {moe['z_loss']}, dropped assignments "
              f"{moe['dropped_assignment_fraction']:.1%}, dropped tokens "
              f"{moe['dropped_token_fraction']:.1%}, "
              f"per-expert loads {moe['expert_counts']} -> {moe['histogram']}")
        mamba = train(TrainConfig(arch="mamba", output=root / "mamba", steps=config.steps,
                                  seq_len=config.seq_len, num_tokens=config.num_tokens,
                                  eval_examples=128, overwrite=True,
                                  checkpoint_every=max(1, config.steps // 4)),
                      log=lambda m: print("  mamba", m))
        print(f"Mamba on selective copy (L={config.seq_len}, K={config.num_tokens}, V=8, "
              f"{config.steps} steps): "
              f"token accuracy {mamba['token_accuracy']}, sequence accuracy "
              f"{mamba['sequence_accuracy']}")
    return {"mamba_max_abs_logit_diff": diffs["mamba"],
            "mixtral_max_abs_logit_diff": diffs["mixtral"],
            "scan_speedup": round(speedup, 2),
            "selective_copy_accuracy": mamba["token_accuracy"],
            "dropped_token_fraction": moe["dropped_token_fraction"],
            "seconds": round(time.perf_counter() - start, 1)}
