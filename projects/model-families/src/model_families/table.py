"""The "what changed" table, generated from our model classes and from real configs.

Each row instantiates our model on the meta device (no memory, no weights) from a config: the
embedded SmolLM2 and MiniLM folders, and the published configs of gpt2, t5-small and
t5-v1_1-small written below (no package ships those weights). Activation, eps and tying are read
from the parsed config; the parameter split is counted from the module tree, by our component
names, which are the same in all four families (embed, pos_embed, attn, mlp, *norm, head).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from llm_shared import EMBEDDED_ENCODER, EMBEDDED_LLM
from torch import nn

from . import bert, gpt2, llama, t5
from .checkpoint import read_config
from .families import family_of, resolve

# The published configs (values from the Hub's config.json of each model).
GPT2_SMALL = {"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 768,
              "n_layer": 12, "n_head": 12, "layer_norm_epsilon": 1e-5,
              "activation_function": "gelu_new"}
T5_SMALL = {"model_type": "t5", "vocab_size": 32128, "d_model": 512, "d_kv": 64, "d_ff": 2048,
            "num_layers": 6, "num_heads": 8, "feed_forward_proj": "relu",
            "layer_norm_epsilon": 1e-6, "tie_word_embeddings": True}
T5_V1_1_SMALL = {"model_type": "t5", "vocab_size": 32128, "d_model": 512, "d_kv": 64,
                 "d_ff": 1024, "num_layers": 8, "num_decoder_layers": 8, "num_heads": 6,
                 "feed_forward_proj": "gated-gelu", "layer_norm_epsilon": 1e-6,
                 "tie_word_embeddings": False}

# What the code of each family does, one phrase per column (the columns the chapter compares).
TRAITS = {
    "bert": {"objective": "masked LM", "attention pattern": "bidirectional",
             "position scheme": "learned absolute + token types",
             "normalisation": "LayerNorm, post-LN"},
    "gpt2": {"objective": "causal LM", "attention pattern": "causal",
             "position scheme": "learned absolute", "normalisation": "LayerNorm, pre-LN + final"},
    "t5": {"objective": "span corruption (seq2seq)",
           "attention pattern": "bidirectional enc, causal dec + cross, unscaled",
           "position scheme": "relative buckets, shared per stack",
           "normalisation": "RMSNorm, pre-LN + final"},
    "llama": {"objective": "causal LM", "attention pattern": "causal, grouped-query",
              "position scheme": "RoPE (half rotation)",
              "normalisation": "RMSNorm, pre-LN + final"},
}


def component(name: str) -> str:
    """Our parameter name -> the table column it counts towards."""
    if name.startswith(("embed.", "type_embed.")):
        return "embed"
    if "pos_embed" in name or "rel_bias" in name:
        return "positions"
    if ".attn." in name or ".cross_attn." in name:
        return "attention"
    if ".mlp." in name:
        return "mlp"
    if name.startswith("head."):
        return "head"
    return "norms"  # every remaining weight is a norm's (embed_norm, *_norm, norm)


def _meta_model(family: str, config: dict[str, Any]) -> tuple[nn.Module, Any, bool]:
    """Our model for `config` on the meta device, its parsed config, whether the head is tied."""
    with torch.device("meta"):
        if family == "bert":
            cfg = bert.BertConfig.from_hf(config, mlm_head=True)
            model = bert.Bert(cfg)
            model.head.decoder.weight = model.embed.weight
            return model, cfg, True
        if family == "gpt2":
            cfg = gpt2.GPT2Config.from_hf(config)
            tied = config.get("tie_word_embeddings", True)
            model = gpt2.GPT2(cfg)
        elif family == "t5":
            cfg = t5.T5Config.from_hf(config)
            tied = config.get("tie_word_embeddings", True) is not False
            model = t5.T5(cfg)
        else:
            cfg = llama.LlamaConfig.from_hf(config)
            tied = cfg.tie_embeddings
            model = llama.Llama(cfg)
        if tied:
            model.head.weight = model.embed.weight
    return model, cfg, tied


def row(label: str, config: dict[str, Any]) -> dict[str, Any]:
    family = family_of(config)
    model, cfg, tied = _meta_model(family, config)
    counts = dict.fromkeys(("embed", "positions", "attention", "mlp", "norms", "head"), 0)
    for name, param in model.named_parameters():  # a tied head is listed once, under embed
        counts[component(name)] += param.numel()
    act = ("gated " if getattr(cfg, "gated", False) or family == "llama" else "") + cfg.act
    return {"model": label, "family": family, **TRAITS[family], "activation": act,
            "eps": cfg.eps, "tying": "tied" if tied else "untied",
            **{k: _millions(v) for k, v in counts.items()},
            "total": _millions(sum(counts.values()))}


def _millions(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 10_000 else str(n)


def build_table(models: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows for the default set, or for the given folders / embedded names."""
    if models:
        return [row(Path(m).name, read_config(resolve(m))) for m in models]
    return [row("all-MiniLM-L6-v2 + MLM head (BERT)", read_config(resolve(EMBEDDED_ENCODER))),
            row("gpt2 (config)", GPT2_SMALL), row("t5-small (config)", T5_SMALL),
            row("t5-v1_1-small (config)", T5_V1_1_SMALL),
            row("SmolLM2-135M (Llama)", read_config(resolve(EMBEDDED_LLM)))]

